//! Classification: what an HTTP answer of the token endpoint was, as far as the judge is
//! concerned. "Accepted" is a 200 with a non-empty string `access_token`; "rejected" is a 4xx
//! with an RFC 6749 §5.2 JSON error body; anything else that is HTTP is `Other`; only no
//! usable answer at all is `NoAnswer`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::protocol::{Exchange, RecordedResponse};

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

/// The body as a JSON object, when it is one.
pub fn json_object(body: &str) -> Option<Map<String, Value>> {
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

/// The `headers` rules a response breaks, each as a sentence.
pub(super) fn header_problems(
    rules: &BTreeMap<String, String>,
    response: Option<&RecordedResponse>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in rules {
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
            .any(|item| item_matches(item.trim(), want));
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
    problems
}

/// A header item matches the wanted value, or starts with it as a word (an auth scheme:
/// `Basic realm="…"` matches `Basic`).
fn item_matches(item: &str, want: &str) -> bool {
    if item.eq_ignore_ascii_case(want) {
        return true;
    }
    match (item.get(..want.len()), item.get(want.len()..)) {
        (Some(head), Some(rest)) => head.eq_ignore_ascii_case(want) && rest.starts_with(' '),
        _ => false,
    }
}
