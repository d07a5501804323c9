//! The resource-API step: the access token (or another) presented to the target's API, and
//! the RFC 6750 answer it must give.

use crate::protocol::Exchange;
use crate::spec::{Level, Verdict};

use super::{Judgement, judged};

/// What the resource API must answer (from the scenario's `api` step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRules {
    /// The status the API must answer.
    pub status: u16,
    /// The `error` the `WWW-Authenticate: Bearer` challenge must carry, if any.
    pub challenge: Option<String>,
    /// True when the challenge must carry no `error` (RFC 6750 §3: no credentials sent).
    pub challenge_without_error: bool,
    /// The token went in the URI query only (RFC 6750 §2.3): an acceptance SHOULD carry
    /// `Cache-Control: private`.
    pub token_in_query: bool,
    /// The method is optional for the server (RFC 6750 §2.2, §2.3): a refusal (400 or 401)
    /// is INFO.
    pub optional: bool,
}

/// Whether the answer carries `Cache-Control` with the `private` directive.
fn cache_private(resp: &crate::protocol::RecordedResponse) -> bool {
    resp.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, v)| v.split(','))
        .any(|d| {
            d.trim()
                .split('=')
                .next()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case("private"))
        })
}

/// Judges the resource API's answer (RFC 6750): the status, and the Bearer challenge.
pub fn judge_api(level: Level, rules: &ApiRules, ex: &Exchange) -> Judgement {
    let Some(resp) = &ex.response else {
        let reason = ex.error.clone().unwrap_or_default();
        return judged(Verdict::Error, format!("resource API: no answer: {reason}"));
    };
    if rules.optional && matches!(resp.status, 400 | 401) {
        return judged(
            Verdict::Info,
            format!(
                "the resource API answered {}: it does not take the token this way, which RFC 6750 leaves optional",
                resp.status
            ),
        );
    }
    let mut problems = Vec::new();
    if resp.status != rules.status {
        problems.push(format!(
            "the resource API answered {}, expected {}",
            resp.status, rules.status
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
        .find(|v| v.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("bearer")));
    if let Some(code) = &rules.challenge {
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
    if rules.token_in_query && (200..300).contains(&resp.status) && !cache_private(resp) {
        should_problems.push(
            "the token in the query was accepted without Cache-Control: private on the answer (RFC 6750 §2.3)".to_string(),
        );
    }
    if rules.challenge_without_error {
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
        judged(level.violation(), problems.join("; "))
    } else if !should_problems.is_empty() {
        let v = if level == Level::Must {
            Level::Should.violation()
        } else {
            level.violation()
        };
        judged(v, should_problems.join("; "))
    } else {
        judged(
            Verdict::Pass,
            format!("resource API answered {} as required", resp.status),
        )
    }
}
