//! A deliberately weak RSA key (1024 bits) for the weak-key check (JAG-SIG-18, RFC 7518 §3.3:
//! "A key of size 2048 bits or larger MUST be used").
//!
//! aws-lc-rs, the suite's crypto library, neither makes nor uses RSA keys under 2048 bits, so
//! this one key is made and used with the pure-Rust `rsa` crate. It only ever signs test
//! tokens (RUSTSEC-2023-0071, a timing side channel of RSA decryption, does not apply: see
//! the README's Dependencies section).

use std::collections::BTreeMap;
use std::fmt;

use rsa::pkcs1v15::SigningKey as Pkcs1SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

use super::jws::{b64, thumbprint};

/// The size of the weak key: under the 2048 bits RFC 7518 §3.3 requires for RS256.
pub const WEAK_RSA_BITS: usize = 1024;

/// An RSA key under 2048 bits that signs RS256, with its RFC 7638 `kid`.
pub struct WeakRsaKey {
    private: RsaPrivateKey,
    signer: Pkcs1SigningKey<Sha256>,
    kid: String,
}

impl fmt::Debug for WeakRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("WeakRsaKey")
            .field("bits", &self.bits())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl WeakRsaKey {
    /// Generates a fresh key of [`WEAK_RSA_BITS`] bits.
    pub fn generate() -> Result<Self, String> {
        let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, WEAK_RSA_BITS)
            .map_err(|e| format!("could not generate a weak RSA key: {e}"))?;
        Ok(Self::from_private(private))
    }

    /// Reads a PKCS#8 private key from PEM text.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, String> {
        RsaPrivateKey::from_pkcs8_pem(text)
            .map(Self::from_private)
            .map_err(|e| format!("not an RSA PKCS#8 key: {e}"))
    }

    fn from_private(private: RsaPrivateKey) -> Self {
        let kid = thumbprint(&public_members(&private.to_public_key()));
        WeakRsaKey {
            signer: Pkcs1SigningKey::<Sha256>::new(private.clone()),
            private,
            kid,
        }
    }

    /// The private key as PKCS#8 PEM, for `keys generate`.
    pub fn to_pkcs8_pem(&self) -> Result<String, String> {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| format!("could not encode the weak RSA key: {e}"))
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.private.size() * 8
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK with `kid`, `alg: RS256` and `use: sig`, as an issuer would
    /// publish it.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = serde_json::Map::new();
        for (k, v) in public_members(&self.private.to_public_key()) {
            jwk.insert(k.to_string(), Value::String(v));
        }
        jwk.insert("kid".into(), json!(self.kid));
        jwk.insert("alg".into(), json!("RS256"));
        jwk.insert("use".into(), json!("sig"));
        Value::Object(jwk)
    }

    /// Signs `msg` with RSASSA-PKCS1-v1_5 SHA-256 (RS256); empty if signing fails.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer
            .try_sign(msg)
            .map(|s| s.to_vec())
            .unwrap_or_default()
    }
}

/// The required public members of an RSA JWK (the thumbprint input).
fn public_members(key: &RsaPublicKey) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    m.insert("kty", "RSA".to_string());
    m.insert("n", b64(key.n().to_bytes_be()));
    m.insert("e", b64(key.e().to_bytes_be()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key is 1024 bits, survives its PEM file, and its RS256 signature verifies with
    /// the `rsa` crate against the public JWK it publishes; aws-lc-rs refuses that key.
    #[test]
    fn a_weak_key_signs_rs256_that_only_the_rsa_crate_accepts() {
        let key = WeakRsaKey::generate().unwrap();
        assert_eq!(key.bits(), WEAK_RSA_BITS);
        let again = WeakRsaKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(again.kid(), key.kid());
        let jwk = key.public_jwk();
        let n = super::super::jws::b64_decode(jwk["n"].as_str().unwrap()).unwrap();
        let e = super::super::jws::b64_decode(jwk["e"].as_str().unwrap()).unwrap();
        let sig = key.sign(b"h.p");
        assert_eq!(sig.len(), 128);
        let public = RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&n),
            rsa::BigUint::from_bytes_be(&e),
        )
        .unwrap();
        use rsa::signature::Verifier;
        let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
        let s = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        assert!(vk.verify(b"h.p", &s).is_ok());
        let aws = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
        assert!(
            aws.verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                b"h.p",
                &sig
            )
            .is_err()
        );
    }
}
