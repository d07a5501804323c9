//! Metadata rules: the RAS's RFC 8414 metadata document (no token request is made).

use serde_json::Value;

use crate::protocol::Exchange;
use crate::spec::{Level, Verdict};

use super::classify::json_object;
use super::expect::MetadataRules;
use super::{Judgement, judged};

/// Judges the RAS's RFC 8414 metadata document. A 404 means the server publishes none: SKIP.
pub fn judge_metadata(level: Level, rules: &MetadataRules, ex: &Exchange) -> Judgement {
    let Some(resp) = &ex.response else {
        return judged(
            Verdict::Error,
            format!("no answer: {}", ex.error.clone().unwrap_or_default()),
        );
    };
    if resp.status == 404 {
        return judged(
            Verdict::Skip,
            format!(
                "not applicable to this target: no metadata at {}",
                ex.request.url
            ),
        );
    }
    let Some(doc) = json_object(&resp.body).filter(|_| resp.status == 200) else {
        return judged(
            level.violation(),
            format!("metadata answered {} without a JSON object", resp.status),
        );
    };
    let mut problems = Vec::new();
    if let Some(want) = &rules.issuer_equals {
        match doc.get("issuer") {
            Some(Value::String(i)) if i == want => {}
            Some(other) => problems.push(format!("issuer is {other}, not the identical {want}")),
            None => problems.push("no issuer member".into()),
        }
    }
    for member in &rules.arrays_of_strings {
        match doc.get(member) {
            None => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(other) => problems.push(format!("{member} is {other}, not an array of strings")),
        }
    }
    for (member, value) in &rules.contains {
        let has = doc
            .get(member)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)));
        if !has {
            problems.push(format!("{member} does not list {value}"));
        }
    }
    for member in &rules.no_urls_in {
        if let Some(Value::Array(a)) = doc.get(member) {
            let urls: Vec<&str> = a
                .iter()
                .filter_map(Value::as_str)
                .filter(|v| v.starts_with("http://") || v.starts_with("https://"))
                .collect();
            if !urls.is_empty() {
                problems.push(format!("{member} discloses URLs: {}", urls.join(", ")));
            }
        }
    }
    if problems.is_empty() {
        judged(Verdict::Pass, "metadata as required".to_string())
    } else {
        judged(level.violation(), problems.join("; "))
    }
}
