//! The control API `idp serve` offers: on a loopback address only, every request with the
//! bearer token made at start (401 otherwise).
//!
//! `GET /state`, `PUT /condition` (an `IdpCondition`), `DELETE /condition`,
//! `GET /hits?since=N`, `PUT /audience`, `PUT /jag-alg`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};

use super::{Audience, ControlState, HitsSince, JagAlg};
use crate::fixture::Secret;
use crate::idp::HitLog;
use crate::protocol::IdpCondition;
use crate::server::{self, ServeError, ServerHandle};

/// Why the control API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControlServeError {
    /// The address is not on loopback: the API changes what the IdP serves, so only this
    /// machine may reach it.
    #[error("the control API listens on loopback only (127.0.0.1 or [::1]); `{0}` is not")]
    NotLoopback(String),
    /// Binding failed.
    #[error("{0}")]
    Serve(#[from] ServeError),
}

struct ControlApp {
    token: Secret,
    log: HitLog,
    state: ControlState,
}

/// A running control API; dropping it stops the server.
pub struct ControlServer {
    handle: ServerHandle,
}

impl ControlServer {
    /// Serves the control API of the IdP whose log is `log` on `bind` (a loopback address),
    /// taking `token` as its bearer token and answering `GET /state` with `state`.
    pub async fn start(
        bind: &str,
        token: Secret,
        log: HitLog,
        state: ControlState,
    ) -> Result<Self, ControlServeError> {
        let loopback = bind
            .parse::<SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .map_err(|_| ServeError::BadAddress {
                addr: bind.to_string(),
            })?;
        if !loopback {
            return Err(ControlServeError::NotLoopback(bind.to_string()));
        }
        let listener = server::bind(bind).await?;
        let app = Arc::new(ControlApp { token, log, state });
        let router = Router::new()
            .route("/state", get(state_of))
            .route("/condition", put(set_condition).delete(reset))
            .route("/hits", get(hits))
            .route("/audience", put(audience))
            .route("/jag-alg", put(jag_alg))
            .layer(middleware::from_fn_with_state(app.clone(), authorized))
            .with_state(app);
        Ok(ControlServer {
            handle: server::spawn(listener, router)?,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop().await;
    }
}

/// Equal in constant time for equal lengths, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorized(State(app): State<Arc<ControlApp>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), app.token.expose().as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({
                "error": "invalid_token",
                "error_description": "the control API takes the bearer token idp serve printed at start",
            })),
        )
            .into_response();
    }
    next.run(req).await
}

async fn state_of(State(app): State<Arc<ControlApp>>) -> Json<ControlState> {
    Json(app.state.clone())
}

async fn set_condition(
    State(app): State<Arc<ControlApp>>,
    Json(condition): Json<IdpCondition>,
) -> StatusCode {
    app.log.set_condition(condition);
    StatusCode::NO_CONTENT
}

async fn reset(State(app): State<Arc<ControlApp>>) -> StatusCode {
    app.log.reset();
    StatusCode::NO_CONTENT
}

async fn hits(
    State(app): State<Arc<ControlApp>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(since) = q.get("since").and_then(|s| s.parse::<usize>().ok()) else {
        return (StatusCode::BAD_REQUEST, "since=N is required").into_response();
    };
    let (total, hits) = app.log.end_and_since(since);
    Json(HitsSince { total, hits }).into_response()
}

async fn audience(State(app): State<Arc<ControlApp>>, Json(a): Json<Audience>) -> StatusCode {
    app.log.register_audience(&a.audience, &a.client_id);
    StatusCode::NO_CONTENT
}

async fn jag_alg(State(app): State<Arc<ControlApp>>, Json(a): Json<JagAlg>) -> StatusCode {
    app.log.set_jag_alg(a.alg);
    StatusCode::NO_CONTENT
}
