//! REQ-10: no token over cleartext. RFC 6749 §3.2: the token endpoint MUST be reached over
//! TLS, so the plain-http address of an https token endpoint (`token_endpoint_http` of the
//! target) must not issue a token.

use crate::spec::{Level, Verdict};

use super::classify::{Outcome, summarize};
use super::{Judgement, judged};

/// Judges the answer of the plain-http address `url` to a valid token request (the same
/// request was accepted over the token endpoint first): a token is the level's violation;
/// no answer at all (nothing listens there), a redirect or a refusal is PASS.
pub fn judge_cleartext(level: Level, url: &str, probe: &Outcome) -> Judgement {
    match probe {
        Outcome::Accepted { .. } => judged(
            level.violation(),
            format!(
                "a valid token request sent in cleartext to {url} was answered with an access \
                 token: 200 (RFC 6749 §3.2: TLS is required)"
            ),
        ),
        Outcome::NoAnswer { reason } => judged(
            Verdict::Pass,
            format!("nothing answers a token request in cleartext at {url}: {reason}"),
        ),
        other => judged(
            Verdict::Pass,
            format!("no token in cleartext at {url}: {}", summarize(other)),
        ),
    }
}
