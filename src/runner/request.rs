//! Building and sending the token request of a check: the request for an assertion under a
//! scenario's request changes (client authentication, C3's client assertion, parameters),
//! presenting it, the redaction of issued tokens, and the guard that restores the fake IdP.
//! Used by the checks' conductor and by the procedures alike.

use serde_json::Value;

use super::RunContext;
use crate::client::{ClientCredentials, FormRequest, JWT_BEARER};
use crate::fixture::Secret;
use crate::jose::JagMutation;
use crate::jose::mint::Minted;
use crate::jose::mint::unix_now as now_secs;
use crate::oracle::{self, BuildError, Outcome};
use crate::report::model::{Exchange, SentToken};
use crate::scenario::{ClientChoice, Scenario};

pub use crate::protocol::CLIENT_ASSERTION_TYPE;

/// Environment variable named in curl reproductions for the RAS client secret.
pub const CLIENT_SECRET_ENV: &str = "XAA_CLIENT_SECRET";
/// Environment variable named in curl reproductions for the IdP client secret.
pub const IDP_SECRET_ENV: &str = "XAA_IDP_CLIENT_SECRET";
/// The client secret presented by `wrong_secret` requests.
const WRONG_SECRET: &str = "wrong-secret-xaa-conform";

/// `jag` as the target's world signs it: with the target's default algorithm (the first of
/// its `accepted_algs`) when the scenario names none. A scenario that sets `jag.alg`, or
/// whose mutation is the signing itself (`sign:`), keeps what it says.
pub(crate) fn with_default_alg(ctx: &RunContext, jag: &JagMutation) -> JagMutation {
    let mut jag = jag.clone();
    if jag.alg.is_none() {
        jag.alg = Some(ctx.fixture.default_alg());
    }
    jag
}

/// Mints `jag` at `now` for this target: [`with_default_alg`], then the baseline changed by
/// the mutation.
pub(crate) fn mint_jag(
    ctx: &RunContext,
    jag: &JagMutation,
    now: i64,
) -> Result<Minted, crate::jose::mint::MintError> {
    crate::jose::mint::mint(
        &ctx.keyring,
        &ctx.fixture.baseline(),
        &with_default_alg(ctx, jag),
        now,
    )
}

pub(super) fn sent(m: &Minted, mutation: &str) -> SentToken {
    SentToken {
        token: m.token.clone(),
        header: m.header.clone(),
        claims: m.claims.clone(),
        mutation: mutation.to_string(),
    }
}

/// C3's `private_key_jwt` client assertion for this target, issued `age_secs` ago, addressed
/// to `aud` (default: the RAS issuer).
pub(super) fn client_assertion(
    ctx: &RunContext,
    age_secs: i64,
    aud: Option<&crate::oracle::OneOrMany>,
) -> Result<String, BuildError> {
    let id = ctx.fixture.client3.as_deref().ok_or_else(|| {
        BuildError::NotApplicable("the target has no private_key_jwt client (client3)".into())
    })?;
    let audience = match aud {
        None => Value::String(ctx.fixture.ras_issuer.clone()),
        Some(crate::oracle::OneOrMany::One(a)) => Value::String(a.clone()),
        Some(crate::oracle::OneOrMany::Many(list)) => Value::from(list.clone()),
    };
    crate::jose::mint::client_assertion(
        ctx.keyring.client(),
        id,
        audience,
        now_secs() - age_secs,
        60,
    )
    .map_err(|e| BuildError::Internal(format!("could not sign the client assertion: {e}")))
}

/// The token request for `assertion` with the scenario's request changes. `reused` is a client
/// assertion to send again instead of a fresh one.
pub(super) fn token_request(
    ctx: &RunContext,
    sc: &Scenario,
    assertion: &str,
    reused: Option<&str>,
) -> Result<FormRequest, BuildError> {
    token_request_for(ctx, &sc.request, assertion, reused)
}

/// The token request for `assertion` with the request changes `rq` (fuzz cases build
/// these without a scenario around them).
pub(crate) fn token_request_for(
    ctx: &RunContext,
    rq: &crate::scenario::RequestChange,
    assertion: &str,
    reused: Option<&str>,
) -> Result<FormRequest, BuildError> {
    let f = &ctx.fixture;
    let assertion_text = match &rq.assertion {
        Some(t) => t.replace("${jag}", assertion),
        None => assertion.to_string(),
    };
    let mut params = vec![
        ("grant_type".to_string(), JWT_BEARER.to_string()),
        ("assertion".to_string(), assertion_text),
    ];
    let auth = match rq.client.unwrap_or_default() {
        ClientChoice::C3 => {
            let change = rq.client_assertion.clone().unwrap_or_default();
            let client_assertion = match (reused, change.use_id_jag) {
                (_, true) => assertion.to_string(),
                (Some(r), false) => r.to_string(),
                (None, false) => client_assertion(
                    ctx,
                    if change.expired { 600 } else { 0 },
                    change.aud.as_ref(),
                )?,
            };
            let kind = change
                .assertion_type
                .unwrap_or_else(|| CLIENT_ASSERTION_TYPE.to_string());
            params.push(("client_assertion_type".into(), kind));
            params.push(("client_assertion".into(), client_assertion));
            if let Some(id) = change.client_id_param {
                params.push(("client_id".into(), id));
            }
            None
        }
        choice => {
            let client = match choice {
                ClientChoice::C2 => f.client2.as_ref().ok_or_else(|| {
                    BuildError::NotApplicable("the target has no second client (client2)".into())
                })?,
                ClientChoice::C4 => f.client4.as_ref().ok_or_else(|| {
                    BuildError::NotApplicable(
                        "the target declares no client4 (a client registered with valid \
                         credentials but not enabled for the jwt-bearer grant)"
                            .into(),
                    )
                })?,
                _ => &f.client,
            };
            let secret = if rq.wrong_secret {
                Secret::new(WRONG_SECRET)
            } else {
                client.secret.clone()
            };
            Some(ClientCredentials {
                id: client.id.clone(),
                secret,
                method: rq.client_auth.unwrap_or(client.auth.into()),
                secret_env: CLIENT_SECRET_ENV.into(),
            })
        }
    };
    for (k, v) in &rq.set {
        match params.iter_mut().find(|(n, _)| n == k) {
            Some(p) => p.1 = v.clone(),
            None => params.push((k.clone(), v.clone())),
        }
    }
    params.retain(|(k, _)| !rq.remove.contains(k));
    params.extend(
        rq.params
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("${jag}", assertion))),
    );
    Ok(FormRequest {
        params,
        auth,
        content_type: rq.content_type.clone(),
        method: rq.method.unwrap_or_default(),
        json_body: rq.json_body,
        headers: Vec::new(),
    })
}

/// Puts the fake IdP back to normal when dropped.
pub(super) struct RestoreIdp<'a>(pub(super) &'a crate::idp_control::IdpLog);

impl Drop for RestoreIdp<'_> {
    fn drop(&mut self) {
        self.0.reset();
    }
}

/// Replaces the access and refresh tokens the RAS issued with `[REDACTED]` wherever they
/// appear in the record: against a real server they are live credentials.
pub(crate) fn redact_issued_tokens(exchanges: &mut [Exchange]) {
    let mut issued: Vec<String> = Vec::new();
    // Every exchange with the RAS, whatever procedure made it (the preflight, a recovery
    // exchange, a replay race, …); the fake IdP's own answers (`idp-…`) carry the suite's ID
    // tokens and ID-JAGs, which the reports show on purpose.
    for ex in exchanges.iter().filter(|e| !e.role.starts_with("idp-")) {
        if let Some(body) = json_body(ex) {
            for member in ["access_token", "refresh_token"] {
                if let Some(Value::String(t)) = body.get(member)
                    && t.len() >= 8
                {
                    issued.push(t.clone());
                }
            }
        }
    }
    if issued.is_empty() {
        return;
    }
    let scrub = |text: &mut String| {
        for t in &issued {
            if text.contains(t.as_str()) {
                *text = text.replace(t.as_str(), crate::client::REDACTED);
            }
        }
    };
    for ex in exchanges.iter_mut() {
        scrub(&mut ex.curl);
        scrub(&mut ex.request.url);
        scrub(&mut ex.request.body);
        ex.request.headers.iter_mut().for_each(|(_, v)| scrub(v));
        if let Some(r) = ex.response.as_mut() {
            scrub(&mut r.body);
            r.headers.iter_mut().for_each(|(_, v)| scrub(v));
        }
    }
}

pub(super) fn json_body(ex: &Exchange) -> Option<serde_json::Map<String, Value>> {
    oracle::json_object(&ex.response.as_ref()?.body)
}

/// Sends a token request as `role` and classifies the answer.
pub(super) async fn present(
    ctx: &RunContext,
    role: &str,
    req: &FormRequest,
) -> (Exchange, Outcome) {
    let ex = ctx
        .http
        .token_request(role, &ctx.fixture.token_endpoint, req)
        .await;
    let o = oracle::classify(&ex);
    (ex, o)
}

/// Mints `jag`, presents it as `role`, and keeps the exchange.
pub(super) async fn mint_and_present(
    ctx: &RunContext,
    sc: &Scenario,
    jag: &JagMutation,
    role: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<(Minted, Outcome), BuildError> {
    let m = mint_jag(ctx, jag, now_secs())
        .map_err(|e| BuildError::Internal(format!("could not mint the ID-JAG: {e}")))?;
    let req = token_request(ctx, sc, &m.token, None)?;
    let (ex, o) = present(ctx, role, &req).await;
    exchanges.push(ex);
    Ok((m, o))
}

/// The access token of an accepted answer ("" for any other).
pub(super) fn access_token_of(o: &Outcome) -> &str {
    match o {
        Outcome::Accepted { body } => body
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        _ => "",
    }
}
