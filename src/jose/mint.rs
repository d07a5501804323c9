//! Minting: the valid baseline ID-JAG and ID token, and a mutated token from a `JagMutation`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::jws;
use super::keys::{IssuerRole, KeyAlg, Keyring, SigningKey};
use super::mutate::{JagMutation, PublicKeyEncoding, SignatureFault, Signing, Source};
use super::serialization::Serialization;

pub use crate::protocol::{CLIENT_ASSERTION_TYP, ID_JAG_TYP};

/// Everything the valid baseline ID-JAG is made of (requirements.md, "A valid ID-JAG").
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Issuer identifier of each fake issuer.
    pub issuers: BTreeMap<IssuerRole, String>,
    /// The RAS issuer identifier: the `aud`.
    pub audience: String,
    /// The user (`sub`) the RAS knows under the trusted issuer.
    pub subject: String,
    /// The requesting app's client id at the RAS: the `client_id` claim.
    pub client_id: String,
    /// The `resource` claim, when the target has one.
    pub resource: Option<String>,
    /// The `scope` claim, when the target has one.
    pub scope: Option<String>,
    /// Seconds from `iat` to `exp`.
    pub lifetime_secs: i64,
    /// The requesting app's client secret at the RAS, for HS256-with-client-secret probes.
    pub client_secret: String,
}

/// A minted token with its decoded parts, for sending and for reports.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The compact serialization.
    pub token: String,
    /// The header as minted.
    pub header: Value,
    /// The claims as minted.
    pub claims: Value,
}

/// A mutation could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The mutation names an issuer the baseline has no URL for.
    #[error("no issuer URL for role {0}")]
    UnknownIssuer(IssuerRole),
    /// A claim or header value could not be serialized.
    #[error("could not serialize: {0}")]
    Json(#[from] serde_json::Error),
}

/// Seconds since the epoch, now: the clock every minted `iat` and `exp` is read from.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A fresh `jti`.
pub fn fresh_jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Baseline {
    fn issuer(&self, role: IssuerRole) -> Result<&str, MintError> {
        self.issuers
            .get(&role)
            .map(String::as_str)
            .ok_or(MintError::UnknownIssuer(role))
    }

    /// The claims of the valid ID-JAG from `role`, issued at `now`.
    pub fn jag_claims(&self, role: IssuerRole, now: i64) -> Result<Map<String, Value>, MintError> {
        let mut c = Map::new();
        c.insert("iss".into(), json!(self.issuer(role)?));
        c.insert("sub".into(), json!(self.subject));
        c.insert("aud".into(), json!(self.audience));
        c.insert("client_id".into(), json!(self.client_id));
        c.insert("jti".into(), json!(fresh_jti()));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now.saturating_add(self.lifetime_secs)));
        if let Some(r) = &self.resource {
            c.insert("resource".into(), json!(r));
        }
        if let Some(s) = &self.scope {
            c.insert("scope".into(), json!(s));
        }
        Ok(c)
    }
}

/// The claims of an OIDC ID token (OIDC Core §2) for `sub` at `aud`, issued at `now`.
pub fn id_token_claims(
    iss: &str,
    sub: &str,
    aud: &str,
    now: i64,
    lifetime_secs: i64,
) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(iss));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!(aud));
    c.insert("jti".into(), json!(fresh_jti()));
    c.insert("iat".into(), json!(now));
    c.insert("auth_time".into(), json!(now));
    c.insert("exp".into(), json!(now.saturating_add(lifetime_secs)));
    c
}

/// Signs `claims` as a JWS with `key`, header `typ` as given (none: no `typ`).
pub fn sign_jwt(
    key: &SigningKey,
    typ: Option<&str>,
    claims: &Map<String, Value>,
) -> Result<String, MintError> {
    let input = jws::signing_input(
        &header_json(key.alg().name(), key.kid(), typ)?,
        &serde_json::to_string(claims)?,
    );
    let sig = key.sign(input.as_bytes());
    Ok(jws::compact(&input, &sig))
}

/// The JOSE header `{"alg":…,"kid":…,"typ":…}` (no `typ` when `None`) written directly, the
/// same text `serde_json` makes of that object, without building a map per token.
fn header_json(alg: &str, kid: &str, typ: Option<&str>) -> Result<String, MintError> {
    let mut h = String::with_capacity(48 + kid.len());
    h.push_str("{\"alg\":");
    h.push_str(&serde_json::to_string(alg)?);
    h.push_str(",\"kid\":");
    h.push_str(&serde_json::to_string(kid)?);
    if let Some(t) = typ {
        h.push_str(",\"typ\":");
        h.push_str(&serde_json::to_string(t)?);
    }
    h.push('}');
    Ok(h)
}

/// Mints the baseline token changed by `m`, issued at `now` (seconds since the epoch).
pub fn mint(
    keyring: &Keyring,
    base: &Baseline,
    m: &JagMutation,
    now: i64,
) -> Result<Minted, MintError> {
    let role = m.issuer.unwrap_or(IssuerRole::Trusted);
    let alg = m.alg.unwrap_or(KeyAlg::RS256);
    let own_key = keyring.issuer(role).get(alg);

    let (mut claims, typ) = match m.from {
        Source::IdJag => (base.jag_claims(role, now)?, ID_JAG_TYP),
        Source::IdToken => {
            let mut c = id_token_claims(
                base.issuer(role)?,
                &base.subject,
                &base.audience,
                now,
                base.lifetime_secs,
            );
            c.insert("client_id".into(), json!(base.client_id));
            (c, "JWT")
        }
    };
    for (name, t) in &m.times {
        claims.insert(name.clone(), json!(now.saturating_add(t.seconds)));
    }
    for (name, f) in &m.add_fraction {
        if let Some(n) = claims.get(name).and_then(Value::as_f64) {
            claims.insert(name.clone(), json!(n + f));
        }
    }
    for (name, v) in &m.claims {
        claims.insert(name.clone(), v.clone());
    }
    for name in &m.remove_claims {
        claims.shift_remove(name);
    }

    // Signing decides alg and kid; the header changes come after, so they can override both.
    enum Signer<'a> {
        Key(&'a SigningKey),
        Pss(&'a SigningKey),
        Weak(&'a super::weak::WeakRsaKey),
        Hmac(Vec<u8>),
        Unsigned,
    }
    let (alg_name, kid, signer) = match &m.sign {
        None => (
            alg.name(),
            Some(own_key.kid().to_string()),
            Signer::Key(own_key),
        ),
        Some(Signing::KeyOf(other)) => {
            let k = keyring.issuer(*other).get(alg);
            (alg.name(), Some(k.kid().to_string()), Signer::Key(k))
        }
        Some(Signing::Ps256SameKey) => {
            let rsa = &keyring.issuer(role).rs256;
            ("PS256", Some(rsa.kid().to_string()), Signer::Pss(rsa))
        }
        Some(Signing::NewKey) => {
            let k = keyring.next().get(alg);
            (alg.name(), Some(k.kid().to_string()), Signer::Key(k))
        }
        Some(Signing::EncKey) => {
            let k = keyring.enc();
            ("RS256", Some(k.kid().to_string()), Signer::Key(k))
        }
        Some(Signing::UnknownKid) => {
            let k = keyring.stray().get(alg);
            (alg.name(), Some(k.kid().to_string()), Signer::Key(k))
        }
        Some(Signing::None) => ("none", None, Signer::Unsigned),
        Some(Signing::Hs256ClientSecret) => (
            "HS256",
            Some(own_key.kid().to_string()),
            Signer::Hmac(base.client_secret.clone().into_bytes()),
        ),
        Some(Signing::Hs256EmptyKey) => (
            "HS256",
            Some(own_key.kid().to_string()),
            Signer::Hmac(Vec::new()),
        ),
        Some(Signing::EmbeddedJwk) => {
            let k = keyring.issuer(IssuerRole::Attacker).get(alg);
            (alg.name(), Some(k.kid().to_string()), Signer::Key(k))
        }
        Some(Signing::WeakRsaKey) => {
            let k = keyring.weak();
            ("RS256", Some(k.kid().to_string()), Signer::Weak(k))
        }
        Some(Signing::Hs256PublicKey(enc)) => {
            let rsa = &keyring.issuer(role).rs256;
            let secret = match enc {
                PublicKeyEncoding::Pem => rsa.public_key_pem().into_bytes(),
                PublicKeyEncoding::Der => rsa.public_key_der(),
            };
            ("HS256", Some(rsa.kid().to_string()), Signer::Hmac(secret))
        }
    };
    let mut header = Map::new();
    header.insert("alg".into(), json!(alg_name));
    if let Some(kid) = kid {
        header.insert("kid".into(), json!(kid));
    }
    header.insert("typ".into(), json!(typ));
    if m.sign == Some(Signing::EmbeddedJwk) {
        header.insert(
            "jwk".into(),
            keyring.issuer(IssuerRole::Attacker).get(alg).public_jwk(),
        );
    }
    for (name, v) in &m.header {
        header.insert(name.clone(), v.clone());
    }
    for name in &m.remove_header {
        header.shift_remove(name);
    }

    let header_text = match &m.raw_header {
        Some(raw) => raw.clone(),
        None => serde_json::to_string(&header)?,
    };
    let payload_text = match &m.raw_payload {
        Some(raw) => raw.clone(),
        None => with_duplicates(serde_json::to_string(&claims)?, &m.duplicate_claims)?,
    };
    let input = jws::signing_input(&header_text, &payload_text);
    let mut sig = match signer {
        Signer::Key(k) if m.signature == Some(SignatureFault::DerEncoded) => {
            k.sign_asn1(input.as_bytes())
        }
        Signer::Key(k) => k.sign(input.as_bytes()),
        Signer::Pss(k) => k.sign_pss(input.as_bytes()),
        Signer::Weak(k) => k.sign(input.as_bytes()),
        Signer::Hmac(secret) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
            aws_lc_rs::hmac::sign(&key, input.as_bytes())
                .as_ref()
                .to_vec()
        }
        Signer::Unsigned => Vec::new(),
    };
    match m.signature {
        Some(SignatureFault::FlipBit) => {
            let mid = sig.len() / 2;
            if let Some(b) = sig.get_mut(mid) {
                *b ^= 0x01;
            }
        }
        Some(SignatureFault::Strip) => sig.clear(),
        Some(SignatureFault::Truncate) => sig.truncate(sig.len() / 2),
        Some(SignatureFault::Zero) => sig.iter_mut().for_each(|b| *b = 0),
        Some(SignatureFault::DerEncoded) | None => {}
    }
    // For display: raw text is parsed back (or shown as text); a minted map is shown as it is,
    // without parsing back the text just serialized from it (the same value, and a large
    // share of the cost of a token).
    let shown = |text: &str, raw: bool, minted: Map<String, Value>| {
        if !raw {
            return Value::Object(minted);
        }
        serde_json::from_str(text).unwrap_or_else(|_| {
            if text == serde_json::to_string(&minted).unwrap_or_default() {
                Value::Object(minted)
            } else {
                Value::String(text.to_string())
            }
        })
    };
    Ok(Minted {
        token: match m.serialization {
            None | Some(Serialization::Compact) => jws::compact(&input, &sig),
            Some(s) => s.write(&header_text, &payload_text, &sig),
        },
        header: shown(&header_text, m.raw_header.is_some(), header),
        claims: if m.duplicate_claims.is_empty() {
            shown(&payload_text, m.raw_payload.is_some(), claims)
        } else {
            Value::String(payload_text)
        },
    })
}

/// Appends `"name":value` members after the last member of a serialized JSON object.
fn with_duplicates(object_text: String, extra: &Map<String, Value>) -> Result<String, MintError> {
    if extra.is_empty() {
        return Ok(object_text);
    }
    // Only the object's own closing brace goes: a last member whose value is an object ends
    // in `}` too, and must keep it.
    let trimmed = object_text.trim_end();
    let body = trimmed.strip_suffix('}').unwrap_or(trimmed);
    let mut out = body.to_string();
    for (name, v) in extra {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(name)?);
        out.push(':');
        out.push_str(&serde_json::to_string(v)?);
    }
    out.push('}');
    Ok(out)
}

/// A `private_key_jwt` client assertion (RFC 7523 §2.2, §3): `iss` = `sub` = the client,
/// `aud` = the authorization server, a fresh `jti`, valid for `lifetime_secs` from `issued_at`.
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    audience: Value,
    issued_at: i64,
    lifetime_secs: i64,
) -> Result<String, MintError> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(client_id));
    c.insert("sub".into(), json!(client_id));
    c.insert("aud".into(), audience);
    c.insert("jti".into(), json!(fresh_jti()));
    c.insert("iat".into(), json!(issued_at));
    c.insert("exp".into(), json!(issued_at.saturating_add(lifetime_secs)));
    sign_jwt(key, Some(CLIENT_ASSERTION_TYP), &c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> Baseline {
        Baseline {
            issuers: IssuerRole::ALL
                .iter()
                .map(|r| (*r, format!("http://127.0.0.1:7400/{}", r.path())))
                .collect(),
            audience: "http://127.0.0.1:7500/".into(),
            subject: "bob@tables.fake".into(),
            client_id: "agent0".into(),
            resource: Some("http://127.0.0.1:7500/api/todos".into()),
            scope: Some("todos.read".into()),
            lifetime_secs: 300,
            client_secret: "x".into(),
        }
    }

    fn decoded(token: &str) -> (Value, Value) {
        jws::decode_for_display(token)
    }

    /// The lean header text is exactly what serializing the header object gives, for
    /// awkward `kid`s too, so tokens mean the same as before.
    #[test]
    fn lean_header_is_the_serialized_header_object() {
        for (kid, typ) in [
            ("k1", Some(ID_JAG_TYP)),
            ("a\"b\\c\u{1}é", None),
            ("", Some("JWT")),
        ] {
            let mut h = Map::new();
            h.insert("alg".into(), json!("ES256"));
            h.insert("kid".into(), json!(kid));
            if let Some(t) = typ {
                h.insert("typ".into(), json!(t));
            }
            assert_eq!(
                header_json("ES256", kid, typ).unwrap(),
                serde_json::to_string(&h).unwrap()
            );
        }
    }

    /// What `mint` reports as header and claims is what the token carries, for the baseline
    /// (minted maps shown directly) and for raw text (parsed back).
    #[test]
    fn lean_mint_shows_the_claims_the_token_carries() {
        let keys = Keyring::ephemeral().unwrap();
        let base = baseline();
        for alg in [KeyAlg::RS256, KeyAlg::ES256] {
            let m = JagMutation {
                alg: Some(alg),
                ..JagMutation::default()
            };
            let t = mint(&keys, &base, &m, 1_800_000_000).unwrap();
            let (header, claims) = decoded(&t.token);
            assert_eq!(t.header, header);
            assert_eq!(t.claims, claims);
            assert_eq!(claims["iat"], 1_800_000_000);
            assert_eq!(claims["exp"], 1_800_000_300);
            assert_eq!(claims["aud"], "http://127.0.0.1:7500/");
            assert_eq!(header["typ"], ID_JAG_TYP);
            assert_eq!(header["alg"], alg.name());
            // The same claims as the baseline map, apart from the fresh jti.
            let mut expected = base.jag_claims(IssuerRole::Trusted, 1_800_000_000).unwrap();
            expected.insert("jti".into(), claims["jti"].clone());
            assert_eq!(claims, Value::Object(expected));
            // sign_jwt makes the same header and claims.
            let key = keys.issuer(IssuerRole::Trusted).get(alg);
            let c = base.jag_claims(IssuerRole::Trusted, 1_800_000_000).unwrap();
            let (h2, c2) = decoded(&sign_jwt(key, Some(ID_JAG_TYP), &c).unwrap());
            assert_eq!(h2, header);
            assert_eq!(c2, Value::Object(c));
        }
        let raw = JagMutation {
            raw_payload: Some("{\"a\":1}".into()),
            raw_header: Some("not json".into()),
            ..JagMutation::default()
        };
        let t = mint(&keys, &base, &raw, 0).unwrap();
        assert_eq!(t.claims, json!({"a": 1}));
        assert_eq!(t.header, json!("not json"));
    }
}
