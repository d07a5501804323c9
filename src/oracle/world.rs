//! Verdicts that come from the target's world rather than from its answer to the probe: a
//! check whose subject the target does not offer (an algorithm it does not accept, a client
//! that may not use the grant), a resource-API check whose token could not be obtained, and
//! a record made under a policy the target declares (JIT provisioning).

use crate::spec::Verdict;

use super::classify::{Outcome, summarize};
use super::procedures::WhoamiError;
use super::{Judgement, judged};

/// The check's own positive control (the valid ID-JAG in the check's algorithm, or for the
/// check's client) was not accepted: the target does not offer what the check is about, so
/// the check is SKIP with the answer (`refused` says what, e.g. "ES256 ID-JAGs are not
/// accepted"); no answer at all is ERROR.
pub fn judge_own_control_refused(refused: &str, control: &Outcome) -> Judgement {
    match control {
        Outcome::NoAnswer { reason } => judged(
            Verdict::Error,
            format!("{refused}? the positive control got no answer: {reason}"),
        ),
        other => judged(Verdict::Skip, format!("{refused}: {}", summarize(other))),
    }
}

/// A check that authenticates as a client the target file declares for what it may not do
/// (`key`, e.g. `client4`, registered but not enabled for the grant): an `invalid_client`
/// answer says the declared credentials are wrong, not that the server refused the grant, so
/// the check is SKIP naming the key; any other answer keeps `judgement`.
pub fn judge_declared_client(judgement: Judgement, probe: &Outcome, key: &str) -> Judgement {
    match probe {
        Outcome::Rejected { error, .. } if error == "invalid_client" => judged(
            Verdict::Skip,
            format!(
                "the credentials of `{key}` in the target file were refused ({}): the check needs \
                 a client that authenticates and is then refused the grant",
                summarize(probe)
            ),
        ),
        _ => judgement,
    }
}

/// A resource-API check whose token request was refused: the access token the API step needs
/// could not be obtained (the token endpoint's acceptance is judged by the BASE checks), so it
/// is SKIP with the answer; no answer at all is ERROR.
pub fn judge_api_token_refused(what: &str, probe: &Outcome) -> Judgement {
    match probe {
        Outcome::NoAnswer { reason } => judged(Verdict::Error, format!("no answer: {reason}")),
        other => judged(
            Verdict::Skip,
            format!(
                "the access token could not be obtained ({what} was refused: {}), so the resource API could not be called",
                summarize(other)
            ),
        ),
    }
}

/// A record made under the target's `jit_provisioning`: an accepted ID-JAG for an unknown
/// subject made a principal; the reason names it as whoami or introspection reports it
/// (`None`: the target has neither, and the acceptance is all there is). A refusal is recorded as it
/// is (provisioning is allowed, not required). The verdict stays the record's.
pub fn judge_provisioned(
    recorded: Judgement,
    probe: &Outcome,
    subject: &str,
    principal: Option<(super::TokenSource, Result<String, WhoamiError>)>,
) -> Judgement {
    if !matches!(probe, Outcome::Accepted { .. }) || recorded.verdict != Verdict::Info {
        return recorded;
    }
    let made = match principal {
        Some((source, Ok(p))) => format!("{} names the principal made: `{p}`", source.label()),
        Some((source, Err(e))) => format!(
            "{} could not say whom the token represents ({e})",
            source.label()
        ),
        None => {
            "a principal was made for it (the target has no whoami or introspection to name it)"
                .into()
        }
    };
    Judgement {
        reason: format!(
            "{}; the RAS provisions unknown subjects (jit_provisioning): `{subject}` got a token, {made}",
            recorded.reason
        ),
        ..recorded
    }
}

/// A check that ran with a stand-in for something the target does not declare (a generated
/// client id for client2): the verdict stands, and the reason says the check is weaker.
pub fn judge_weaker(j: Judgement, why: &str) -> Judgement {
    Judgement {
        reason: format!("{} ({why})", j.reason),
        ..j
    }
}
