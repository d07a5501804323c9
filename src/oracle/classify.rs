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
pub(crate) fn is_error_charset(s: &str) -> bool {
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

/// Classifies one HTTP response. An answer whose body or a header is not valid UTF-8 is no
/// token response and no §5.2 error (JSON is UTF-8, RFC 8259 §8.1), whatever its shown text
/// holds; the reasons of `Other` say what came back (see [`what_came_back`]).
pub fn classify_response(resp: &RecordedResponse) -> Outcome {
    let status = resp.status;
    let other = |why: String| Outcome::Other { status, why };
    if (500..=599).contains(&status) {
        return other(format!("{status} server error"));
    }
    if (300..=399).contains(&status) {
        return other(redirect(resp));
    }
    if let Some(why) = not_utf8(resp) {
        return other(format!("{status} but {why}"));
    }
    let body = json_object(&resp.body);
    match status {
        200 => match body {
            Some(m) => match m.get("access_token") {
                Some(Value::String(t)) if !t.is_empty() => Outcome::Accepted { body: m },
                Some(Value::String(_)) => other("200 but access_token is empty".into()),
                Some(v) => other(format!("200 but access_token is not a string ({v})")),
                None => other("200 without an access_token".into()),
            },
            None => other(format!("200 but {}", what_came_back(resp))),
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
            Some(v) => other(format!("{status} with a malformed error member ({v})")),
            None => other(format!(
                "{status} without an RFC 6749 §5.2 JSON error body ({})",
                what_is_the_body(resp)
            )),
        },
        _ => other(format!("unexpected HTTP status {status}")),
    }
}

/// The phrase of an HTML answer, shared by the classifier and the preflight.
pub const HTML_ANSWER: &str = "the endpoint answered text/html: is this the token endpoint?";

/// Where the body stops being valid UTF-8, when it does: "the body is not valid UTF-8 at
/// byte 17" (a token response is JSON, which is UTF-8: RFC 8259 §8.1). Header values that are
/// not UTF-8 are recorded but do not make an answer unusable: RFC 9110 §5.5 has recipients
/// treat such bytes as opaque data.
pub fn not_utf8(resp: &RecordedResponse) -> Option<String> {
    resp.body_not_utf8_at
        .map(|at| format!("the body is not valid UTF-8 at byte {at}"))
}

/// A redirect, which the client never follows: its status and `Location`.
pub fn redirect(resp: &RecordedResponse) -> String {
    match header(resp, "location") {
        Some(to) => format!("a redirect ({} to {to}), never followed", resp.status),
        None => format!(
            "a redirect ({} without a Location), never followed",
            resp.status
        ),
    }
}

/// A response header, case-insensitively.
fn header<'r>(resp: &'r RecordedResponse, name: &str) -> Option<&'r str> {
    resp.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The media type of the answer, lowercased, without parameters.
pub(super) fn media_type(resp: &RecordedResponse) -> Option<String> {
    header(resp, "content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// The answer is an HTML page: by its content type, or by its first characters.
fn is_html(resp: &RecordedResponse) -> bool {
    if matches!(
        media_type(resp).as_deref(),
        Some("text/html" | "application/xhtml+xml")
    ) {
        return true;
    }
    let head = resp
        .body
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// What a 200 that is no JSON object came back as: an HTML page ([`HTML_ANSWER`]), or the
/// body that is no JSON object, with the parser's position when it is no JSON at all.
pub fn what_came_back(resp: &RecordedResponse) -> String {
    match media_type(resp) {
        _ if !is_html(resp) => {
            format!("the body is not a JSON object ({})", what_is_the_body(resp))
        }
        Some(t) if t == "text/html" => HTML_ANSWER.into(),
        Some(t) => format!("the endpoint answered an HTML page ({t}): is this the token endpoint?"),
        None => "the endpoint answered an HTML page: is this the token endpoint?".into(),
    }
}

/// What the body is, when it is no JSON object: empty, HTML, a JSON value of another kind,
/// or no JSON (serde_json's message, with line and column); with the content type when it
/// is not JSON's.
fn what_is_the_body(resp: &RecordedResponse) -> String {
    let media = media_type(resp);
    let typed = match &media {
        Some(t) if t != "application/json" && !t.ends_with("+json") => format!("{t}; "),
        _ => String::new(),
    };
    if is_html(resp) {
        return match media.as_deref() {
            Some("text/html") => "text/html".into(),
            _ => format!("{typed}an HTML page"),
        };
    }
    if resp.body.trim().is_empty() {
        return format!("{typed}an empty body");
    }
    match serde_json::from_str::<Value>(&resp.body) {
        Ok(v) => format!(
            "{typed}JSON {}",
            match v {
                Value::Object(_) => "object without an `error` member",
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                Value::Null => "null",
            }
        ),
        Err(e) => format!("{typed}invalid JSON: {e}"),
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
