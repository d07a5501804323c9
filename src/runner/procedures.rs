//! The procedures a scenario may name instead of rules: each conducts its requests and
//! returns what it observed (counts, timings, fetches, principals) or where it stopped; the
//! oracle judges the observation.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::RunContext;
use super::request::{
    RestoreIdp, access_token_of, mint_and_present, mint_jag, present, sent, token_request,
};
use crate::client::FormRequest;
use crate::fixture::Introspection;
use crate::jose::mint::fresh_jti;
use crate::jose::mint::unix_now as now_secs;
use crate::jose::{IssuerRole, JagMutation};
use crate::oracle::{
    self, BuildError, ConcurrentReplayObservation, DistinctPrincipalObservation,
    FetchBudgetObservation, Incomplete, Introspected, IntrospectionObservation, Judgement,
    KeyRemovalObservation, MeasureObservation, Outcome, Prerequisite, Procedure, TokenSource,
    Tolerance, WhoamiError, WhoamiObservation,
};
use crate::report::model::{Exchange, SentToken};
use crate::scenario::Scenario;
use crate::spec::Level;

/// Conducts `procedure` and has the oracle judge what it observed.
pub(super) async fn conduct(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    procedure: &Procedure,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let judged = match procedure {
        Procedure::FetchBudget(b) => fetch_budget(ctx, sc, b.sends, exchanges)
            .await
            .map(|seen| oracle::judge_fetch_budget(level, b, &seen)),
        Procedure::Measure(m) => measure(ctx, sc, m.tolerance, m.max_secs, exchanges)
            .await
            .map(|seen| oracle::judge_measure(m.tolerance, &seen)),
        Procedure::KeyRemoval(k) => key_removal(ctx, sc, k.margin.as_deref(), exchanges)
            .await
            .map(|seen| oracle::judge_key_removal(level, &seen)),
        Procedure::ConcurrentReplay(c) => concurrent_replay(ctx, sc, c.sends, exchanges, token)
            .await
            .map(|seen| oracle::judge_concurrent_replay(level, *c, &seen)),
        Procedure::Whoami(_) => whoami_record(ctx, sc, exchanges, token)
            .await
            .map(|(source, seen)| oracle::judge_token_record(source, &seen)),
        Procedure::Introspect(_) => introspection_record(ctx, sc, exchanges, token)
            .await
            .map(|seen| oracle::judge_introspection(level, &seen)),
        Procedure::JwtAccessToken(r) => {
            super::jwt_access_token::observe(ctx, sc, r.rule, exchanges, token)
                .await
                .map(|seen| oracle::judge_jwt_access_token(level, r.rule, &seen, now_secs()))
        }
        Procedure::Cleartext(_) => super::cleartext::cleartext(ctx, sc, exchanges)
            .await
            .map(|(url, probe)| oracle::judge_cleartext(level, &url, &probe)),
        Procedure::OwnIdJag(o) => super::own_grant::own_id_jag(ctx, sc, exchanges, token)
            .await
            .map(|seen| {
                let what = "the ID-JAG the RAS's own IdP issued in its own trust domain";
                oracle::judge_own_id_jag(level, o, &seen, what)
            }),
        Procedure::DistinctPrincipal(d) => distinct_principal(ctx, sc, d, exchanges, token)
            .await
            .map(|seen| {
                oracle::judge_distinct_principal_observation(
                    level,
                    d,
                    sc.jag.issuer.unwrap_or(IssuerRole::Trusted),
                    &sc.jag.claims,
                    &seen,
                    &sc.describe(),
                )
            }),
    };
    judged.unwrap_or_else(|stop| oracle::judge_incomplete(level, &stop))
}

/// Mints `jag` now and builds the scenario's token request around it.
fn minted_request(
    ctx: &RunContext,
    sc: &Scenario,
    jag: &JagMutation,
) -> Result<FormRequest, BuildError> {
    let m = mint_jag(ctx, jag, now_secs()).map_err(|e| BuildError::Internal(e.to_string()))?;
    token_request(ctx, sc, &m.token, None)
}

fn is_accepted(o: &Outcome) -> bool {
    matches!(o, Outcome::Accepted { .. })
}

/// LOAD-05: sends a valid control, then `sends` ID-JAGs each under a fresh unknown `kid`,
/// and counts the JWKS fetches they cause at the fake IdP. The flood is sent one request
/// after the other through the client's pacer, so it never exceeds a declared `max_rate`;
/// the fetches allowed grow with the time it takes (see the oracle's judgement).
async fn fetch_budget(
    ctx: &RunContext,
    sc: &Scenario,
    sends: u32,
    exchanges: &mut Vec<Exchange>,
) -> Result<FetchBudgetObservation, Incomplete> {
    let hits = ctx
        .hits
        .as_ref()
        .ok_or(Incomplete::Missing(Prerequisite::IdpLog))?;
    let req = minted_request(ctx, sc, &JagMutation::default())?;
    let (ex, control) = present(ctx, "control", &req).await;
    exchanges.push(ex);
    if !is_accepted(&control) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    let mark = hits
        .mark()
        .await
        .map_err(|_| Incomplete::Missing(Prerequisite::IdpLog))?;
    let mut accepted = 0;
    let sends = sends.min(100);
    let started = Instant::now();
    for _ in 0..sends {
        let mut jag = sc.jag.clone();
        jag.sign = Some(crate::jose::mutate::Signing::UnknownKid);
        jag.header.insert("kid".into(), Value::String(fresh_jti()));
        let req = minted_request(ctx, sc, &jag)?;
        let (ex, o) = present(ctx, "probe", &req).await;
        if is_accepted(&o) {
            accepted += 1;
        }
        if exchanges.len() < 4 {
            exchanges.push(ex);
        }
    }
    let jwks_path = format!("/{}/jwks", IssuerRole::Trusted.path());
    let fetches = hits
        .since(mark)
        .await
        .map_err(|_| Incomplete::Missing(Prerequisite::IdpLog))?
        .iter()
        .filter(|h| h.path == jwks_path)
        .count();
    Ok(FetchBudgetObservation {
        sends,
        accepted,
        fetches,
        took: started.elapsed(),
    })
}

/// Binary-searches the largest offset (whole seconds, up to `max_secs`) at which a fresh
/// ID-JAG with the measured time claim is still accepted.
async fn measure(
    ctx: &RunContext,
    sc: &Scenario,
    tolerance: Tolerance,
    max_secs: i64,
    exchanges: &mut Vec<Exchange>,
) -> Result<MeasureObservation, Incomplete> {
    let try_offset = |offset: i64| {
        let mut jag = sc.jag.clone();
        let now = now_secs();
        let (claim_exp, claim_iat, claim_nbf) = match tolerance {
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
        async move {
            let minted =
                mint_jag(ctx, &jag, now).map_err(|e| BuildError::Internal(e.to_string()))?;
            let req = token_request(ctx, sc, &minted.token, None)?;
            Ok::<_, BuildError>(present(ctx, "probe", &req).await)
        }
    };
    let start = search_start(tolerance);
    let (ex, control) = try_offset(start).await?;
    exchanges.push(ex);
    search(start, control, max_secs, |offset| {
        let probe = try_offset(offset);
        async move { Ok::<_, Incomplete>(probe.await?.1) }
    })
    .await
}

/// The offset of a measure's control: one every server accepts. An `exp` of now is expired
/// (RFC 7519 §4.1.4: the current time MUST be before it), so the `exp` searches start with
/// an `exp` 30 s ahead, and a server without leeway measures 0 s instead of failing its
/// control.
pub(crate) fn search_start(tolerance: Tolerance) -> i64 {
    match tolerance {
        Tolerance::ExpSkew => -30,
        Tolerance::MaxLifetime => 30,
        Tolerance::NbfSkew | Tolerance::MaxIatAge => 0,
    }
}

/// Binary-searches the boundary between the accepted `start` (whose answer is `control`) and
/// `max_secs`: the largest offset accepted and the smallest refused, `probe` answering each
/// offset tried. Pure apart from `probe`.
pub(crate) async fn search<F, Fut>(
    start: i64,
    control: Outcome,
    max_secs: i64,
    mut probe: F,
) -> Result<MeasureObservation, Incomplete>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome, Incomplete>>,
{
    if !is_accepted(&control) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    // The bound must be refused, or there is nothing to find.
    let (mut lo, mut hi) = (start, max_secs.max(start + 1));
    let mut steps = 0;
    match probe(hi).await? {
        Outcome::Accepted { .. } => return Ok(MeasureObservation::NoLimit { bound_secs: hi }),
        Outcome::NoAnswer { reason } => return Err(Incomplete::NoAnswer(reason)),
        _ => {}
    }
    // Invariant: lo accepted, hi refused.
    while hi - lo > 1 && steps < 32 {
        steps += 1;
        let mid = lo + (hi - lo) / 2;
        match probe(mid).await? {
            Outcome::Accepted { .. } => lo = mid,
            Outcome::NoAnswer { reason } => return Err(Incomplete::NoAnswer(reason)),
            _ => hi = mid,
        }
    }
    Ok(MeasureObservation::Limit {
        accepted_secs: lo,
        refused_secs: hi,
        requests: steps + 2,
    })
}

/// JAG-SIG-14: the control is accepted with the trusted issuer's current key K1; the IdP then
/// replaces K1 by a new key, and fresh K1-signed ID-JAGs are sent until one is refused or the
/// server's JWKS cache time plus a margin has passed. The IdP is restored after, and K1 is
/// sent again until the server accepts it, so that later checks find it trusted again.
async fn key_removal(
    ctx: &RunContext,
    sc: &Scenario,
    margin: Option<&str>,
    exchanges: &mut Vec<Exchange>,
) -> Result<KeyRemovalObservation, Incomplete> {
    let ttl = ctx
        .fixture
        .jwks_cache_ttl
        .ok_or(Incomplete::Missing(Prerequisite::JwksCacheTtl))?;
    let hits = ctx
        .hits
        .as_ref()
        .ok_or(Incomplete::Missing(Prerequisite::OwnIdp))?;
    let margin = margin
        .and_then(|m| humantime::parse_duration(m).ok())
        .unwrap_or_else(|| (ttl / 10).max(Duration::from_secs(1)));
    let step = (ttl / 20).clamp(Duration::from_millis(200), Duration::from_secs(15));
    let send = |role: &'static str| async move {
        let req = minted_request(ctx, sc, &sc.jag)?;
        Ok::<_, BuildError>(present(ctx, role, &req).await)
    };
    let (ex, control) = send("control").await?;
    exchanges.push(ex);
    if !is_accepted(&control) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    let restore = RestoreIdp(hits);
    hits.set_condition(crate::idp::IdpCondition {
        remove_current_key: true,
        ..Default::default()
    })
    .await
    .map_err(|_| Incomplete::Missing(Prerequisite::OwnIdp))?;
    let removed = Instant::now();
    let deadline = ttl + margin;
    ctx.waiting(
        &sc.id,
        Some((
            format!(
                "waiting for the RAS's {} JWKS cache",
                humantime::format_duration(ttl)
            ),
            removed + deadline,
        )),
    );
    let mut refused = None;
    let mut sent = 0;
    loop {
        tokio::time::sleep(step).await;
        let (ex, o) = send("probe").await?;
        sent += 1;
        // Keep the first few probes and the last one.
        if exchanges.len() < 4 || !is_accepted(&o) {
            exchanges.push(ex);
        }
        match o {
            Outcome::Accepted { .. } => {}
            Outcome::NoAnswer { reason } => return Err(Incomplete::NoAnswer(reason)),
            refusal => {
                refused = Some((removed.elapsed(), refusal));
                break;
            }
        }
        if removed.elapsed() >= deadline {
            break;
        }
    }
    drop(restore);
    ctx.waiting(&sc.id, None);
    let probed_for = removed.elapsed();
    let recovery_window = deadline + Duration::from_secs(1);
    let recovered = recover(ctx, sc, step, recovery_window, exchanges).await;
    Ok(KeyRemovalObservation {
        ttl,
        margin,
        refused,
        probed_for,
        sent,
        recovered,
        recovery_window,
    })
}

/// After a key removal the key is back: sends the scenario's ID-JAG every `step` until the
/// server accepts it again (true) or `window` has passed (false).
async fn recover(
    ctx: &RunContext,
    sc: &Scenario,
    step: Duration,
    window: Duration,
    exchanges: &mut Vec<Exchange>,
) -> bool {
    let back = Instant::now();
    while back.elapsed() < window {
        if let Ok(req) = minted_request(ctx, sc, &sc.jag) {
            let (ex, o) = present(ctx, "recovery", &req).await;
            if is_accepted(&o) {
                exchanges.push(ex);
                return true;
            }
        }
        tokio::time::sleep(step).await;
    }
    false
}

/// LOAD-02: a fresh ID-JAG sent twice in a row, then another sent `sends` times at once (2 to
/// 50), as `load`'s replay race does.
async fn concurrent_replay(
    ctx: &RunContext,
    sc: &Scenario,
    sends: u32,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<ConcurrentReplayObservation, Incomplete> {
    // A race is released at once, so its sends bypass the pacer, which would space them out
    // and serialize the race; under a declared max_rate they are capped at one second's
    // worth, and the pacer's slots for them are taken before they leave.
    let n = ctx
        .fixture
        .burst_allowance(sends.clamp(2, 50))
        .map_err(|why| Incomplete::Unbuilt(BuildError::NotApplicable(why.0)))?;
    // First one fresh ID-JAG twice in a row: the race's control, and whether the server
    // refuses a second use at all (then it claims replay protection).
    let mint = || {
        mint_jag(ctx, &sc.jag, now_secs())
            .map_err(|e| BuildError::Internal(format!("could not mint the ID-JAG: {e}")))
    };
    let once = mint()?;
    let once_req = token_request(ctx, sc, &once.token, None)?;
    let url = &ctx.fixture.token_endpoint;
    let first = ctx.http.token_request("control", url, &once_req).await;
    let second = ctx.http.token_request("probe", url, &once_req).await;
    let sequential = (oracle::classify(&first), oracle::classify(&second));
    exchanges.extend([first, second]);

    let minted = mint()?;
    *token = Some(sent(
        &minted,
        &format!("the same ID-JAG sent {n} times at once"),
    ));
    let req = token_request(ctx, sc, &minted.token, None)?;
    let http = ctx.http.burst(n).await;
    let mut tasks = tokio::task::JoinSet::new();
    // Everyone waits at the barrier, so the requests leave together.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n as usize));
    for i in 0..n {
        let (http, url, req, barrier) = (
            http.clone(),
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
    let outcomes = results.iter().map(|(_, ex)| oracle::classify(ex)).collect();
    exchanges.extend(results.into_iter().map(|(_, ex)| ex));
    Ok(ConcurrentReplayObservation {
        sends: n,
        outcomes,
        sequential: Some(sequential),
    })
}

/// Where the suite asks whom a token represents: introspection the target declares, else
/// the whoami endpoint it declares, else the introspection endpoint its metadata names
/// (called as C1). What the user wrote comes before what the suite found; of the two
/// declarations, the standard one (RFC 7662) first.
#[derive(Debug, Clone)]
pub(super) enum PrincipalSource {
    /// RFC 7662 introspection.
    Introspection(Introspection),
    /// The whoami URL.
    Whoami(String),
}

impl PrincipalSource {
    pub(super) fn kind(&self) -> TokenSource {
        match self {
            PrincipalSource::Introspection(_) => TokenSource::Introspection,
            PrincipalSource::Whoami(_) => TokenSource::Whoami,
        }
    }
}

/// The source of principals for this run, if any (see [`PrincipalSource`]).
pub(super) async fn principal_source(ctx: &RunContext) -> Option<PrincipalSource> {
    if let Some(i) = &ctx.fixture.introspection {
        return Some(PrincipalSource::Introspection(i.clone()));
    }
    if let Some(url) = &ctx.fixture.whoami {
        return Some(PrincipalSource::Whoami(url.clone()));
    }
    introspection(ctx).await.map(PrincipalSource::Introspection)
}

/// The introspection endpoint: the target's `introspection`, else its metadata's
/// `introspection_endpoint` with C1 (looked up once per run).
pub(super) async fn introspection(ctx: &RunContext) -> Option<Introspection> {
    if let Some(i) = &ctx.fixture.introspection {
        return Some(i.clone());
    }
    ctx.discovered_introspection
        .get_or_init(|| async {
            for (_, url) in super::metadata_locations(&ctx.fixture.ras_issuer) {
                let ex = ctx.http.get("metadata", &url).await;
                // No answer: the metadata cannot be had; the checks say so themselves.
                ex.response.as_ref()?;
                if oracle::is_metadata_document(&ex) {
                    let endpoint = super::request::json_body(&ex)?
                        .get("introspection_endpoint")?
                        .as_str()
                        .filter(|u| url::Url::parse(u).is_ok())?
                        .to_string();
                    return Some(Introspection {
                        url: endpoint,
                        client: ctx.fixture.client.clone(),
                    });
                }
            }
            None
        })
        .await
        .clone()
}

/// Introspects `token` (RFC 7662 §2.1: a form POST of `token` with the client's
/// authentication) and reads the answer.
pub(super) async fn introspect(
    ctx: &RunContext,
    endpoint: &Introspection,
    token: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<Introspected, WhoamiError> {
    let creds = crate::client::ClientCredentials {
        id: endpoint.client.id.clone(),
        secret: endpoint.client.secret.clone(),
        method: endpoint.client.auth.into(),
        secret_env: if endpoint.client.id == ctx.fixture.client.id {
            super::CLIENT_SECRET_ENV.into()
        } else {
            INTROSPECTION_SECRET_ENV.into()
        },
    };
    let params = vec![
        ("token".to_string(), token.to_string()),
        ("token_type_hint".to_string(), "access_token".to_string()),
    ];
    let ex = ctx
        .http
        .post_form("introspection", &endpoint.url, &params, Some(&creds))
        .await;
    let read = oracle::read_introspection(&ex);
    exchanges.push(ex);
    read
}

/// The environment variable curl reproductions name for the secret of an introspection client
/// other than C1.
pub const INTROSPECTION_SECRET_ENV: &str = "XAA_INTROSPECTION_CLIENT_SECRET";

/// Asks `source` whom `access_token` represents: the principal and the whole answer.
pub(super) async fn ask_principal(
    ctx: &RunContext,
    source: &PrincipalSource,
    access_token: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<(String, serde_json::Map<String, Value>), WhoamiError> {
    match source {
        PrincipalSource::Whoami(url) => call_whoami(ctx, url, access_token, exchanges).await,
        PrincipalSource::Introspection(i) => {
            oracle::introspected_principal(introspect(ctx, i, access_token, exchanges).await)
        }
    }
}

/// Calls the target's whoami endpoint with `access_token` as Bearer and reads the principal.
async fn call_whoami(
    ctx: &RunContext,
    url: &str,
    access_token: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<(String, serde_json::Map<String, Value>), WhoamiError> {
    let ex = ctx
        .http
        .bearer_request(
            "whoami",
            crate::client::HttpMethod::Get,
            url,
            Some(access_token),
        )
        .await;
    let read = oracle::read_whoami(&ex, ctx.fixture.whoami_principal.as_deref());
    exchanges.push(ex);
    read
}

/// RS-11: obtains an access token with the scenario's ID-JAG and asks whom it represents
/// (see [`principal_source`]).
async fn whoami_record(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<(TokenSource, WhoamiObservation), Incomplete> {
    let source = principal_source(ctx)
        .await
        .ok_or(Incomplete::Missing(Prerequisite::Whoami))?;
    let (m, o) = mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await?;
    *token = Some(sent(&m, &sc.describe()));
    if !is_accepted(&o) {
        return Err(Incomplete::ControlNotAccepted(o));
    }
    let answer = ask_principal(ctx, &source, access_token_of(&o), exchanges).await;
    Ok((
        source.kind(),
        WhoamiObservation {
            answer,
            client_id: ctx.fixture.client.id.clone(),
            jag_scope: m
                .claims
                .get("scope")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
    ))
}

/// RS-12: obtains an access token with the scenario's ID-JAG, introspects it, and
/// introspects a token the server never issued.
async fn introspection_record(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<IntrospectionObservation, Incomplete> {
    let endpoint = introspection(ctx)
        .await
        .ok_or(Incomplete::Missing(Prerequisite::Introspection))?;
    let (m, o) = mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await?;
    *token = Some(sent(&m, &sc.describe()));
    let Outcome::Accepted { body } = &o else {
        return Err(Incomplete::ControlNotAccepted(o));
    };
    let issued = introspect(ctx, &endpoint, access_token_of(&o), exchanges).await;
    // A token of the same form as an opaque one, which no server issued.
    let never_issued = crate::fixture::Secret::random();
    let unknown = introspect(ctx, &endpoint, never_issued.expose(), exchanges).await;
    let claim = |k: &str| m.claims.get(k).and_then(Value::as_str).map(str::to_string);
    let resource = match body.get("resource") {
        Some(Value::String(r)) => Some(r.clone()),
        _ => claim("resource"),
    };
    Ok(IntrospectionObservation {
        issued,
        unknown,
        response: body.clone(),
        client_id: ctx.fixture.client.id.clone(),
        jag_scope: claim("scope"),
        resource,
    })
}

/// JAG-SUB-03, JAG-SUB-04: the scenario's ID-JAG minted as the control issuer, with the
/// control's claims, must be accepted (whoami or introspection names its principal P); the
/// scenario's ID-JAG as is is then sent, and its token's principal asked for when it is
/// accepted.
async fn distinct_principal(
    ctx: &RunContext,
    sc: &Scenario,
    rules: &oracle::DistinctPrincipal,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<DistinctPrincipalObservation, Incomplete> {
    let source = principal_source(ctx).await;
    let mut control_jag = JagMutation {
        issuer: rules.control_issuer.or(sc.jag.issuer),
        ..sc.jag.clone()
    };
    control_jag.claims.extend(rules.control_claims.clone());
    let (_, control) = mint_and_present(ctx, sc, &control_jag, "control", exchanges).await?;
    if !is_accepted(&control) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    let control_principal = match &source {
        None => None,
        Some(src) => match ask_principal(ctx, src, access_token_of(&control), exchanges).await {
            Ok((p, _)) => Some(p),
            Err(e) => return Ok(DistinctPrincipalObservation::ControlUnknown(e)),
        },
    };
    let (m, probe) = mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await?;
    *token = Some(sent(&m, &sc.describe()));
    let probe_principal = match (&source, &probe) {
        (Some(src), Outcome::Accepted { .. }) => {
            let read = ask_principal(ctx, src, access_token_of(&probe), exchanges).await;
            Some(read.map(|(p, _)| p))
        }
        _ => None,
    };
    Ok(DistinctPrincipalObservation::Probed {
        control_principal,
        probe_principal,
        probe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with `leeway` whose clock reads `now` + 0.5 s (RFC 7519 §4.1.4: expired when
    /// now ≥ exp + leeway), answering an ID-JAG whose exp is `offset` s before the whole now.
    fn exp_server(
        leeway: i64,
    ) -> impl FnMut(i64) -> std::future::Ready<Result<Outcome, Incomplete>> {
        move |offset| {
            let (now, exp) = (1000.5f64, (1000 - offset) as f64);
            std::future::ready(Ok(if now < exp + leeway as f64 {
                Outcome::Accepted {
                    body: Default::default(),
                }
            } else {
                Outcome::Rejected {
                    status: 400,
                    error: "invalid_grant".into(),
                    description: None,
                }
            }))
        }
    }

    async fn exp_search(leeway: i64) -> MeasureObservation {
        let start = search_start(Tolerance::ExpSkew);
        let mut server = exp_server(leeway);
        let control = server(start).await.unwrap();
        search(start, control, 900, server).await.unwrap()
    }

    #[tokio::test]
    async fn a_server_without_leeway_measures_zero_seconds_on_exp() {
        let MeasureObservation::Limit {
            accepted_secs,
            refused_secs,
            ..
        } = exp_search(0).await
        else {
            panic!("no limit")
        };
        assert_eq!((accepted_secs, refused_secs), (-1, 0));
        let MeasureObservation::Limit { refused_secs, .. } = exp_search(60).await else {
            panic!("no limit")
        };
        assert_eq!(refused_secs, 60);
    }

    #[tokio::test]
    async fn the_lifetime_search_starts_at_a_lifetime_every_server_accepts() {
        // No leeway, lifetimes up to 300 s: exp = now is refused, exp = now + 30 s accepted.
        let server = move |offset: i64| {
            std::future::ready(Ok::<_, Incomplete>(if (1..=300).contains(&offset) {
                Outcome::Accepted {
                    body: Default::default(),
                }
            } else {
                Outcome::Rejected {
                    status: 400,
                    error: "invalid_grant".into(),
                    description: None,
                }
            }))
        };
        let start = search_start(Tolerance::MaxLifetime);
        let control = server(start).await.unwrap();
        let seen = search(start, control, 34_560_000, server).await.unwrap();
        assert!(matches!(
            seen,
            MeasureObservation::Limit {
                accepted_secs: 300,
                ..
            }
        ));
    }
}
