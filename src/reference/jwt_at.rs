//! RFC 9068 JWT access tokens, what the reference issues by default (the
//! `opaque-access-tokens` variant issues random strings instead): signed by the reference's
//! own key (published at `/jwks`, the metadata's `jwks_uri`), and verified by its resource API
//! from the token alone: signature, `typ`, `alg`, `iss`, `exp`, `aud`.
//!
//! The defects that get RFC 9068 wrong are applied here, on each side: [`Issuing`] (what the
//! token carries) and [`Verifying`] (what the resource API lets through).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value, json};

use super::issued::IssuedToken;
use super::{Defect, RasState};
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

/// How the issuing side departs from RFC 9068 (each under a defect); the default is compliant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Issuing {
    /// `typ: JWT` (a JWT library's default) instead of `at+jwt` (`at-typ-jwt`).
    pub typ_jwt: bool,
    /// No `client_id` claim (`at-without-client-id`).
    pub no_client_id: bool,
    /// `aud` names the RAS's issuer beside the resource (`at-aud-adds-issuer`).
    pub aud_adds_issuer: bool,
}

/// Signs `issued` as an RFC 9068 JWT access token of `issuer` (RFC 9068 §2.2: iss, exp, aud,
/// sub, client_id, iat, jti, and scope), departing from it as `how` says.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    governed: &[String],
    issued: &IssuedToken,
    lifetime_secs: u64,
    how: Issuing,
) -> Option<String> {
    let now = unix_now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    let mut aud = audience(issued, governed);
    if how.aud_adds_issuer {
        let mut all: Vec<Value> = match aud {
            Value::Array(a) => a,
            one => vec![one],
        };
        all.push(json!(issuer));
        aud = Value::Array(all);
    }
    claims.insert("aud".into(), aud);
    claims.insert("exp".into(), json!(now + lifetime_secs as i64));
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(fresh_jti()));
    claims.insert("sub".into(), json!(issued.user));
    if !how.no_client_id {
        claims.insert("client_id".into(), json!(issued.client_id));
    }
    if !issued.scopes.is_empty() {
        claims.insert("scope".into(), json!(issued.scopes.join(" ")));
    }
    if let Some(jkt) = &issued.jkt {
        // RFC 9449 §6.1: a DPoP-bound JWT access token names its key.
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let typ = if how.typ_jwt { "JWT" } else { AT_TYP };
    sign_jwt(key, Some(typ), &claims).ok()
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

/// How the resource API departs from RFC 9068 §4 (each under a defect); the default is
/// compliant.
#[derive(Debug, Clone, Default)]
pub struct Verifying {
    /// `typ: JWT` is taken too, so that the server's own `typ-jwt` tokens work (`at-typ-jwt`).
    pub typ_jwt: bool,
    /// An unsigned `alg: none` token is taken as it is (`api-accepts-unsigned-at`).
    pub alg_none: bool,
    /// Other keys a signature may verify with: the trusted IdP's, for a resource server that
    /// verifies with every key it trusts (`api-trusts-idp-keys`).
    pub other_keys: Vec<Jwk>,
}

/// The departures from RFC 9068 of the issuing side under `defects`.
pub fn issuing(defects: &std::collections::BTreeSet<Defect>) -> Issuing {
    Issuing {
        typ_jwt: defects.contains(&Defect::AtTypJwt),
        no_client_id: defects.contains(&Defect::AtWithoutClientId),
        aud_adds_issuer: defects.contains(&Defect::AtAudAddsIssuer),
    }
}

/// The departures from RFC 9068 §4 of the resource API under the state's defects (the
/// trusted IdP's keys fetched through the reference's JWKS cache when they are trusted too).
pub async fn verifying(state: &RasState) -> Verifying {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let other_keys = match state.cfg.trusted.first() {
        Some(idp) if has(Defect::ApiTrustsIdpKeys) => state.cache.all_keys(&idp.jwks_uri).await,
        _ => Vec::new(),
    };
    Verifying {
        typ_jwt: has(Defect::AtTypJwt),
        alg_none: has(Defect::ApiAcceptsUnsignedAt),
        other_keys,
    }
}

/// Verifies `token` as an access token of `issuer` signed with `key` (RFC 9068 §4): `typ`
/// at+jwt, the key's algorithm, a valid signature, `iss`, an unexpired `exp`, and an `aud`,
/// departing from it as `how` says. Returns what it grants, `aud` as its resources (which
/// the resource API compares with itself, as it does for an opaque token's restriction; the
/// `client_id` empty when the token names none), or `None`.
pub fn verify(key: &SigningKey, issuer: &str, token: &str, how: &Verifying) -> Option<IssuedToken> {
    let mut parts = token.split('.');
    let (h, p, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&jws::b64_decode(h)?).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&jws::b64_decode(p)?).ok()?;
    let typ = header.get("typ")?.as_str()?.to_ascii_lowercase();
    if typ != AT_TYP && typ != format!("application/{AT_TYP}") && !(how.typ_jwt && typ == "jwt") {
        return None;
    }
    let alg = header.get("alg")?.as_str()?;
    let (message, signature) = token.rsplit_once('.')?;
    let verified = if alg == "none" {
        how.alg_none
    } else if alg == key.alg().name() && verifies(&key.public_jwk(), message, signature) {
        true
    } else {
        how.other_keys.iter().any(|jwk| {
            serde_json::to_value(jwk)
                .ok()
                .is_some_and(|j| verifies(&j, message, signature))
        })
    };
    if !verified {
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
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    Some(IssuedToken {
        user: text("sub")?,
        client_id: text("client_id").unwrap_or_default(),
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

/// Whether `signature` over `message` verifies with the public key `jwk` (a JWK as JSON), in
/// the algorithm the key is for (its `alg`, else RS256 for RSA and ES256 for EC keys).
fn verifies(jwk: &Value, message: &str, signature: &str) -> bool {
    let Ok(parsed) = serde_json::from_value::<Jwk>(jwk.clone()) else {
        return false;
    };
    let Ok(decoding) = DecodingKey::from_jwk(&parsed) else {
        return false;
    };
    let alg = match jwk.get("alg").and_then(Value::as_str) {
        Some("ES256") => Algorithm::ES256,
        Some("RS256") => Algorithm::RS256,
        Some(_) => return false,
        None if jwk.get("kty").and_then(Value::as_str) == Some("EC") => Algorithm::ES256,
        None => Algorithm::RS256,
    };
    jsonwebtoken::crypto::verify(signature, message.as_bytes(), &decoding, alg).unwrap_or(false)
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
        let at = issue(&key, ISS, &governed, &token(&[R1]), 60, Issuing::default()).expect("jwt");
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
        let seen = verify(&key, ISS, &at, &Verifying::default()).expect("verifies at R1");
        assert_eq!(seen.client_id, "agent-c1");
        assert_eq!(seen.scopes, ["s.read", "s.write"]);
        // Restricted to R1 (the resource API compares), not for another issuer, not tampered,
        // not with another key.
        assert_eq!(seen.resources, [R1]);
        assert!(verify(&key, "https://other.example", &at, &Verifying::default()).is_none());
        let mut flipped: Vec<char> = at.chars().collect();
        let mid = flipped.len() / 2;
        flipped[mid] = if flipped[mid] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();
        assert!(verify(&key, ISS, &flipped, &Verifying::default()).is_none());
        let other = generate_key().expect("key");
        assert!(verify(&other, ISS, &at, &Verifying::default()).is_none());
        // Without a resource, the token is for every governed resource.
        let any = issue(&key, ISS, &governed, &token(&[]), 60, Issuing::default()).expect("jwt");
        let seen = verify(&key, ISS, &any, &Verifying::default()).expect("verifies");
        assert_eq!(seen.resources, governed);
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
        assert!(verify(&key, ISS, &id_jag, &Verifying::default()).is_none());
        assert!(
            verify(
                &key,
                ISS,
                &sign_jwt(&key, Some(AT_TYP), &claims).expect("jwt"),
                &Verifying::default()
            )
            .is_some()
        );
        claims.insert("exp".into(), json!(unix_now() - 1));
        let expired = sign_jwt(&key, Some(AT_TYP), &claims).expect("jwt");
        assert!(verify(&key, ISS, &expired, &Verifying::default()).is_none());
    }
}
