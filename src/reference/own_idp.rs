//! The reference as the IdP of its own trust domain (ID-JAG §9.3): an RFC 8693 token
//! exchange at `/idp/token` that issues ID-JAGs for an access token the reference issued,
//! signed by its own key (published at `/idp/jwks`). The RAS must not honour them (JAG-ISS-05);
//! the `trust-own-id-jags` defect does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::RasState;
use super::token::{authenticate, bad_request};
use crate::jose::mint::{ID_JAG_TYP, fresh_jti, sign_jwt, unix_now};
use crate::protocol::{ID_JAG_TOKEN_TYPE, TOKEN_EXCHANGE};

/// Where the reference's own IdP lives under its base URL.
pub const PATH: &str = "/idp";

/// The issuer identifier of the reference's own IdP at `base_url`.
pub fn issuer(base_url: &str) -> String {
    format!("{}{PATH}", base_url.trim_end_matches('/'))
}

/// RFC 8693 §3: an access token as `subject_token`.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// `POST /idp/token`: the authenticated client exchanges an access token this reference
/// issued to it for an ID-JAG addressed to `audience`, naming the token's account as `sub`.
pub(crate) async fn token_exchange(
    State(state): State<Arc<RasState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let client = match authenticate(&state, &headers, &form) {
        Ok(c) => c,
        Err(resp) => return *resp,
    };
    let params: HashMap<&str, &str> = form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let refuse = |error: &str, why: &str| bad_request(&state, error, why);
    if params.get("grant_type") != Some(&TOKEN_EXCHANGE) {
        return refuse("unsupported_grant_type", "only the token exchange");
    }
    if params.get("requested_token_type") != Some(&ID_JAG_TOKEN_TYPE)
        || params.get("subject_token_type") != Some(&ACCESS_TOKEN_TYPE)
    {
        return refuse(
            "invalid_request",
            "an ID-JAG is issued for an access token of this server only",
        );
    }
    let (Some(subject_token), Some(audience)) =
        (params.get("subject_token"), params.get("audience"))
    else {
        return refuse("invalid_request", "subject_token and audience are required");
    };
    let issued = state
        .tokens
        .lock()
        .ok()
        .and_then(|t| t.get(*subject_token).cloned())
        .filter(|t| t.expires > Instant::now() && t.client_id == client.id);
    let Some(issued) = issued else {
        // RFC 8693 §2.2.2: an invalid subject_token is invalid_request.
        return refuse(
            "invalid_request",
            "subject_token is not an access token of this client",
        );
    };
    let Some(key) = &state.own_idp_key else {
        return refuse("unsupported_grant_type", "this server issues no ID-JAGs");
    };
    let now = unix_now();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), json!(issuer(&state.cfg.api_base)));
    claims.insert("sub".into(), json!(issued.user));
    claims.insert("aud".into(), json!(audience));
    claims.insert("client_id".into(), json!(client.id));
    claims.insert("jti".into(), json!(fresh_jti()));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    if let Some(r) = params.get("resource") {
        claims.insert("resource".into(), json!(r));
    }
    if let Some(s) = params.get("scope") {
        claims.insert("scope".into(), json!(s));
    }
    match sign_jwt(key, Some(ID_JAG_TYP), &claims) {
        Ok(jag) => {
            let mut resp = Json(json!({
                "issued_token_type": ID_JAG_TOKEN_TYPE,
                "access_token": jag,
                "token_type": "N_A",
                "expires_in": 300,
            }))
            .into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /idp/jwks`: the key of the reference's own IdP.
pub(crate) async fn jwks(State(state): State<Arc<RasState>>) -> Response {
    match &state.own_idp_key {
        Some(key) => Json(super::jwt_at::jwks(key)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
