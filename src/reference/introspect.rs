//! `POST /introspect`: RFC 7662 token introspection of the access tokens the reference
//! issued, for any registered client that authenticates (Basic with form-urlencoded parts,
//! or `client_secret_post`). The token endpoint's client-authentication defects do not apply
//! here: this endpoint has its own.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::token::{form_decode, secret_matches};
use super::{Defect, RasState};

/// 401 `invalid_client` (RFC 7662 §2.3, RFC 6749 §5.2), with a Basic challenge.
fn unauthorized() -> Response {
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_client" })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"xaa-reference\""),
    );
    resp
}

/// The id and secret the caller presents: Basic (RFC 6749 §2.3.1, form-urlencoded parts) or
/// the body's `client_id` and `client_secret`.
fn credentials(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    if let Some(b64) = super::token::basic_credentials(headers) {
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((form_decode(id)?, form_decode(secret)?));
    }
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some((param("client_id")?, param("client_secret")?))
}

/// Answers whether `token` (a form parameter) is an active access token this server issued
/// (RFC 7662 §2.2): `active`, `sub` and `username` (the local account), `client_id`,
/// `scope`, `aud` (the resources it is restricted to), `iss`, `exp`, `iat`, `token_type`;
/// `{"active": false}` for a token it did not issue or that expired. A caller that is no
/// registered client gets 401.
pub(crate) async fn introspect(
    State(state): State<Arc<RasState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let Some((id, secret)) = credentials(&headers, &form) else {
        return unauthorized();
    };
    let known = state
        .cfg
        .clients
        .iter()
        .any(|c| c.id == id && secret_matches(c.secret.expose(), &secret));
    if !known {
        return unauthorized();
    }
    let Some(token) = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_request", "error_description": "token is required" })),
        )
            .into_response();
    };
    let issued = state.tokens.lock().ok().and_then(|t| t.get(token).cloned());
    let now = Instant::now();
    let mut answer = match issued {
        Some(t) if t.expires > now => {
            let remaining = t.expires.duration_since(now).as_secs() as i64;
            let mut a = json!({
                "active": true,
                "sub": t.user,
                "username": t.user,
                "client_id": t.client_id,
                "scope": t.scopes.join(" "),
                "iss": state.cfg.issuer,
                "iat": t.issued_at,
                "exp": crate::jose::mint::unix_now() + remaining,
                "token_type": "Bearer",
            });
            if !t.resources.is_empty() {
                a["aud"] = json!(t.resources);
            }
            a
        }
        _ if has(Defect::IntrospectionActiveForUnknown) => json!({ "active": true }),
        _ => json!({ "active": false }),
    };
    if has(Defect::IntrospectionReportsCaller) && answer["active"] == json!(true) {
        answer["client_id"] = json!(id);
    }
    if has(Defect::IntrospectionAudIsIssuer) && answer.get("aud").is_some() {
        answer["aud"] = Value::String(state.cfg.issuer.clone());
    }
    let mut resp = Json(answer).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
