//! Running one scenario: resolve placeholders, obtain or mint the ID-JAG, send the positive
//! control and the probe, call the resource API, watch the IdP, judge.

use std::time::Instant;

use serde_json::Value;

use super::RunContext;
use super::procedures;
use crate::client::{AuthMethod, ClientCredentials, FormRequest};
use crate::idp::{ID_JAG_TOKEN_TYPE, ID_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::jose::mint::fresh_jti;
use crate::jose::mint::unix_now as now_secs;
use crate::jose::{IssuerRole, JagMutation, KeyAlg};
use crate::oracle::{
    self, ApiRules, BuildError, Expect, Incomplete, Judgement, Outcome, Prerequisite, RejectSpec,
    Rules,
};
use crate::report::model::{CheckResult, Exchange, RecordedResponse, SentToken};
use crate::scenario::{ApiStep, ApiToken, ClientChoice, Obtain, Scenario};
use crate::spec::Level;

pub use super::request::{CLIENT_ASSERTION_TYPE, CLIENT_SECRET_ENV, IDP_SECRET_ENV};
use super::request::{
    RestoreIdp, client_assertion, json_body, mint_jag, present, redact_issued_tokens, sent,
    token_request,
};

/// Replaces the target's placeholders in every string of the scenario (but `${jag}`).
/// A placeholder the target has no value for makes the check not applicable (the loader
/// has checked the names); a scenario that does not convert is an internal failure.
fn resolve(ctx: &RunContext, sc: &Scenario) -> Result<Scenario, BuildError> {
    fn walk(v: &mut Value, f: &crate::fixture::Fixture) -> Result<(), BuildError> {
        match v {
            Value::String(s) => {
                *s = f
                    .substitute(s)
                    .map_err(|e| BuildError::NotApplicable(e.0))?
            }
            Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, f))?,
            Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, f))?,
            _ => {}
        }
        Ok(())
    }
    let internal = |e: serde_json::Error| BuildError::Internal(format!("the scenario: {e}"));
    let mut v = serde_json::to_value(sc).map_err(internal)?;
    crate::fixture::rar::substitute_claims(&mut v, ctx.fixture.rar.as_ref())
        .map_err(|e| BuildError::NotApplicable(e.0))?;
    walk(&mut v, &ctx.fixture)?;
    serde_json::from_value(v).map_err(internal)
}

/// Why the fake IdP gave no ID-JAG by token exchange: ERROR, for the IdP is the suite's own.
#[derive(Debug, thiserror::Error)]
#[error("could not obtain an ID-JAG from the fake IdP: {0}")]
struct ExchangeError(String);

impl From<&str> for ExchangeError {
    fn from(why: &str) -> Self {
        ExchangeError(why.to_string())
    }
}

impl From<String> for ExchangeError {
    fn from(why: String) -> Self {
        ExchangeError(why)
    }
}

impl From<ExchangeError> for BuildError {
    fn from(e: ExchangeError) -> Self {
        BuildError::Internal(e.to_string())
    }
}

/// The requesting app's real path to an ID-JAG: sign the user in at the trusted issuer
/// (authorization code), then exchange the ID token for an ID-JAG for `audience` (RFC 8693,
/// ID-JAG §4.3), with a DPoP proof by `dpop` when given, so that the ID-JAG is bound to it
/// (§9.8.1.1).
async fn id_jag_by_exchange(
    ctx: &RunContext,
    audience: &str,
    exchanges: &mut Vec<Exchange>,
    dpop: Option<&crate::jose::SigningKey>,
) -> Result<String, ExchangeError> {
    let iss = ctx
        .fixture
        .issuers
        .get(&IssuerRole::Trusted)
        .ok_or("no trusted issuer")?;
    let app = ClientCredentials {
        id: ctx.idp_app.client_id.clone(),
        secret: ctx.idp_app.secret.clone(),
        method: AuthMethod::ClientSecretBasic,
        secret_env: IDP_SECRET_ENV.into(),
    };
    let code = sign_in(ctx, iss, &app, exchanges).await?;
    let id_token = redeem_code(ctx, iss, &app, &code, exchanges).await?;
    exchange_id_token(ctx, iss, &app, &id_token, audience, dpop, exchanges).await
}

/// Where the fake IdP sends the user back with the authorization code.
const REDIRECT_URI: &str = "http://127.0.0.1/callback";

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Signs the target's user in at the trusted issuer and returns the authorization code.
async fn sign_in(
    ctx: &RunContext,
    iss: &str,
    app: &ClientCredentials,
    exchanges: &mut Vec<Exchange>,
) -> Result<String, ExchangeError> {
    let state = fresh_jti();
    let mut authorize = url::Url::parse(&format!("{iss}/authorize")).map_err(|e| e.to_string())?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("nonce", &fresh_jti())
        .append_pair("login_hint", &ctx.fixture.subject);
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
    back.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| "IdP redirect has no code".into())
}

/// Redeems the authorization code for an ID token.
async fn redeem_code(
    ctx: &RunContext,
    iss: &str,
    app: &ClientCredentials,
    code: &str,
    exchanges: &mut Vec<Exchange>,
) -> Result<String, ExchangeError> {
    let ex = ctx
        .http
        .post_form(
            "idp-token",
            &format!("{iss}/token"),
            &form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
            ]),
            Some(app),
        )
        .await;
    let id_token = json_body(&ex).and_then(|b| {
        b.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let summary = oracle::summarize(&oracle::classify(&ex));
    exchanges.push(ex);
    id_token.ok_or_else(|| format!("IdP issued no ID token: {summary}").into())
}

/// Exchanges the ID token for an ID-JAG addressed to `audience` (the RAS, or another RAS the
/// IdP serves) with the target's resource and scope (RFC 8693).
async fn exchange_id_token(
    ctx: &RunContext,
    iss: &str,
    app: &ClientCredentials,
    id_token: &str,
    audience: &str,
    dpop: Option<&crate::jose::SigningKey>,
    exchanges: &mut Vec<Exchange>,
) -> Result<String, ExchangeError> {
    let f = &ctx.fixture;
    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ID_JAG_TOKEN_TYPE),
        ("audience", audience),
        ("subject_token", id_token),
        ("subject_token_type", ID_TOKEN_TYPE),
    ];
    if let Some(r) = &f.resource {
        pairs.push(("resource", r));
    }
    if let Some(s) = &f.scope {
        pairs.push(("scope", s));
    }
    let url = format!("{iss}/token");
    let mut headers = Vec::new();
    if let Some(key) = dpop {
        let target = crate::jose::dpop::ProofFor {
            htm: "POST".into(),
            htu: url.clone(),
            ..Default::default()
        };
        let proof = crate::jose::dpop::proof(
            key,
            key,
            &target,
            crate::jose::dpop::ProofChoice::Valid,
            now_secs(),
        )
        .map_err(|e| format!("could not make the DPoP proof: {e}"))?;
        headers.extend(proof.map(|p| ("DPoP".to_string(), p.token)));
    }
    let request = FormRequest {
        params: form(&pairs),
        auth: Some(app.clone()),
        headers,
        ..Default::default()
    };
    let ex = ctx
        .http
        .token_request("idp-token-exchange", &url, &request)
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

/// Where the metadata of `issuer` is looked for, in this order: the RFC 8414 §3 path-aware
/// location, the root (only when the issuer has a path, else it is the same URL), and OpenID
/// discovery (`{issuer}/.well-known/openid-configuration`).
pub fn metadata_locations(issuer: &str) -> Vec<(oracle::MetadataSource, String)> {
    use oracle::MetadataSource::{OpenIdDiscovery, PathAware, Root};
    let path_aware = metadata_url(issuer);
    let mut out = vec![(PathAware, path_aware.clone())];
    if let Ok(mut root) = url::Url::parse(issuer) {
        root.set_path("/.well-known/oauth-authorization-server");
        root.set_query(None);
        root.set_fragment(None);
        if root.as_str() != path_aware {
            out.push((Root, root.to_string()));
        }
    }
    out.push((
        OpenIdDiscovery,
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    ));
    out
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

/// Runs one scenario to its verdict.
pub async fn run(ctx: &RunContext, sc: &Scenario) -> CheckResult {
    let started = Instant::now();
    let mut exchanges = Vec::new();
    let mut token = None;
    // Only a check that watches the IdP's log marks it (a round trip to a running IdP).
    let mark = match ctx.hits.as_ref().filter(|_| sc.observe.is_some()) {
        Some(h) => match h.mark().await {
            Ok(m) => Some(m),
            Err(e) => return super::not_run(sc, oracle::judge_idp_control_failed(&e.to_string())),
        },
        None => None,
    };
    // The IdP is restored when this guard drops, whatever happens to the check.
    let mut restore = match (&sc.idp, &ctx.hits) {
        (Some(condition), Some(idp)) => {
            let restore = RestoreIdp(idp);
            if let Err(e) = idp.set_condition(*condition).await {
                return super::not_run(sc, oracle::judge_idp_control_failed(&e.to_string()));
            }
            Some(restore)
        }
        _ => None,
    };
    let mut judgement = judge(ctx, sc, &mut exchanges, &mut token).await;
    if let Some(why) = stand_in(ctx, sc) {
        judgement = oracle::judge_weaker(judgement, why);
    }
    if let (Some(observe), Some(hits), Some(mark)) = (&sc.observe, &ctx.hits, mark) {
        let prefix = format!("/{}", observe.no_fetch.path());
        match hits.since(mark).await {
            Ok(seen) => {
                let fetched: Vec<String> = seen
                    .into_iter()
                    .filter(|h| h.path.starts_with(&prefix) || h.path.ends_with(&prefix))
                    .map(|h| format!("{} {}", h.method, h.path))
                    .collect();
                let level = observe.level.unwrap_or(sc.requirement.level);
                judgement = oracle::judge_forbidden_fetches(judgement, level, &fetched);
            }
            Err(e) => judgement = oracle::judge_idp_control_failed(&e.to_string()),
        }
    }
    redact_issued_tokens(&mut exchanges);
    if let Some(guard) = restore.take() {
        drop(guard);
        if let Some(wait) = settle_wait(ctx, sc) {
            tokio::time::sleep(wait).await;
        }
    }
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
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

/// How long to wait once the IdP is restored after a check that published the weak RSA key
/// (JAG-SIG-18), the last check that changes the IdP: the server keeps that extra RSA key in
/// its JWKS cache for its cache time, and a later check that sends no `kid` would find two
/// RSA keys there. A short declared cache time (at most 2 s, as the embedded reference's) is
/// waited out; a longer one is not (such a server only refuses those kidless probes).
fn settle_wait(ctx: &RunContext, sc: &Scenario) -> Option<std::time::Duration> {
    let ttl = ctx.fixture.jwks_cache_ttl?;
    (sc.idp.is_some_and(|c| c.publish_weak_key) && ttl <= std::time::Duration::from_secs(2))
        .then(|| ttl + std::time::Duration::from_millis(200))
}

/// Why the check ran weaker than written, when it used a stand-in for what the target does
/// not declare (`${client2.id_or_generated}` without client2).
fn stand_in(ctx: &RunContext, sc: &Scenario) -> Option<&'static str> {
    let uses = serde_json::to_string(sc)
        .map(|t| t.contains("${client2.id_or_generated}"))
        .unwrap_or(false);
    (uses && ctx.fixture.client2.is_none()).then_some(
        "the target declares no client2, so a generated client id stood in for another registered client's: the check is weaker, it shows only that an unregistered client id is refused",
    )
}

/// The algorithm a check is about: the `jag.alg` its scenario sets, when it is not the
/// target's default (e.g. the ES256 variants against an RS256 target). A check whose
/// mutation is the algorithm (`sign:` none, HS256, PS256, …) names no `alg` and has none.
fn subject_alg(ctx: &RunContext, sc: &Scenario) -> Option<KeyAlg> {
    sc.jag.alg.filter(|a| *a != ctx.fixture.default_alg())
}

/// The names of `algs`, as the target file writes them.
fn alg_list(algs: &[KeyAlg]) -> String {
    algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

/// The check's own positive controls, sent before anything else: the valid ID-JAG in the
/// check's algorithm (unless the differential control, signed so too, stands for it), and
/// client2's valid ID-JAG with `client_secret_post` for a check that authenticates as C2.
/// Each comes with what its refusal means.
fn own_controls(
    ctx: &RunContext,
    sc: &Scenario,
    control_sent: bool,
) -> Result<Vec<(FormRequest, String)>, BuildError> {
    let mut controls = Vec::new();
    if let Some(alg) = subject_alg(ctx, sc)
        && !control_sent
    {
        let valid = JagMutation {
            alg: Some(alg),
            ..Default::default()
        };
        let m = mint_jag(ctx, &valid, now_secs()).map_err(|e| {
            BuildError::Internal(format!("could not mint the positive control: {e}"))
        })?;
        let rq = Scenario {
            request: Default::default(),
            ..sc.clone()
        };
        controls.push((
            token_request(ctx, &rq, &m.token, None)?,
            format!("{} ID-JAGs are not accepted", alg.name()),
        ));
    }
    if sc.request.client == Some(ClientChoice::C2) {
        let c2 = ctx.fixture.client2.as_ref().ok_or_else(|| {
            BuildError::NotApplicable("the target has no second client (client2)".into())
        })?;
        let mut valid = JagMutation::default();
        valid
            .claims
            .insert("client_id".into(), Value::String(c2.id.clone()));
        let m = mint_jag(ctx, &valid, now_secs()).map_err(|e| {
            BuildError::Internal(format!("could not mint the positive control: {e}"))
        })?;
        let rq = Scenario {
            request: crate::scenario::RequestChange {
                client: Some(ClientChoice::C2),
                client_auth: Some(AuthMethod::ClientSecretPost),
                ..Default::default()
            },
            ..sc.clone()
        };
        controls.push((
            token_request(ctx, &rq, &m.token, None)?,
            format!(
                "client2 ({}) is refused with its own valid ID-JAG and client_secret_post, so its checks cannot run",
                c2.id
            ),
        ));
    }
    Ok(controls)
}

/// Resolves the scenario for this target and conducts it: the metadata document, a
/// procedure, or the token request under its rules (and the resource-API step after it).
async fn judge(
    ctx: &RunContext,
    original: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Judgement {
    let sc = match resolve(ctx, original) {
        Ok(s) => s,
        Err(e) => return oracle::judge_unbuilt(&e),
    };
    let (level, expect) = sc.for_target(&ctx.profile, &ctx.fixture);
    if let Some(step) = sc.dpop.clone() {
        // The real path to a bound ID-JAG: the token exchange with a proof by the DPoP key.
        let exchanged = match sc.obtain {
            Obtain::TokenExchange if ctx.fixture.dpop.is_some() => {
                let key = step.bind.then(|| ctx.keyring.dpop());
                match id_jag_by_exchange(ctx, &ctx.fixture.ras_issuer, exchanges, key).await {
                    Ok(t) => Some(t),
                    Err(e) => return oracle::judge_unbuilt(&BuildError::from(e)),
                }
            }
            _ => None,
        };
        return super::dpop::conduct(ctx, &sc, level, expect, &step, exchanges, token, exchanged)
            .await;
    }
    match expect {
        Expect::Rules(Rules::Metadata(rules)) => {
            let mut tried = Vec::new();
            for (source, url) in metadata_locations(&ctx.fixture.ras_issuer) {
                let ex = ctx.http.get("metadata", &url).await;
                let stop = ex.response.is_none() || oracle::is_metadata_document(&ex);
                tried.push((source, ex));
                if stop {
                    break;
                }
            }
            let seen: Vec<_> = tried.iter().map(|(s, e)| (*s, e)).collect();
            let j = oracle::judge_metadata_at(level, &rules, &seen);
            exchanges.extend(tried.into_iter().map(|(_, e)| e));
            j
        }
        Expect::Procedure(p) => procedures::conduct(ctx, &sc, level, &p, exchanges, token).await,
        Expect::Rules(rules) => judge_exchange(ctx, &sc, level, rules, exchanges, token)
            .await
            .unwrap_or_else(|stop| oracle::judge_incomplete(level, &stop)),
    }
}

/// A token request judged under rule sets: the ID-JAG under test, the positive control where
/// the check is differential, the probe (again after `retry_after`), the rules, then the
/// resource-API step when the probe passed.
async fn judge_exchange(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    mut rules: Rules,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<Judgement, Incomplete> {
    let what = sc.describe();
    if let Some(alg) = subject_alg(ctx, sc)
        && !ctx.fixture.accepts_alg(alg)
    {
        return Err(BuildError::NotApplicable(format!(
            "{} ID-JAGs are not accepted by this target (accepted_algs: [{}])",
            alg.name(),
            alg_list(&ctx.fixture.accepted_algs)
        ))
        .into());
    }
    let control_sent = sc.replay || sc.share_jti || rules.needs_control();
    for (req, refused) in own_controls(ctx, sc, control_sent && !sc.replay)? {
        let (ex, o) = present(ctx, "control", &req).await;
        exchanges.push(ex);
        if !matches!(o, Outcome::Accepted { .. }) {
            return Ok(oracle::judge_own_control_refused(&refused, &o));
        }
    }
    // A jti the control and the probe share.
    let shared_jti = sc.share_jti.then(fresh_jti);
    let probe_token = obtain_probe(ctx, sc, shared_jti.as_deref(), &what, exchanges, token).await?;
    if let Rules::Reject(RejectSpec::Rules(r)) = &mut rules {
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
        Some(client_assertion(ctx, 0, None)?)
    } else {
        None
    };
    let probe_req = token_request(ctx, sc, &probe_token, shared_assertion.as_deref())?;
    let control = if sc.replay || sc.share_jti || rules.needs_control() {
        let control_req = if sc.replay {
            probe_req.clone()
        } else if sc.obtain == Obtain::TokenExchange {
            exchange_control(ctx, sc, exchanges).await?
        } else {
            control_request(ctx, sc, shared_jti.as_deref(), shared_assertion.as_deref())?
        };
        let (ex, o) = present(ctx, "control", &control_req).await;
        exchanges.push(ex);
        if !matches!(o, Outcome::Accepted { .. }) {
            // The control is in the check's algorithm: its refusal says the target does not
            // take that algorithm, not that the check failed.
            if let Some(alg) = subject_alg(ctx, sc).filter(|_| !sc.replay) {
                return Ok(oracle::judge_own_control_refused(
                    &format!("{} ID-JAGs are not accepted", alg.name()),
                    &o,
                ));
            }
            return Err(Incomplete::ControlNotAccepted(o));
        }
        o
    } else {
        Outcome::Accepted {
            body: Default::default(),
        }
    };
    let (probe, response) = send_probe(ctx, sc, &rules, &probe_req, exchanges).await;
    let what = sc.describe_probe();
    let j = oracle::judge_answer(level, &rules, &control, &probe, response.as_ref(), &what);
    let j = as_introspected(ctx, &rules, j, &probe, exchanges, |p| {
        oracle::judge_answer(level, &rules, &control, p, response.as_ref(), &what)
    })
    .await;
    let j = match sc.request.client {
        Some(ClientChoice::C4) => oracle::judge_declared_client(j, &probe, "client4"),
        _ => j,
    };
    let j = match sc.policy_for(&ctx.fixture) {
        Some(policy) if policy.name_principal => {
            name_principal(ctx, j, &probe, token.as_ref(), exchanges).await
        }
        _ => j,
    };
    Ok(match (&sc.api, &probe) {
        // The API step needs the token: a refused token request leaves nothing to call the
        // API with (the BASE checks judge the token endpoint).
        (Some(_), Outcome::Rejected { .. } | Outcome::Other { .. })
            if matches!(rules, Rules::Accept(_)) =>
        {
            oracle::judge_api_token_refused(&what, &probe)
        }
        (Some(step), Outcome::Accepted { body }) if j.passed() => {
            let at = body
                .get("access_token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            api_step(ctx, step, level, at, &probe_token, exchanges).await
        }
        _ => j,
    })
}

/// A check that judges the scope a token was granted, where introspection is available:
/// judged again (`judge`) on the token as introspection reports it, which wins over the token
/// response (see [`oracle::as_introspected`]); `j` is the judgement of the response.
async fn as_introspected(
    ctx: &RunContext,
    rules: &Rules,
    j: Judgement,
    probe: &Outcome,
    exchanges: &mut Vec<Exchange>,
    judge: impl FnOnce(&Outcome) -> Judgement,
) -> Judgement {
    if !oracle::judges_granted_scope(rules) || !matches!(probe, Outcome::Accepted { .. }) {
        return j;
    }
    let Some(endpoint) = procedures::introspection(ctx).await else {
        return j;
    };
    let at = super::request::access_token_of(probe);
    let seen = procedures::introspect(ctx, &endpoint, at, exchanges).await;
    let (token, note) = oracle::as_introspected(rules, probe, &seen);
    let j = match token {
        Some(t) => judge(&t),
        None => j,
    };
    oracle::with_note(j, note)
}

/// The ID-JAG under test: minted (with the shared jti, if any), or obtained from the fake
/// IdP by token exchange.
async fn obtain_probe(
    ctx: &RunContext,
    sc: &Scenario,
    shared_jti: Option<&str>,
    what: &str,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<String, BuildError> {
    match sc.obtain {
        Obtain::Mint => {
            let mut probe_jag = sc.jag.clone();
            if let Some(jti) = shared_jti {
                probe_jag.claims.insert("jti".into(), Value::from(jti));
            }
            let m = mint_jag(ctx, &probe_jag, now_secs())
                .map_err(|e| BuildError::Internal(format!("could not mint the ID-JAG: {e}")))?;
            *token = Some(sent(&m, what));
            Ok(m.token)
        }
        Obtain::TokenExchange => {
            let audience = sc
                .exchange
                .as_ref()
                .and_then(|e| e.audience.clone())
                .unwrap_or_else(|| ctx.fixture.ras_issuer.clone());
            let t = id_jag_by_exchange(ctx, &audience, exchanges, None).await?;
            let (header, claims) = crate::jose::jws::decode_for_display(&t);
            *token = Some(SentToken {
                token: t.clone(),
                header,
                claims,
                mutation: "issued by the IdP's token exchange".into(),
            });
            Ok(t)
        }
    }
}

/// The positive control of a check whose ID-JAG comes from the token exchange: the exchange
/// for this RAS (where the probe's asked for another audience), presented by C1.
async fn exchange_control(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
) -> Result<FormRequest, BuildError> {
    let jag = id_jag_by_exchange(ctx, &ctx.fixture.ras_issuer, exchanges, None).await?;
    let baseline_sc = Scenario {
        request: Default::default(),
        ..sc.clone()
    };
    token_request(ctx, &baseline_sc, &jag, None)
}

/// The positive control: the same request with the valid ID-JAG (a fresh jti, or the shared
/// one). It authenticates as C1, unless it must use the shared client assertion (as C3).
fn control_request(
    ctx: &RunContext,
    sc: &Scenario,
    shared_jti: Option<&str>,
    shared_assertion: Option<&str>,
) -> Result<FormRequest, BuildError> {
    // Signed as the check's own positive control: in the check's algorithm when it is about
    // one, else in the target's default.
    let mut valid_jag = JagMutation {
        alg: subject_alg(ctx, sc),
        ..sc.control_jag.clone().unwrap_or_default()
    };
    if let Some(jti) = shared_jti {
        valid_jag.claims.insert("jti".into(), Value::from(jti));
    }
    if shared_assertion.is_some()
        && let Some(id) = &ctx.fixture.client3
    {
        valid_jag
            .claims
            .insert("client_id".into(), Value::String(id.clone()));
    }
    let valid = mint_jag(ctx, &valid_jag, now_secs())
        .map_err(|e| BuildError::Internal(format!("could not mint the positive control: {e}")))?;
    let mut request = crate::scenario::RequestChange::default();
    if shared_assertion.is_some() {
        request.client = Some(ClientChoice::C3);
    }
    let baseline_sc = Scenario {
        request,
        ..sc.clone()
    };
    token_request(ctx, &baseline_sc, &valid.token, shared_assertion)
}

/// Sends the probe; a refused probe of a check that allows a retry (`retry_after`) is sent
/// again, freshly minted, after the wait. The last answer counts.
async fn send_probe(
    ctx: &RunContext,
    sc: &Scenario,
    rules: &Rules,
    probe_req: &FormRequest,
    exchanges: &mut Vec<Exchange>,
) -> (Outcome, Option<RecordedResponse>) {
    let (ex, mut probe) = present(ctx, "probe", probe_req).await;
    let mut response = ex.response.clone();
    exchanges.push(ex);
    let wait = ctx.fixture.retry_wait(
        sc.retry_after
            .as_deref()
            .and_then(|w| humantime::parse_duration(w).ok()),
    );
    if let (Some(wait), Rules::Accept(_) | Rules::Reject(_), Obtain::Mint) =
        (wait, rules, sc.obtain)
        && !matches!(probe, Outcome::Accepted { .. } | Outcome::NoAnswer { .. })
    {
        ctx.waiting(
            &sc.id,
            Some((
                format!(
                    "waiting out Retry-After ({})",
                    humantime::format_duration(wait)
                ),
                std::time::Instant::now() + wait,
            )),
        );
        tokio::time::sleep(wait).await;
        ctx.waiting(&sc.id, None);
        if let Ok(again) = mint_jag(ctx, &sc.jag, now_secs())
            && let Ok(req) = token_request(ctx, sc, &again.token, None)
        {
            let (ex, o) = present(ctx, "retry", &req).await;
            response = ex.response.clone();
            exchanges.push(ex);
            probe = o;
        }
    }
    (probe, response)
}

/// Under a policy that names the principal (JIT provisioning): when the probe got a token,
/// asks whom it represents (introspection or whoami); the oracle folds that in.
async fn name_principal(
    ctx: &RunContext,
    recorded: Judgement,
    probe: &Outcome,
    sent: Option<&SentToken>,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    let subject = sent
        .and_then(|t| t.claims.get("sub"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let principal = match (probe, procedures::principal_source(ctx).await) {
        (Outcome::Accepted { .. }, Some(source)) => {
            let at = super::request::access_token_of(probe);
            let read = procedures::ask_principal(ctx, &source, at, exchanges)
                .await
                .map(|(p, _)| p);
            Some((source.kind(), read))
        }
        _ => None,
    };
    oracle::judge_provisioned(recorded, probe, &subject, principal)
}

/// Calls the resource API with the token the step names; the oracle judges the answer
/// (RFC 6750).
async fn api_step(
    ctx: &RunContext,
    step: &ApiStep,
    level: Level,
    access_token: &str,
    id_jag: &str,
    exchanges: &mut Vec<Exchange>,
) -> Judgement {
    let Some(url) = step.url.clone().or_else(|| ctx.fixture.api_r1.clone()) else {
        return oracle::judge_incomplete(level, &Incomplete::Missing(Prerequisite::ResourceApi));
    };
    // RS-07's forgeries, and the issued token judged as a JWT, apply to JWT access tokens.
    if matches!(
        step.token,
        ApiToken::JwtAlgNone | ApiToken::JwtIdpKey | ApiToken::JwtAccessToken
    ) && let Some(skip) =
        oracle::jwt_access_token::not_applicable(ctx.fixture.access_token_format, access_token)
    {
        return skip;
    }
    let idp_key = ctx
        .keyring
        .issuer(crate::jose::IssuerRole::Trusted)
        .get(ctx.fixture.default_alg());
    let bearer = match step.token {
        ApiToken::AccessToken | ApiToken::JwtAccessToken => Some(access_token.to_string()),
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
        ApiToken::JwtAlgNone | ApiToken::JwtIdpKey => {
            let forged = match step.token {
                ApiToken::JwtAlgNone => crate::jose::forge::alg_none(access_token),
                _ => crate::jose::forge::resigned(access_token, idp_key),
            };
            let Some(forged) = forged else {
                return oracle::judge_unbuilt(&BuildError::NotApplicable(
                    "the access token is no JWS, so no JWT access token can be forged from it (RESP-07 judges its form)".into(),
                ));
            };
            Some(forged)
        }
    };
    let method = if step.write {
        let Some(write) = &ctx.fixture.api_write else {
            return oracle::judge_unbuilt(&BuildError::NotApplicable(
                "the target declares no api.write (a write and the scope it needs)".into(),
            ));
        };
        match crate::protocol::HttpMethod::from_name(&write.method) {
            Some(m) => m,
            None => {
                return oracle::judge_unbuilt(&BuildError::NotApplicable(format!(
                    "api.write's method `{}` is none of GET, POST, PUT, PATCH, DELETE",
                    write.method
                )));
            }
        }
    } else {
        step.method
    };
    let ex = match (&bearer, step.token_in) {
        (Some(t), token_in) if token_in != crate::scenario::TokenIn::Header => {
            ctx.http.api_request("api", method, &url, t, token_in).await
        }
        _ => {
            ctx.http
                .bearer_request("api", method, &url, bearer.as_deref())
                .await
        }
    };
    let rules = ApiRules {
        status: step.status,
        challenge: step.challenge.clone(),
        challenge_without_error: step.challenge_without_error,
        token_in_query: matches!(step.token_in, crate::scenario::TokenIn::Query),
        optional: step.optional,
    };
    let j = oracle::judge_api(level, &rules, &ex);
    exchanges.push(ex);
    j
}
