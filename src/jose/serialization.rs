//! The JWS serializations (RFC 7515 §7): the compact one a JWT must use (RFC 7519 §1), and
//! the two JSON ones (flattened and general), which an ID-JAG must not be sent in (JAG-HDR-13).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::jws::b64;

/// How a signed token is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Serialization {
    /// `header.payload.signature` (RFC 7515 §7.1), the only form of a JWT.
    #[default]
    Compact,
    /// The flattened JWS JSON serialization (RFC 7515 §7.2.2): one object with `protected`,
    /// `payload` and `signature`.
    FlattenedJson,
    /// The general JWS JSON serialization (RFC 7515 §7.2.1): `payload` and a `signatures`
    /// array of `{ protected, signature }`.
    GeneralJson,
}

impl Serialization {
    /// How the token is described in reasons, e.g. `the flattened JWS JSON serialization`.
    pub fn describe(self) -> &'static str {
        match self {
            Serialization::Compact => "the JWS compact serialization",
            Serialization::FlattenedJson => "the flattened JWS JSON serialization",
            Serialization::GeneralJson => "the general JWS JSON serialization",
        }
    }

    /// The token for this protected header text, payload text and signature: the same
    /// signing input (`b64(header).b64(payload)`, RFC 7515 §5.1) in every form.
    pub fn write(self, header_json: &str, payload_json: &str, signature: &[u8]) -> String {
        let (protected, payload, signature) = (b64(header_json), b64(payload_json), b64(signature));
        match self {
            Serialization::Compact => format!("{protected}.{payload}.{signature}"),
            Serialization::FlattenedJson => json!({
                "payload": payload,
                "protected": protected,
                "signature": signature,
            })
            .to_string(),
            Serialization::GeneralJson => json!({
                "payload": payload,
                "signatures": [{ "protected": protected, "signature": signature }],
            })
            .to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_form_carries_the_same_segments() {
        let compact = Serialization::Compact.write("{\"alg\":\"none\"}", "{}", b"s");
        let [h, p, s]: [&str; 3] = compact.split('.').collect::<Vec<_>>().try_into().unwrap();
        let flat: Value = serde_json::from_str(&Serialization::FlattenedJson.write(
            "{\"alg\":\"none\"}",
            "{}",
            b"s",
        ))
        .unwrap();
        assert_eq!(
            (
                flat["protected"].as_str(),
                flat["payload"].as_str(),
                flat["signature"].as_str()
            ),
            (Some(h), Some(p), Some(s))
        );
        let general: Value = serde_json::from_str(&Serialization::GeneralJson.write(
            "{\"alg\":\"none\"}",
            "{}",
            b"s",
        ))
        .unwrap();
        assert_eq!(general["payload"], p);
        assert_eq!(general["signatures"][0]["protected"], h);
        assert_eq!(general["signatures"][0]["signature"], s);
        assert!(general.get("protected").is_none());
    }
}
