//! The `accept-weak-rsa-keys` defect's verifier: RS256 checked with the `rsa` crate, which,
//! unlike aws-lc-rs (jsonwebtoken's backend here), takes RSA keys under 2048 bits. A
//! compliant RAS refuses them (RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be
//! used").

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};

/// Whether `sig` is a valid RS256 signature of `signing_input` by the RSA key `jwk`, whatever
/// its size.
pub fn verifies_rs256(jwk: &Jwk, signing_input: &[u8], sig: &[u8]) -> bool {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return false;
    };
    let (Ok(n), Ok(e)) = (
        URL_SAFE_NO_PAD.decode(&rsa.n),
        URL_SAFE_NO_PAD.decode(&rsa.e),
    ) else {
        return false;
    };
    let Ok(public) = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
    else {
        return false;
    };
    let Ok(signature) = Signature::try_from(sig) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(public)
        .verify(signing_input, &signature)
        .is_ok()
}

/// The modulus size in bits of the RSA key `jwk` (`None` for another kind of key, or one
/// whose `n` is not base64url).
pub fn modulus_bits(jwk: &Jwk) -> Option<usize> {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return None;
    };
    let n = URL_SAFE_NO_PAD.decode(&rsa.n).ok()?;
    let first = n.iter().position(|b| *b != 0)?;
    Some((n.len() - first) * 8 - n[first].leading_zeros() as usize)
}
