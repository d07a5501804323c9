//! RFC 9068 JWT access tokens, for the `jwt-access-tokens` variant: issued signed by the
//! reference's own key (published at `/jwks`, the metadata's `jwks_uri`), and verified by its
//! resource API from the token alone: signature, `typ`, `iss`, `exp`, `aud`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value, json};

use super::issued::IssuedToken;
use crate::jose::jws;
use crate::jose::keys::{KeyAlg, SigningKey};
use crate::jose::mint::{fresh_jti, sign_jwt, unix_now};

/// The `typ` of an RFC 9068 access token (§2.1).
pub const AT_TYP: &str = "at+jwt";

/// The access token's audience: the resources it is restricted to, or, when the ID-JAG named
/// none, every resource this server governs (RFC 9068 §3: `aud` is REQUIRED).
fn audience(issued: &IssuedToken, governed: &[String]) -> Value {
    let aud = if issued.resources.is_empty() {
        governed
    } else {
        &issued.resources
    };
    match aud {
        [one] => json!(one),
        many => json!(many),
    }
}

/// Signs `issued` as an RFC 9068 JWT access token of `issuer` (RFC 9068 §2.2: iss, exp, aud,
/// sub, client_id, iat, jti, and scope).
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    governed: &[String],
    issued: &IssuedToken,
    lifetime_secs: u64,
) -> Option<String> {
    let now = unix_now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), audience(issued, governed));
    claims.insert("exp".into(), json!(now + lifetime_secs as i64));
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(fresh_jti()));
    claims.insert("sub".into(), json!(issued.user));
    claims.insert("client_id".into(), json!(issued.client_id));
    if !issued.scopes.is_empty() {
        claims.insert("scope".into(), json!(issued.scopes.join(" ")));
    }
    if let Some(jkt) = &issued.jkt {
        // RFC 9449 §6.1: a DPoP-bound JWT access token names its key.
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    sign_jwt(key, Some(AT_TYP), &claims).ok()
}

/// The reference's access-token signing key: RS256, which RFC 9068 §2.1 requires every
/// party to support.
pub fn generate_key() -> Option<SigningKey> {
    SigningKey::generate(KeyAlg::RS256).ok()
}

/// The JWKS that publishes `key`.
pub fn jwks(key: &SigningKey) -> Value {
    json!({ "keys": [key.public_jwk()] })
}

/// Verifies `token` as an access token of `issuer` signed with `key` for the resource `url`
/// (RFC 9068 §4): `typ` at+jwt, the key's algorithm, a valid signature, `iss`, an unexpired
/// `exp`, and `aud` naming `url`. Returns what it grants, or `None`.
pub fn verify(key: &SigningKey, issuer: &str, token: &str, url: &str) -> Option<IssuedToken> {
    let mut parts = token.split('.');
    let (h, p, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&jws::b64_decode(h)?).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&jws::b64_decode(p)?).ok()?;
    let typ = header.get("typ")?.as_str()?.to_ascii_lowercase();
    if typ != AT_TYP && typ != format!("application/{AT_TYP}") {
        return None;
    }
    if header.get("alg")?.as_str()? != key.alg().name() {
        return None;
    }
    let jwk: Jwk = serde_json::from_value(key.public_jwk()).ok()?;
    let decoding = DecodingKey::from_jwk(&jwk).ok()?;
    let (message, signature) = token.rsplit_once('.')?;
    if !jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, Algorithm::RS256)
        .ok()?
    {
        return None;
    }
    if claims.get("iss")?.as_str()? != issuer {
        return None;
    }
    let exp = claims.get("exp")?.as_i64()?;
    let now = unix_now();
    if exp <= now {
        return None;
    }
    let aud: Vec<String> = match claims.get("aud")? {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => return None,
    };
    if !aud.iter().any(|a| a == url) {
        return None;
    }
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    Some(IssuedToken {
        user: text("sub")?,
        client_id: text("client_id")?,
        scopes: text("scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        resources: aud,
        expires: Instant::now() + Duration::from_secs((exp - now) as u64),
        issued_at: claims.get("iat").and_then(Value::as_i64).unwrap_or(now),
        jkt: claims
            .get("cnf")
            .and_then(|c| c.get("jkt"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(resources: &[&str]) -> IssuedToken {
        IssuedToken {
            user: "U1".into(),
            client_id: "agent-c1".into(),
            scopes: vec!["s.read".into(), "s.write".into()],
            resources: resources.iter().map(|r| r.to_string()).collect(),
            expires: Instant::now() + Duration::from_secs(60),
            issued_at: unix_now(),
            jkt: None,
        }
    }

    const ISS: &str = "https://ras.example";
    const R1: &str = "https://ras.example/api/r1";
    const R2: &str = "https://ras.example/api/r2";

    #[test]
    fn an_issued_token_carries_the_rfc_9068_claims_and_verifies_only_where_it_should() {
        let key = generate_key().expect("key");
        let governed = vec![R1.to_string(), R2.to_string()];
        let at = issue(&key, ISS, &governed, &token(&[R1]), 60).expect("jwt");
        let (header, claims) = jws::decode_for_display(&at);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], key.kid());
        for claim in [
            "iss",
            "exp",
            "aud",
            "sub",
            "client_id",
            "iat",
            "jti",
            "scope",
        ] {
            assert!(claims.get(claim).is_some(), "{claim} missing: {claims}");
        }
        assert_eq!(claims["aud"], R1);
        assert_eq!(claims["sub"], "U1");
        let seen = verify(&key, ISS, &at, R1).expect("verifies at R1");
        assert_eq!(seen.client_id, "agent-c1");
        assert_eq!(seen.scopes, ["s.read", "s.write"]);
        // Not at another resource, not for another issuer, not tampered, not with another key.
        assert!(verify(&key, ISS, &at, R2).is_none());
        assert!(verify(&key, "https://other.example", &at, R1).is_none());
        let mut flipped: Vec<char> = at.chars().collect();
        let mid = flipped.len() / 2;
        flipped[mid] = if flipped[mid] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        assert!(verify(&key, ISS, &flipped, R1).is_none());
        let other = generate_key().expect("key");
        assert!(verify(&other, ISS, &at, R1).is_none());
        // Without a resource, the token is for every governed resource.
        let any = issue(&key, ISS, &governed, &token(&[]), 60).expect("jwt");
        assert!(verify(&key, ISS, &any, R2).is_some());
    }

    #[test]
    fn a_token_of_another_type_or_expired_is_refused() {
        let key = generate_key().expect("key");
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(ISS));
        claims.insert("aud".into(), json!(R1));
        claims.insert("exp".into(), json!(unix_now() + 60));
        claims.insert("sub".into(), json!("U1"));
        claims.insert("client_id".into(), json!("agent-c1"));
        let id_jag = sign_jwt(&key, Some("oauth-id-jag+jwt"), &claims).expect("jwt");
        assert!(verify(&key, ISS, &id_jag, R1).is_none());
        assert!(
            verify(
                &key,
                ISS,
                &sign_jwt(&key, Some(AT_TYP), &claims).expect("jwt"),
                R1
            )
            .is_some()
        );
        claims.insert("exp".into(), json!(unix_now() - 1));
        let expired = sign_jwt(&key, Some(AT_TYP), &claims).expect("jwt");
        assert!(verify(&key, ISS, &expired, R1).is_none());
    }
}
