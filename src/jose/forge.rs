//! Forged access tokens for RS-07 (RFC 9068 §4): made from the header and claims of an
//! access token the RAS really issued, so that only the one property under test is wrong.

use serde_json::{Map, Value};

use super::SigningKey;
use super::jws;

/// The header and payload of a compact JWS, when it is one.
fn parts(token: &str) -> Option<(Map<String, Value>, String)> {
    let mut segs = token.split('.');
    let (h, p) = (segs.next()?, segs.next()?);
    segs.next()?;
    let header = serde_json::from_slice(&jws::b64_decode(h)?).ok()?;
    Some((header, p.to_string()))
}

/// The token unsigned: its header with `alg: none` (the rest kept), its payload as is, an
/// empty signature (RFC 7519 §6.1). `None` when `token` is no JWS.
pub fn alg_none(token: &str) -> Option<String> {
    let (mut header, payload) = parts(token)?;
    header.insert("alg".into(), Value::from("none"));
    let header = serde_json::to_string(&header).ok()?;
    Some(format!("{}.{payload}.", jws::b64(header)))
}

/// The token signed again by `key` (another party's): its header with `key`'s `alg` and
/// `kid` (the rest, `typ` included, kept), its payload as is. `None` when `token` is no JWS.
pub fn resigned(token: &str, key: &SigningKey) -> Option<String> {
    let (mut header, payload) = parts(token)?;
    header.insert("alg".into(), Value::from(key.alg().name()));
    header.insert("kid".into(), Value::from(key.kid()));
    let header = serde_json::to_string(&header).ok()?;
    let input = format!("{}.{payload}", jws::b64(header));
    let sig = key.sign(input.as_bytes());
    Some(jws::compact(&input, &sig))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::KeyAlg;
    use crate::jose::mint::sign_jwt;

    #[test]
    fn forgeries_keep_the_claims_and_change_only_the_signature() {
        let ras = SigningKey::generate(KeyAlg::RS256).expect("key");
        let idp = SigningKey::generate(KeyAlg::ES256).expect("key");
        let Value::Object(claims) = json!({ "iss": "https://ras", "aud": "https://api" }) else {
            unreachable!()
        };
        let at = sign_jwt(&ras, Some("at+jwt"), &claims).expect("jwt");
        let none = alg_none(&at).expect("jws");
        let (h, p) = jws::decode_for_display(&none);
        assert_eq!(
            (h["alg"].as_str(), h["typ"].as_str()),
            (Some("none"), Some("at+jwt"))
        );
        assert_eq!(p, Value::Object(claims.clone()));
        assert!(none.ends_with('.'));
        let other = resigned(&at, &idp).expect("jws");
        let (h, p) = jws::decode_for_display(&other);
        assert_eq!(h["kid"].as_str(), Some(idp.kid()));
        assert_eq!(h["alg"].as_str(), Some("ES256"));
        assert_eq!(p, Value::Object(claims));
        assert!(alg_none("opaque").is_none() && resigned("a.b", &idp).is_none());
    }
}
