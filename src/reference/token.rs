//! The reference token endpoint: client authentication, the jwt-bearer grant, and the token
//! response (RFC 6749 §5, RFC 7523 §2.1, ID-JAG §4.4).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::validate::{self, Refusal};
use super::{Defect, RasState};
use crate::client::JWT_BEARER;

/// An access token the reference issued, for the resource API.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The local account.
    pub user: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When it stops being valid.
    pub expires: Instant,
}

fn error_response(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn refused(r: Refusal) -> Response {
    error_response(StatusCode::BAD_REQUEST, r.error, &r.description)
}

fn invalid_client(basic: bool, description: &str) -> Response {
    let mut resp = error_response(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if basic {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"xaa-reference\""),
        );
    }
    resp
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

fn secret_matches(cfg_secret: &str, given: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(cfg_secret.as_bytes(), given.as_bytes())
        .is_ok()
}

/// Authenticates the client (RFC 6749 §2.3.1): Basic with form-urlencoded parts, or the
/// body parameters, never both.
fn authenticate(
    state: &RasState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<String, Box<Response>> {
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| rest.trim().to_string())
        });
    let (id, secret, via_basic) = match basic {
        Some(b64) => {
            if param("client_secret").is_some() || param("client_assertion").is_some() {
                return Err(Box::new(error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "more than one client authentication method",
                )));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(a, b)| (form_decode(a), form_decode(b)))
                });
            let Some((Some(id), Some(secret))) = decoded else {
                return Err(Box::new(invalid_client(
                    true,
                    "malformed Basic credentials",
                )));
            };
            if let Some(body_id) = param("client_id")
                && body_id != id
            {
                return Err(Box::new(error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id differs from the authenticated client",
                )));
            }
            (id, secret, true)
        }
        None => match (param("client_id"), param("client_secret")) {
            (Some(id), Some(secret)) => (id.to_string(), secret.to_string(), false),
            _ => {
                return Err(Box::new(invalid_client(
                    false,
                    "client authentication required",
                )));
            }
        },
    };
    match state.cfg.clients.iter().find(|c| c.id == id) {
        Some(c) if secret_matches(c.secret.expose(), &secret) => Ok(id),
        _ => Err(Box::new(invalid_client(
            via_basic,
            "unknown client or wrong secret",
        ))),
    }
}

/// `POST /token`.
pub(crate) async fn token(
    State(state): State<Arc<RasState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    // RFC 6749 §3.2: parameters MUST NOT be included more than once.
    let mut seen = BTreeSet::new();
    if let Some((dup, _)) = form.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("parameter {dup} is repeated"),
        );
    }
    let client_id = match authenticate(&state, &headers, &form) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    // RFC 6749 §3.2: parameters sent without a value are treated as omitted.
    let param = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    match param("grant_type") {
        None => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
        Some(JWT_BEARER) => {}
        Some(other) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("{other} is not supported"),
            );
        }
    }
    let Some(assertion) = param("assertion") else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "assertion is required",
        );
    };
    let grant = match validate::validate(
        &state.cfg,
        &state.cache,
        &state.http,
        assertion,
        &client_id,
    )
    .await
    {
        Ok(g) => g,
        Err(r) => return refused(r),
    };

    // Scope: at most what the ID-JAG grants (RFC 7521 §4.1), only scopes defined here.
    let granted: Vec<String> = match param("scope") {
        Some(requested) => {
            let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(extra) = requested
                .iter()
                .find(|s| !grant.scopes.iter().any(|g| g == *s))
            {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("scope {extra} exceeds the ID-JAG"),
                );
            }
            requested.into_iter().map(str::to_string).collect()
        }
        None => grant.scopes.clone(),
    }
    .into_iter()
    .filter(|s| state.cfg.scopes.contains(s))
    .collect();

    let access_token = crate::fixture::Secret::random().expose().to_string();
    let lifetime = state.cfg.token_lifetime_secs;
    if let Ok(mut t) = state.tokens.lock() {
        t.retain(|_, v| v.expires > Instant::now());
        t.insert(
            access_token.clone(),
            IssuedToken {
                user: grant.user,
                client_id,
                scopes: granted.clone(),
                expires: Instant::now() + Duration::from_secs(lifetime),
            },
        );
    }
    let defects = &state.cfg.defects;
    let mut body = json!({
        "access_token": access_token,
        "token_type": if defects.contains(&Defect::TokenTypeNA) { "N_A" } else { "Bearer" },
        "expires_in": lifetime,
    });
    if !granted.is_empty() {
        body["scope"] = json!(granted.join(" "));
    }
    if let Some(r) = grant.resource {
        body["resource"] = r;
    }
    if defects.contains(&Defect::IssueRefreshToken) {
        body["refresh_token"] =
            Value::String(crate::fixture::Secret::random().expose().to_string());
    }
    let mut resp = Json(body).into_response();
    if !defects.contains(&Defect::NoCacheControl) {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3, ID-JAG §7.2).
pub(crate) async fn metadata(State(state): State<Arc<RasState>>) -> Response {
    let iss = &state.cfg.issuer;
    Json(json!({
        "issuer": iss,
        "token_endpoint": format!("{iss}/token"),
        "grant_types_supported": [JWT_BEARER],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "authorization_grant_profiles_supported": ["urn:ietf:params:oauth:grant-profile:id-jag"],
        "scopes_supported": state.cfg.scopes,
    }))
    .into_response()
}

/// `GET /api/{resource}`: the resource API behind the issued access tokens (RFC 6750 §2.1).
/// Answers who the token is for, so checks can see which account a grant mapped to.
pub(crate) async fn resource_api(
    State(state): State<Arc<RasState>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let challenge = |status: StatusCode, error: Option<&str>| {
        let value = match error {
            Some(e) => format!("Bearer realm=\"xaa-reference\", error=\"{e}\""),
            None => "Bearer realm=\"xaa-reference\"".to_string(),
        };
        let mut resp = status.into_response();
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return challenge(StatusCode::UNAUTHORIZED, None);
    };
    let issued = state
        .tokens
        .lock()
        .ok()
        .and_then(|t| t.get(token.trim()).cloned());
    match issued {
        Some(t) if t.expires > Instant::now() => Json(json!({
            "resource": name,
            "user": t.user,
            "client_id": t.client_id,
            "scope": t.scopes.join(" "),
        }))
        .into_response(),
        _ => challenge(StatusCode::UNAUTHORIZED, Some("invalid_token")),
    }
}
