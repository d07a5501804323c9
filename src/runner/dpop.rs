//! Conducting a DPoP check (a scenario with a `dpop:` block; RFC 9449, ID-JAG §9.8): the
//! ID-JAG bound to the requesting app's DPoP key or not, the positive control with a valid
//! proof, the probe with the proof the scenario names, a server nonce answered by one retry
//! (RFC 9449 §8), then the resource-API presentation of a DPoP-bound token (§7) or the
//! `token_type` (§5). The oracle judges (`oracle::dpop` and the answer's rules).

use serde_json::{Value, json};

use super::RunContext;
use super::request::{mint_jag, present, sent, token_request};
use crate::client::FormRequest;
use crate::jose::SigningKey;
use crate::jose::dpop::{ProofChoice, ProofFor, proof};
use crate::jose::mint::unix_now as now_secs;
use crate::oracle::dpop::{self as judge, NonceSeen};
use crate::oracle::{
    self, BuildError, Expect, Incomplete, Judgement, Outcome, Prerequisite, Rules,
};
use crate::protocol::{HttpMethod, RecordedResponse};
use crate::report::model::{Exchange, SentToken};
use crate::scenario::dpop::{ApiPresentation, DpopStep, ProofKey};
use crate::scenario::{Obtain, RequestChange, Scenario};
use crate::spec::Level;

/// The answer to one DPoP token request, after at most one retry with the server's nonce.
struct Sent {
    outcome: Outcome,
    response: Option<RecordedResponse>,
    /// The `jti` of the last proof sent.
    jti: Option<String>,
    /// What the first answer said of a nonce.
    seen: NonceSeen,
    /// The last proof carried a nonce.
    nonce_sent: bool,
}

/// Conducts a DPoP check to its verdict; `exchanged` is the ID-JAG the fake IdP's token
/// exchange issued, for a check that obtains it so.
#[allow(clippy::too_many_arguments)]
pub(super) async fn conduct(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    expect: Expect,
    step: &DpopStep,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
    exchanged: Option<String>,
) -> Judgement {
    let rules = match expect {
        Expect::Rules(
            r @ (Rules::Accept(_) | Rules::Reject(_) | Rules::Either(_) | Rules::Record(_)),
        ) => r,
        _ => {
            return oracle::judge_unbuilt(&BuildError::Internal(
                "a dpop: check expects accept, reject, either or record".into(),
            ));
        }
    };
    let supported = ctx.fixture.dpop.is_some();
    if !supported && !step.any_target {
        return oracle::judge_unbuilt(&BuildError::NotApplicable(judge::NO_DPOP.into()));
    }
    run(
        ctx, sc, level, rules, step, supported, exchanges, token, exchanged,
    )
    .await
    .unwrap_or_else(|stop| oracle::judge_incomplete(level, &stop))
}

/// `jag` bound to `key` (`cnf.jkt`, RFC 9449 §6.1) when `bind`.
fn bound(jag: &crate::jose::JagMutation, key: &SigningKey, bind: bool) -> crate::jose::JagMutation {
    let mut jag = jag.clone();
    if bind {
        jag.claims.insert("cnf".into(), json!({ "jkt": key.kid() }));
    }
    jag
}

#[allow(clippy::too_many_arguments)]
async fn run(
    ctx: &RunContext,
    sc: &Scenario,
    level: Level,
    rules: Rules,
    step: &DpopStep,
    supported: bool,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
    exchanged: Option<String>,
) -> Result<Judgement, Incomplete> {
    let key = ctx.keyring.dpop();
    let mut nonce: Option<String> = None;
    let what = sc.describe();
    let internal =
        |e: crate::jose::mint::MintError| BuildError::Internal(format!("could not mint: {e}"));

    // The positive control: the probe's ID-JAG changes and binding, a valid proof by K and
    // the standard request; against a target without DPoP, the valid ID-JAG alone.
    let control = if rules.needs_control() {
        let jag = bound(&sc.jag, key, step.bind && supported);
        let m = mint_jag(ctx, &jag, now_secs()).map_err(internal)?;
        let rq = Scenario {
            request: RequestChange::default(),
            ..sc.clone()
        };
        let req = token_request(ctx, &rq, &m.token, None)?;
        let choice = if supported {
            ProofChoice::Valid
        } else {
            ProofChoice::None
        };
        let c = send_token(
            ctx, "control", &req, choice, key, None, &mut nonce, exchanges,
        )
        .await?;
        if !matches!(c.outcome, Outcome::Accepted { .. }) {
            return Err(Incomplete::ControlNotAccepted(c.outcome));
        }
        Some(c)
    } else {
        None
    };

    let probe_token = match (sc.obtain, exchanged) {
        (Obtain::TokenExchange, Some(t)) => {
            let (header, claims) = crate::jose::jws::decode_for_display(&t);
            *token = Some(SentToken {
                token: t.clone(),
                header,
                claims,
                mutation: "issued by the IdP's token exchange, bound to the DPoP key".into(),
            });
            t
        }
        _ => {
            let m = mint_jag(ctx, &bound(&sc.jag, key, step.bind), now_secs()).map_err(internal)?;
            *token = Some(sent(&m, &what));
            m.token
        }
    };
    let replayed = match (step.proof, &control) {
        (ProofChoice::ReplayedJti, Some(c)) => c.jti.clone(),
        (ProofChoice::ReplayedJti, None) => {
            return Err(
                BuildError::Internal("a replayed proof needs a positive control".into()).into(),
            );
        }
        _ => None,
    };
    let signer = match step.key {
        ProofKey::Own => key,
        ProofKey::Other => ctx.keyring.dpop_other(),
    };
    let req = token_request(ctx, sc, &probe_token, None)?;
    let probe = send_token(
        ctx, "probe", &req, step.proof, signer, replayed, &mut nonce, exchanges,
    )
    .await?;
    let accepted_control = Outcome::Accepted {
        body: Default::default(),
    };
    let control_outcome = control.as_ref().map_or(&accepted_control, |c| &c.outcome);
    let mut j = oracle::judge_answer(
        level,
        &rules,
        control_outcome,
        &probe.outcome,
        probe.response.as_ref(),
        &what,
    );
    if matches!(rules, Rules::Record(_)) {
        j = judge::with_token_type(j, &probe.outcome);
    }
    match step.proof {
        ProofChoice::StaleIat => {
            j = judge::judge_dated_by_nonce(j, &probe.outcome, probe.nonce_sent)
        }
        ProofChoice::WrongNonce => {
            let seen = control.as_ref().map(|c| c.seen).unwrap_or_default();
            j = judge::judge_nonce(level, seen, j, &probe.outcome, probe.response.as_ref());
        }
        _ => {}
    }
    let Outcome::Accepted { body } = &probe.outcome else {
        if step.api.is_some() || step.token_type {
            return Ok(judge::judge_token_not_obtained(&what, &probe.outcome));
        }
        return Ok(j);
    };
    if !j.passed() {
        return Ok(j);
    }
    if step.bound_token {
        return Ok(judge::judge_bound_token(j, body));
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let token_type = body
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if step.token_type {
        let bearer = if token_type.eq_ignore_ascii_case("Bearer") {
            match &ctx.fixture.api_r1 {
                Some(url) => {
                    let ex = ctx
                        .http
                        .bearer_request("api", HttpMethod::Get, url, Some(&access_token))
                        .await;
                    exchanges.push(ex);
                    exchanges.last()
                }
                None => None,
            }
        } else {
            None
        };
        return Ok(judge::judge_token_type(level, body, bearer));
    }
    if let Some(presentation) = step.api {
        if !token_type.eq_ignore_ascii_case("DPoP") {
            return Ok(judge::judge_not_bound(&token_type));
        }
        let Some(url) = ctx.fixture.api_r1.clone() else {
            return Err(Incomplete::Missing(Prerequisite::ResourceApi));
        };
        let mut api_nonce = None;
        let control = send_api(
            ctx,
            "api-control",
            &url,
            &access_token,
            None,
            &mut api_nonce,
            exchanges,
        )
        .await?;
        let probe = send_api(
            ctx,
            "api",
            &url,
            &access_token,
            Some(presentation),
            &mut api_nonce,
            exchanges,
        )
        .await?;
        let j = judge::judge_bound_at_api(level, &control, &probe, presentation.describe());
        exchanges.push(control);
        exchanges.push(probe);
        return Ok(j);
    }
    Ok(j)
}

/// Sends a token request with the proof `choice` by `key` (and `jti` when pinned); a
/// `use_dpop_nonce` answer with a `DPoP-Nonce` is retried once with a fresh proof carrying the
/// nonce (RFC 9449 §8), unless the proof is about the nonce or absent. The nonce is kept in
/// `nonce` for the check's next request.
#[allow(clippy::too_many_arguments)]
async fn send_token(
    ctx: &RunContext,
    role: &str,
    req: &FormRequest,
    choice: ProofChoice,
    key: &SigningKey,
    jti: Option<String>,
    nonce: &mut Option<String>,
    exchanges: &mut Vec<Exchange>,
) -> Result<Sent, BuildError> {
    let retry_allowed = !matches!(choice, ProofChoice::None | ProofChoice::WrongNonce);
    let mut seen = NonceSeen::default();
    let mut attempt = 0;
    loop {
        let target = ProofFor {
            htm: req.method.as_str().to_string(),
            htu: ctx.fixture.token_endpoint.clone(),
            nonce: nonce.clone(),
            access_token: None,
            jti: jti.clone(),
        };
        let p = proof(key, ctx.keyring.dpop_other(), &target, choice, now_secs())
            .map_err(|e| BuildError::Internal(format!("could not make the DPoP proof: {e}")))?;
        let mut r = req.clone();
        if let Some(p) = &p {
            r.headers.push(("DPoP".into(), p.token.clone()));
        }
        let (mut ex, outcome) = present(ctx, role, &r).await;
        let asked = judge::nonce_asked(&ex);
        if attempt == 0 {
            seen = NonceSeen {
                asked: asked.is_some(),
                header: asked.as_ref().is_some_and(Option::is_some),
            };
        }
        // RFC 9449 §8.2: a server may give a fresh nonce in any answer.
        if let Some(n) = ex
            .response
            .as_ref()
            .and_then(|r| judge::header(r, "dpop-nonce"))
        {
            *nonce = Some(n.to_string());
        }
        let retry = attempt == 0 && retry_allowed && matches!(asked, Some(Some(_)));
        if retry && role != "control" {
            // Not the request under test: the server asked for its nonce.
            ex.role = format!("{role}, nonce asked");
        }
        let response = ex.response.clone();
        exchanges.push(ex);
        if !retry {
            return Ok(Sent {
                outcome,
                response,
                jti: p.map(|p| p.jti),
                seen,
                nonce_sent: target.nonce.is_some() || choice == ProofChoice::WrongNonce,
            });
        }
        attempt += 1;
    }
}

/// Presents the DPoP-bound `access_token` at the resource API `url` with a GET: correctly
/// (`presentation` `None`: the DPoP scheme and a proof by K with `ath`), or as
/// `presentation` says. A 401 asking for a nonce is retried once with it (RFC 9449 §9); the
/// exchange that asked goes to `asked`, the one returned is the last.
async fn send_api(
    ctx: &RunContext,
    role: &str,
    url: &str,
    access_token: &str,
    presentation: Option<ApiPresentation>,
    nonce: &mut Option<String>,
    asked: &mut Vec<Exchange>,
) -> Result<Exchange, BuildError> {
    use ApiPresentation as P;
    let htu = url.split(['?', '#']).next().unwrap_or(url).to_string();
    let mut attempt = 0;
    loop {
        let (scheme, signer, ath_of, with_proof) = match presentation {
            None => (
                "DPoP",
                ctx.keyring.dpop(),
                Some(access_token.to_string()),
                true,
            ),
            Some(P::Bearer) => ("Bearer", ctx.keyring.dpop(), None, false),
            Some(P::OtherKey) => (
                "DPoP",
                ctx.keyring.dpop_other(),
                Some(access_token.to_string()),
                true,
            ),
            Some(P::WrongAth) => (
                "DPoP",
                ctx.keyring.dpop(),
                Some(format!("{access_token}.other")),
                true,
            ),
            Some(P::NoAth) => ("DPoP", ctx.keyring.dpop(), None, true),
            Some(P::NoProof) => ("DPoP", ctx.keyring.dpop(), None, false),
        };
        let mut extra = Vec::new();
        if with_proof {
            let target = ProofFor {
                htm: "GET".into(),
                htu: htu.clone(),
                nonce: nonce.clone(),
                access_token: ath_of,
                jti: None,
            };
            let p = proof(
                signer,
                ctx.keyring.dpop_other(),
                &target,
                ProofChoice::Valid,
                now_secs(),
            )
            .map_err(|e| BuildError::Internal(format!("could not make the DPoP proof: {e}")))?;
            if let Some(p) = p {
                extra.push(("DPoP".to_string(), p.token));
            }
        }
        let auth = format!("{scheme} {access_token}");
        let mut ex = ctx
            .http
            .authorized_request(role, HttpMethod::Get, url, Some(&auth), &extra)
            .await;
        if attempt == 0
            && with_proof
            && let Some(Some(n)) = judge::nonce_asked(&ex)
        {
            *nonce = Some(n);
            ex.role = format!("{role}, nonce asked");
            asked.push(ex);
            attempt += 1;
            continue;
        }
        return Ok(ex);
    }
}
