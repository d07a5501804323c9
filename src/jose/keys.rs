//! Signing keys of the fake issuers: generation, PEM files, public JWKs and signing.
//!
//! Keys are aws-lc-rs key pairs parsed once and cached; `kid`s are RFC 7638 thumbprints, so
//! they are stable for a key file and never collide between keys.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::jws::{b64, thumbprint};

pub use crate::protocol::IssuerRole;

/// A key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The crypto library refused to generate or parse a key.
    #[error("{0}")]
    Crypto(String),
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The signature algorithm of an issuer key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KeyAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over an RSA-2048 key.
    RS256,
    /// ECDSA P-256 with SHA-256, fixed-width r‖s signature.
    ES256,
}

impl KeyAlg {
    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::RS256 => "RS256",
            KeyAlg::ES256 => "ES256",
        }
    }
}

impl fmt::Display for IssuerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key with its `kid`, parsed once.
pub struct SigningKey {
    alg: KeyAlg,
    kid: String,
    inner: Inner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn crypto(what: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> KeyError + '_ {
    move |_| KeyError::Crypto(format!("could not {what}"))
}

impl SigningKey {
    /// Generates a fresh key: RSA-2048 for RS256, P-256 for ES256.
    pub fn generate(alg: KeyAlg) -> Result<Self, KeyError> {
        let inner = match alg {
            KeyAlg::RS256 => Inner::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto("generate an RSA key"))?,
            ),
            KeyAlg::ES256 => Inner::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(crypto("generate a P-256 key"))?,
            ),
        };
        Ok(Self::with_inner(alg, inner))
    }

    /// Reads a PKCS#8 private key from PEM text.
    pub fn from_pkcs8_pem(alg: KeyAlg, text: &str) -> Result<Self, KeyError> {
        let block =
            pem::parse(text).map_err(|e| KeyError::Crypto(format!("not a PEM key: {e}")))?;
        let der = block.contents();
        let inner = match alg {
            KeyAlg::RS256 => Inner::Rsa(
                RsaKeyPair::from_pkcs8(der)
                    .map_err(|e| KeyError::Crypto(format!("not an RSA PKCS#8 key: {e}")))?,
            ),
            KeyAlg::ES256 => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| KeyError::Crypto(format!("not a P-256 PKCS#8 key: {e}")))?,
            ),
        };
        Ok(Self::with_inner(alg, inner))
    }

    fn with_inner(alg: KeyAlg, inner: Inner) -> Self {
        let mut key = SigningKey {
            alg,
            kid: String::new(),
            inner,
        };
        key.kid = thumbprint(&key.public_jwk_members());
        key
    }

    /// The private key as PKCS#8 PEM, for `keys generate`.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der: Vec<u8> = match &self.inner {
            Inner::Rsa(k) => k
                .as_der()
                .map_err(crypto("encode the RSA key"))?
                .as_ref()
                .to_vec(),
            Inner::Ec(k) => k
                .to_pkcs8v1()
                .map_err(crypto("encode the EC key"))?
                .as_ref()
                .to_vec(),
        };
        Ok(pem_lf("PRIVATE KEY", der))
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The required public members of the JWK (the thumbprint input).
    fn public_jwk_members(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                m.insert("kty", "RSA".to_string());
                m.insert("n", b64(&c.n));
                m.insert("e", b64(&c.e));
            }
            Inner::Ec(k) => {
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = k.public_key().as_ref();
                m.insert("kty", "EC".to_string());
                m.insert("crv", "P-256".to_string());
                m.insert("x", b64(&point[1..33]));
                m.insert("y", b64(&point[33..65]));
            }
        }
        m
    }

    /// The public key as a JWK of its required members only (RFC 7638 §3.2), as a DPoP proof
    /// carries it in its `jwk` header (RFC 9449 §4.2).
    pub fn public_jwk_required(&self) -> Value {
        Value::Object(
            self.public_jwk_members()
                .into_iter()
                .map(|(k, v)| (k.to_string(), Value::String(v)))
                .collect(),
        )
    }

    /// The EC private scalar `d` (RFC 7518 §6.2.2.1), base64url, read from the key's PKCS#8
    /// form: what a JWK that leaks its private key carries. `None` for RSA keys.
    pub fn private_ec_d(&self) -> Option<String> {
        let Inner::Ec(k) = &self.inner else {
            return None;
        };
        let der = k.to_pkcs8v1().ok()?;
        let der = der.as_ref();
        // ECPrivateKey (RFC 5915): version 1 (02 01 01), then the 32-byte octet string.
        let at = der
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])?;
        der.get(at + 5..at + 37).map(b64)
    }

    /// The public key as a JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = serde_json::Map::new();
        for (k, v) in self.public_jwk_members() {
            jwk.insert(k.to_string(), Value::String(v));
        }
        jwk.insert("kid".into(), json!(self.kid));
        jwk.insert("alg".into(), json!(self.alg.name()));
        jwk.insert("use".into(), json!("sig"));
        Value::Object(jwk)
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Rsa(k) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                rsa_spki_der(&c.n, &c.e).unwrap_or_default()
            }
            Inner::Ec(k) => k
                .public_key()
                .as_der()
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default(),
        }
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> String {
        spki_pem(&self.public_key_der())
    }

    /// Signs `msg` with ECDSA and an ASN.1 DER signature (the wrong encoding for JWS, RFC 7518
    /// §3.4); RSA keys sign as usual.
    pub fn sign_asn1(&self, msg: &[u8]) -> Vec<u8> {
        let Inner::Ec(k) = &self.inner else {
            return self.sign(msg);
        };
        let der = k
            .to_pkcs8v1()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der)
            .ok()
            .and_then(|k| k.sign(&SystemRandom::new(), msg).ok())
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// Signs `msg` with RSASSA-PSS SHA-256 (PS256) using this RSA key; empty for EC keys.
    pub fn sign_pss(&self, msg: &[u8]) -> Vec<u8> {
        let Inner::Rsa(k) = &self.inner else {
            return Vec::new();
        };
        let mut sig = vec![0u8; k.public_modulus_len()];
        if k.sign(
            &signature::RSA_PSS_SHA256,
            &SystemRandom::new(),
            msg,
            &mut sig,
        )
        .is_err()
        {
            sig.clear();
        }
        sig
    }

    /// Signs `msg` with this key's algorithm.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                // Signing with a valid cached key and a correctly sized buffer cannot fail.
                if k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .is_err()
                {
                    sig.clear();
                }
                sig
            }
            Inner::Ec(k) => k
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default(),
        }
    }
}

/// SubjectPublicKeyInfo DER of an RSA public key given its big-endian modulus and exponent.
pub fn rsa_spki_der(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let c = PublicKeyComponents { n, e };
    let der: PublicKeyX509Der<'static> = c.as_der().ok()?;
    Some(der.as_ref().to_vec())
}

/// PEM text (`PUBLIC KEY`) for SubjectPublicKeyInfo DER.
pub fn spki_pem(der: &[u8]) -> String {
    pem_lf("PUBLIC KEY", der.to_vec())
}

/// PEM with LF line endings, as OpenSSL writes and servers load (pem's default is CRLF).
fn pem_lf(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK given as JSON (an EC or RSA key), from
/// its required members; `None` when it is neither or lacks one. A DPoP `cnf.jkt` is this
/// thumbprint (RFC 9449 §6.1), the same as a key's `kid` here.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let required: &[&'static str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut m = BTreeMap::new();
    for name in required {
        m.insert(*name, jwk.get(*name)?.as_str()?.to_string());
    }
    Some(super::jws::thumbprint(&m))
}

/// One issuer's keys: an RS256 key and an ES256 key.
#[derive(Debug)]
pub struct IssuerKeys {
    /// RSA-2048 key used for RS256.
    pub rs256: SigningKey,
    /// P-256 key used for ES256.
    pub es256: SigningKey,
}

impl IssuerKeys {
    /// A fresh RS256 and ES256 pair.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(IssuerKeys {
            rs256: SigningKey::generate(KeyAlg::RS256)?,
            es256: SigningKey::generate(KeyAlg::ES256)?,
        })
    }

    /// The key for `alg`.
    pub fn get(&self, alg: KeyAlg) -> &SigningKey {
        match alg {
            KeyAlg::RS256 => &self.rs256,
            KeyAlg::ES256 => &self.es256,
        }
    }

    /// The public JWK Set this issuer publishes.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.rs256.public_jwk(), self.es256.public_jwk()] })
    }
}

/// The keys of every party the fake IdP plays.
#[derive(Debug)]
pub struct Keyring {
    issuers: BTreeMap<IssuerRole, IssuerKeys>,
    stray: IssuerKeys,
    next: IssuerKeys,
    enc: SigningKey,
    client: SigningKey,
    weak: super::weak::WeakRsaKey,
    dpop: SigningKey,
    dpop_other: SigningKey,
}

impl Keyring {
    /// Fresh in-memory keys for every role.
    pub fn ephemeral() -> Result<Self, KeyError> {
        let mut issuers = BTreeMap::new();
        for role in IssuerRole::ALL {
            issuers.insert(role, IssuerKeys::generate()?);
        }
        Ok(Keyring {
            issuers,
            stray: IssuerKeys::generate()?,
            next: IssuerKeys::generate()?,
            enc: SigningKey::generate(KeyAlg::RS256)?,
            client: SigningKey::generate(KeyAlg::ES256)?,
            weak: super::weak::WeakRsaKey::generate().map_err(KeyError::Crypto)?,
            dpop: SigningKey::generate(KeyAlg::ES256)?,
            dpop_other: SigningKey::generate(KeyAlg::ES256)?,
        })
    }

    /// The trusted issuer's 1024-bit RSA key, published only under the `publish_weak_key`
    /// condition (JAG-SIG-18, RFC 7518 §3.3).
    pub fn weak(&self) -> &super::weak::WeakRsaKey {
        &self.weak
    }

    /// The requesting app's DPoP key K (RFC 9449 §4.2; ES256, made per run: DPoP keys are not
    /// registered, a bound ID-JAG names the key by its `cnf.jkt`).
    pub fn dpop(&self) -> &SigningKey {
        &self.dpop
    }

    /// Another DPoP key K′, for proofs by a key the ID-JAG is not bound to.
    pub fn dpop_other(&self) -> &SigningKey {
        &self.dpop_other
    }

    /// Keys that no issuer publishes: signing with them gives an unknown `kid`.
    pub fn stray(&self) -> &IssuerKeys {
        &self.stray
    }

    /// C3's key: the requesting app authenticates with it by `private_key_jwt`.
    pub fn client(&self) -> &SigningKey {
        &self.client
    }

    /// The trusted issuer's next keys: published only while a check rotates them in.
    pub fn next(&self) -> &IssuerKeys {
        &self.next
    }

    /// An RSA key the trusted issuer publishes marked `use: enc` under the `publish_enc_key`
    /// condition: signing with it is signing with an encryption key (RFC 7517 §4.2).
    pub fn enc(&self) -> &SigningKey {
        &self.enc
    }

    /// The keys of `role`.
    pub fn issuer(&self, role: IssuerRole) -> &IssuerKeys {
        // Every constructor fills all roles.
        &self.issuers[&role]
    }

    fn file_name(role: IssuerRole, alg: KeyAlg) -> String {
        format!("{}-{}.pem", role.path(), alg.name().to_ascii_lowercase())
    }

    /// Loads keys from `dir` when every key file is there, `None` when none is.
    /// A partial set is an error, so a half-deleted directory is noticed; the keys of
    /// [`LATER_ROLES`] are made afresh when a folder from an older `keys generate` lacks them.
    pub fn load(dir: &Path) -> Result<Option<Self>, KeyError> {
        let mut issuers = BTreeMap::new();
        let mut missing = Vec::new();
        let required = IssuerRole::ALL
            .into_iter()
            .filter(|r| !LATER_ROLES.contains(r));
        for role in required {
            let mut pair = Vec::new();
            for alg in [KeyAlg::RS256, KeyAlg::ES256] {
                let path = dir.join(Self::file_name(role, alg));
                match std::fs::read_to_string(&path) {
                    Ok(text) => pair.push(
                        SigningKey::from_pkcs8_pem(alg, &text)
                            .map_err(|e| KeyError::Crypto(format!("{}: {e}", path.display())))?,
                    ),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(path),
                    Err(source) => return Err(KeyError::Io { path, source }),
                }
            }
            if pair.len() == 2 {
                let es256 = pair.pop();
                let rs256 = pair.pop();
                if let (Some(rs256), Some(es256)) = (rs256, es256) {
                    issuers.insert(role, IssuerKeys { rs256, es256 });
                }
            }
        }
        if missing.len() == (IssuerRole::ALL.len() - LATER_ROLES.len()) * 2 {
            return Ok(None);
        }
        if let Some(path) = missing.into_iter().next() {
            return Err(KeyError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "key set is incomplete; run `xaa-conform keys generate`",
                ),
            });
        }
        let optional = |name: &str, alg: KeyAlg| -> Result<SigningKey, KeyError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => SigningKey::from_pkcs8_pem(alg, &text)
                    .map_err(|e| KeyError::Crypto(format!("{}: {e}", path.display()))),
                Err(_) => SigningKey::generate(alg),
            }
        };
        for role in LATER_ROLES {
            issuers.insert(
                role,
                IssuerKeys {
                    rs256: optional(&Self::file_name(role, KeyAlg::RS256), KeyAlg::RS256)?,
                    es256: optional(&Self::file_name(role, KeyAlg::ES256), KeyAlg::ES256)?,
                },
            );
        }
        Ok(Some(Keyring {
            issuers,
            stray: IssuerKeys::generate()?,
            next: IssuerKeys {
                rs256: optional(NEXT_RS256_FILE, KeyAlg::RS256)?,
                es256: optional(NEXT_ES256_FILE, KeyAlg::ES256)?,
            },
            enc: optional(ENC_KEY_FILE, KeyAlg::RS256)?,
            client: optional(CLIENT_KEY_FILE, KeyAlg::ES256)?,
            weak: match std::fs::read_to_string(dir.join(WEAK_RSA_FILE)) {
                Ok(text) => super::weak::WeakRsaKey::from_pkcs8_pem(&text).map_err(|e| {
                    KeyError::Crypto(format!("{}: {e}", dir.join(WEAK_RSA_FILE).display()))
                })?,
                Err(_) => super::weak::WeakRsaKey::generate().map_err(KeyError::Crypto)?,
            },
            dpop: SigningKey::generate(KeyAlg::ES256)?,
            dpop_other: SigningKey::generate(KeyAlg::ES256)?,
        }))
    }

    /// Every aws-lc-rs key [`Keyring::save`] writes, with its file name: each issuer's pair,
    /// C3's, the trusted issuer's next pair and its `use: enc` key (the last three are made
    /// afresh when a folder from an older `keys generate` lacks them). The weak RSA key
    /// (`WEAK_RSA_FILE`) is written after them.
    fn files(&self) -> Vec<(String, &SigningKey)> {
        let mut out = Vec::new();
        for (role, keys) in &self.issuers {
            for key in [&keys.rs256, &keys.es256] {
                out.push((Self::file_name(*role, key.alg()), key));
            }
        }
        out.push((CLIENT_KEY_FILE.to_string(), &self.client));
        out.push((NEXT_RS256_FILE.to_string(), &self.next.rs256));
        out.push((NEXT_ES256_FILE.to_string(), &self.next.es256));
        out.push((ENC_KEY_FILE.to_string(), &self.enc));
        out
    }

    /// The files of a key set in `dir` that exist already, so that `keys generate` does not
    /// replace keys a RAS may have cached without being told to.
    pub fn existing_files(dir: &Path) -> Vec<PathBuf> {
        let mut names: Vec<String> = IssuerRole::ALL
            .into_iter()
            .flat_map(|r| [KeyAlg::RS256, KeyAlg::ES256].map(|a| Self::file_name(r, a)))
            .collect();
        names.extend(
            [
                CLIENT_KEY_FILE,
                NEXT_RS256_FILE,
                NEXT_ES256_FILE,
                ENC_KEY_FILE,
                WEAK_RSA_FILE,
            ]
            .map(String::from),
        );
        names
            .into_iter()
            .map(|n| dir.join(n))
            .filter(|p| p.exists())
            .collect()
    }

    /// The `kid`s a RAS configured for the fake IdP sees: the trusted issuers' RS256 and
    /// ES256 keys (the multi-tenant and SAML NameID ones' last), then C3's, each with its party (`idp-a
    /// RS256`, …, `client-c3 ES256`).
    pub fn kids(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for role in [
            IssuerRole::Trusted,
            IssuerRole::TrustedB,
            IssuerRole::MultiTenant,
            IssuerRole::SamlSubjects,
        ] {
            let keys = self.issuer(role);
            for key in [&keys.rs256, &keys.es256] {
                out.push((
                    format!("{} {}", role.path(), key.alg().name()),
                    key.kid().to_string(),
                ));
            }
        }
        out.push(("client-c3 ES256".into(), self.client.kid().to_string()));
        out
    }

    /// The file name and `kid` of every key [`Keyring::save`] writes, in its order.
    pub fn file_kids(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .files()
            .into_iter()
            .map(|(name, key)| (name, key.kid().to_string()))
            .collect();
        out.push((WEAK_RSA_FILE.to_string(), self.weak.kid().to_string()));
        out
    }

    /// Writes every private key into `dir` as PKCS#8 PEM, mode 0600. Returns the files written.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut written = Vec::new();
        for (name, key) in self.files() {
            let path = dir.join(name);
            write_private(&path, key.to_pkcs8_pem()?.as_bytes()).map_err(io(&path))?;
            written.push(path);
        }
        let path = dir.join(WEAK_RSA_FILE);
        let pem = self.weak.to_pkcs8_pem().map_err(KeyError::Crypto)?;
        write_private(&path, pem.as_bytes()).map_err(io(&path))?;
        written.push(path);
        Ok(written)
    }
}

/// Issuers added after the first key sets were written (the multi-tenant issuer, the SAML
/// NameID one): their keys are made afresh when a folder lacks their files, as C3's and the
/// rotation keys are.
pub const LATER_ROLES: [IssuerRole; 2] = [IssuerRole::MultiTenant, IssuerRole::SamlSubjects];

/// Files of the trusted issuer's next keys (published while a check rotates them in), so that
/// a running `idp serve` and the runs against it rotate to the same keys.
pub const NEXT_RS256_FILE: &str = "next-rs256.pem";

/// See [`NEXT_RS256_FILE`].
pub const NEXT_ES256_FILE: &str = "next-es256.pem";

/// File of the RSA key the trusted issuer publishes as `use: enc` under `publish_enc_key`.
pub const ENC_KEY_FILE: &str = "enc-rs256.pem";

/// File of the trusted issuer's 1024-bit RSA key, published under `publish_weak_key`.
pub const WEAK_RSA_FILE: &str = "weak-rs1024.pem";

/// File of C3's client-authentication key inside a key folder.
pub const CLIENT_KEY_FILE: &str = "client-c3-es256.pem";

/// Writes a private file readable by its owner only (mode 0600, an existing file's mode
/// tightened too).
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let mut f = opts.open(path)?;
        // An existing file keeps its old mode on open; tighten it.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(data)
    }
    #[cfg(not(unix))]
    {
        opts.open(path)?.write_all(data)
    }
}
