//! Running one scenario: resolve placeholders, obtain or mint the ID-JAG, send the positive
//! control and the probe, call the resource API, watch the IdP, judge.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::RunContext;
use crate::client::{AuthMethod, ClientCredentials, FormRequest, JWT_BEARER};
use crate::fixture::Secret;
use crate::idp::{ID_JAG_TOKEN_TYPE, ID_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::jose::mint::unix_now as now_secs;
use crate::jose::mint::{Minted, fresh_jti, mint};
use crate::jose::{IssuerRole, JagMutation};
use crate::oracle::{self, Expect, Judgement, Outcome};
use crate::report::model::{CheckResult, Exchange, SentToken};
use crate::scenario::{ApiStep, ApiToken, ClientChoice, Obtain, Scenario};
use crate::spec::{Level, Verdict};

pub use crate::protocol::CLIENT_ASSERTION_TYPE;

/// Environment variable named in curl reproductions for the RAS client secret.
pub const CLIENT_SECRET_ENV: &str = "XAA_CLIENT_SECRET";
/// Environment variable named in curl reproductions for the IdP client secret.
pub const IDP_SECRET_ENV: &str = "XAA_IDP_CLIENT_SECRET";
/// The client secret presented by `wrong_secret` requests.
const WRONG_SECRET: &str = "wrong-secret-xaa-conform";

fn sent(m: &Minted, mutation: &str) -> SentToken {
    SentToken {
        token: m.token.clone(),
        header: m.header.clone(),
        claims: m.claims.clone(),
        mutation: mutation.to_string(),
    }
}

/// Replaces the target's placeholders in every string of the scenario (but `${jag}`).
fn resolve(ctx: &RunContext, sc: &Scenario) -> Result<Scenario, String> {
    fn walk(v: &mut Value, f: &crate::fixture::Fixture) -> Result<(), String> {
        match v {
            Value::String(s) => *s = f.substitute(s)?,
            Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, f))?,
            Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, f))?,
            _ => {}
        }
        Ok(())
    }
    let mut v = serde_json::to_value(sc).map_err(|e| e.to_string())?;
    walk(&mut v, &ctx.fixture)?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// C3's `private_key_jwt` client assertion for this target, issued `age_secs` ago, addressed
/// to `aud` (default: the RAS issuer).
fn client_assertion(
    ctx: &RunContext,
    age_secs: i64,
    aud: Option<&crate::oracle::OneOrMany>,
) -> Result<String, String> {
    let id = ctx
        .fixture
        .client3
        .as_deref()
        .ok_or("the target has no private_key_jwt client (client3)")?;
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
    .map_err(|e| e.to_string())
}

/// The token request for `assertion` with the scenario's request changes. `reused` is a client
/// assertion to send again instead of a fresh one.
fn token_request(
    ctx: &RunContext,
    sc: &Scenario,
    assertion: &str,
    reused: Option<&str>,
) -> Result<FormRequest, String> {
    token_request_for(ctx, &sc.request, assertion, reused)
}

/// The token request for `assertion` with the request changes `rq` (fuzz cases build
/// these without a scenario around them).
pub(crate) fn token_request_for(
    ctx: &RunContext,
    rq: &crate::scenario::RequestChange,
    assertion: &str,
    reused: Option<&str>,
) -> Result<FormRequest, String> {
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
                ClientChoice::C2 => f
                    .client2
                    .as_ref()
                    .ok_or("the target has no second client (client2)")?,
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
    params.extend(rq.params.iter().cloned());
    Ok(FormRequest {
        params,
        auth,
        content_type: rq.content_type.clone(),
        method: rq.method.unwrap_or_default(),
        json_body: rq.json_body,
    })
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
        method: AuthMethod::ClientSecretBasic,
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

fn json_body(ex: &Exchange) -> Option<serde_json::Map<String, Value>> {
    oracle::json_object(&ex.response.as_ref()?.body)
}

/// The RFC 8414 §3 metadata URL of `issuer`: the well-known path goes between the host and
/// the issuer's path, whose terminating `/` is dropped.
pub fn metadata_url(issuer: &str) -> String {
    match url::Url::parse(issuer) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            let mut base = u.clone();
            base.set_path("");
            base.set_query(None);
            format!(
                "{}/.well-known/oauth-authorization-server{path}",
                base.as_str().trim_end_matches('/')
            )
        }
        Err(_) => format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        ),
    }
}

/// Sends a valid control, then `sends` ID-JAGs each under a fresh unknown `kid`, and counts
/// the JWKS fetches they cause at the fake IdP (LOAD-05: no fetch per request).
async fn fetch_budget(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    budget: &oracle::FetchBudget,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    let Some(hits) = &ctx.hits else {
        return outcome(Verdict::Skip, "not applicable: no IdP request log");
    };
    let baseline = &ctx.fixture.baseline();
    let send = |jag: JagMutation, role: &'static str| async move {
        let m = mint(&ctx.keyring, baseline, &jag, now_secs()).map_err(|e| e.to_string())?;
        let req = token_request(ctx, sc, &m.token, None)?;
        Ok::<_, String>(present(ctx, role, &req).await)
    };
    let (ex, control) = match send(JagMutation::default(), "control").await {
        Ok(x) => x,
        Err(e) => return outcome(Verdict::Error, e),
    };
    exchanges.push(ex);
    if !matches!(control, Outcome::Accepted { .. }) {
        return oracle::judge_negative(level, &[], &control, &control, "");
    }
    let mark = hits.mark();
    let mut accepted = 0;
    let sends = budget.sends.min(100);
    let started = Instant::now();
    for _ in 0..sends {
        let mut jag = sc.jag.clone();
        jag.sign = Some(crate::jose::mutate::Signing::UnknownKid);
        jag.header.insert("kid".into(), Value::String(fresh_jti()));
        match send(jag, "probe").await {
            Ok((ex, o)) => {
                if matches!(o, Outcome::Accepted { .. }) {
                    accepted += 1;
                }
                if exchanges.len() < 4 {
                    exchanges.push(ex);
                }
            }
            Err(e) => return outcome(Verdict::Error, e),
        }
    }
    let jwks_path = format!("/{}/jwks", IssuerRole::Trusted.path());
    let fetches = hits
        .since(mark)
        .iter()
        .filter(|h| h.path == jwks_path)
        .count();
    // A cache that expires while the probe runs may refetch once a second: the budget
    // grows by one fetch per whole second the sends took (a slow or loaded machine), but a
    // fetch per request still breaks it.
    let took = started.elapsed();
    let allowed = budget.max_fetches as usize + took.as_secs() as usize;
    let figure = format!(
        "{sends} ID-JAGs under unknown kids caused {fetches} JWKS fetches in {:.1} s",
        took.as_secs_f64()
    );
    if accepted > 0 {
        outcome(
            Verdict::Fail,
            format!("{accepted} of {sends} ID-JAGs under unknown kids were accepted"),
        )
    } else if fetches > allowed {
        outcome(
            level.violation(),
            format!("{figure} (at most {allowed} expected)"),
        )
    } else {
        outcome(Verdict::Pass, figure)
    }
}

/// Binary-searches the largest offset (whole seconds, up to `max_secs`) at which a fresh
/// ID-JAG with the measured time claim is still accepted, and reports it (INFO).
async fn measure(
    ctx: &RunContext,
    sc: &Scenario,
    m: oracle::Measure,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    use oracle::Tolerance;
    let baseline = ctx.fixture.baseline();
    let try_offset = |offset: i64| {
        let mut jag = sc.jag.clone();
        let now = now_secs();
        let (claim_exp, claim_iat, claim_nbf) = match m.tolerance {
            Tolerance::ExpSkew => (Some(now - offset), Some(now - offset - 60), None),
            Tolerance::NbfSkew => (None, None, Some(now + offset)),
            Tolerance::MaxLifetime => (Some(now + offset), None, None),
            Tolerance::MaxIatAge => (Some(now + 300), Some(now - offset), None),
        };
        for (name, v) in [("exp", claim_exp), ("iat", claim_iat), ("nbf", claim_nbf)] {
            if let Some(v) = v {
                jag.claims.insert(name.into(), Value::from(v));
            }
        }
        let baseline = baseline.clone();
        async move {
            let minted = mint(&ctx.keyring, &baseline, &jag, now).map_err(|e| e.to_string())?;
            let req = token_request(ctx, sc, &minted.token, None)?;
            Ok::<_, String>(present(ctx, "probe", &req).await)
        }
    };
    // The bound must be refused, or there is nothing to find.
    let (mut lo, mut hi) = (0i64, m.max_secs.max(1));
    let mut steps = 0;
    match try_offset(lo).await {
        Ok((ex, Outcome::Accepted { .. })) => exchanges.push(ex),
        Ok((ex, Outcome::NoAnswer { reason })) => {
            exchanges.push(ex);
            return outcome(
                Verdict::Error,
                format!("positive control got no answer: {reason}"),
            );
        }
        Ok((ex, o)) => {
            exchanges.push(ex);
            return outcome(
                Verdict::Skip,
                format!("baseline not accepted: {}", oracle::summarize(&o)),
            );
        }
        Err(e) => return outcome(Verdict::Error, e),
    }
    match try_offset(hi).await {
        Ok((_, Outcome::Accepted { .. })) => {
            let bound =
                humantime::format_duration(std::time::Duration::from_secs(hi.unsigned_abs()));
            let what = match m.tolerance {
                Tolerance::ExpSkew => "an ID-JAG expired",
                Tolerance::NbfSkew => "an ID-JAG not valid for another",
                Tolerance::MaxLifetime => "a lifetime of",
                Tolerance::MaxIatAge => "an iat as old as",
            };
            return outcome(
                Verdict::Info,
                format!("accepts {what} {bound}, the search bound: no limit found"),
            );
        }
        Ok((_, Outcome::NoAnswer { reason })) => {
            return outcome(Verdict::Error, format!("no answer: {reason}"));
        }
        Ok(_) => {}
        Err(e) => return outcome(Verdict::Error, e),
    }
    // Invariant: lo accepted, hi refused.
    while hi - lo > 1 && steps < 20 {
        steps += 1;
        let mid = lo + (hi - lo) / 2;
        match try_offset(mid).await {
            Ok((_, Outcome::Accepted { .. })) => lo = mid,
            Ok((_, Outcome::NoAnswer { reason })) => {
                return outcome(Verdict::Error, format!("no answer: {reason}"));
            }
            Ok(_) => hi = mid,
            Err(e) => return outcome(Verdict::Error, e),
        }
    }
    let what = match m.tolerance {
        Tolerance::ExpSkew => "accepts an ID-JAG up to",
        Tolerance::NbfSkew => "accepts an ID-JAG before its nbf by up to",
        Tolerance::MaxLifetime => "accepts a lifetime (exp − now) of up to",
        Tolerance::MaxIatAge => "accepts an iat as old as",
    };
    let tail = if m.tolerance == Tolerance::ExpSkew {
        " after its exp"
    } else {
        ""
    };
    outcome(
        Verdict::Info,
        format!("{what} {lo} s{tail} (measured in {} requests)", steps + 2),
    )
}

/// JAG-SIG-14: the control is accepted with the trusted issuer's current key K1; the IdP then
/// replaces K1 by a new key, and fresh K1-signed ID-JAGs are sent until one is refused or the
/// server's JWKS cache time plus a margin has passed. The IdP is restored after, and K1 is
/// sent again until the server accepts it, so that later checks find it trusted again.
async fn key_removal(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    rules: &oracle::KeyRemoval,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    let Some(ttl) = ctx.fixture.jwks_cache_ttl else {
        return outcome(
            Verdict::Skip,
            "not applicable to this target: its JWKS cache time is unknown (set jwks_cache_ttl in the target file)",
        );
    };
    let Some(hits) = &ctx.hits else {
        return outcome(
            Verdict::Skip,
            "not applicable: the fake IdP is not this run's",
        );
    };
    let margin = rules
        .margin
        .as_deref()
        .and_then(|m| humantime::parse_duration(m).ok())
        .unwrap_or_else(|| (ttl / 10).max(Duration::from_secs(1)));
    let step = (ttl / 20).clamp(Duration::from_millis(200), Duration::from_secs(15));
    let baseline = ctx.fixture.baseline();
    let send = |role: &'static str| {
        let baseline = baseline.clone();
        async move {
            let m =
                mint(&ctx.keyring, &baseline, &sc.jag, now_secs()).map_err(|e| e.to_string())?;
            let req = token_request(ctx, sc, &m.token, None)?;
            Ok::<_, String>(present(ctx, role, &req).await)
        }
    };
    let (ex, control) = match send("control").await {
        Ok(x) => x,
        Err(e) => return outcome(Verdict::Error, e),
    };
    exchanges.push(ex);
    if !matches!(control, Outcome::Accepted { .. }) {
        return oracle::judge_negative(level, &[], &control, &control, "");
    }
    let restore = RestoreIdp(hits);
    hits.set_condition(crate::idp::IdpCondition {
        remove_current_key: true,
        ..Default::default()
    });
    let removed = Instant::now();
    let deadline = ttl + margin;
    let mut refused_after = None;
    let mut refusal = String::new();
    let mut sent = 0;
    loop {
        tokio::time::sleep(step).await;
        let (ex, o) = match send("probe").await {
            Ok(x) => x,
            Err(e) => return outcome(Verdict::Error, e),
        };
        sent += 1;
        // Keep the first few probes and the last one.
        if exchanges.len() < 4 || !matches!(o, Outcome::Accepted { .. }) {
            exchanges.push(ex);
        }
        match &o {
            Outcome::Accepted { .. } => {}
            Outcome::NoAnswer { reason } => {
                return outcome(Verdict::Error, format!("no answer: {reason}"));
            }
            _ => {
                refused_after = Some(removed.elapsed());
                refusal = oracle::summarize(&o);
                break;
            }
        }
        if removed.elapsed() >= deadline {
            break;
        }
    }
    drop(restore);
    let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    let judgement = match refused_after {
        Some(after) => {
            let within = if after < ttl {
                " (within the cache time: the server refetched)"
            } else {
                ""
            };
            outcome(
                Verdict::Pass,
                format!(
                    "an ID-JAG signed with the removed key was refused {} after the removal{within} \
                     ({}; JWKS cache time {}); measured over {sent} requests",
                    secs(after),
                    refusal,
                    secs(ttl)
                ),
            )
        }
        None => outcome(
            level.violation(),
            format!(
                "an ID-JAG signed with the removed key was still accepted {} after the removal \
                 (JWKS cache time {}, margin {})",
                secs(removed.elapsed()),
                secs(ttl),
                secs(margin)
            ),
        ),
    };
    // Recovery: the key is back; wait until the server uses it again.
    let mut recovered = false;
    let back = Instant::now();
    while back.elapsed() < deadline + Duration::from_secs(1) {
        if let Ok((ex, o)) = send("recovery").await {
            let ok = matches!(o, Outcome::Accepted { .. });
            if ok {
                exchanges.push(ex);
                recovered = true;
                break;
            }
        }
        tokio::time::sleep(step).await;
    }
    if recovered {
        judgement
    } else {
        Judgement {
            reason: format!(
                "{}; the server did not accept the restored key again within {}",
                judgement.reason,
                secs(deadline + Duration::from_secs(1))
            ),
            ..judgement
        }
    }
}

/// LOAD-02: the very same ID-JAG sent `sends` times at once. With a single-use ID-JAG at most
/// one may be accepted; otherwise the count is recorded.
async fn concurrent_replay(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    spec: oracle::ConcurrentReplay,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let n = spec.sends.clamp(2, 50);
    let minted = match mint(&ctx.keyring, &ctx.fixture.baseline(), &sc.jag, now_secs()) {
        Ok(m) => m,
        Err(e) => return outcome(Verdict::Error, format!("could not mint the ID-JAG: {e}")),
    };
    *token = Some(sent(
        &minted,
        &format!("the same ID-JAG sent {n} times at once"),
    ));
    let req = match token_request(ctx, sc, &minted.token, None) {
        Ok(r) => r,
        Err(e) => return outcome(Verdict::Skip, format!("not applicable to this target: {e}")),
    };
    let mut tasks = tokio::task::JoinSet::new();
    // Everyone waits at the barrier, so the requests leave together.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n as usize));
    for i in 0..n {
        let (http, url, req, barrier) = (
            ctx.http.clone(),
            ctx.fixture.token_endpoint.clone(),
            req.clone(),
            barrier.clone(),
        );
        tasks.spawn(async move {
            barrier.wait().await;
            (i, http.token_request("probe", &url, &req).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = results.iter().map(|(_, ex)| oracle::classify(ex)).collect();
    exchanges.extend(results.into_iter().map(|(_, ex)| ex));
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Accepted { .. }))
        .count();
    let unanswered = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::NoAnswer { .. }))
        .count();
    let figure = format!("{accepted} of {n} identical requests sent at once were accepted");
    if spec.single_use && accepted > 1 {
        return outcome(
            level.violation(),
            format!(
                "{figure}: a single-use ID-JAG was redeemed {accepted} times (a replay-cache race)"
            ),
        );
    }
    if unanswered > 0 {
        let why = outcomes
            .iter()
            .find_map(|o| match o {
                Outcome::NoAnswer { reason } => Some(reason.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        return outcome(
            Verdict::Error,
            format!("no answer: {why} ({unanswered} of {n} got none; {figure})"),
        );
    }
    if accepted == 0 {
        let first = outcomes.first().map(oracle::summarize).unwrap_or_default();
        return outcome(Verdict::Skip, format!("baseline not accepted: {first}"));
    }
    if spec.single_use {
        outcome(
            Verdict::Pass,
            format!("{figure}, as a single-use ID-JAG requires"),
        )
    } else {
        outcome(Verdict::Info, figure)
    }
}

/// Mints `jag`, presents it as `role`, and keeps the exchange.
async fn mint_and_present(
    ctx: &RunContext,
    sc: &Scenario,
    jag: &JagMutation,
    role: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<(Minted, Outcome), String> {
    let m = mint(&ctx.keyring, &ctx.fixture.baseline(), jag, now_secs())
        .map_err(|e| format!("could not mint the ID-JAG: {e}"))?;
    let req = token_request(ctx, sc, &m.token, None)?;
    let (ex, o) = present(ctx, role, &req).await;
    exchanges.push(ex);
    Ok((m, o))
}

/// Calls the target's whoami endpoint with `access_token` as Bearer and reads the principal
/// (`Err` holds why there is none; no answer at all is marked by the exchange's error).
async fn call_whoami(
    ctx: &RunContext,
    url: &str,
    access_token: &str,
    exchanges: &mut Vec<Exchange>,
) -> (
    bool,
    Result<(String, serde_json::Map<String, Value>), String>,
) {
    let ex = ctx
        .http
        .bearer_request(
            "whoami",
            crate::client::HttpMethod::Get,
            url,
            Some(access_token),
        )
        .await;
    let answered = ex.response.is_some();
    let read = oracle::read_whoami(&ex);
    exchanges.push(ex);
    (answered, read)
}

fn access_token_of(o: &Outcome) -> &str {
    match o {
        Outcome::Accepted { body } => body
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        _ => "",
    }
}

/// RS-11: obtains an access token with the scenario's ID-JAG and records what the whoami
/// endpoint says about it (INFO).
async fn whoami_record(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let Some(url) = ctx.fixture.whoami.clone() else {
        return outcome(
            Verdict::Skip,
            "not applicable to this target: no whoami endpoint (whoami in the target file)",
        );
    };
    let (m, o) = match mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await {
        Ok(x) => x,
        Err(e) => return outcome(Verdict::Error, e),
    };
    *token = Some(sent(&m, &sc.describe()));
    if !matches!(o, Outcome::Accepted { .. }) {
        return oracle::judge_negative(level, &[], &o, &o, "");
    }
    match call_whoami(ctx, &url, access_token_of(&o), exchanges).await {
        (_, Ok((principal, body))) => oracle::judge_whoami(
            &principal,
            &body,
            &ctx.fixture.client.id,
            m.claims.get("scope").and_then(Value::as_str),
        ),
        (false, Err(e)) => outcome(Verdict::Error, format!("whoami: {e}")),
        (true, Err(e)) => outcome(Verdict::Info, format!("whoami: {e}")),
    }
}

/// JAG-SUB-03: the scenario's ID-JAG minted as the control issuer must be accepted (the
/// whoami endpoint names its principal P); the same ID-JAG from its own issuer must then be
/// refused, or accepted for another principal than P.
async fn distinct_principal(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    rules: &oracle::DistinctPrincipal,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let whoami = ctx.fixture.whoami.clone();
    let control_jag = JagMutation {
        issuer: Some(rules.control_issuer),
        ..sc.jag.clone()
    };
    let control = match mint_and_present(ctx, sc, &control_jag, "control", exchanges).await {
        Ok((_, o)) => o,
        Err(e) => return outcome(Verdict::Error, e),
    };
    if !matches!(control, Outcome::Accepted { .. }) {
        return oracle::judge_negative(level, &[], &control, &control, "");
    }
    let control_principal = match &whoami {
        None => None,
        Some(url) => match call_whoami(ctx, url, access_token_of(&control), exchanges).await {
            (_, Ok((p, _))) => Some(p),
            (false, Err(e)) => return outcome(Verdict::Error, format!("whoami: {e}")),
            (true, Err(e)) => {
                return outcome(
                    Verdict::Skip,
                    format!("the positive control's principal is unknown: {e}"),
                );
            }
        },
    };
    let (m, probe) = match mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await {
        Ok(x) => x,
        Err(e) => return outcome(Verdict::Error, e),
    };
    let what = sc.describe();
    *token = Some(sent(&m, &what));
    let probe_principal = match (&whoami, &probe) {
        (Some(url), Outcome::Accepted { .. }) => {
            let (_, read) = call_whoami(ctx, url, access_token_of(&probe), exchanges).await;
            Some(read.map(|(p, _)| p))
        }
        _ => None,
    };
    let label = |role: IssuerRole| match role {
        IssuerRole::Trusted => "ISS_A",
        IssuerRole::TrustedB => "ISS_B",
        IssuerRole::Untrusted => "ISS_X",
        IssuerRole::Attacker => "the attacker",
    };
    oracle::judge_distinct_principal(
        level,
        &rules.reject.to_vec(),
        (
            label(sc.jag.issuer.unwrap_or(IssuerRole::Trusted)),
            label(rules.control_issuer),
        ),
        control_principal.as_deref(),
        &probe,
        probe_principal,
        &what,
    )
}

/// Puts the fake IdP back to normal when dropped.
struct RestoreIdp<'a>(&'a crate::idp::HitLog);

impl Drop for RestoreIdp<'_> {
    fn drop(&mut self) {
        self.0.reset();
    }
}

/// Runs one scenario to its verdict.
pub async fn run(ctx: &RunContext, sc: &Scenario) -> CheckResult {
    let started = Instant::now();
    let mut exchanges = Vec::new();
    let mut token = None;
    let mark = ctx.hits.as_ref().map(|h| h.mark());
    // The IdP is restored when this guard drops, whatever happens to the check.
    let _restore = match (&sc.idp, &ctx.hits) {
        (Some(condition), Some(idp)) => {
            idp.set_condition(*condition);
            Some(RestoreIdp(idp))
        }
        _ => None,
    };
    let mut judgement = judge(ctx, sc, &mut exchanges, &mut token).await;
    if let (Some(observe), Some(hits), Some(mark)) = (&sc.observe, &ctx.hits, mark)
        && matches!(
            judgement.verdict,
            Verdict::Pass | Verdict::Fail | Verdict::Warn | Verdict::Info
        )
    {
        let prefix = format!("/{}", observe.no_fetch.path());
        let fetched: Vec<String> = hits
            .since(mark)
            .into_iter()
            .filter(|h| h.path.starts_with(&prefix) || h.path.ends_with(&prefix))
            .map(|h| format!("{} {}", h.method, h.path))
            .collect();
        if !fetched.is_empty() {
            let level = observe.level.unwrap_or(sc.requirement.level);
            let v = level.violation();
            let reason = format!(
                "the server fetched {} ({})",
                fetched.join(", "),
                judgement.reason
            );
            // A fetch is at least as bad as the level says, whatever the answer was.
            if judgement.verdict == Verdict::Pass || v == Verdict::Fail {
                judgement = Judgement { verdict: v, reason };
            }
        }
    }
    redact_issued_tokens(&mut exchanges);
    CheckResult {
        id: sc.id.clone(),
        title: sc.title.clone(),
        // The level in force under this run's profile.
        requirement: crate::spec::Requirement {
            level: sc.for_profile(&ctx.profile).0,
            ..sc.requirement.clone()
        },
        tags: sc.tags.clone(),
        verdict: judgement.verdict,
        reason: judgement.reason,
        token,
        exchanges,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Replaces the access and refresh tokens the RAS issued with `[REDACTED]` wherever they
/// appear in the record: against a real server they are live credentials.
pub(crate) fn redact_issued_tokens(exchanges: &mut [Exchange]) {
    let mut issued: Vec<String> = Vec::new();
    for ex in exchanges
        .iter()
        .filter(|e| e.role == "control" || e.role == "probe")
    {
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

fn outcome(verdict: Verdict, reason: impl Into<String>) -> Judgement {
    Judgement {
        verdict,
        reason: reason.into(),
    }
}

async fn present(ctx: &RunContext, role: &str, req: &FormRequest) -> (Exchange, Outcome) {
    let ex = ctx
        .http
        .token_request(role, &ctx.fixture.token_endpoint, req)
        .await;
    let o = oracle::classify(&ex);
    (ex, o)
}

async fn judge(
    ctx: &RunContext,
    original: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let sc = match resolve(ctx, original) {
        Ok(s) => s,
        Err(e) => return outcome(Verdict::Skip, format!("not applicable to this target: {e}")),
    };
    let (level, mut expect) = sc.for_profile(&ctx.profile);
    if let Expect::Metadata(rules) = &expect {
        let url = metadata_url(&ctx.fixture.ras_issuer);
        let ex = ctx.http.get("metadata", &url).await;
        let j = oracle::judge_metadata(level, rules, &ex);
        exchanges.push(ex);
        return j;
    }
    let what = sc.describe();
    match &expect {
        Expect::FetchBudget(budget) => {
            return fetch_budget(ctx, &sc, level, budget, exchanges).await;
        }
        Expect::Measure(m) => return measure(ctx, &sc, *m, exchanges).await,
        Expect::KeyRemoval(k) => return key_removal(ctx, &sc, level, k, exchanges).await,
        Expect::ConcurrentReplay(c) => {
            return concurrent_replay(ctx, &sc, level, *c, exchanges, token).await;
        }
        Expect::Whoami(_) => return whoami_record(ctx, &sc, level, exchanges, token).await,
        Expect::DistinctPrincipal(d) => {
            return distinct_principal(ctx, &sc, level, d, exchanges, token).await;
        }
        _ => {}
    }
    let baseline = ctx.fixture.baseline();
    let mint_now = |m: &JagMutation| mint(&ctx.keyring, &baseline, m, now_secs());
    // A jti the control and the probe share.
    let shared_jti = sc.share_jti.then(fresh_jti);
    let mut probe_jag = sc.jag.clone();
    if let Some(jti) = &shared_jti {
        probe_jag
            .claims
            .insert("jti".into(), Value::String(jti.clone()));
    }

    // The ID-JAG under test.
    let probe_token = match sc.obtain {
        Obtain::Mint => match mint_now(&probe_jag) {
            Ok(m) => {
                *token = Some(sent(&m, &what));
                m.token
            }
            Err(e) => return outcome(Verdict::Error, format!("could not mint the ID-JAG: {e}")),
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
    if let Expect::Reject(oracle::RejectSpec::Rules(r)) = &mut expect {
        r.body_excludes
            .iter_mut()
            .for_each(|t| *t = t.replace("${jag}", &probe_token));
    }
    // A client assertion that the control and the probe share (client-assertion replay).
    let reuse = sc
        .request
        .client_assertion
        .as_ref()
        .is_some_and(|c| c.reuse);
    let shared_assertion = if reuse {
        match client_assertion(ctx, 0, None) {
            Ok(a) => Some(a),
            Err(e) => return outcome(Verdict::Skip, format!("not applicable to this target: {e}")),
        }
    } else {
        None
    };
    let probe_req = match token_request(ctx, &sc, &probe_token, shared_assertion.as_deref()) {
        Ok(r) => r,
        Err(e) => return outcome(Verdict::Skip, format!("not applicable to this target: {e}")),
    };

    // The positive control: the same request with the valid ID-JAG (fresh jti), or for a
    // replay the very same ID-JAG, sent first.
    let control = if sc.replay || sc.share_jti || expect.needs_control() {
        let control_req = if sc.replay {
            probe_req.clone()
        } else {
            // The control authenticates as C1, unless it must use the shared client assertion.
            let mut valid_jag = JagMutation::default();
            if let Some(jti) = &shared_jti {
                valid_jag
                    .claims
                    .insert("jti".into(), Value::String(jti.clone()));
            }
            if reuse && let Some(id) = &ctx.fixture.client3 {
                valid_jag
                    .claims
                    .insert("client_id".into(), Value::String(id.clone()));
            }
            let valid = match mint_now(&valid_jag) {
                Ok(m) => m,
                Err(e) => {
                    return outcome(
                        Verdict::Error,
                        format!("could not mint the positive control: {e}"),
                    );
                }
            };
            let mut request = crate::scenario::RequestChange::default();
            if reuse {
                request.client = Some(ClientChoice::C3);
            }
            let baseline_sc = Scenario {
                request,
                ..sc.clone()
            };
            match token_request(ctx, &baseline_sc, &valid.token, shared_assertion.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    return outcome(Verdict::Skip, format!("not applicable to this target: {e}"));
                }
            }
        };
        let (ex, o) = present(ctx, "control", &control_req).await;
        exchanges.push(ex);
        if !matches!(o, Outcome::Accepted { .. }) {
            return oracle::judge_negative(level, &[], &o, &o, &what);
        }
        Some(o)
    } else {
        None
    };

    let (ex, mut probe) = present(ctx, "probe", &probe_req).await;
    let mut response = ex.response.clone();
    exchanges.push(ex);
    // A refused probe of a check that allows a retry: wait, then send a fresh one.
    let wait = sc
        .retry_after
        .as_deref()
        .and_then(|w| humantime::parse_duration(w).ok());
    if let (Some(wait), Expect::Accept(_) | Expect::Reject(_), Obtain::Mint) =
        (wait, &expect, sc.obtain)
        && !matches!(probe, Outcome::Accepted { .. } | Outcome::NoAnswer { .. })
    {
        tokio::time::sleep(wait).await;
        if let Ok(again) = mint_now(&sc.jag)
            && let Ok(req) = token_request(ctx, &sc, &again.token, None)
        {
            let (ex, o) = present(ctx, "retry", &req).await;
            response = ex.response.clone();
            exchanges.push(ex);
            probe = o;
        }
    }
    let what = if sc.replay {
        format!("{what} sent a second time")
    } else if sc.share_jti {
        format!("{what}, with the jti of the control just accepted,")
    } else {
        what
    };
    let accepted = Outcome::Accepted {
        body: Default::default(),
    };
    let control = control.unwrap_or(accepted);
    let j = match &expect {
        Expect::Accept(rules) => {
            oracle::judge_positive(level, rules, &probe, response.as_ref(), &what)
        }
        Expect::Reject(spec) => {
            oracle::judge_reject(level, spec, &control, &probe, response.as_ref(), &what)
        }
        Expect::Either(rules) => {
            oracle::judge_either(level, rules, &control, &probe, response.as_ref(), &what)
        }
        Expect::Record(_) => oracle::judge_record(&control, &probe, &what),
        // Handled before any token is minted.
        Expect::Metadata(_)
        | Expect::FetchBudget(_)
        | Expect::Measure(_)
        | Expect::KeyRemoval(_)
        | Expect::ConcurrentReplay(_)
        | Expect::Whoami(_)
        | Expect::DistinctPrincipal(_) => {
            return outcome(Verdict::Error, "this expectation has its own path");
        }
    };
    match (&sc.api, &probe) {
        (Some(step), Outcome::Accepted { body }) if j.verdict == Verdict::Pass => {
            let at = body
                .get("access_token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            api_step(ctx, step, level, at, &probe_token, exchanges).await
        }
        _ => j,
    }
}

/// Calls the resource API with the token the step names and judges the answer (RFC 6750).
async fn api_step(
    ctx: &RunContext,
    step: &ApiStep,
    level: Level,
    access_token: &str,
    id_jag: &str,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    let Some(url) = step.url.clone().or_else(|| ctx.fixture.api_r1.clone()) else {
        return outcome(
            Verdict::Skip,
            "not applicable to this target: no resource API (api.r1)",
        );
    };
    let bearer = match step.token {
        ApiToken::AccessToken => Some(access_token.to_string()),
        ApiToken::None => None,
        ApiToken::IdJag => Some(id_jag.to_string()),
        ApiToken::Tampered => {
            let mut t: Vec<char> = access_token.chars().collect();
            let mid = t.len() / 2;
            if let Some(c) = t.get_mut(mid) {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
            Some(t.into_iter().collect())
        }
    };
    let ex = ctx
        .http
        .bearer_request("api", step.method, &url, bearer.as_deref())
        .await;
    let Some(resp) = ex.response.clone() else {
        let reason = ex.error.clone().unwrap_or_default();
        exchanges.push(ex);
        return outcome(Verdict::Error, format!("resource API: no answer: {reason}"));
    };
    exchanges.push(ex);
    let mut problems = Vec::new();
    if resp.status != step.status {
        problems.push(format!(
            "the resource API answered {}, expected {}",
            resp.status, step.status
        ));
    }
    let challenge: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.as_str())
        .collect();
    let bearer_challenge = challenge
        .iter()
        .find(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("bearer"));
    if let Some(code) = &step.challenge {
        match bearer_challenge {
            Some(v) if v.contains(&format!("error=\"{code}\"")) => {}
            Some(v) => problems.push(format!(
                "WWW-Authenticate is `{v}`, expected error=\"{code}\""
            )),
            None => problems.push("no WWW-Authenticate: Bearer challenge".into()),
        }
    }
    // RFC 6750 §3: the challenge is a MUST; leaving out the error code when no credentials
    // were sent is a SHOULD NOT, so an error code alone is at most WARN.
    let mut should_problems = Vec::new();
    if step.challenge_without_error {
        match bearer_challenge {
            Some(v) if !v.contains("error=") => {}
            Some(v) => should_problems.push(format!(
                "WWW-Authenticate `{v}` carries an error though no credentials were sent"
            )),
            None => problems.push("no WWW-Authenticate: Bearer challenge".into()),
        }
    }
    if !problems.is_empty() {
        problems.extend(should_problems);
        outcome(level.violation(), problems.join("; "))
    } else if !should_problems.is_empty() {
        let v = if level == Level::Must {
            Level::Should.violation()
        } else {
            level.violation()
        };
        outcome(v, should_problems.join("; "))
    } else {
        outcome(
            Verdict::Pass,
            format!("resource API answered {} as required", resp.status),
        )
    }
}
