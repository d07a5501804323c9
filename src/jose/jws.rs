//! Compact JWS assembly from raw header and payload text.
//!
//! Hand-assembled so that malformed tokens (alg none, raw payloads with duplicate members,
//! faulty signatures) can be built exactly as a test needs them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding (RFC 7515 §2).
pub fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding; `None` when the text is not valid base64url.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The JWS signing input `b64(header).b64(payload)` (RFC 7515 §5.1).
pub fn signing_input(header_json: &str, payload_json: &str) -> String {
    // One buffer, sized once: this runs for every minted token.
    let mut s = String::with_capacity((header_json.len() + payload_json.len()) * 4 / 3 + 4);
    URL_SAFE_NO_PAD.encode_string(header_json, &mut s);
    s.push('.');
    URL_SAFE_NO_PAD.encode_string(payload_json, &mut s);
    s
}

/// Joins a signing input and a signature into the compact serialization.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    let mut s = String::with_capacity(signing_input.len() + signature.len() * 4 / 3 + 4);
    s.push_str(signing_input);
    s.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut s);
    s
}

/// The three segments of a compact JWS decoded for display: header and payload as JSON
/// when they parse, otherwise as text.
pub fn decode_for_display(token: &str) -> (serde_json::Value, serde_json::Value) {
    let mut parts = token.split('.');
    let show = |seg: Option<&str>| -> serde_json::Value {
        let Some(seg) = seg else {
            return serde_json::Value::Null;
        };
        match b64_decode(seg) {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }),
            None => serde_json::Value::String(format!("<not base64url: {seg}>")),
        }
    };
    let header = show(parts.next());
    let payload = show(parts.next());
    (header, payload)
}

/// RFC 7638 thumbprint (SHA-256, base64url) of a JWK's required members, given in
/// lexicographic order: the `kid` of every key the suite makes.
pub fn thumbprint(members: &std::collections::BTreeMap<&'static str, String>) -> String {
    let canonical = serde_json::to_string(members).unwrap_or_default();
    b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}
