//! Running one scenario: resolve placeholders, obtain or mint the ID-JAG, send the positive
//! control and the probe, judge.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::RunContext;
use crate::client::{ClientCredentials, JWT_BEARER};
use crate::fixture::ClientAuthMethod;
use crate::idp::{ID_JAG_TOKEN_TYPE, ID_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::jose::mint::{Minted, fresh_jti, mint};
use crate::jose::{IssuerRole, JagMutation};
use crate::oracle::{self, Expect, Judgement};
use crate::report::model::{CheckResult, Exchange, SentToken};
use crate::scenario::{Obtain, Scenario};
use crate::spec::Verdict;

/// Environment variable named in curl reproductions for the RAS client secret.
pub const CLIENT_SECRET_ENV: &str = "XAA_CLIENT_SECRET";
/// Environment variable named in curl reproductions for the IdP client secret.
pub const IDP_SECRET_ENV: &str = "XAA_IDP_CLIENT_SECRET";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn sent(m: &Minted, mutation: &str) -> SentToken {
    SentToken {
        token: m.token.clone(),
        header: m.header.clone(),
        claims: m.claims.clone(),
        mutation: mutation.to_string(),
    }
}

/// A scenario with every placeholder replaced by the target's values.
struct Resolved {
    jag: JagMutation,
    params: Vec<(String, String)>,
    creds: ClientCredentials,
}

fn resolve(ctx: &RunContext, sc: &Scenario) -> Result<Resolved, String> {
    let f = &ctx.fixture;
    let mut jag = sc.jag.clone();
    for s in jag.strings_mut() {
        *s = f.substitute(s)?;
    }
    let mut params = Vec::new();
    for (k, v) in &sc.request.params {
        params.push((k.clone(), f.substitute(v)?));
    }
    let creds = ClientCredentials {
        id: f.client.id.clone(),
        secret: f.client.secret.clone(),
        method: sc.request.client_auth.unwrap_or(f.client.auth),
        secret_env: CLIENT_SECRET_ENV.into(),
    };
    Ok(Resolved { jag, params, creds })
}

async fn present(ctx: &RunContext, role: &str, assertion: &str, r: &Resolved) -> Exchange {
    let mut form = vec![
        ("grant_type".to_string(), JWT_BEARER.to_string()),
        ("assertion".to_string(), assertion.to_string()),
    ];
    form.extend(r.params.iter().cloned());
    ctx.http
        .post_form(role, &ctx.fixture.token_endpoint, &form, Some(&r.creds))
        .await
}

fn json_body(ex: &Exchange) -> Option<serde_json::Map<String, Value>> {
    let body = &ex.response.as_ref()?.body;
    match serde_json::from_str(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The requesting app's real path to an ID-JAG: sign the user in at the trusted issuer
/// (authorization code), then exchange the ID token for an ID-JAG (RFC 8693, ID-JAG §4.3).
async fn id_jag_by_exchange(
    ctx: &RunContext,
    exchanges: &mut Vec<Exchange>,
) -> Result<String, String> {
    let f = &ctx.fixture;
    let iss = f
        .issuers
        .get(&IssuerRole::Trusted)
        .ok_or("no trusted issuer")?;
    let app = ClientCredentials {
        id: ctx.idp_app.client_id.clone(),
        secret: ctx.idp_app.secret.clone(),
        method: ClientAuthMethod::ClientSecretBasic,
        secret_env: IDP_SECRET_ENV.into(),
    };
    let redirect_uri = "http://127.0.0.1/callback";
    let state = fresh_jti();
    let mut authorize = url::Url::parse(&format!("{iss}/authorize")).map_err(|e| e.to_string())?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("nonce", &fresh_jti())
        .append_pair("login_hint", &f.subject);
    let ex = ctx.http.get("idp-authorize", authorize.as_str()).await;
    let location = ex
        .response
        .as_ref()
        .filter(|r| r.status == 302 || r.status == 303)
        .and_then(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.clone())
        });
    let summary = oracle::summarize(&oracle::classify(&ex));
    exchanges.push(ex);
    let location = location.ok_or_else(|| format!("IdP sign-in did not redirect: {summary}"))?;
    let back = url::Url::parse(&location).map_err(|e| format!("IdP redirect is not a URL: {e}"))?;
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or("IdP redirect has no code")?;

    let form = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let ex = ctx
        .http
        .post_form(
            "idp-token",
            &format!("{iss}/token"),
            &form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
            ]),
            Some(&app),
        )
        .await;
    let id_token = json_body(&ex).and_then(|b| {
        b.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let summary = oracle::summarize(&oracle::classify(&ex));
    exchanges.push(ex);
    let id_token = id_token.ok_or_else(|| format!("IdP issued no ID token: {summary}"))?;

    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ID_JAG_TOKEN_TYPE),
        ("audience", f.ras_issuer.as_str()),
        ("subject_token", id_token.as_str()),
        ("subject_token_type", ID_TOKEN_TYPE),
    ];
    if let Some(r) = &f.resource {
        pairs.push(("resource", r));
    }
    if let Some(s) = &f.scope {
        pairs.push(("scope", s));
    }
    let ex = ctx
        .http
        .post_form(
            "idp-token-exchange",
            &format!("{iss}/token"),
            &form(&pairs),
            Some(&app),
        )
        .await;
    let body = json_body(&ex);
    let summary = oracle::summarize(&oracle::classify(&ex));
    exchanges.push(ex);
    let body = body.ok_or_else(|| format!("IdP token exchange failed: {summary}"))?;
    if body.get("issued_token_type").and_then(Value::as_str) != Some(ID_JAG_TOKEN_TYPE) {
        return Err("IdP token exchange did not issue an ID-JAG".into());
    }
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "IdP token exchange returned no token".into())
}

/// Runs one scenario to its verdict.
pub async fn run(ctx: &RunContext, sc: &Scenario) -> CheckResult {
    let started = Instant::now();
    let mut exchanges = Vec::new();
    let mut token = None;
    let judgement = judge(ctx, sc, &mut exchanges, &mut token).await;
    CheckResult {
        id: sc.id.clone(),
        title: sc.title.clone(),
        requirement: sc.requirement.clone(),
        tags: sc.tags.clone(),
        verdict: judgement.verdict,
        reason: judgement.reason,
        token,
        exchanges,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

async fn judge(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let outcome = |v, r: String| Judgement {
        verdict: v,
        reason: r,
    };
    let r = match resolve(ctx, sc) {
        Ok(r) => r,
        Err(e) => return outcome(Verdict::Skip, format!("not applicable to this target: {e}")),
    };
    let level = sc.requirement.level;
    let what = r.jag.describe();
    let baseline = ctx.fixture.baseline();
    let mint_now = |m: &JagMutation| mint(&ctx.keyring, &baseline, m, now_secs());
    match &sc.expect {
        Expect::Reject(codes) => {
            let control = match mint_now(&JagMutation::default()) {
                Ok(m) => m,
                Err(e) => {
                    return outcome(
                        Verdict::Error,
                        format!("could not mint the positive control: {e}"),
                    );
                }
            };
            let ex = present(ctx, "control", &control.token, &r).await;
            let control_outcome = oracle::classify(&ex);
            exchanges.push(ex);
            if !matches!(control_outcome, oracle::Outcome::Accepted { .. }) {
                return oracle::judge_negative(
                    level,
                    &codes.to_vec(),
                    &control_outcome,
                    &control_outcome,
                    &what,
                );
            }
            let probe = match mint_now(&r.jag) {
                Ok(m) => m,
                Err(e) => return outcome(Verdict::Error, format!("could not mint the probe: {e}")),
            };
            *token = Some(sent(&probe, &what));
            let ex = present(ctx, "probe", &probe.token, &r).await;
            let probe_outcome = oracle::classify(&ex);
            exchanges.push(ex);
            oracle::judge_negative(
                level,
                &codes.to_vec(),
                &control_outcome,
                &probe_outcome,
                &what,
            )
        }
        Expect::Accept(rules) => {
            let assertion = match sc.obtain {
                Obtain::Mint => match mint_now(&r.jag) {
                    Ok(m) => {
                        *token = Some(sent(&m, &what));
                        m.token
                    }
                    Err(e) => {
                        return outcome(Verdict::Error, format!("could not mint the ID-JAG: {e}"));
                    }
                },
                Obtain::TokenExchange => match id_jag_by_exchange(ctx, exchanges).await {
                    Ok(t) => {
                        let (header, claims) = crate::jose::jws::decode_for_display(&t);
                        *token = Some(SentToken {
                            token: t.clone(),
                            header,
                            claims,
                            mutation: "issued by the IdP's token exchange".into(),
                        });
                        t
                    }
                    Err(e) => {
                        return outcome(
                            Verdict::Error,
                            format!("could not obtain an ID-JAG from the fake IdP: {e}"),
                        );
                    }
                },
            };
            let ex = present(ctx, "probe", &assertion, &r).await;
            let probe_outcome = oracle::classify(&ex);
            let j =
                oracle::judge_positive(level, rules, &probe_outcome, ex.response.as_ref(), &what);
            exchanges.push(ex);
            j
        }
    }
}
