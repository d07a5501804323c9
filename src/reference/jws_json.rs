//! The `accept-jws-json-serialization` defect's reader: an assertion in the JWS JSON
//! serialization (RFC 7515 §7.2, flattened or general) turned back into the compact form, so
//! that the rest of the validation (signature included) goes on as if it had been compact.
//! A compliant RAS refuses such an assertion: a JWT uses the compact serialization only
//! (RFC 7519 §1, §7.2).

use serde_json::Value;

/// `protected.payload.signature` of a JWS JSON serialization (flattened, or the first
/// signature of the general form); `None` when `assertion` is not one.
pub fn to_compact(assertion: &str) -> Option<String> {
    let v: Value = serde_json::from_str(assertion.trim()).ok()?;
    let payload = v.get("payload")?.as_str()?;
    let signed = match v.get("signatures") {
        Some(Value::Array(sigs)) => sigs.first()?,
        _ => &v,
    };
    let protected = signed.get("protected")?.as_str()?;
    let signature = signed.get("signature")?.as_str()?;
    Some(format!("{protected}.{payload}.{signature}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_forms_read_back_as_compact_and_nothing_else_does() {
        assert_eq!(
            to_compact(r#"{"payload":"p","protected":"h","signature":"s"}"#).as_deref(),
            Some("h.p.s")
        );
        assert_eq!(
            to_compact(r#"{"payload":"p","signatures":[{"protected":"h","signature":"s"}]}"#)
                .as_deref(),
            Some("h.p.s")
        );
        assert_eq!(to_compact("h.p.s"), None);
        assert_eq!(to_compact(r#"{"payload":"p"}"#), None);
    }
}
