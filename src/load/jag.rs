//! Lean minting for load: the ID-JAG of each request, from a header and claims prefix
//! serialized once, with a fresh `jti` and `iat`, signed with a cached aws-lc-rs key; and the
//! token-request form body and client authentication, built once per run.
//!
//! The invalid variants that mixed traffic sends are made here too: expired, addressed to
//! another authorization server, or with a corrupted signature.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::fixture::{ClientAuthMethod, Secret};
use crate::jose::jws;
use crate::jose::mint::{Baseline, ID_JAG_TYP, MintError};
use crate::jose::{IssuerRole, KeyAlg, Keyring};

/// Seconds an expired ID-JAG's `exp` lies in the past (well beyond any clock skew).
const EXPIRED_BY_SECS: i64 = 3600;

/// What a request's ID-JAG is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JagKind {
    /// The valid ID-JAG.
    Valid,
    /// Expired an hour ago.
    Expired,
    /// `aud` names another authorization server.
    WrongAud,
    /// One bit of the signature flipped.
    BadSignature,
}

impl JagKind {
    /// The invalid kinds mixed traffic rotates through.
    pub const INVALID: [JagKind; 3] = [JagKind::Expired, JagKind::WrongAud, JagKind::BadSignature];

    /// The requirement an invalid kind breaks (its catalogue row): a token issued to it
    /// under load is judged as that rule's check, `ROW@load`.
    pub fn requirement(self) -> Option<&'static str> {
        match self {
            JagKind::Valid => None,
            JagKind::Expired => Some("JAG-TIME-02"),
            JagKind::WrongAud => Some("JAG-AUD-02"),
            JagKind::BadSignature => Some("JAG-SIG-03"),
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            JagKind::Valid => "valid",
            JagKind::Expired => "expired",
            JagKind::WrongAud => "wrong_aud",
            JagKind::BadSignature => "bad_signature",
        }
    }
}

/// Makes the ID-JAGs of a load run: one issuer key, one client, one subject.
pub struct JagFactory {
    keyring: Arc<Keyring>,
    role: IssuerRole,
    alg: KeyAlg,
    header_b64: String,
    /// `{"iss":…,…,` without `aud`, `jti`, `iat`, `exp`.
    claims_prefix: String,
    aud_member: String,
    wrong_aud_member: String,
    jti_prefix: String,
    lifetime_secs: i64,
}

impl fmt::Debug for JagFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JagFactory")
            .field("role", &self.role)
            .field("alg", &self.alg)
            .field("jti_prefix", &self.jti_prefix)
            .finish_non_exhaustive()
    }
}

fn member(name: &str, v: &Value) -> Result<String, MintError> {
    Ok(format!(
        "{}:{}",
        serde_json::to_string(name)?,
        serde_json::to_string(v)?
    ))
}

impl JagFactory {
    /// A factory for `base`'s valid ID-JAG from issuer `role`, signed with its `alg` key;
    /// `jti`s are `{jti_prefix}{n}` (give each run, and each shard, its own prefix).
    pub fn new(
        keyring: Arc<Keyring>,
        base: &Baseline,
        role: IssuerRole,
        alg: KeyAlg,
        jti_prefix: &str,
    ) -> Result<Self, MintError> {
        let key = keyring.issuer(role).get(alg);
        let mut header = Map::new();
        header.insert("alg".into(), json!(alg.name()));
        header.insert("kid".into(), json!(key.kid()));
        header.insert("typ".into(), json!(ID_JAG_TYP));
        let header_b64 = jws::b64(serde_json::to_string(&header)?);
        // The baseline claims, with the per-request ones taken out and appended at mint time.
        let mut claims = base.jag_claims(role, 0)?;
        for k in ["jti", "iat", "exp", "aud"] {
            claims.shift_remove(k);
        }
        let mut prefix = String::from("{");
        for (k, v) in &claims {
            prefix.push_str(&member(k, v)?);
            prefix.push(',');
        }
        Ok(JagFactory {
            header_b64,
            claims_prefix: prefix,
            aud_member: member("aud", &json!(base.audience))?,
            wrong_aud_member: member("aud", &json!(crate::fixture::DEFAULT_OTHER_RAS))?,
            jti_prefix: jti_prefix.to_string(),
            lifetime_secs: base.lifetime_secs,
            keyring,
            role,
            alg,
        })
    }

    /// The same factory whose wrong-audience ID-JAGs name `aud`: the target's other
    /// authorization server (`other_issuer`), as the scenario JAG-AUD-02 sends.
    pub fn with_foreign_audience(mut self, aud: &str) -> Result<Self, MintError> {
        self.wrong_aud_member = member("aud", &json!(aud))?;
        Ok(self)
    }

    /// The signing algorithm.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// Mints request `n`'s ID-JAG of `kind`, issued at `iat` (seconds since the epoch), valid
    /// for `lifetime_secs` (the baseline's when `None`).
    pub fn mint(&self, kind: JagKind, n: u64, iat: i64, lifetime_secs: Option<i64>) -> String {
        let lifetime = lifetime_secs.unwrap_or(self.lifetime_secs);
        let (iat, exp) = match kind {
            JagKind::Expired => (iat - EXPIRED_BY_SECS - lifetime, iat - EXPIRED_BY_SECS),
            _ => (iat, iat.saturating_add(lifetime)),
        };
        let aud = if kind == JagKind::WrongAud {
            &self.wrong_aud_member
        } else {
            &self.aud_member
        };
        let payload = format!(
            "{}{aud},\"jti\":\"{}{n}\",\"iat\":{iat},\"exp\":{exp}}}",
            self.claims_prefix, self.jti_prefix
        );
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        token.push_str(&self.header_b64);
        token.push('.');
        token.push_str(&jws::b64(payload.as_bytes()));
        let mut sig = self
            .keyring
            .issuer(self.role)
            .get(self.alg)
            .sign(token.as_bytes());
        if kind == JagKind::BadSignature {
            let mid = sig.len() / 2;
            if let Some(b) = sig.get_mut(mid) {
                *b ^= 0x01;
            }
        }
        token.push('.');
        token.push_str(&jws::b64(&sig));
        token
    }
}

impl JagFactory {
    /// Request `n`'s valid ID-JAG, issued at `iat`, but signed with a key no issuer publishes
    /// under a `kid` of its own (`unpublished-{jti_prefix}{n}`): every one names a key the
    /// server has never seen, so it must look the JWKS up, and a token issued for one was
    /// issued unverified (LOAD-06).
    pub fn mint_unknown_kid(&self, n: u64, iat: i64) -> String {
        let key = self.keyring.stray().get(self.alg);
        let header = json!({
            "alg": self.alg.name(),
            "kid": format!("unpublished-{}{n}", self.jti_prefix),
            "typ": ID_JAG_TYP,
        });
        let payload = format!(
            "{}{},\"jti\":\"{}u{n}\",\"iat\":{iat},\"exp\":{}}}",
            self.claims_prefix,
            self.aud_member,
            self.jti_prefix,
            iat.saturating_add(self.lifetime_secs)
        );
        let mut token = jws::b64(header.to_string());
        token.push('.');
        token.push_str(&jws::b64(payload.as_bytes()));
        let sig = key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&jws::b64(&sig));
        token
    }
}

/// How one client authenticates to the token endpoint, prepared once: the `Authorization`
/// header (client_secret_basic) or the body parameters (client_secret_post).
#[derive(Clone)]
pub struct TokenForm {
    /// The client id.
    pub client_id: String,
    authorization: Option<String>,
    body_suffix: String,
}

impl fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The header and body suffix carry the secret: never printed.
        f.debug_struct("TokenForm")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The start of every token-request body: the jwt-bearer grant type, form-encoded.
const BODY_PREFIX: &str =
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl TokenForm {
    /// The request parts for client `id` with `secret`, presented as `method`.
    pub fn new(id: &str, secret: &Secret, method: ClientAuthMethod) -> Self {
        use base64::Engine as _;
        let (authorization, body_suffix) = match method {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1 and App. B: form-encode both parts before base64.
                let raw = format!("{}:{}", form_encode(id), form_encode(secret.expose()));
                (
                    Some(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    )),
                    String::new(),
                )
            }
            ClientAuthMethod::ClientSecretPost => (
                None,
                format!(
                    "&client_id={}&client_secret={}",
                    form_encode(id),
                    form_encode(secret.expose())
                ),
            ),
            ClientAuthMethod::None => (None, format!("&client_id={}", form_encode(id))),
        };
        TokenForm {
            client_id: id.to_string(),
            authorization,
            body_suffix,
        }
    }

    /// The `Authorization` header value, when the client uses Basic.
    pub fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The form body presenting `assertion` (a compact JWS: no characters to encode).
    pub fn body(&self, assertion: &str) -> String {
        let mut b =
            String::with_capacity(BODY_PREFIX.len() + assertion.len() + self.body_suffix.len());
        b.push_str(BODY_PREFIX);
        b.push_str(assertion);
        b.push_str(&self.body_suffix);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::jws::b64_decode;

    fn baseline() -> Baseline {
        Baseline {
            issuers: crate::fixture::issuer_urls("http://127.0.0.1:1"),
            audience: "http://127.0.0.1:2".into(),
            subject: "u1".into(),
            client_id: "c1".into(),
            resource: Some("http://127.0.0.1:2/api/r1".into()),
            scope: Some("s.read".into()),
            lifetime_secs: 300,
            client_secret: "x".into(),
        }
    }

    fn claims(token: &str) -> Value {
        let payload = token.split('.').nth(1).and_then(b64_decode).unwrap();
        serde_json::from_slice(&payload).unwrap()
    }

    #[test]
    fn minted_claims_are_the_baseline_with_fresh_jti_and_times() {
        let keys = Arc::new(Keyring::ephemeral().unwrap());
        let f =
            JagFactory::new(keys, &baseline(), IssuerRole::Trusted, KeyAlg::ES256, "r1-").unwrap();
        let t = f.mint(JagKind::Valid, 7, 1_000, None);
        let c = claims(&t);
        assert_eq!(c["jti"], "r1-7");
        assert_eq!(c["iat"], 1000);
        assert_eq!(c["exp"], 1300);
        assert_eq!(c["aud"], "http://127.0.0.1:2");
        assert_eq!(c["sub"], "u1");
        assert_eq!(c["client_id"], "c1");
        assert_eq!(c["scope"], "s.read");
        assert_eq!(
            claims(&f.mint(JagKind::WrongAud, 8, 1000, None))["aud"],
            crate::fixture::DEFAULT_OTHER_RAS
        );
        assert!(
            claims(&f.mint(JagKind::Expired, 9, 10_000, None))["exp"]
                .as_i64()
                .unwrap()
                < 10_000 - 60
        );
        let bad = f.mint(JagKind::BadSignature, 7, 1_000, None);
        assert_eq!(
            bad.split('.').take(2).collect::<Vec<_>>(),
            t.split('.').take(2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded_and_never_printed() {
        let form = TokenForm::new(
            "a b",
            &Secret::new("s:+%"),
            ClientAuthMethod::ClientSecretBasic,
        );
        use base64::Engine as _;
        let b64 = form
            .authorization()
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(String::from_utf8(raw).unwrap(), "a+b:s%3A%2B%25");
        assert!(!format!("{form:?}").contains("s%3A"));
        assert!(form.body("x.y.z").starts_with(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z"
        ));
        let post = TokenForm::new("c", &Secret::new("p"), ClientAuthMethod::ClientSecretPost);
        assert!(post.authorization().is_none());
        assert!(post.body("t").ends_with("&client_id=c&client_secret=p"));
        let encoded: String =
            url::form_urlencoded::byte_serialize(crate::client::JWT_BEARER.as_bytes()).collect();
        assert_eq!(BODY_PREFIX, format!("grant_type={encoded}&assertion="));
    }
}
