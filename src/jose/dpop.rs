//! DPoP proofs (RFC 9449 §4.2) made by the requesting app, and every way a check breaks one
//! (RFC 9449 §4.3's rules, one fault each).
//!
//! A proof is a JWS with header `typ: dpop+jwt`, an asymmetric `alg` and the public key in
//! `jwk`, and claims `jti`, `htm`, `htu`, `iat`, and where they apply `nonce` (a server's,
//! RFC 9449 §8) and `ath` (base64url SHA-256 of the access token, at a resource, §7.1). A key
//! is named by its RFC 7638 thumbprint, which is also its `kid` ([`SigningKey::kid`]): a
//! bound ID-JAG carries it as `cnf.jkt` (RFC 9449 §6.1).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::jws::{self, b64};
use super::keys::{SigningKey, jwk_thumbprint};
use super::mint::{MintError, fresh_jti};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// How old a `stale_iat` proof is: an hour, far beyond any window a server keeps proofs
/// acceptable for (RFC 9449 §11.1 speaks of seconds or minutes).
pub const STALE_IAT_SECS: i64 = 3600;

/// The DPoP proof a request carries: none, a valid one, or one broken one way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofChoice {
    /// A valid proof (the default).
    #[default]
    Valid,
    /// No `DPoP` header at all.
    None,
    /// `htm` names another method (GET for a POST).
    WrongHtm,
    /// `htu` names another URL (the endpoint with another path).
    WrongHtu,
    /// `typ: JWT` instead of `dpop+jwt`.
    TypJwt,
    /// `alg: none`, unsigned.
    AlgNone,
    /// HS256: a symmetric algorithm, which a proof may not use.
    Hs256,
    /// The `jwk` header carries the private key (`d`) too.
    PrivateJwk,
    /// `iat` an hour ago.
    StaleIat,
    /// The `jti` of the proof the positive control just sent.
    ReplayedJti,
    /// Signed by another key than the one in `jwk`.
    ForeignSignature,
    /// A `nonce` the server never issued (and no retry with its own).
    WrongNonce,
}

impl ProofChoice {
    /// What the proof is, for reasons: `no DPoP proof`, `a DPoP proof with the wrong htu`, ….
    pub fn describe(self) -> &'static str {
        match self {
            ProofChoice::Valid => "a valid DPoP proof",
            ProofChoice::None => "no DPoP proof",
            ProofChoice::WrongHtm => "a DPoP proof with the wrong htm",
            ProofChoice::WrongHtu => "a DPoP proof with the wrong htu",
            ProofChoice::TypJwt => "a DPoP proof with typ JWT",
            ProofChoice::AlgNone => "an unsigned (alg none) DPoP proof",
            ProofChoice::Hs256 => "an HS256 DPoP proof",
            ProofChoice::PrivateJwk => "a DPoP proof whose jwk holds the private key",
            ProofChoice::StaleIat => "a DPoP proof issued an hour ago",
            ProofChoice::ReplayedJti => "a DPoP proof reusing the jti of a proof just accepted",
            ProofChoice::ForeignSignature => "a DPoP proof signed by another key than its jwk",
            ProofChoice::WrongNonce => "a DPoP proof with a nonce the server never issued",
        }
    }
}

/// What a proof is for: the request it goes with.
#[derive(Debug, Clone, Default)]
pub struct ProofFor {
    /// The HTTP method (`htm`).
    pub htm: String,
    /// The URL without query and fragment (`htu`).
    pub htu: String,
    /// The server's nonce, when it gave one.
    pub nonce: Option<String>,
    /// The access token presented with it, at a resource (`ath` is its hash).
    pub access_token: Option<String>,
    /// A `jti` to use instead of a fresh one (a replayed proof).
    pub jti: Option<String>,
}

/// A minted proof with its decoded parts.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The compact serialization, the `DPoP` header's value.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its header.
    pub header: Value,
    /// Its claims.
    pub claims: Value,
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        access_token.as_bytes(),
    ))
}

/// A DPoP proof by `key` for the request `target`, broken as `choice` says (`other` signs a
/// `foreign_signature` proof); `None` for [`ProofChoice::None`]. Issued at `now`.
pub fn proof(
    key: &SigningKey,
    other: &SigningKey,
    target: &ProofFor,
    choice: ProofChoice,
    now: i64,
) -> Result<Option<Proof>, MintError> {
    use ProofChoice as P;
    if choice == P::None {
        return Ok(None);
    }
    let jti = target.jti.clone().unwrap_or_else(fresh_jti);
    let mut claims = Map::new();
    claims.insert("jti".into(), json!(jti));
    let htm = match choice {
        P::WrongHtm if target.htm.eq_ignore_ascii_case("GET") => "POST".to_string(),
        P::WrongHtm => "GET".to_string(),
        _ => target.htm.clone(),
    };
    claims.insert("htm".into(), json!(htm));
    let htu = match choice {
        P::WrongHtu => format!("{}/not-this-endpoint", target.htu.trim_end_matches('/')),
        _ => target.htu.clone(),
    };
    claims.insert("htu".into(), json!(htu));
    let iat = if choice == P::StaleIat {
        now - STALE_IAT_SECS
    } else {
        now
    };
    claims.insert("iat".into(), json!(iat));
    match (choice, &target.nonce) {
        (P::WrongNonce, _) => {
            claims.insert(
                "nonce".into(),
                json!(format!("not-a-nonce-{}", fresh_jti())),
            );
        }
        (_, Some(n)) => {
            claims.insert("nonce".into(), json!(n));
        }
        _ => {}
    }
    if let Some(at) = &target.access_token {
        claims.insert("ath".into(), json!(ath(at)));
    }
    let mut jwk = key.public_jwk_required();
    if choice == P::PrivateJwk
        && let (Some(d), Value::Object(m)) = (key.private_ec_d(), &mut jwk)
    {
        m.insert("d".into(), json!(d));
    }
    let alg = match choice {
        P::AlgNone => "none",
        P::Hs256 => "HS256",
        _ => key.alg().name(),
    };
    let mut header = Map::new();
    header.insert(
        "typ".into(),
        json!(if choice == P::TypJwt { "JWT" } else { DPOP_TYP }),
    );
    header.insert("alg".into(), json!(alg));
    header.insert("jwk".into(), jwk);
    let input = jws::signing_input(
        &serde_json::to_string(&header)?,
        &serde_json::to_string(&claims)?,
    );
    let sig = match choice {
        P::AlgNone => Vec::new(),
        P::Hs256 => {
            // Keyed with the public key's thumbprint: any secret will do, the algorithm is
            // what the server must refuse.
            let hmac =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.kid().as_bytes());
            aws_lc_rs::hmac::sign(&hmac, input.as_bytes())
                .as_ref()
                .to_vec()
        }
        P::ForeignSignature => other.sign(input.as_bytes()),
        _ => key.sign(input.as_bytes()),
    };
    Ok(Some(Proof {
        token: jws::compact(&input, &sig),
        jti,
        header: Value::Object(header),
        claims: Value::Object(claims),
    }))
}

/// The thumbprint of the key a DPoP proof demonstrates, after checking that it is a
/// `dpop+jwt` ES256 JWS signed by the key in its `jwk`: the fake IdP's check before it binds
/// an ID-JAG to that key (ID-JAG §9.8.1.1). The reason when it is not.
pub fn proven_jkt(proof: &str) -> Result<String, String> {
    let parts: Vec<&str> = proof.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err("the DPoP proof is not a compact JWS".into());
    };
    let header: Value = jws::b64_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the DPoP proof header is not JSON")?;
    if header.get("typ").and_then(Value::as_str) != Some(DPOP_TYP) {
        return Err("the DPoP proof's typ is not dpop+jwt".into());
    }
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err("the fake IdP takes ES256 DPoP proofs only".into());
    }
    let jwk = header.get("jwk").ok_or("the DPoP proof has no jwk")?;
    if jwk.get("d").is_some() {
        return Err("the DPoP proof's jwk holds a private key".into());
    }
    let (Some(x), Some(y)) = (
        jwk.get("x")
            .and_then(Value::as_str)
            .and_then(jws::b64_decode),
        jwk.get("y")
            .and_then(Value::as_str)
            .and_then(jws::b64_decode),
    ) else {
        return Err("the DPoP proof's jwk is not a P-256 key".into());
    };
    let mut point = vec![0x04];
    point.extend(x);
    point.extend(y);
    let sig = jws::b64_decode(s).ok_or("the DPoP proof's signature is not base64url")?;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        point,
    )
    .verify(format!("{h}.{p}").as_bytes(), &sig)
    .map_err(|_| "the DPoP proof is not signed by its jwk".to_string())?;
    jwk_thumbprint(jwk).ok_or_else(|| "the DPoP proof's jwk has no thumbprint".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::keys::KeyAlg;

    fn keys() -> (SigningKey, SigningKey) {
        (
            SigningKey::generate(KeyAlg::ES256).unwrap(),
            SigningKey::generate(KeyAlg::ES256).unwrap(),
        )
    }

    fn target() -> ProofFor {
        ProofFor {
            htm: "POST".into(),
            htu: "https://as.example/token".into(),
            ..Default::default()
        }
    }

    /// A valid proof is verified by jsonwebtoken with the key in its own `jwk`, and that key's
    /// thumbprint (jsonwebtoken's) is the signing key's `kid`.
    #[test]
    fn a_valid_proof_verifies_with_its_jwk() {
        let (k, other) = keys();
        let p = proof(&k, &other, &target(), ProofChoice::Valid, 1_800_000_000)
            .unwrap()
            .unwrap();
        let header = jsonwebtoken::decode_header(&p.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some(DPOP_TYP));
        let jwk = header.jwk.unwrap();
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            k.kid()
        );
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(
            &p.token,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims["htm"], "POST");
        assert_eq!(data.claims["htu"], "https://as.example/token");
        assert_eq!(data.claims["iat"], 1_800_000_000);
        assert_eq!(proven_jkt(&p.token).as_deref(), Ok(k.kid()));
    }

    /// Each fault breaks its one rule and keeps the others.
    #[test]
    fn each_fault_breaks_its_rule() {
        let (k, other) = keys();
        let make = |c| {
            proof(&k, &other, &target(), c, 1_800_000_000)
                .unwrap()
                .unwrap()
        };
        assert_eq!(make(ProofChoice::WrongHtm).claims["htm"], "GET");
        assert_ne!(make(ProofChoice::WrongHtu).claims["htu"], target().htu);
        assert_eq!(make(ProofChoice::TypJwt).header["typ"], "JWT");
        assert!(make(ProofChoice::AlgNone).token.ends_with('.'));
        assert_eq!(make(ProofChoice::Hs256).header["alg"], "HS256");
        assert!(make(ProofChoice::PrivateJwk).header["jwk"]["d"].is_string());
        assert_eq!(
            make(ProofChoice::StaleIat).claims["iat"],
            1_800_000_000 - STALE_IAT_SECS
        );
        assert!(make(ProofChoice::WrongNonce).claims["nonce"].is_string());
        assert!(proven_jkt(&make(ProofChoice::ForeignSignature).token).is_err());
        assert!(proven_jkt(&make(ProofChoice::PrivateJwk).token).is_err());
        assert!(
            proof(&k, &other, &target(), ProofChoice::None, 0)
                .unwrap()
                .is_none()
        );
        let with_at = ProofFor {
            access_token: Some("token".into()),
            nonce: Some("n".into()),
            jti: Some("j".into()),
            ..target()
        };
        let p = proof(&k, &other, &with_at, ProofChoice::Valid, 0)
            .unwrap()
            .unwrap();
        assert_eq!(p.claims["ath"], ath("token"));
        assert_eq!(p.claims["nonce"], "n");
        assert_eq!(p.jti, "j");
    }

    /// `d` read from PKCS#8 is the key's scalar: with the public point it makes the key pair.
    #[test]
    fn the_private_scalar_is_the_keys() {
        let (k, _) = keys();
        let d = jws::b64_decode(&k.private_ec_d().unwrap()).unwrap();
        let jwk = k.public_jwk_required();
        let mut point = vec![0x04];
        for m in ["x", "y"] {
            point.extend(jws::b64_decode(jwk[m].as_str().unwrap()).unwrap());
        }
        assert!(
            aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &d,
                &point,
            )
            .is_ok()
        );
    }
}
