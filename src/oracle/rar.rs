//! What a token response must say about rich authorization requests (RFC 9396): the granted
//! `authorization_details` returned (ID-JAG §4.4.1, RESP-10), and types the RAS does not
//! support not granted (JAG-RAR-02).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Rules on the `authorization_details` of an accepted token response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RarRules {
    /// The response must carry `authorization_details`.
    #[serde(default)]
    pub required: bool,
    /// Types the granted entries must include (e.g. `${rar.type}`).
    #[serde(default)]
    pub includes_types: Vec<String>,
    /// Types no granted entry may have (e.g. `${rar.unknown_type}`).
    #[serde(default)]
    pub excludes_types: Vec<String>,
}

/// The problems with `body`'s `authorization_details` under `rules`: when present, a JSON
/// array of objects each with a string `type` (RFC 9396 §2, §7), required when the rules say
/// so, with the included types and none of the excluded ones.
pub fn problems(rules: Option<&RarRules>, body: &Map<String, Value>) -> Vec<String> {
    let Some(rules) = rules else {
        return Vec::new();
    };
    let entries = match body.get("authorization_details") {
        None if rules.required => {
            return vec![
                "no authorization_details in the response, though the ID-JAG carried some (ID-JAG §4.4.1)".into(),
            ];
        }
        None => return Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return vec![format!(
                "authorization_details is {}, not a JSON array (RFC 9396 §7)",
                kind(other)
            )];
        }
    };
    let mut problems = Vec::new();
    let types: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.get("type").and_then(Value::as_str))
        .collect();
    if types.len() != entries.len() {
        problems.push(
            "authorization_details has an entry that is not an object with a string type (RFC 9396 §2)"
                .into(),
        );
    }
    for t in &rules.includes_types {
        if !types.contains(&t.as_str()) {
            problems.push(format!("authorization_details grants no entry of type {t}"));
        }
    }
    for t in &rules.excludes_types {
        if types.contains(&t.as_str()) {
            problems.push(format!(
                "authorization_details grants type {t}, which the RAS does not support"
            ));
        }
    }
    problems
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn granted_details_are_judged_by_their_types() {
        let required = RarRules {
            required: true,
            includes_types: vec!["t1".into()],
            excludes_types: vec!["u".into()],
        };
        let ok = body(json!({"authorization_details": [{"type": "t1", "actions": ["read"]}]}));
        assert!(problems(Some(&required), &ok).is_empty());
        assert!(
            problems(Some(&required), &body(json!({})))[0].contains("no authorization_details")
        );
        assert!(problems(None, &body(json!({}))).is_empty());
        let lax = RarRules {
            excludes_types: vec!["u".into()],
            ..Default::default()
        };
        assert!(problems(Some(&lax), &body(json!({}))).is_empty());
        let unknown = body(json!({"authorization_details": [{"type": "t1"}, {"type": "u"}]}));
        assert!(problems(Some(&lax), &unknown)[0].contains("grants type u"));
        let string = body(json!({"authorization_details": "[]"}));
        assert!(problems(Some(&lax), &string)[0].contains("a string"));
        let untyped = body(json!({"authorization_details": [{"actions": []}]}));
        assert!(problems(Some(&required), &untyped).len() == 2);
    }
}
