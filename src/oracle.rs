//! The judge: classifies token-endpoint answers and turns them into verdicts.
//!
//! Pure: it sees recorded exchanges, never the network. "Accepted" is a 200 with a non-empty
//! string `access_token`; "rejected" is a 4xx with an RFC 6749 §5.2 JSON error body; anything
//! else that is HTTP is judged; only no usable answer at all is ERROR.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::report::model::{Exchange, RecordedResponse};
use crate::spec::{Level, Verdict};

/// One value or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several acceptable values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What an accepted answer must also satisfy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRules {
    /// Required `token_type`, compared case-insensitively (RFC 6749 §5.1).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Response headers that must carry a value: the header's comma- or semicolon-separated
    /// items must include it, case-insensitively (e.g. `cache-control: no-store`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Members the JSON body must not have (e.g. `refresh_token`).
    #[serde(default)]
    pub absent: Vec<String>,
}

/// What the check expects of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// A token is issued, and the rules hold.
    Accept(AcceptRules),
    /// The request is refused with one of these RFC 6749 §5.2 error codes. The positive
    /// control (the same request with the valid ID-JAG) must be accepted first.
    Reject(OneOrMany),
}

/// What an answer was, as far as the judge is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 200 with a non-empty string `access_token`.
    Accepted {
        /// The JSON body.
        body: Map<String, Value>,
    },
    /// 4xx with an RFC 6749 §5.2 error body.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// An HTTP answer that is neither (5xx, a 200 without a token, a 4xx without an error body).
    Other {
        /// HTTP status.
        status: u16,
        /// What is wrong with it.
        why: String,
    },
    /// No usable HTTP answer.
    NoAnswer {
        /// Refused, reset, timeout, body over the cap, ….
        reason: String,
    },
}

fn json_object(body: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The RFC 6749 §5.2 charset for `error` values: %x20-21 / %x23-5B / %x5D-7E.
fn is_error_charset(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Classifies one exchange.
pub fn classify(ex: &Exchange) -> Outcome {
    let Some(resp) = &ex.response else {
        return Outcome::NoAnswer {
            reason: ex.error.clone().unwrap_or_else(|| "no response".into()),
        };
    };
    classify_response(resp)
}

/// Classifies one HTTP response.
pub fn classify_response(resp: &RecordedResponse) -> Outcome {
    let status = resp.status;
    let body = json_object(&resp.body);
    match status {
        200 => match body {
            Some(m) => match m.get("access_token") {
                Some(Value::String(t)) if !t.is_empty() => Outcome::Accepted { body: m },
                Some(Value::String(_)) => Outcome::Other {
                    status,
                    why: "200 but access_token is empty".into(),
                },
                Some(other) => Outcome::Other {
                    status,
                    why: format!("200 but access_token is not a string ({other})"),
                },
                None => Outcome::Other {
                    status,
                    why: "200 without an access_token".into(),
                },
            },
            None => Outcome::Other {
                status,
                why: "200 but the body is not a JSON object".into(),
            },
        },
        400..=499 => match body.as_ref().and_then(|m| m.get("error")) {
            Some(Value::String(e)) if is_error_charset(e) => Outcome::Rejected {
                status,
                error: e.clone(),
                description: body
                    .as_ref()
                    .and_then(|m| m.get("error_description"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            Some(other) => Outcome::Other {
                status,
                why: format!("{status} with a malformed error member ({other})"),
            },
            None => Outcome::Other {
                status,
                why: format!("{status} without an RFC 6749 §5.2 JSON error body"),
            },
        },
        500..=599 => Outcome::Other {
            status,
            why: format!("{status} server error"),
        },
        _ => Outcome::Other {
            status,
            why: format!("unexpected HTTP status {status}"),
        },
    }
}

/// A short description of an outcome, e.g. `400 invalid_grant (aud mismatch)`.
pub fn summarize(o: &Outcome) -> String {
    match o {
        Outcome::Accepted { .. } => "200 with an access token".into(),
        Outcome::Rejected {
            status,
            error,
            description,
        } => match description {
            Some(d) => format!("{status} {error} ({})", one_line(d, 120)),
            None => format!("{status} {error}"),
        },
        Outcome::Other { why, .. } => why.clone(),
        Outcome::NoAnswer { reason } => format!("no answer: {reason}"),
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}

/// A verdict with its one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
}

fn judged(verdict: Verdict, reason: impl Into<String>) -> Judgement {
    Judgement {
        verdict,
        reason: reason.into(),
    }
}

/// The status RFC 6749 §5.2 prescribes for an error code: 400, or 401 for `invalid_client`.
fn status_fits(error: &str, status: u16) -> bool {
    status == 400 || (error == "invalid_client" && status == 401)
}

/// Judges a negative check: `probe` is the answer to the mutated request, `control` the answer
/// to the same request with the valid ID-JAG, sent first. `what` names the mutation.
pub fn judge_negative(
    level: Level,
    expected: &[String],
    control: &Outcome,
    probe: &Outcome,
    what: &str,
) -> Judgement {
    match control {
        Outcome::Accepted { .. } => {}
        Outcome::NoAnswer { reason } => {
            return judged(
                Verdict::Error,
                format!("positive control got no answer: {reason}"),
            );
        }
        other => {
            return judged(
                Verdict::Skip,
                format!("baseline not accepted: {}", summarize(other)),
            );
        }
    }
    let off_code = if level.violation() == Verdict::Info {
        Verdict::Info
    } else {
        Verdict::Warn
    };
    match probe {
        Outcome::NoAnswer { reason } => judged(Verdict::Error, format!("no answer: {reason}")),
        Outcome::Accepted { .. } => judged(
            level.violation(),
            format!("{what} was accepted: 200 with an access token"),
        ),
        Outcome::Rejected { status, error, .. } if expected.iter().any(|e| e == error) => {
            if status_fits(error, *status) {
                judged(Verdict::Pass, format!("rejected: {}", summarize(probe)))
            } else {
                judged(
                    off_code,
                    format!(
                        "rejected with {error} but HTTP {status}; RFC 6749 §5.2 prescribes 400"
                    ),
                )
            }
        }
        Outcome::Rejected { .. } => judged(
            off_code,
            format!(
                "{what} was rejected with {}, expected {}",
                summarize(probe),
                expected.join(" or ")
            ),
        ),
        Outcome::Other { why, .. } => judged(level.violation(), format!("{what}: {why}")),
    }
}

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
    for (name, want) in &rules.headers {
        let values: Vec<&str> = response
            .map(|r| {
                r.headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let has = values
            .iter()
            .flat_map(|v| v.split([',', ';']))
            .any(|item| item.trim().eq_ignore_ascii_case(want));
        if !has {
            if values.is_empty() {
                problems.push(format!("no {name} header (expected {want})"));
            } else {
                problems.push(format!(
                    "{name} is `{}`, expected {want}",
                    values.join(", ")
                ));
            }
        }
    }
    for member in &rules.absent {
        if body.contains_key(member) {
            problems.push(format!("the response includes {member}"));
        }
    }
    if problems.is_empty() {
        judged(
            Verdict::Pass,
            "accepted: 200 with an access token".to_string(),
        )
    } else {
        judged(level.violation(), problems.join("; "))
    }
}
