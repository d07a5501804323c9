//! The mutation model: how a scenario changes the valid baseline ID-JAG.
//!
//! Each field names one kind of change; an empty `JagMutation` is the positive control.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::{IssuerRole, KeyAlg};

/// What token to start from before the changes apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The valid baseline ID-JAG (requirements.md, "A valid ID-JAG").
    #[default]
    IdJag,
    /// An OIDC ID token from the same issuer, with `aud` = the RAS issuer and a `client_id`
    /// claim, typed `JWT`: everything an ID-JAG has except its type.
    IdToken,
}

/// How the token is signed, when not with the issuer's own current key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Signing {
    /// `alg: none` and an empty signature (RFC 7519 §6 unsecured JWT).
    None,
    /// HS256 with the issuer's RSA public key, in the given encoding, as the HMAC secret,
    /// and the RSA key's `kid` (RFC 8725 §2.1 key confusion).
    Hs256PublicKey(PublicKeyEncoding),
    /// Signed with another issuer's key, under that key's `kid`.
    KeyOf(IssuerRole),
    /// Signed with a key no issuer publishes, under its own `kid`.
    UnknownKid,
    /// PS256 with the issuer's RSA key, which its JWKS declares for RS256 only (RFC 8725 §3.1).
    Ps256SameKey,
    /// Signed with the trusted issuer's next key, which the IdP publishes only under the
    /// `publish_new_key` condition (rotation checks).
    NewKey,
    /// RS256 with the key the trusted issuer publishes marked `use: enc`, under the
    /// `publish_enc_key` condition (RFC 7517 §4.2).
    EncKey,
    /// HS256 keyed with the requesting app's client secret at the RAS (RFC 8725 §3.1).
    Hs256ClientSecret,
    /// HS256 keyed with an empty secret.
    Hs256EmptyKey,
    /// Signed with the attacker's key, whose public JWK is embedded in the `jwk` header
    /// (RFC 8725 §3.8: the key must belong to the issuer, not to the token).
    EmbeddedJwk,
    /// RS256 with the trusted issuer's 1024-bit RSA key, which it publishes only under the
    /// `publish_weak_key` condition (RFC 7518 §3.3: 2048 bits or larger).
    WeakRsaKey,
}

/// The encodings of a public key an attacker may try as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicKeyEncoding {
    /// SubjectPublicKeyInfo PEM text, LF line endings.
    Pem,
    /// SubjectPublicKeyInfo DER bytes.
    Der,
}

/// A fault applied to the signature segment after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureFault {
    /// One bit of the signature flipped.
    FlipBit,
    /// The signature segment emptied (`h.p.`).
    Strip,
    /// The signature cut to half its length.
    Truncate,
    /// An ES256 signature re-encoded as ASN.1 DER instead of the fixed 64-byte r‖s
    /// (RFC 7518 §3.4).
    DerEncoded,
    /// An all-zero signature: r = s = 0 for ES256 (CVE-2022-21449 "psychic signature").
    Zero,
}

/// A time relative to the minting instant, such as `-10m` or `+300s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct RelTime {
    /// Offset in seconds from now.
    pub seconds: i64,
    text: String,
}

impl TryFrom<String> for RelTime {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let t = text.trim();
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'-') => (-1, &t[1..]),
            Some(b'+') => (1, &t[1..]),
            _ => {
                return Err(format!(
                    "relative time `{text}` must start with + or - (for example -10m, +300s)"
                ));
            }
        };
        let d = humantime::parse_duration(rest.trim())
            .map_err(|e| format!("relative time `{text}`: {e} (for example -10m, +300s)"))?;
        let secs = i64::try_from(d.as_secs())
            .map_err(|_| format!("relative time `{text}` is too large"))?;
        Ok(RelTime {
            seconds: sign * secs,
            text,
        })
    }
}

impl From<RelTime> for String {
    fn from(t: RelTime) -> String {
        t.text
    }
}

impl RelTime {
    /// `seconds` from now, written like `-600s` or `+300s`.
    pub fn from_seconds(seconds: i64) -> Self {
        let text = if seconds < 0 {
            format!("-{}s", seconds.unsigned_abs())
        } else {
            format!("+{seconds}s")
        };
        RelTime { seconds, text }
    }

    /// Human text: "10m ago" or "in 10m".
    pub fn describe(&self) -> String {
        let mag = self.text.trim().trim_start_matches(['+', '-']).trim();
        if self.seconds < 0 {
            format!("{mag} ago")
        } else {
            format!("in {mag}")
        }
    }
}

/// Changes to the baseline ID-JAG. Applied in field order: source and issuer, times, claims,
/// signing, header members, then signature faults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JagMutation {
    /// Start from another kind of token.
    #[serde(default, skip_serializing_if = "is_default")]
    pub from: Source,
    /// Mint as this issuer: its `iss` and its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerRole>,
    /// Sign with the issuer's key for this algorithm (default RS256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<KeyAlg>,
    /// Time claims set relative to now, e.g. `exp: -10m`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub times: BTreeMap<String, RelTime>,
    /// Fractions added to time claims after `times`, e.g. `exp: 0.5` for a non-integer
    /// NumericDate (RFC 7519 §2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add_fraction: BTreeMap<String, f64>,
    /// Claims set to these JSON values (placeholders such as `${ras.issuer}` allowed).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub claims: Map<String, Value>,
    /// Claims removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_claims: Vec<String>,
    /// Another way to sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<Signing>,
    /// Header members set to these JSON values (after signing chose `alg` and `kid`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub header: Map<String, Value>,
    /// Header members removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_header: Vec<String>,
    /// A fault applied to the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureFault>,
    /// Claims written a second time, after the real member, with these values (RFC 7519 §4:
    /// a parser must reject duplicates or keep the last one).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub duplicate_claims: Map<String, Value>,
    /// The header JSON text, verbatim, instead of the minted header (signed as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_header: Option<String>,
    /// The payload JSON text, verbatim, instead of the minted claims (signed as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_payload: Option<String>,
    /// The JWS serialization the token is written in (default compact; RFC 7515 §7.2's JSON
    /// forms for JAG-HDR-13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialization: Option<super::serialization::Serialization>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl JagMutation {
    /// True when nothing is changed: the token is the valid baseline.
    pub fn is_baseline(&self) -> bool {
        *self == JagMutation::default()
    }

    /// One line naming what was changed, e.g. `aud https://other-ras.example/`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.from == Source::IdToken {
            parts.push("an OIDC ID token".to_string());
        }
        if let Some(role) = self.issuer {
            parts.push(format!("issued by the {role} issuer"));
        }
        if let Some(alg) = self.alg {
            parts.push(format!("signed {}", alg.name()));
        }
        for (claim, t) in &self.times {
            parts.push(format!("{claim} {}", t.describe()));
        }
        for (claim, f) in &self.add_fraction {
            parts.push(format!("{claim} with a fraction of {f} s"));
        }
        for (claim, v) in &self.claims {
            parts.push(format!("{claim} {}", show(v)));
        }
        for claim in &self.remove_claims {
            parts.push(format!("no {claim} claim"));
        }
        match &self.sign {
            Some(Signing::None) => parts.push("alg none without a signature".into()),
            Some(Signing::Hs256PublicKey(enc)) => parts.push(format!(
                "HS256 keyed with the issuer's RSA public key ({})",
                match enc {
                    PublicKeyEncoding::Pem => "PEM",
                    PublicKeyEncoding::Der => "DER",
                }
            )),
            Some(Signing::KeyOf(role)) => {
                parts.push(format!("signed with the {role} issuer's key"))
            }
            Some(Signing::UnknownKid) => {
                parts.push("signed with an unpublished key (unknown kid)".into())
            }
            Some(Signing::Ps256SameKey) => parts.push("PS256 with the issuer's RS256 key".into()),
            Some(Signing::NewKey) => {
                parts.push("signed with the issuer's newly published key".into())
            }
            Some(Signing::EncKey) => {
                parts.push("signed with a key the issuer publishes for encryption (use enc)".into())
            }
            Some(Signing::Hs256ClientSecret) => {
                parts.push("HS256 keyed with the client secret".into())
            }
            Some(Signing::Hs256EmptyKey) => parts.push("HS256 keyed with an empty secret".into()),
            Some(Signing::EmbeddedJwk) => {
                parts.push("signed with a key embedded in the jwk header".into())
            }
            Some(Signing::WeakRsaKey) => parts.push(format!(
                "by the issuer's {}-bit RSA key",
                super::weak::WEAK_RSA_BITS
            )),
            None => {}
        }
        for (member, v) in &self.header {
            parts.push(format!("{member} {}", show(v)));
        }
        for member in &self.remove_header {
            parts.push(format!("no {member} header"));
        }
        match self.signature {
            Some(SignatureFault::FlipBit) => parts.push("one signature bit flipped".into()),
            Some(SignatureFault::Strip) => parts.push("the signature stripped".into()),
            Some(SignatureFault::Truncate) => parts.push("the signature truncated".into()),
            Some(SignatureFault::DerEncoded) => {
                parts.push("the ECDSA signature DER-encoded".into())
            }
            Some(SignatureFault::Zero) => parts.push("an all-zero signature".into()),
            None => {}
        }
        for (claim, v) in &self.duplicate_claims {
            parts.push(format!("a second {claim} member {}", show(v)));
        }
        if let Some(h) = &self.raw_header {
            parts.push(format!("header {h}"));
        }
        if let Some(p) = &self.raw_payload {
            parts.push(format!("payload {p}"));
        }
        if let Some(s) = self.serialization {
            parts.push(format!("written in {}", s.describe()));
        }
        if parts.is_empty() {
            "the valid ID-JAG".into()
        } else {
            parts.join(", ")
        }
    }

    /// Every string value inside, for placeholder substitution.
    pub fn strings_mut(&mut self) -> impl Iterator<Item = &mut String> {
        let mut out: Vec<&mut String> = Vec::new();
        fn walk<'a>(v: &'a mut Value, out: &mut Vec<&'a mut String>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(a) => a.iter_mut().for_each(|x| walk(x, out)),
                Value::Object(o) => o.values_mut().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        for v in self
            .claims
            .values_mut()
            .chain(self.header.values_mut())
            .chain(self.duplicate_claims.values_mut())
        {
            walk(v, &mut out);
        }
        out.extend(self.raw_header.iter_mut());
        out.extend(self.raw_payload.iter_mut());
        out.into_iter()
    }
}
