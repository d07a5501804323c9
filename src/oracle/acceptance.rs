//! Acceptance rules: what an accepted answer must also satisfy (token type, headers, absent
//! members, integers, scope, equal members), for positive checks and for checks where either
//! a refusal or an acceptance within the rules is conformant.

use serde_json::{Map, Value};

use crate::protocol::RecordedResponse;
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, header_problems, summarize};
use super::expect::{AcceptRules, EitherRules};
use super::refusal::judge_negative;
use super::{Judgement, judged};

/// Judges a positive check against its rules.
pub fn judge_positive(
    level: Level,
    rules: &AcceptRules,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    let body = match probe {
        Outcome::NoAnswer { reason } => {
            return judged(Verdict::Error, format!("no answer: {reason}"));
        }
        Outcome::Accepted { body } => body,
        other => {
            return judged(
                level.violation(),
                format!("{what} was not accepted: {}", summarize(other)),
            );
        }
    };
    let mut problems = Vec::new();
    if let Some(want) = &rules.token_type {
        match body.get("token_type") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case(want) => {}
            Some(Value::String(t)) => problems.push(format!("token_type is {t}, expected {want}")),
            Some(other) => problems.push(format!("token_type is {other}, expected {want}")),
            None => problems.push(format!("no token_type, expected {want}")),
        }
    }
    problems.extend(header_problems(&rules.headers, response));
    for member in &rules.absent {
        if body.contains_key(member) {
            problems.push(format!("the response includes {member}"));
        }
    }
    problems.extend(body_problems(rules, body));
    if problems.is_empty() {
        judged(
            Verdict::Pass,
            "accepted: 200 with an access token".to_string(),
        )
    } else {
        judged(level.violation(), problems.join("; "))
    }
}

/// The space-separated scopes of a `scope` value.
pub(super) fn scopes(s: &str) -> Vec<&str> {
    s.split(' ').filter(|x| !x.is_empty()).collect()
}

/// The body rules (integers, scope, equality) an accepted response breaks.
pub(super) fn body_problems(rules: &AcceptRules, body: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for member in &rules.positive_integers {
        match body.get(member) {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > 0) => {}
            Some(other) => problems.push(format!("{member} is {other}, not a positive integer")),
            None => problems.push(format!("no {member} in the response")),
        }
    }
    let granted = body.get("scope");
    if rules.scope_required && granted.is_none() {
        problems.push(
            "no scope in the response, which RFC 6749 §5.1 reads as the scope requested".into(),
        );
    }
    if let Some(allowed) = &rules.scope_within {
        let allowed = scopes(allowed);
        match granted {
            Some(Value::String(g)) => problems.extend(granted_beyond(g, &allowed)),
            Some(other) => problems.push(format!("scope is {other}, not a string")),
            None => problems.push("no scope in the response".to_string()),
        }
    }
    if let (Some(allowed), Some(Value::String(g))) = (&rules.scope_at_most, granted) {
        problems.extend(granted_beyond(g, &scopes(allowed)));
    }
    if let Some(Value::String(g)) = granted {
        let bad: Vec<&str> = scopes(g)
            .into_iter()
            .filter(|x| rules.scope_excludes.iter().any(|e| e == x))
            .collect();
        if !bad.is_empty() {
            problems.push(format!("scope {} was granted", bad.join(" ")));
        }
    }
    if rules.resource_format {
        problems.extend(body.get("resource").and_then(resource_format_problem));
    }
    for (member, want) in &rules.equals {
        match body.get(member) {
            Some(v) if v == want => {}
            Some(v) => problems.push(format!("{member} is {v}, expected {want}")),
            None => problems.push(format!("no {member} in the response (expected {want})")),
        }
    }
    problems.extend(super::rar::problems(
        rules.authorization_details.as_ref(),
        body,
    ));
    problems
}

/// What is wrong with a token response's `resource` (ID-JAG -05 editor's copy §4.4.2: a
/// string, or a non-empty array of unique absolute URIs, none with a fragment), if anything.
fn resource_format_problem(resource: &Value) -> Option<String> {
    let uri_problem = |s: &str| -> Option<String> {
        match url::Url::parse(s) {
            _ if s.chars().any(char::is_whitespace) => Some(format!(
                "resource `{s}` holds whitespace: several URIs in one string are no URI"
            )),
            Ok(u) if u.fragment().is_some() => Some(format!("resource `{s}` has a fragment")),
            Ok(_) => None,
            Err(_) => Some(format!("resource `{s}` is not an absolute URI")),
        }
    };
    match resource {
        Value::String(s) => uri_problem(s),
        Value::Array(a) if a.is_empty() => Some("resource is an empty array".into()),
        Value::Array(a) => {
            let mut seen = Vec::new();
            for v in a {
                let Some(s) = v.as_str() else {
                    return Some(format!("resource holds {v}, not a string"));
                };
                if let Some(p) = uri_problem(s) {
                    return Some(p);
                }
                if seen.contains(&s) {
                    return Some(format!("resource names `{s}` twice"));
                }
                seen.push(s);
            }
            None
        }
        other => Some(format!(
            "resource is {other}, not a string or an array of strings"
        )),
    }
}

/// Judges a check where a rejection with the listed codes and an acceptance within the
/// rules are both conformant. The control must have been accepted.
pub fn judge_either(
    level: Level,
    rules: &EitherRules,
    control: &Outcome,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    let codes = rules.reject.to_vec();
    match probe {
        Outcome::Accepted { body } => {
            let j = judge_negative(
                level,
                &codes,
                control,
                &Outcome::NoAnswer {
                    reason: String::new(),
                },
                what,
            );
            if matches!(j.verdict, Verdict::Skip)
                || (j.verdict == Verdict::Error && j.reason.starts_with("positive"))
            {
                return j;
            }
            let mut problems = header_problems(&rules.accept.headers, response);
            problems.extend(body_problems(&rules.accept, body));
            if problems.is_empty() {
                judged(
                    Verdict::Pass,
                    "accepted within the rules: 200 with an access token",
                )
            } else {
                judged(
                    level.violation(),
                    format!("{what} was accepted, but {}", problems.join("; ")),
                )
            }
        }
        _ => judge_negative(level, &codes, control, probe, what),
    }
}

/// The problem with a granted scope that goes beyond `allowed`, naming the extra scopes.
fn granted_beyond(granted: &str, allowed: &[&str]) -> Option<String> {
    let extra: Vec<&str> = scopes(granted)
        .into_iter()
        .filter(|x| !allowed.contains(x))
        .collect();
    (!extra.is_empty()).then(|| {
        format!(
            "scope {} was granted beyond {}",
            extra.join(" "),
            allowed.join(" ")
        )
    })
}
