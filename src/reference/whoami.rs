//! `GET /api/whoami`: whom an access token the reference issued represents (RS-11), so that
//! the suite can see which local account an ID-JAG was mapped to (JAG-SUB-03).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::RasState;

/// A 401 with an RFC 6750 §3 Bearer challenge, with `error` when credentials were sent.
fn challenge(error: Option<&str>) -> Response {
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    let value = match error {
        Some(e) => format!("Bearer realm=\"xaa-reference\", error=\"{e}\""),
        None => "Bearer realm=\"xaa-reference\"".to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Answers `{"sub": <local account>, "client_id": …, "scope": …}` for a valid, unexpired
/// access token in the `Authorization: Bearer` header (RFC 6750 §2.1); 401 otherwise. Any
/// token this server issued works here, whatever resource it is restricted to.
pub(crate) async fn whoami(State(state): State<Arc<RasState>>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return challenge(None);
    };
    let issued = state.tokens.lock().ok().and_then(|t| t.get(token).cloned());
    match issued {
        Some(t) if t.expires > Instant::now() => Json(json!({
            "sub": t.user,
            "client_id": t.client_id,
            "scope": t.scopes.join(" "),
        }))
        .into_response(),
        _ => challenge(Some("invalid_token")),
    }
}
