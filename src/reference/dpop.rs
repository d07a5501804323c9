//! DPoP at the reference (RFC 9449; ID-JAG §9.8.1.2): proofs validated at the token endpoint
//! and the resource API (RFC 9449 §4.3, with jsonwebtoken's decoder against the proof's own
//! `jwk`, never the suite's minting code), server nonces (§8), the binding of a key-bound
//! ID-JAG to its proof (ID-JAG §9.8.1.2.1 step 4), resources that require DPoP-bound tokens
//! (§9.8.1.2.4 step 2), and DPoP-bound access tokens at the resource API (§7).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::validate::{Grant, Refusal};
use super::{Defect, RasState};

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
const DPOP_TYP: &str = "dpop+jwt";

/// How far in the past a proof's `iat` may be.
const IAT_PAST_SECS: i64 = 300;

/// How far in the future a proof's `iat` may be (clock skew).
const IAT_FUTURE_SECS: i64 = 60;

/// The reference's DPoP state: its current nonce and the proof `jti`s it has seen.
pub(crate) struct DpopState {
    nonce: String,
    seen: Mutex<HashMap<String, i64>>,
}

impl Default for DpopState {
    fn default() -> Self {
        DpopState {
            nonce: crate::fixture::Secret::random().expose().to_string(),
            seen: Mutex::default(),
        }
    }
}

/// Why a proof was not taken.
enum ProofError {
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1).
    Invalid(String),
    /// `use_dpop_nonce`: the proof lacks the current nonce (RFC 9449 §8).
    Nonce,
}

fn has(state: &RasState, d: Defect) -> bool {
    state.cfg.defects.contains(&d)
}

/// The values of the `DPoP` header; more than one is an invalid proof (RFC 9449 §4.3 step 1).
fn dpop_header(headers: &HeaderMap) -> Result<Option<String>, ProofError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ProofError::Invalid("more than one DPoP header".into()));
    }
    first
        .to_str()
        .map(|s| Some(s.trim().to_string()))
        .map_err(|_| ProofError::Invalid("the DPoP header is not ASCII".into()))
}

/// `scheme://host:port/path` of a URL, for comparing `htu` (RFC 9449 §4.3 step 9: without
/// query and fragment).
fn htu_form(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!(
        "{}://{}:{}{}",
        u.scheme(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default()?,
        u.path()
    ))
}

/// Validates one proof (RFC 9449 §4.3) for a request `htm` `htu`, with `ath` when an access
/// token goes with it and the nonce when `nonce` is asked for; returns the key's thumbprint.
fn validate_proof(
    state: &RasState,
    proof: &str,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
    nonce: bool,
) -> Result<String, ProofError> {
    let bad = |why: &str| ProofError::Invalid(why.to_string());
    let raw_header: Map<String, Value> = proof
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("the proof is not a JWT"))?;
    let header = jsonwebtoken::decode_header(proof)
        .map_err(|e| ProofError::Invalid(format!("the proof's header: {e}")))?;
    if header.typ.as_deref() != Some(DPOP_TYP) {
        return Err(bad("the proof's typ is not dpop+jwt"));
    }
    use jsonwebtoken::Algorithm as A;
    if matches!(header.alg, A::HS256 | A::HS384 | A::HS512) {
        return Err(bad("a DPoP proof must use an asymmetric algorithm"));
    }
    let jwk_raw = raw_header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("the proof has no jwk"))?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| jwk_raw.contains_key(*m))
    {
        return Err(bad("the proof's jwk holds a private key"));
    }
    let jwk = header
        .jwk
        .ok_or_else(|| bad("the proof's jwk is unusable"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
        .map_err(|e| ProofError::Invalid(format!("the proof's jwk: {e}")))?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &v)
        .map_err(|e| ProofError::Invalid(format!("the proof's signature: {e}")))?
        .claims;
    let text = |n: &str| claims.get(n).and_then(Value::as_str);
    if text("htm").is_none_or(|m| m != htm) {
        return Err(bad("the proof's htm is not the request's method"));
    }
    if !has(state, Defect::DpopIgnoresHtu)
        && (text("htu").and_then(htu_form).is_none()
            || text("htu").and_then(htu_form) != htu_form(htu))
    {
        return Err(bad("the proof's htu is not the request's URL"));
    }
    let Some(jti) = text("jti").filter(|j| !j.is_empty()) else {
        return Err(bad("the proof has no jti"));
    };
    let now = crate::jose::mint::unix_now();
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat >= now - IAT_PAST_SECS && iat <= now + IAT_FUTURE_SECS => {}
        _ => {
            return Err(bad(
                "the proof's iat is missing or outside the acceptable window",
            ));
        }
    }
    if let Some(at) = access_token {
        let want = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            at.as_bytes(),
        ));
        if text("ath") != Some(want.as_str()) && !has(state, Defect::ApiIgnoresAth) {
            return Err(bad("the proof's ath is not the access token's hash"));
        }
    }
    if nonce {
        match text("nonce") {
            Some(_) if has(state, Defect::DpopNonceAnyValue) => {}
            Some(n) if n == state.dpop.nonce => {}
            _ => return Err(ProofError::Nonce),
        }
    }
    if let Ok(mut seen) = state.dpop.seen.lock() {
        seen.retain(|_, iat| *iat >= now - IAT_PAST_SECS - IAT_FUTURE_SECS);
        if seen.contains_key(jti) && !has(state, Defect::DpopProofReplayOk) {
            return Err(bad("the proof's jti was used before"));
        }
        seen.insert(jti.to_string(), now);
    }
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .map_err(|e| ProofError::Invalid(format!("the proof's jwk: {e}")))
}

/// The token endpoint's proof, before the ID-JAG is looked at (so that a retry with a nonce
/// is not refused as the ID-JAG's second use): `None` without a `DPoP` header, the key's
/// thumbprint for a valid proof, else the refusal (`invalid_dpop_proof`, or `use_dpop_nonce`
/// with the nonce in `DPoP-Nonce`). A RAS without DPoP ignores the header.
pub(super) fn at_token_endpoint(
    state: &RasState,
    headers: &HeaderMap,
    method: &str,
    refuse: impl Fn(&str, &str) -> Response,
) -> Result<Option<String>, Box<Response>> {
    let Some(policy) = &state.cfg.dpop else {
        return Ok(None);
    };
    let answer = |e: ProofError| match e {
        ProofError::Invalid(why) => Box::new(refuse("invalid_dpop_proof", &why)),
        ProofError::Nonce => {
            let mut resp = refuse("use_dpop_nonce", "a DPoP nonce is required");
            if let Ok(v) = HeaderValue::from_str(&state.dpop.nonce) {
                resp.headers_mut().insert("dpop-nonce", v);
            }
            Box::new(resp)
        }
    };
    let Some(proof) = dpop_header(headers).map_err(answer)? else {
        return Ok(None);
    };
    validate_proof(
        state,
        &proof,
        method,
        &state.cfg.token_endpoint,
        None,
        policy.nonces,
    )
    .map(Some)
    .map_err(answer)
}

/// The binding of the token to be issued (ID-JAG §9.8.1.2): a key-bound ID-JAG needs a proof
/// by its key (`invalid_grant` without one, or with another key's); a resource that requires
/// DPoP-bound tokens needs a proof. Returns the key the access token is bound to.
pub(super) fn binding(
    state: &RasState,
    grant: &Grant,
    proven: Option<String>,
) -> Result<Option<String>, Refusal> {
    let Some(policy) = &state.cfg.dpop else {
        return Ok(None);
    };
    if let Some(jkt) = &grant.cnf_jkt {
        match &proven {
            None if has(state, Defect::DpopProofOptionalForBoundJag) => {}
            None => {
                return Err(super::refusal::invalid_grant(
                    "the ID-JAG is key-bound (cnf) and no DPoP proof was given",
                ));
            }
            Some(p) if p != jkt && !has(state, Defect::DpopJktNotCompared) => {
                return Err(super::refusal::invalid_grant(
                    "the DPoP proof's key is not the key the ID-JAG is bound to (cnf.jkt)",
                ));
            }
            Some(_) => {}
        }
    }
    if proven.is_none()
        && !has(state, Defect::DpopNotRequiredForResource)
        && grant
            .resources
            .iter()
            .any(|r| policy.required_resources.contains(r))
    {
        return Err(super::refusal::invalid_grant(
            "the resource requires DPoP-bound tokens and no DPoP proof was given",
        ));
    }
    Ok(proven.filter(|_| !has(state, Defect::DpopUnboundAccessToken)))
}

/// The `token_type` of a token bound to `jkt` (RFC 9449 §5): `DPoP` when bound.
pub(super) fn token_type(state: &RasState, jkt: Option<&str>) -> &'static str {
    match jkt {
        Some(_) if !has(state, Defect::BearerTokenTypeForBoundToken) => "DPoP",
        _ => "Bearer",
    }
}

/// The access token of an `Authorization` header and whether it came under the DPoP scheme
/// (RFC 9449 §7.1) rather than Bearer (RFC 6750 §2.1).
pub(super) fn authorization(headers: &HeaderMap) -> Option<(String, bool)> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    (dpop || scheme.eq_ignore_ascii_case("bearer")).then(|| (token.trim().to_string(), dpop))
}

/// A 401 with a DPoP challenge (RFC 9449 §7.1).
fn dpop_challenge(error: &str, description: &str) -> Box<Response> {
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    let value = format!(
        "DPoP algs=\"ES256 RS256\", error=\"{error}\", error_description=\"{description}\""
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, v);
    }
    Box::new(resp)
}

/// The resource API's check of a DPoP-bound token (RFC 9449 §7): presented under the DPoP
/// scheme with a valid proof by its key for this request, `ath` its hash. An unbound token
/// passes.
pub(super) fn at_resource(
    state: &RasState,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    token: &str,
    dpop_scheme: bool,
    jkt: Option<&str>,
) -> Result<(), Box<Response>> {
    let Some(jkt) = jkt else {
        return Ok(());
    };
    if !dpop_scheme {
        if has(state, Defect::ApiAcceptsBoundTokenAsBearer) {
            return Ok(());
        }
        return Err(dpop_challenge(
            "invalid_token",
            "a DPoP-bound token needs the DPoP scheme",
        ));
    }
    let proof = match dpop_header(headers) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(dpop_challenge("invalid_dpop_proof", "no DPoP proof"));
        }
        Err(_) => return Err(dpop_challenge("invalid_dpop_proof", "bad DPoP header")),
    };
    match validate_proof(state, &proof, method, url, Some(token), false) {
        Ok(proven) if proven == jkt => Ok(()),
        Ok(_) => Err(dpop_challenge(
            "invalid_dpop_proof",
            "the proof's key is not the token's",
        )),
        Err(_) => Err(dpop_challenge(
            "invalid_dpop_proof",
            "the proof is not valid",
        )),
    }
}
