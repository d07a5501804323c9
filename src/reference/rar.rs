//! The reference RAS's rich authorization requests (RFC 9396; ID-JAG §4.4.1: "MUST parse it
//! as a JSON array and process each authorization detail object according to RFC9396"): the
//! `authorization_details` claim of an ID-JAG, filtered to the types it supports, and
//! returned as granted in the token response.

use serde_json::{Map, Value, json};

use super::Defect;
use super::config::ReferenceConfig;
use crate::fixture::rar::Rar;

/// The one authorization detail type the embedded reference supports, and the entry it
/// grants (the embedded fixture declares it, and `reference serve` prints it).
pub fn embedded() -> Rar {
    Rar {
        types: vec![EMBEDDED_TYPE.to_string()],
        example: match json!({ "type": EMBEDDED_TYPE, "actions": ["read"] }) {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    }
}

/// The type of [`embedded`].
const EMBEDDED_TYPE: &str = "api_access";

/// The granted authorization details of the ID-JAG's `authorization_details` claim: `None`
/// when it has none (or this RAS supports no type); otherwise a JSON array of objects, each
/// with a string `type` (RFC 9396 §2), refused (`Err` with why, an `invalid_grant`) when it
/// is not, and cut down to the types this RAS supports (an unknown type is not granted).
pub fn granted(
    cfg: &ReferenceConfig,
    claims: &Map<String, Value>,
) -> Result<Option<Vec<Value>>, &'static str> {
    let has = |d: Defect| cfg.defects.contains(&d);
    let Some(claim) = claims.get("authorization_details") else {
        return Ok(None);
    };
    if cfg.rar_types.is_empty() {
        // No RAR here: an unknown claim, ignored (RFC 7519 §4).
        return Ok(None);
    }
    let entries = match claim {
        Value::Array(a) => a.clone(),
        // Under `authorization-details-not-array`: a string is parsed as JSON, an object
        // taken as the one entry.
        Value::String(s) if has(Defect::AuthorizationDetailsNotArray) => {
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => a,
                Ok(other) => vec![other],
                Err(_) => return Err("authorization_details is not JSON"),
            }
        }
        Value::Object(_) if has(Defect::AuthorizationDetailsNotArray) => vec![claim.clone()],
        _ => {
            return Err("authorization_details must be a JSON array (RFC 9396 §2)");
        }
    };
    let mut granted = Vec::new();
    for entry in entries {
        let ty = entry.get("type").and_then(Value::as_str);
        match ty {
            Some(t) if cfg.rar_types.iter().any(|k| k == t) => granted.push(entry),
            Some(_) if has(Defect::GrantUnknownRarTypes) => granted.push(entry),
            // An entry of a type this RAS does not support is not granted.
            Some(_) => {}
            None if has(Defect::IgnoreUntypedRarEntries) => {}
            None => {
                return Err(
                    "an authorization_details entry is not an object with a string type (RFC 9396 §2)",
                );
            }
        }
    }
    Ok(Some(granted))
}

/// Sets the granted authorization details in the token response body (ID-JAG §4.4.1), unless
/// `omit-granted-authorization-details`.
pub fn respond(cfg: &ReferenceConfig, body: &mut Value, granted: Option<Vec<Value>>) {
    if let Some(g) = granted
        && !cfg
            .defects
            .contains(&Defect::OmitGrantedAuthorizationDetails)
    {
        body["authorization_details"] = Value::Array(g);
    }
}
