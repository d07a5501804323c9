//! Integration tests for `xaa_conform::jose`: keys, JWKs, key files, the baseline ID-JAG and
//! every mutation.
//!
//! Every token is verified with the `jsonwebtoken` crate (or by decoding its segments by hand),
//! never with the suite's own code, so a minting bug cannot cancel itself out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, TokenData, Validation, decode, decode_header};
use serde_json::{Map, Value, json};
use xaa_conform::jose::keys::{IssuerKeys, KeyError};
use xaa_conform::jose::mint::{ID_JAG_TYP, MintError, mint, sign_jwt};
use xaa_conform::jose::mutate::{PublicKeyEncoding, RelTime, SignatureFault, Signing, Source};
use xaa_conform::jose::{Baseline, IssuerRole, JagMutation, KeyAlg, Keyring, Minted, SigningKey};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const AUDIENCE: &str = "http://127.0.0.1:2";
const SUBJECT: &str = "u1";
const CLIENT_ID: &str = "C1";
const RESOURCE: &str = "http://127.0.0.1:2/api/r1";
const SCOPE: &str = "s.read s.write";
const LIFETIME: i64 = 300;

/// One keyring per test binary: RSA key generation is slow.
fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| Keyring::ephemeral().expect("generate the keyring"))
}

fn issuer_url(role: IssuerRole) -> String {
    let path = match role {
        IssuerRole::Trusted => "idp-a",
        IssuerRole::TrustedB => "idp-b",
        IssuerRole::Untrusted => "idp-x",
        IssuerRole::Attacker => "attacker",
        IssuerRole::MultiTenant => "idp-mt",
        IssuerRole::SamlSubjects => "idp-saml",
    };
    format!("http://127.0.0.1:1/{path}")
}

fn baseline() -> Baseline {
    Baseline {
        issuers: IssuerRole::ALL
            .into_iter()
            .map(|r| (r, issuer_url(r)))
            .collect(),
        audience: AUDIENCE.to_string(),
        subject: SUBJECT.to_string(),
        client_id: CLIENT_ID.to_string(),
        resource: Some(RESOURCE.to_string()),
        scope: Some(SCOPE.to_string()),
        lifetime_secs: LIFETIME,
        client_secret: "client-secret".to_string(),
    }
}

/// The current time, so that `exp` validation passes.
fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("time fits in i64")
}

fn key(role: IssuerRole, alg: KeyAlg) -> &'static SigningKey {
    keyring().issuer(role).get(alg)
}

fn jalg(alg: KeyAlg) -> Algorithm {
    match alg {
        KeyAlg::RS256 => Algorithm::RS256,
        KeyAlg::ES256 => Algorithm::ES256,
    }
}

fn parse_jwk(value: Value) -> Jwk {
    serde_json::from_value(value).expect("the public JWK parses as a jsonwebtoken Jwk")
}

/// A jsonwebtoken decoding key built from a suite key's published JWK.
fn jwk_key(key: &SigningKey) -> DecodingKey {
    DecodingKey::from_jwk(&parse_jwk(key.public_jwk())).expect("DecodingKey from the JWK")
}

/// Validation for `alg` with `exp` checking, `aud` = the RAS and the usual claims required.
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = true;
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v
}

fn verify(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> jsonwebtoken::errors::Result<TokenData<Value>> {
    decode::<Value>(token, key, &validation(alg))
}

/// Verifies `token` with the JWK of `key` and its algorithm, panicking with the error.
fn verify_with(token: &str, key: &SigningKey) -> TokenData<Value> {
    verify(token, &jwk_key(key), jalg(key.alg()))
        .unwrap_or_else(|e| panic!("token must verify: {e:?}"))
}

fn assert_fails(token: &str, key: &SigningKey) -> ErrorKind {
    match verify(token, &jwk_key(key), jalg(key.alg())) {
        Ok(td) => panic!("token must not verify, got claims {}", td.claims),
        Err(e) => e.into_kind(),
    }
}

/// A compact JWS split and decoded by hand.
struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    sig_segment: String,
    sig: Vec<u8>,
}

fn b64url_json(seg: &str) -> Map<String, Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(seg)
        .expect("segment is base64url without padding");
    match serde_json::from_slice(&bytes).expect("segment is JSON") {
        Value::Object(m) => m,
        other => panic!("segment is not a JSON object: {other}"),
    }
}

fn parts(token: &str) -> Parts {
    let segs: Vec<&str> = token.split('.').collect();
    assert_eq!(segs.len(), 3, "compact JWS has three segments: {token}");
    let sig = URL_SAFE_NO_PAD
        .decode(segs[2])
        .expect("signature is base64url without padding");
    Parts {
        header: b64url_json(segs[0]),
        claims: b64url_json(segs[1]),
        sig_segment: segs[2].to_string(),
        sig,
    }
}

fn mint_at(m: &JagMutation, now: i64) -> Minted {
    mint(keyring(), &baseline(), m, now).expect("mint")
}

fn keys_of(map: &Map<String, Value>) -> BTreeSet<&str> {
    map.keys().map(String::as_str).collect()
}

fn set(items: &[&'static str]) -> BTreeSet<&'static str> {
    items.iter().copied().collect()
}

fn rel(text: &str) -> RelTime {
    RelTime::try_from(text.to_string()).expect("valid relative time")
}

fn yaml(text: &str) -> JagMutation {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("YAML {text:?} must parse: {e}"))
}

/// Every `kid` published by any issuer.
fn published_kids() -> BTreeSet<String> {
    IssuerRole::ALL
        .into_iter()
        .flat_map(|role| {
            let jwks = keyring().issuer(role).jwks();
            jwks["keys"]
                .as_array()
                .expect("jwks has keys")
                .iter()
                .map(|k| k["kid"].as_str().expect("kid string").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// RFC 7638 thumbprints, computed here independently
// ---------------------------------------------------------------------------------------------

fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// RFC 7638 §3.2: the required members, lexicographic order, no whitespace.
fn rfc7638_thumbprint(jwk: &Value) -> String {
    let s = |name: &str| {
        jwk[name]
            .as_str()
            .unwrap_or_else(|| panic!("JWK member {name} is a string"))
            .to_string()
    };
    let canonical = match s("kty").as_str() {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e"), s("n")),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv"),
            s("x"),
            s("y")
        ),
        other => panic!("unexpected kty {other}"),
    };
    sha256_b64(canonical.as_bytes())
}

#[test]
fn thumbprint_helper_matches_rfc7638_example() {
    // RFC 7638 §3.1.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(
        rfc7638_thumbprint(&jwk),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

// ---------------------------------------------------------------------------------------------
// The baseline ID-JAG
// ---------------------------------------------------------------------------------------------

fn check_baseline(alg: KeyAlg) {
    let now = now();
    let m = JagMutation {
        alg: Some(alg),
        ..Default::default()
    };
    let signer = key(IssuerRole::Trusted, alg);
    let minted = mint_at(&m, now);

    // jsonwebtoken verifies it with the issuer's published JWK, checking exp and aud.
    let td = verify_with(&minted.token, signer);
    assert_eq!(td.header.alg, jalg(alg));
    assert_eq!(td.header.kid.as_deref(), Some(signer.kid()));
    assert_eq!(td.header.typ.as_deref(), Some("oauth-id-jag+jwt"));
    assert_eq!(ID_JAG_TYP, "oauth-id-jag+jwt");

    // The header has exactly alg, kid and typ.
    let p = parts(&minted.token);
    assert_eq!(keys_of(&p.header), set(&["alg", "kid", "typ"]));
    assert_eq!(p.header["alg"], json!(alg.name()));
    assert_eq!(p.header["kid"], json!(signer.kid()));
    assert_eq!(p.header["typ"], json!("oauth-id-jag+jwt"));

    // Every claim.
    let c = td.claims.as_object().expect("claims are an object");
    assert_eq!(
        keys_of(c),
        set(&[
            "iss",
            "sub",
            "aud",
            "client_id",
            "jti",
            "iat",
            "exp",
            "resource",
            "scope"
        ])
    );
    assert_eq!(c["iss"], json!("http://127.0.0.1:1/idp-a"));
    assert_eq!(c["sub"], json!(SUBJECT));
    assert_eq!(c["aud"], json!(AUDIENCE));
    assert_eq!(c["client_id"], json!(CLIENT_ID));
    assert_eq!(c["iat"], json!(now));
    assert_eq!(c["exp"], json!(now + 300));
    assert_eq!(c["resource"], json!(RESOURCE));
    assert_eq!(c["scope"], json!(SCOPE));
    let jti = c["jti"].as_str().expect("jti is a string");
    let uuid = uuid::Uuid::parse_str(jti).expect("jti is a UUID");
    assert_eq!(uuid.get_version_num(), 4, "jti is a random (v4) UUID");

    // The signature has the algorithm's size: RSA-2048 or fixed-width P-256 r‖s.
    let sig_len = match alg {
        KeyAlg::RS256 => 256,
        KeyAlg::ES256 => 64,
    };
    assert_eq!(p.sig.len(), sig_len);

    // What Minted reports is what was sent.
    assert_eq!(minted.header, Value::Object(p.header.clone()));
    assert_eq!(minted.claims, Value::Object(p.claims.clone()));
    assert_eq!(minted.claims, td.claims);

    // A second mint gets a fresh jti and is otherwise the same.
    let again = mint_at(&m, now);
    let again_claims = verify_with(&again.token, signer).claims;
    assert_ne!(
        again_claims["jti"], c["jti"],
        "jti differs between two mints"
    );
    let strip_jti = |v: &Value| {
        let mut o = v.as_object().expect("object").clone();
        o.remove("jti");
        o
    };
    assert_eq!(strip_jti(&again_claims), strip_jti(&td.claims));

    // The issuer's other keys do not verify it.
    let other_alg = match alg {
        KeyAlg::RS256 => KeyAlg::ES256,
        KeyAlg::ES256 => KeyAlg::RS256,
    };
    assert!(
        verify(
            &minted.token,
            &jwk_key(key(IssuerRole::Trusted, other_alg)),
            jalg(alg)
        )
        .is_err()
    );
    assert_fails(&minted.token, key(IssuerRole::TrustedB, alg));
}

#[test]
fn baseline_rs256_verifies_and_has_every_member() {
    check_baseline(KeyAlg::RS256);
}

#[test]
fn baseline_es256_verifies_and_has_every_member() {
    check_baseline(KeyAlg::ES256);
}

#[test]
fn default_mutation_is_rs256_from_the_trusted_issuer() {
    let m = JagMutation::default();
    assert!(m.is_baseline());
    let minted = mint_at(&m, now());
    let td = verify_with(&minted.token, key(IssuerRole::Trusted, KeyAlg::RS256));
    assert_eq!(td.header.alg, Algorithm::RS256);
    assert_eq!(td.claims["iss"], json!(issuer_url(IssuerRole::Trusted)));
}

#[test]
fn baseline_without_resource_and_scope_omits_them() {
    let mut base = baseline();
    base.resource = None;
    base.scope = None;
    let minted = mint(keyring(), &base, &JagMutation::default(), now()).expect("mint");
    let td = verify_with(&minted.token, key(IssuerRole::Trusted, KeyAlg::RS256));
    let c = td.claims.as_object().expect("object");
    assert_eq!(
        keys_of(c),
        set(&["iss", "sub", "aud", "client_id", "jti", "iat", "exp"])
    );
}

#[test]
fn baseline_from_a_role_without_issuer_url_is_an_error() {
    let mut base = baseline();
    base.issuers.remove(&IssuerRole::Attacker);
    let m = JagMutation {
        issuer: Some(IssuerRole::Attacker),
        ..Default::default()
    };
    match mint(keyring(), &base, &m, now()) {
        Err(MintError::UnknownIssuer(role)) => assert_eq!(role, IssuerRole::Attacker),
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
}

#[test]
fn baseline_verifies_with_the_public_key_pem_too() {
    // The SPKI PEM is the same key as the JWK: jsonwebtoken's own PEM parser accepts it.
    let now = now();
    let rsa = key(IssuerRole::Trusted, KeyAlg::RS256);
    let token = mint_at(&JagMutation::default(), now).token;
    let pem_key = DecodingKey::from_rsa_pem(rsa.public_key_pem().as_bytes()).expect("RSA SPKI PEM");
    verify(&token, &pem_key, Algorithm::RS256).expect("verifies with the RSA PEM");

    let ec = key(IssuerRole::Trusted, KeyAlg::ES256);
    let token = mint_at(
        &JagMutation {
            alg: Some(KeyAlg::ES256),
            ..Default::default()
        },
        now,
    )
    .token;
    let pem_key = DecodingKey::from_ec_pem(ec.public_key_pem().as_bytes()).expect("EC SPKI PEM");
    verify(&token, &pem_key, Algorithm::ES256).expect("verifies with the EC PEM");
}

// ---------------------------------------------------------------------------------------------
// Keys and JWKs
// ---------------------------------------------------------------------------------------------

fn all_keys() -> Vec<(String, &'static SigningKey)> {
    let mut out = Vec::new();
    for role in IssuerRole::ALL {
        for alg in [KeyAlg::RS256, KeyAlg::ES256] {
            out.push((format!("{role}/{}", alg.name()), key(role, alg)));
        }
    }
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        out.push((format!("stray/{}", alg.name()), keyring().stray().get(alg)));
    }
    out
}

#[test]
fn jwk_kid_is_the_rfc7638_thumbprint() {
    for (name, key) in all_keys() {
        let jwk = key.public_jwk();
        assert_eq!(
            jwk["kid"],
            json!(key.kid()),
            "{name}: JWK kid is the key's kid"
        );
        assert_eq!(
            rfc7638_thumbprint(&jwk),
            key.kid(),
            "{name}: kid is the RFC 7638 thumbprint"
        );
    }
}

#[test]
fn jwk_members_are_public_and_for_signing() {
    for (name, key) in all_keys() {
        let jwk = key.public_jwk();
        let obj = jwk.as_object().expect("JWK is an object");
        assert_eq!(jwk["use"], json!("sig"), "{name}");
        assert_eq!(jwk["alg"], json!(key.alg().name()), "{name}");
        match key.alg() {
            KeyAlg::RS256 => {
                assert_eq!(
                    keys_of(obj),
                    set(&["kty", "n", "e", "kid", "alg", "use"]),
                    "{name}"
                );
                assert_eq!(jwk["kty"], json!("RSA"));
                assert_eq!(jwk["e"], json!("AQAB"), "{name}: e = 65537");
                let n = URL_SAFE_NO_PAD
                    .decode(jwk["n"].as_str().expect("n"))
                    .expect("n is base64url");
                assert_eq!(n.len(), 256, "{name}: 2048-bit modulus, minimal octets");
                assert!(n[0] & 0x80 != 0, "{name}: modulus is exactly 2048 bits");
            }
            KeyAlg::ES256 => {
                assert_eq!(
                    keys_of(obj),
                    set(&["kty", "crv", "x", "y", "kid", "alg", "use"]),
                    "{name}"
                );
                assert_eq!(jwk["kty"], json!("EC"));
                assert_eq!(jwk["crv"], json!("P-256"));
                for c in ["x", "y"] {
                    let bytes = URL_SAFE_NO_PAD
                        .decode(jwk[c].as_str().expect("coordinate"))
                        .expect("base64url");
                    assert_eq!(
                        bytes.len(),
                        32,
                        "{name}: {c} is a full-width P-256 coordinate"
                    );
                }
            }
        }

        // jsonwebtoken reads the same metadata.
        let parsed = parse_jwk(jwk.clone());
        assert_eq!(
            parsed.common.public_key_use,
            Some(PublicKeyUse::Signature),
            "{name}"
        );
        assert_eq!(parsed.common.key_id.as_deref(), Some(key.kid()), "{name}");
        let want = match key.alg() {
            KeyAlg::RS256 => KeyAlgorithm::RS256,
            KeyAlg::ES256 => KeyAlgorithm::ES256,
        };
        assert_eq!(parsed.common.key_algorithm, Some(want), "{name}");
        DecodingKey::from_jwk(&parsed).expect("usable as a decoding key");
    }
}

#[test]
fn every_kid_is_distinct() {
    let kids: Vec<&str> = all_keys().iter().map(|(_, k)| k.kid()).collect();
    let unique: BTreeSet<&str> = kids.iter().copied().collect();
    assert_eq!(unique.len(), kids.len(), "kids collide: {kids:?}");
}

#[test]
fn jwks_publishes_both_keys_of_the_issuer() {
    for role in IssuerRole::ALL {
        let keys: &IssuerKeys = keyring().issuer(role);
        let jwks = keys.jwks();
        assert_eq!(
            jwks,
            json!({ "keys": [keys.rs256.public_jwk(), keys.es256.public_jwk()] })
        );
        assert_eq!(keys.get(KeyAlg::RS256).kid(), keys.rs256.kid());
        assert_eq!(keys.get(KeyAlg::ES256).kid(), keys.es256.kid());
        assert_eq!(keys.rs256.alg(), KeyAlg::RS256);
        assert_eq!(keys.es256.alg(), KeyAlg::ES256);
        // jsonwebtoken reads it as a JWK Set.
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).expect("JwkSet");
        assert!(set.find(keys.rs256.kid()).is_some());
        assert!(set.find(keys.es256.kid()).is_some());
    }
}

#[test]
fn public_key_pem_encodes_the_der_spki() {
    for (name, key) in all_keys() {
        let der = key.public_key_der();
        assert!(!der.is_empty(), "{name}: SPKI DER");
        assert_eq!(der[0], 0x30, "{name}: SPKI DER is a SEQUENCE");
        let pem = key.public_key_pem();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----"),
            "{name}: {pem}"
        );
        assert!(
            pem.trim_end().ends_with("-----END PUBLIC KEY-----"),
            "{name}: {pem}"
        );
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        assert_eq!(
            STANDARD.decode(body).expect("PEM body is base64"),
            der,
            "{name}: PEM carries the DER"
        );

        // The SPKI holds the JWK's key material.
        let jwk = key.public_jwk();
        let material = match key.alg() {
            KeyAlg::RS256 => URL_SAFE_NO_PAD
                .decode(jwk["n"].as_str().expect("n"))
                .expect("n"),
            KeyAlg::ES256 => {
                let mut point = vec![0x04];
                point.extend(
                    URL_SAFE_NO_PAD
                        .decode(jwk["x"].as_str().expect("x"))
                        .expect("x"),
                );
                point.extend(
                    URL_SAFE_NO_PAD
                        .decode(jwk["y"].as_str().expect("y"))
                        .expect("y"),
                );
                point
            }
        };
        assert!(
            der.windows(material.len())
                .any(|w| w == material.as_slice()),
            "{name}: SPKI contains the public key"
        );
    }
}

#[test]
fn public_key_pem_has_lf_line_endings() {
    let pem = key(IssuerRole::Trusted, KeyAlg::RS256).public_key_pem();
    assert!(!pem.contains('\r'), "PEM must use LF line endings: {pem:?}");
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
}

#[test]
fn pkcs8_pem_round_trips_a_signing_key() {
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let original = key(IssuerRole::Trusted, alg);
        let pem = original.to_pkcs8_pem().expect("PKCS#8 PEM");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem(alg, &pem).expect("parse PKCS#8 PEM");
        assert_eq!(back.kid(), original.kid());
        assert_eq!(back.alg(), alg);
        assert_eq!(back.public_jwk(), original.public_jwk());
        // The debug form never shows key material.
        let dbg = format!("{back:?}");
        assert!(
            dbg.contains(original.kid()) && !dbg.contains("PRIVATE"),
            "{dbg}"
        );
    }
    // A key of the other type, or not a key at all, is refused.
    let rsa_pem = key(IssuerRole::Trusted, KeyAlg::RS256)
        .to_pkcs8_pem()
        .expect("PEM");
    let ec_pem = key(IssuerRole::Trusted, KeyAlg::ES256)
        .to_pkcs8_pem()
        .expect("PEM");
    assert!(matches!(
        SigningKey::from_pkcs8_pem(KeyAlg::ES256, &rsa_pem),
        Err(KeyError::Crypto(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_pem(KeyAlg::RS256, &ec_pem),
        Err(KeyError::Crypto(_))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_pem(KeyAlg::RS256, "not a key"),
        Err(KeyError::Crypto(_))
    ));
}

#[test]
fn generated_keys_sign_verifiable_jws() {
    // sign_jwt with an arbitrary claim set and no typ.
    let now = now();
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let k = key(IssuerRole::TrustedB, alg);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(issuer_url(IssuerRole::TrustedB)));
        claims.insert("sub".into(), json!("someone"));
        claims.insert("aud".into(), json!(AUDIENCE));
        claims.insert("exp".into(), json!(now + 60));
        let token = sign_jwt(k, None, &claims).expect("sign_jwt");
        let td = verify_with(&token, k);
        assert_eq!(td.header.typ, None);
        assert_eq!(td.header.kid.as_deref(), Some(k.kid()));
        assert_eq!(td.claims, Value::Object(claims.clone()));
        let token = sign_jwt(k, Some("JWT"), &claims).expect("sign_jwt");
        assert_eq!(verify_with(&token, k).header.typ.as_deref(), Some("JWT"));
    }
}

// ---------------------------------------------------------------------------------------------
// Key files
// ---------------------------------------------------------------------------------------------

const KEY_FILES: [&str; 8] = [
    "idp-a-rs256.pem",
    "idp-a-es256.pem",
    "idp-b-rs256.pem",
    "idp-b-es256.pem",
    "idp-x-rs256.pem",
    "idp-x-es256.pem",
    "attacker-rs256.pem",
    "attacker-es256.pem",
];

/// The multi-tenant and SAML NameID issuers' key files: written by `save`, made afresh when a
/// folder from an older `keys generate` lacks them.
const LATER_KEY_FILES: [&str; 4] = [
    "idp-mt-rs256.pem",
    "idp-mt-es256.pem",
    "idp-saml-rs256.pem",
    "idp-saml-es256.pem",
];

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn keyring_save_then_load_round_trips() {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    let dir = tmp.path().join("keys"); // does not exist yet
    let written = keyring().save(&dir).expect("save");
    // The eight issuer keys, C3's client key, the next pair, the enc key, the weak key, and the pairs of the
    // multi-tenant and SAML NameID issuers.
    assert_eq!(written.len(), 17);
    assert!(
        written
            .iter()
            .any(|p| p.ends_with(xaa_conform::jose::keys::CLIENT_KEY_FILE))
    );
    let written_names: BTreeSet<String> = written
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = KEY_FILES
        .iter()
        .copied()
        .chain([
            xaa_conform::jose::keys::CLIENT_KEY_FILE,
            xaa_conform::jose::keys::NEXT_RS256_FILE,
            xaa_conform::jose::keys::NEXT_ES256_FILE,
            xaa_conform::jose::keys::ENC_KEY_FILE,
            xaa_conform::jose::keys::WEAK_RSA_FILE,
        ])
        .chain(LATER_KEY_FILES)
        .map(|s| s.to_string())
        .collect();
    assert_eq!(written_names, want);
    assert_eq!(
        file_names(&dir),
        want,
        "exactly the key files, no stray key"
    );
    for path in &written {
        assert_eq!(path.parent(), Some(dir.as_path()));
        let text = std::fs::read_to_string(path).expect("read key file");
        assert!(
            text.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{}",
            path.display()
        );
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for path in &written {
            let mode = std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
        }
    }

    let loaded = Keyring::load(&dir).expect("load").expect("keys present");
    for role in IssuerRole::ALL {
        for alg in [KeyAlg::RS256, KeyAlg::ES256] {
            let l = loaded.issuer(role).get(alg);
            assert_eq!(l.kid(), key(role, alg).kid(), "{role} {}", alg.name());
            assert_eq!(l.alg(), alg);
        }
    }
    // The next pair, the enc key and C3's key come back too, so that two processes reading
    // one folder rotate to the same keys.
    assert_eq!(loaded.file_kids(), keyring().file_kids());
    // The stray keys are not saved: the loaded ones are unpublished as well.
    let published = published_kids();
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        assert!(!published.contains(loaded.stray().get(alg).kid()));
    }

    // The loaded keys sign tokens that verify with the original JWKs.
    let now = now();
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let m = JagMutation {
            alg: Some(alg),
            ..Default::default()
        };
        let minted = mint(&loaded, &baseline(), &m, now).expect("mint with loaded keys");
        verify_with(&minted.token, key(IssuerRole::Trusted, alg));
    }
}

#[cfg(unix)]
#[test]
fn keyring_save_tightens_the_mode_of_existing_files() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::TempDir::new().expect("tempdir");
    let path = tmp.path().join("idp-a-rs256.pem");
    std::fs::write(&path, "old contents that are longer than nothing at all").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    keyring().save(tmp.path()).expect("save");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----") && !text.contains("old contents"));
    let loaded = Keyring::load(tmp.path()).expect("load").expect("keys");
    assert_eq!(
        loaded.issuer(IssuerRole::Trusted).rs256.kid(),
        key(IssuerRole::Trusted, KeyAlg::RS256).kid()
    );
}

#[test]
fn keyring_load_of_an_empty_or_missing_dir_is_none() {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    assert!(
        Keyring::load(tmp.path())
            .expect("empty dir loads")
            .is_none()
    );
    assert!(
        Keyring::load(&tmp.path().join("nope"))
            .expect("missing dir loads")
            .is_none()
    );
}

#[test]
fn keyring_load_of_a_partial_set_is_an_error() {
    for missing in KEY_FILES {
        let tmp = tempfile::TempDir::new().expect("tempdir");
        keyring().save(tmp.path()).expect("save");
        let gone = tmp.path().join(missing);
        std::fs::remove_file(&gone).expect("delete one key file");
        match Keyring::load(tmp.path()) {
            Err(KeyError::Io { path, source }) => {
                assert_eq!(path, gone, "the error names the missing file");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            Err(other) => panic!("{missing}: expected a NotFound Io error, got {other}"),
            Ok(k) => panic!("{missing}: a partial key set must be an error, got {k:?}"),
        }
    }
}

#[test]
fn keyring_load_of_a_whole_missing_issuer_is_an_error() {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    keyring().save(tmp.path()).expect("save");
    std::fs::remove_file(tmp.path().join("idp-b-rs256.pem")).expect("delete");
    std::fs::remove_file(tmp.path().join("idp-b-es256.pem")).expect("delete");
    assert!(Keyring::load(tmp.path()).is_err());
}

#[test]
fn keyring_load_with_only_one_file_left_is_an_error() {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    keyring().save(tmp.path()).expect("save");
    for name in &KEY_FILES[1..] {
        std::fs::remove_file(tmp.path().join(name)).expect("delete");
    }
    for optional in [
        xaa_conform::jose::keys::CLIENT_KEY_FILE,
        xaa_conform::jose::keys::NEXT_RS256_FILE,
        xaa_conform::jose::keys::NEXT_ES256_FILE,
        xaa_conform::jose::keys::ENC_KEY_FILE,
        xaa_conform::jose::keys::WEAK_RSA_FILE,
    ]
    .into_iter()
    .chain(LATER_KEY_FILES)
    {
        std::fs::remove_file(tmp.path().join(optional)).expect("delete");
    }
    assert_eq!(file_names(tmp.path()).len(), 1);
    assert!(
        Keyring::load(tmp.path()).is_err(),
        "a directory with one key file is a partial set"
    );
}

#[test]
fn keyring_load_of_a_corrupt_file_is_an_error() {
    let tmp = tempfile::TempDir::new().expect("tempdir");
    keyring().save(tmp.path()).expect("save");
    std::fs::write(
        tmp.path().join("idp-x-es256.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("overwrite");
    match Keyring::load(tmp.path()) {
        Err(KeyError::Crypto(msg)) => assert!(msg.contains("idp-x-es256.pem"), "{msg}"),
        other => panic!("expected a Crypto error, got {other:?}"),
    }
    // An RSA key in an EC file is refused too.
    let rsa = std::fs::read_to_string(tmp.path().join("idp-x-rs256.pem")).expect("read");
    std::fs::write(tmp.path().join("idp-x-es256.pem"), rsa).expect("overwrite");
    assert!(matches!(
        Keyring::load(tmp.path()),
        Err(KeyError::Crypto(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Claim mutations
// ---------------------------------------------------------------------------------------------

#[test]
fn mutation_claims_sets_values() {
    let now = now();
    let mut claims = Map::new();
    claims.insert("aud".into(), json!("https://other-ras.example/"));
    claims.insert("extra".into(), json!({ "nested": [1, "two"] }));
    claims.insert("client_id".into(), json!(42));
    let m = JagMutation {
        claims,
        ..Default::default()
    };
    let minted = mint_at(&m, now);
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);

    // The RAS audience no longer matches...
    assert!(matches!(
        assert_fails(&minted.token, k),
        ErrorKind::InvalidAudience
    ));
    // ...but the signature is valid over the changed claims.
    let mut v = validation(Algorithm::RS256);
    v.set_audience(&["https://other-ras.example/"]);
    let td = decode::<Value>(&minted.token, &jwk_key(k), &v).expect("valid signature");
    assert_eq!(td.claims["aud"], json!("https://other-ras.example/"));
    assert_eq!(td.claims["extra"], json!({ "nested": [1, "two"] }));
    assert_eq!(td.claims["client_id"], json!(42));
    // The rest is the baseline.
    assert_eq!(td.claims["iss"], json!(issuer_url(IssuerRole::Trusted)));
    assert_eq!(td.claims["sub"], json!(SUBJECT));
    assert_eq!(td.claims["exp"], json!(now + LIFETIME));
    assert_eq!(td.claims["resource"], json!(RESOURCE));
    assert_eq!(td.header.typ.as_deref(), Some(ID_JAG_TYP));
    assert_eq!(minted.claims, td.claims);
}

#[test]
fn mutation_claims_aud_array_stays_an_array() {
    let mut claims = Map::new();
    claims.insert("aud".into(), json!([AUDIENCE, "https://other.example/"]));
    let minted = mint_at(
        &JagMutation {
            claims,
            ..Default::default()
        },
        now(),
    );
    let td = verify_with(&minted.token, key(IssuerRole::Trusted, KeyAlg::RS256));
    assert_eq!(
        td.claims["aud"],
        json!([AUDIENCE, "https://other.example/"])
    );
}

#[test]
fn mutation_remove_claims() {
    let m = JagMutation {
        remove_claims: vec!["jti".into(), "client_id".into(), "nope".into()],
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let td = verify_with(&minted.token, key(IssuerRole::Trusted, KeyAlg::RS256));
    let c = td.claims.as_object().expect("object");
    assert_eq!(
        keys_of(c),
        set(&["iss", "sub", "aud", "iat", "exp", "resource", "scope"])
    );

    // Removing exp: jsonwebtoken, which requires it, refuses the token.
    let m = JagMutation {
        remove_claims: vec!["exp".into()],
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    assert!(!parts(&minted.token).claims.contains_key("exp"));
    assert!(matches!(
        assert_fails(&minted.token, key(IssuerRole::Trusted, KeyAlg::RS256)),
        ErrorKind::MissingRequiredClaim(c) if c == "exp"
    ));
}

#[test]
fn mutation_remove_wins_over_set() {
    let mut claims = Map::new();
    claims.insert("scope".into(), json!("admin"));
    let m = JagMutation {
        claims,
        remove_claims: vec!["scope".into()],
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    assert!(!parts(&minted.token).claims.contains_key("scope"));
}

#[test]
fn mutation_times_are_relative_to_now() {
    let now = now();
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);
    let mut times = BTreeMap::new();
    times.insert("exp".to_string(), rel("-10m"));
    let m = JagMutation {
        times,
        ..Default::default()
    };
    let minted = mint_at(&m, now);
    let p = parts(&minted.token);
    assert_eq!(p.claims["exp"], json!(now - 600));
    assert_eq!(p.claims["iat"], json!(now));
    assert!(matches!(
        assert_fails(&minted.token, k),
        ErrorKind::ExpiredSignature
    ));
    let mut v = validation(Algorithm::RS256);
    v.validate_exp = false;
    decode::<Value>(&minted.token, &jwk_key(k), &v).expect("signature valid, only expired");

    // Several times, including a new claim.
    let mut times = BTreeMap::new();
    times.insert("iat".to_string(), rel("+1h"));
    times.insert("nbf".to_string(), rel("+300s"));
    times.insert("exp".to_string(), rel("+2h 30m"));
    let minted = mint_at(
        &JagMutation {
            times,
            ..Default::default()
        },
        now,
    );
    let p = parts(&minted.token);
    assert_eq!(p.claims["iat"], json!(now + 3600));
    assert_eq!(p.claims["nbf"], json!(now + 300));
    assert_eq!(p.claims["exp"], json!(now + 9000));
    let mut v = validation(Algorithm::RS256);
    v.validate_nbf = true;
    assert!(matches!(
        decode::<Value>(&minted.token, &jwk_key(k), &v).map_err(|e| e.into_kind()),
        Err(ErrorKind::ImmatureSignature)
    ));
}

#[test]
fn mutation_claims_override_times() {
    let now = now();
    let mut times = BTreeMap::new();
    times.insert("exp".to_string(), rel("-10m"));
    let mut claims = Map::new();
    claims.insert("exp".into(), json!("soon"));
    let minted = mint_at(
        &JagMutation {
            times,
            claims,
            ..Default::default()
        },
        now,
    );
    assert_eq!(parts(&minted.token).claims["exp"], json!("soon"));
}

#[test]
fn rel_time_parses_signed_durations() {
    assert_eq!(rel("-10m").seconds, -600);
    assert_eq!(rel("+300s").seconds, 300);
    assert_eq!(rel("+1h").seconds, 3600);
    assert_eq!(rel("-1d").seconds, -86_400);
    assert_eq!(rel("  -10m ").seconds, -600);
    assert_eq!(rel("-10m").describe(), "10m ago");
    assert_eq!(rel("+300s").describe(), "in 300s");
    assert_eq!(
        String::from(rel("-10m")),
        "-10m",
        "the text is kept for round trips"
    );
}

#[test]
fn rel_time_rejects_unsigned_and_garbage() {
    for bad in [
        "10m",
        "+abc",
        "-",
        "",
        "abc",
        "+10 parsecs",
        "-99999999999999999999s",
    ] {
        let r = RelTime::try_from(bad.to_string());
        assert!(r.is_err(), "{bad:?} must be refused, got {r:?}");
    }
    let err = RelTime::try_from("10m".to_string()).expect_err("unsigned");
    assert!(err.contains("+ or -"), "{err}");
    let err = RelTime::try_from("+abc".to_string()).expect_err("garbage");
    assert!(err.contains("+abc"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Header mutations
// ---------------------------------------------------------------------------------------------

#[test]
fn mutation_header_sets_members() {
    let mut header = Map::new();
    header.insert("typ".into(), json!("JWT"));
    header.insert("jku".into(), json!("http://127.0.0.1:1/attacker/jwks"));
    let m = JagMutation {
        header,
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);
    let td = verify_with(&minted.token, k);
    assert_eq!(td.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        td.header.jku.as_deref(),
        Some("http://127.0.0.1:1/attacker/jwks")
    );
    assert_eq!(td.header.kid.as_deref(), Some(k.kid()), "kid untouched");
    assert_eq!(td.header.alg, Algorithm::RS256, "alg untouched");
    let p = parts(&minted.token);
    assert_eq!(keys_of(&p.header), set(&["alg", "kid", "typ", "jku"]));
    assert_eq!(minted.header, Value::Object(p.header));
}

#[test]
fn mutation_header_can_override_kid_and_alg() {
    let mut header = Map::new();
    header.insert("kid".into(), json!("some-other-kid"));
    header.insert("alg".into(), json!("RS512"));
    let minted = mint_at(
        &JagMutation {
            header,
            ..Default::default()
        },
        now(),
    );
    let p = parts(&minted.token);
    assert_eq!(p.header["kid"], json!("some-other-kid"));
    assert_eq!(p.header["alg"], json!("RS512"));
    // Still signed RS256 by the trusted key, so an RS512 verifier fails.
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);
    assert!(verify(&minted.token, &jwk_key(k), Algorithm::RS512).is_err());
}

#[test]
fn mutation_remove_header() {
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);
    let m = JagMutation {
        remove_header: vec!["typ".into()],
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let td = verify_with(&minted.token, k);
    assert_eq!(td.header.typ, None);
    assert_eq!(keys_of(&parts(&minted.token).header), set(&["alg", "kid"]));

    let m = JagMutation {
        remove_header: vec!["kid".into(), "typ".into()],
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let td = verify_with(&minted.token, k);
    assert_eq!(td.header.kid, None);
    assert_eq!(keys_of(&parts(&minted.token).header), set(&["alg"]));
}

// ---------------------------------------------------------------------------------------------
// Signing mutations
// ---------------------------------------------------------------------------------------------

#[test]
fn mutation_sign_none() {
    let now = now();
    let m = JagMutation {
        sign: Some(Signing::None),
        ..Default::default()
    };
    let minted = mint_at(&m, now);
    assert!(
        minted.token.ends_with('.'),
        "unsecured JWS ends with an empty signature: {}",
        minted.token
    );
    let p = parts(&minted.token);
    assert_eq!(p.sig_segment, "");
    assert!(p.sig.is_empty());
    assert_eq!(p.header["alg"], json!("none"));
    assert!(!p.header.contains_key("kid"), "alg none has no kid");
    assert_eq!(p.header["typ"], json!(ID_JAG_TYP));
    assert_eq!(keys_of(&p.header), set(&["alg", "typ"]));
    // The claims are the baseline's.
    assert_eq!(p.claims["iss"], json!(issuer_url(IssuerRole::Trusted)));
    assert_eq!(p.claims["aud"], json!(AUDIENCE));
    assert_eq!(p.claims["exp"], json!(now + LIFETIME));
    // A sound verifier refuses it.
    assert!(
        decode_header(&minted.token).is_err(),
        "jsonwebtoken knows no alg none"
    );
    assert!(
        verify(
            &minted.token,
            &jwk_key(key(IssuerRole::Trusted, KeyAlg::RS256)),
            Algorithm::RS256
        )
        .is_err()
    );
}

fn check_hs256_confusion(enc: PublicKeyEncoding) {
    let rsa = key(IssuerRole::Trusted, KeyAlg::RS256);
    let (secret, other) = match enc {
        PublicKeyEncoding::Pem => (rsa.public_key_pem().into_bytes(), rsa.public_key_der()),
        PublicKeyEncoding::Der => (rsa.public_key_der(), rsa.public_key_pem().into_bytes()),
    };
    let m = JagMutation {
        sign: Some(Signing::Hs256PublicKey(enc)),
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let p = parts(&minted.token);
    assert_eq!(p.header["alg"], json!("HS256"));
    assert_eq!(
        p.header["kid"],
        json!(rsa.kid()),
        "the trusted RS256 key's kid"
    );
    assert_eq!(p.header["typ"], json!(ID_JAG_TYP));
    assert_eq!(p.sig.len(), 32, "HMAC-SHA256 tag");

    // A vulnerable server that uses the public key bytes as an HMAC secret accepts it.
    let td = verify(
        &minted.token,
        &DecodingKey::from_secret(&secret),
        Algorithm::HS256,
    )
    .unwrap_or_else(|e| panic!("{enc:?}: HS256 with the public key as secret must verify: {e:?}"));
    assert_eq!(td.header.alg, Algorithm::HS256);
    assert_eq!(td.header.kid.as_deref(), Some(rsa.kid()));
    assert_eq!(td.claims["iss"], json!(issuer_url(IssuerRole::Trusted)));
    // The other encoding is a different secret.
    assert!(
        verify(
            &minted.token,
            &DecodingKey::from_secret(&other),
            Algorithm::HS256
        )
        .is_err()
    );
    // A sound server that uses the RSA JWK refuses it, whatever algorithms it allows.
    let jwk = jwk_key(rsa);
    assert!(verify(&minted.token, &jwk, Algorithm::RS256).is_err());
    let mut v = validation(Algorithm::RS256);
    v.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
    assert!(decode::<Value>(&minted.token, &jwk, &v).is_err());
}

#[test]
fn mutation_sign_hs256_public_key_pem() {
    check_hs256_confusion(PublicKeyEncoding::Pem);
}

#[test]
fn mutation_sign_hs256_public_key_der() {
    check_hs256_confusion(PublicKeyEncoding::Der);
}

#[test]
fn mutation_sign_hs256_uses_the_issuers_rsa_key_even_for_es256() {
    let m = JagMutation {
        issuer: Some(IssuerRole::TrustedB),
        alg: Some(KeyAlg::ES256),
        sign: Some(Signing::Hs256PublicKey(PublicKeyEncoding::Pem)),
        ..Default::default()
    };
    let minted = mint_at(&m, now());
    let rsa = key(IssuerRole::TrustedB, KeyAlg::RS256);
    let p = parts(&minted.token);
    assert_eq!(p.header["alg"], json!("HS256"));
    assert_eq!(p.header["kid"], json!(rsa.kid()));
    verify(
        &minted.token,
        &DecodingKey::from_secret(rsa.public_key_pem().as_bytes()),
        Algorithm::HS256,
    )
    .expect("keyed with B's RSA public key");
}

#[test]
fn mutation_sign_key_of_another_issuer() {
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let m = JagMutation {
            alg: Some(alg),
            sign: Some(Signing::KeyOf(IssuerRole::TrustedB)),
            ..Default::default()
        };
        let minted = mint_at(&m, now());
        let b = key(IssuerRole::TrustedB, alg);
        let a = key(IssuerRole::Trusted, alg);
        let td = verify_with(&minted.token, b);
        assert_eq!(td.header.kid.as_deref(), Some(b.kid()));
        assert_eq!(td.header.alg, jalg(alg));
        assert_eq!(
            td.claims["iss"],
            json!(issuer_url(IssuerRole::Trusted)),
            "iss stays the trusted issuer"
        );
        assert!(matches!(
            assert_fails(&minted.token, a),
            ErrorKind::InvalidSignature
        ));
    }
}

#[test]
fn mutation_sign_unknown_kid() {
    let published = published_kids();
    assert_eq!(published.len(), 2 * IssuerRole::ALL.len());
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let m = JagMutation {
            alg: Some(alg),
            sign: Some(Signing::UnknownKid),
            ..Default::default()
        };
        let minted = mint_at(&m, now());
        let p = parts(&minted.token);
        let kid = p.header["kid"].as_str().expect("kid").to_string();
        assert!(
            !published.contains(&kid),
            "kid {kid} is published by no issuer"
        );
        assert_eq!(p.header["alg"], json!(alg.name()));
        // It is a real signature by the unpublished key.
        let stray = keyring().stray().get(alg);
        assert_eq!(kid, stray.kid());
        verify_with(&minted.token, stray);
        assert!(matches!(
            assert_fails(&minted.token, key(IssuerRole::Trusted, alg)),
            ErrorKind::InvalidSignature
        ));
    }
}

#[test]
fn mutation_issuer_untrusted() {
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let m = JagMutation {
            issuer: Some(IssuerRole::Untrusted),
            alg: Some(alg),
            ..Default::default()
        };
        let minted = mint_at(&m, now());
        let x = key(IssuerRole::Untrusted, alg);
        let td = verify_with(&minted.token, x);
        assert_eq!(td.claims["iss"], json!("http://127.0.0.1:1/idp-x"));
        assert_eq!(td.header.kid.as_deref(), Some(x.kid()));
        assert_eq!(td.header.typ.as_deref(), Some(ID_JAG_TYP));
        assert_eq!(td.claims["sub"], json!(SUBJECT));
        assert_eq!(td.claims["aud"], json!(AUDIENCE));
        assert!(matches!(
            assert_fails(&minted.token, key(IssuerRole::Trusted, alg)),
            ErrorKind::InvalidSignature
        ));
    }
}

#[test]
fn mutation_from_id_token() {
    let now = now();
    let m = JagMutation {
        from: Source::IdToken,
        ..Default::default()
    };
    let minted = mint_at(&m, now);
    let k = key(IssuerRole::Trusted, KeyAlg::RS256);
    let td = verify_with(&minted.token, k);
    assert_eq!(td.header.typ.as_deref(), Some("JWT"));
    assert_eq!(td.header.kid.as_deref(), Some(k.kid()));
    let c = td.claims.as_object().expect("object");
    assert_eq!(c["iss"], json!(issuer_url(IssuerRole::Trusted)));
    assert_eq!(c["sub"], json!(SUBJECT));
    assert_eq!(c["aud"], json!(AUDIENCE));
    assert_eq!(c["client_id"], json!(CLIENT_ID));
    assert_eq!(c["iat"], json!(now));
    assert_eq!(c["exp"], json!(now + LIFETIME));
    assert!(uuid::Uuid::parse_str(c["jti"].as_str().expect("jti")).is_ok());
    assert!(!c.contains_key("resource"), "an ID token has no resource");
    assert!(!c.contains_key("scope"), "an ID token has no scope");
}

// ---------------------------------------------------------------------------------------------
// Signature faults
// ---------------------------------------------------------------------------------------------

#[test]
fn mutation_signature_faults_fail_verification() {
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let full = match alg {
            KeyAlg::RS256 => 256,
            KeyAlg::ES256 => 64,
        };
        let k = key(IssuerRole::Trusted, alg);
        for fault in [
            SignatureFault::FlipBit,
            SignatureFault::Strip,
            SignatureFault::Truncate,
        ] {
            let now = now();
            let m = JagMutation {
                alg: Some(alg),
                signature: Some(fault),
                ..Default::default()
            };
            let minted = mint_at(&m, now);
            let p = parts(&minted.token);
            // Header and claims are untouched.
            assert_eq!(p.header["kid"], json!(k.kid()));
            assert_eq!(p.header["alg"], json!(alg.name()));
            assert_eq!(p.claims["exp"], json!(now + LIFETIME));
            let want_len = match fault {
                SignatureFault::FlipBit => full,
                SignatureFault::Strip => 0,
                SignatureFault::Truncate => full / 2,
                SignatureFault::Zero => full,
                SignatureFault::DerEncoded => unreachable!("not in this loop"),
            };
            assert_eq!(p.sig.len(), want_len, "{alg:?} {fault:?}");
            if fault == SignatureFault::Strip {
                assert!(minted.token.ends_with('.'), "{}", minted.token);
                assert_eq!(p.sig_segment, "");
            }
            let err = assert_fails(&minted.token, k);
            assert!(
                matches!(
                    err,
                    ErrorKind::InvalidSignature | ErrorKind::InvalidToken | ErrorKind::Base64(_)
                ),
                "{alg:?} {fault:?}: {err:?}"
            );
        }
    }
}

#[test]
fn mutation_flip_bit_changes_exactly_one_bit() {
    // RSASSA-PKCS1-v1_5 is deterministic: with a fixed jti the unfaulted signature is known.
    let now = now();
    let mut claims = Map::new();
    claims.insert("jti".into(), json!("fixed"));
    let clean = mint_at(
        &JagMutation {
            claims: claims.clone(),
            ..Default::default()
        },
        now,
    );
    let flipped = mint_at(
        &JagMutation {
            claims,
            signature: Some(SignatureFault::FlipBit),
            ..Default::default()
        },
        now,
    );
    let (a, b) = (parts(&clean.token).sig, parts(&flipped.token).sig);
    assert_eq!(a.len(), b.len());
    let bits: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
    assert_eq!(bits, 1);
    let (ca, cb) = (
        clean.token.rsplit_once('.').expect("dot").0,
        flipped.token.rsplit_once('.').expect("dot").0,
    );
    assert_eq!(ca, cb, "the signing input is the same");
}

// ---------------------------------------------------------------------------------------------
// describe()
// ---------------------------------------------------------------------------------------------

#[test]
fn describe_names_the_change() {
    let mut claims = Map::new();
    claims.insert("aud".into(), json!("https://other-ras.example/"));
    let m = JagMutation {
        claims,
        ..Default::default()
    };
    assert_eq!(m.describe(), "aud https://other-ras.example/");
    assert!(!m.is_baseline());

    assert_eq!(JagMutation::default().describe(), "the valid ID-JAG");

    let mut times = BTreeMap::new();
    times.insert("exp".to_string(), rel("-10m"));
    assert_eq!(
        JagMutation {
            times,
            ..Default::default()
        }
        .describe(),
        "exp 10m ago"
    );
    assert_eq!(
        JagMutation {
            sign: Some(Signing::None),
            ..Default::default()
        }
        .describe(),
        "alg none without a signature"
    );
    assert_eq!(
        JagMutation {
            remove_claims: vec!["jti".into()],
            signature: Some(SignatureFault::Strip),
            ..Default::default()
        }
        .describe(),
        "no jti claim, the signature stripped"
    );
    assert_eq!(yaml("claims: { exp: 5 }\n").describe(), "exp 5");
}

// ---------------------------------------------------------------------------------------------
// Deserialization
// ---------------------------------------------------------------------------------------------

#[test]
fn yaml_claims_and_sign_none() {
    let m = yaml("claims: { aud: x }\nsign: none\n");
    let mut claims = Map::new();
    claims.insert("aud".into(), json!("x"));
    assert_eq!(
        m,
        JagMutation {
            claims,
            sign: Some(Signing::None),
            ..Default::default()
        }
    );
}

#[test]
fn yaml_sign_variants() {
    assert_eq!(
        yaml("sign: { key_of: trusted_b }\n").sign,
        Some(Signing::KeyOf(IssuerRole::TrustedB))
    );
    assert_eq!(
        yaml("sign: { hs256_public_key: pem }\n").sign,
        Some(Signing::Hs256PublicKey(PublicKeyEncoding::Pem))
    );
    assert_eq!(
        yaml("sign: { hs256_public_key: der }\n").sign,
        Some(Signing::Hs256PublicKey(PublicKeyEncoding::Der))
    );
    assert_eq!(yaml("sign: unknown_kid\n").sign, Some(Signing::UnknownKid));
}

#[test]
fn yaml_every_field() {
    let m = yaml(
        "from: id_token\nissuer: untrusted\nalg: ES256\ntimes: { exp: \"-10m\", iat: +1h }\n\
         claims: { aud: [a, b], n: 3 }\nremove_claims: [jti]\nheader: { typ: JWT }\n\
         remove_header: [kid]\nsignature: flip_bit\n",
    );
    assert_eq!(m.from, Source::IdToken);
    assert_eq!(m.issuer, Some(IssuerRole::Untrusted));
    assert_eq!(m.alg, Some(KeyAlg::ES256));
    assert_eq!(m.times["exp"].seconds, -600);
    assert_eq!(m.times["iat"].seconds, 3600);
    assert_eq!(m.claims["aud"], json!(["a", "b"]));
    assert_eq!(m.claims["n"], json!(3));
    assert_eq!(m.remove_claims, vec!["jti".to_string()]);
    assert_eq!(m.header["typ"], json!("JWT"));
    assert_eq!(m.remove_header, vec!["kid".to_string()]);
    assert_eq!(m.signature, Some(SignatureFault::FlipBit));
    assert_eq!(
        yaml("signature: strip\n").signature,
        Some(SignatureFault::Strip)
    );
    assert_eq!(
        yaml("signature: truncate\n").signature,
        Some(SignatureFault::Truncate)
    );
    assert_eq!(yaml("from: id_jag\n"), JagMutation::default());
}

#[test]
fn yaml_errors() {
    for bad in [
        "bogus: 1\n",
        "claims: { aud: x }\nextra_field: true\n",
        "sign: rsa\n",
        "sign: { key_of: nobody }\n",
        "sign: { hs256_public_key: jwk }\n",
        "alg: HS256\n",
        "times: { exp: 10m }\n",
        "times: { exp: \"+abc\" }\n",
        "signature: flip\n",
    ] {
        let r: Result<JagMutation, _> = serde_saphyr::from_str(bad);
        assert!(r.is_err(), "{bad:?} must be refused, got {r:?}");
    }
}

#[test]
fn json_round_trip() {
    assert_eq!(
        serde_json::to_value(JagMutation::default()).expect("serialize"),
        json!({})
    );
    let m = yaml(
        "from: id_token\nissuer: trusted_b\nalg: RS256\ntimes: { exp: \"-10m\" }\nclaims: { aud: x }\n\
         remove_claims: [jti]\nsign: { hs256_public_key: der }\nheader: { typ: JWT }\nremove_header: [kid]\n\
         signature: truncate\n",
    );
    let v = serde_json::to_value(&m).expect("serialize");
    assert_eq!(v["times"], json!({ "exp": "-10m" }));
    assert_eq!(v["sign"], json!({ "hs256_public_key": "der" }));
    let back: JagMutation = serde_json::from_value(v).expect("deserialize");
    assert_eq!(back, m);
}

#[test]
fn mutation_times_with_a_huge_offset_do_not_panic() {
    let huge = rel("+9223372036854775807s");
    assert_eq!(huge.seconds, i64::MAX, "RelTime accepts it");
    let mut times = BTreeMap::new();
    times.insert("exp".to_string(), huge);
    // An error or a saturated value are both fine; a panic is not.
    let _ = mint(
        keyring(),
        &baseline(),
        &JagMutation {
            times,
            ..Default::default()
        },
        now(),
    );
}

// ---------------------------------------------------------------------------------------------
// Compact JWS helpers
// ---------------------------------------------------------------------------------------------

#[test]
fn jws_helpers_assemble_and_display_compact_tokens() {
    use xaa_conform::jose::jws;
    assert_eq!(jws::b64([0xfb, 0xff]), "-_8", "base64url, no padding");
    assert_eq!(jws::b64_decode("-_8"), Some(vec![0xfb, 0xff]));
    assert_eq!(jws::b64_decode("-_8="), None, "padding is refused");
    assert_eq!(jws::b64_decode("+/8"), None, "standard alphabet is refused");
    let input = jws::signing_input(r#"{"alg":"none"}"#, r#"{"a":1}"#);
    assert_eq!(
        input,
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"a":1}"#)
        )
    );
    assert_eq!(jws::compact(&input, &[]), format!("{input}."));
    assert_eq!(
        jws::compact(&input, b"sig"),
        format!("{input}.{}", URL_SAFE_NO_PAD.encode("sig"))
    );

    let minted = mint_at(&JagMutation::default(), now());
    let (header, claims) = jws::decode_for_display(&minted.token);
    assert_eq!(header, minted.header);
    assert_eq!(claims, minted.claims);
    let (header, claims) =
        jws::decode_for_display(&format!("{}.!!!.x", URL_SAFE_NO_PAD.encode("plain")));
    assert_eq!(header, json!("plain"));
    assert_eq!(claims, json!("<not base64url: !!!>"));
    assert_eq!(jws::decode_for_display(""), (json!(""), Value::Null));
}

// ---------------------------------------------------------------------------------------------
// Duplicate members
// ---------------------------------------------------------------------------------------------

/// The raw payload text of a token (duplicate members survive only there).
fn payload_text(token: &str) -> String {
    let seg = token.split('.').nth(1).expect("payload segment");
    String::from_utf8(URL_SAFE_NO_PAD.decode(seg).expect("base64url")).expect("UTF-8")
}

#[test]
fn duplicate_member_follows_a_last_member_whose_value_is_an_object() {
    // The last minted member is an object: its own closing brace must stay, and the
    // duplicate goes after it, inside the payload object.
    let m = yaml(
        "claims: { zz_last: { nested: { deep: 1 } } }\nduplicate_claims: { aud: \"https://other.example/\" }\n",
    );
    let minted = mint_at(&m, now());
    let text = payload_text(&minted.token);
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("payload with a duplicate member is JSON: {e}: {text}"));
    let obj = value.as_object().expect("an object");
    assert_eq!(obj["zz_last"], json!({ "nested": { "deep": 1 } }), "{text}");
    // serde_json keeps the last of duplicate members.
    assert_eq!(obj["aud"], json!("https://other.example/"), "{text}");
    assert_eq!(text.matches("\"aud\":").count(), 2, "{text}");
    assert!(
        text.ends_with(r#""zz_last":{"nested":{"deep":1}},"aud":"https://other.example/"}"#),
        "{text}"
    );
}

/// JAG-HDR-13: the JWS JSON serializations carry the very token the compact form would: put
/// back together as `protected.payload.signature`, it verifies with jsonwebtoken.
#[test]
fn json_serializations_carry_a_token_that_verifies() {
    use xaa_conform::jose::Serialization;
    for (form, general) in [
        (Serialization::FlattenedJson, false),
        (Serialization::GeneralJson, true),
    ] {
        let m = JagMutation {
            serialization: Some(form),
            ..Default::default()
        };
        let minted = mint(keyring(), &baseline(), &m, now()).expect("mint");
        let v: Value = serde_json::from_str(&minted.token).expect("a JSON object");
        let signed = if general { &v["signatures"][0] } else { &v };
        let compact = format!(
            "{}.{}.{}",
            signed["protected"].as_str().expect("protected"),
            v["payload"].as_str().expect("payload"),
            signed["signature"].as_str().expect("signature")
        );
        let data = verify_with(&compact, key(IssuerRole::Trusted, KeyAlg::RS256));
        assert_eq!(data.claims["sub"], baseline().subject);
        assert!(!minted.token.contains('.'), "no compact segment separators");
    }
}

/// JAG-SIG-18: the weak-key token names the weak key's kid, is RS256 with a 128-byte
/// signature, and jsonwebtoken (aws-lc-rs) refuses to verify it with that key.
#[test]
fn the_weak_key_signs_rs256_that_aws_lc_refuses() {
    let m = JagMutation {
        sign: Some(Signing::WeakRsaKey),
        ..Default::default()
    };
    let minted = mint(keyring(), &baseline(), &m, now()).expect("mint");
    let weak = keyring().weak();
    assert_eq!(minted.header["kid"], weak.kid());
    assert_eq!(minted.header["alg"], "RS256");
    let sig = URL_SAFE_NO_PAD
        .decode(minted.token.rsplit('.').next().expect("signature"))
        .expect("base64url");
    assert_eq!(sig.len(), 128, "a 1024-bit signature");
    let jwk: Jwk = serde_json::from_value(weak.public_jwk()).expect("jwk");
    let key = DecodingKey::from_jwk(&jwk).expect("decoding key");
    let (message, signature) = minted.token.rsplit_once('.').expect("compact");
    let verified =
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::RS256);
    assert!(
        !verified.unwrap_or(false),
        "aws-lc-rs takes no 1024-bit RSA key"
    );
}
