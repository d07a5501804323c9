//! The reference's plain-http address of its token endpoint (REQ-10): a second listener that
//! stands for the cleartext port of an https server. Compliant, it refuses every token
//! request there (RFC 6749 §3.2: TLS is required); under `token-over-cleartext` it serves the
//! token endpoint as the real one does.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{Defect, RasState, token};

/// The router of the cleartext listener.
pub(super) fn router(state: Arc<RasState>) -> Router {
    let serves_tokens = state.cfg.defects.contains(&Defect::TokenOverCleartext);
    let router = if serves_tokens {
        Router::new().route("/token", post(token::token).get(token::token))
    } else {
        Router::new().route("/token", post(refuse).get(refuse))
    };
    router.with_state(state)
}

/// A token request in cleartext: refused, whatever it carries.
async fn refuse(axum::extract::State(state): axum::extract::State<Arc<RasState>>) -> Response {
    let mut resp = token::bad_request(
        &state,
        "invalid_request",
        "the token endpoint is served over TLS only (RFC 6749 §3.2)",
    );
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.into_response()
}
