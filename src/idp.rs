//! The fake enterprise IdP: a real HTTP server hosting every issuer the suite plays.
//!
//! Each issuer lives under its own path (`/idp-a`, `/idp-b`, `/idp-x`, `/attacker`) with OIDC
//! discovery, RFC 8414 metadata, a JWKS, an authorization endpoint that signs the user in
//! without a login page, and a token endpoint for the authorization code grant and the RFC 8693
//! token exchange that issues ID-JAGs. Every request is recorded, so checks can ask who
//! fetched what, and when.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use crate::fixture::{Secret, issuer_urls};
use crate::jose::mint::unix_now as now_secs;
use crate::jose::mint::{ID_JAG_TYP, fresh_jti, id_token_claims, sign_jwt};
use crate::jose::{IssuerRole, KeyAlg, Keyring};
use crate::server::{self, ServeError, ServerHandle};

pub use crate::protocol::{
    ID_JAG_TOKEN_TYPE, ID_TOKEN_TYPE, IdpCondition, JwksFault, TOKEN_EXCHANGE,
};

/// One request the IdP received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Milliseconds since the IdP started.
    pub at_ms: u128,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The peer's address.
    pub peer: Option<SocketAddr>,
}

/// The requesting app's registration at the IdP.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    /// Client id at the IdP.
    pub client_id: String,
    /// Client secret at the IdP.
    pub secret: Secret,
}

#[derive(Debug, Clone)]
struct PendingCode {
    role: IssuerRole,
    sub: String,
    redirect_uri: String,
    nonce: Option<String>,
}

struct IdpState {
    condition: Mutex<IdpCondition>,
    started: Instant,
    keyring: Arc<Keyring>,
    issuers: BTreeMap<IssuerRole, String>,
    app: AppRegistration,
    audiences: Mutex<BTreeMap<String, String>>,
    codes: Mutex<HashMap<String, PendingCode>>,
    hits: Mutex<Vec<Hit>>,
    /// The algorithm the RFC 8693 token exchange signs ID-JAGs with (the target's default).
    jag_alg: Mutex<KeyAlg>,
}

/// A running fake IdP; dropping it stops the server.
pub struct FakeIdp {
    state: Arc<IdpState>,
    base_url: String,
    handle: ServerHandle,
}

fn no_store(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(
        (
            status,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response(),
    )
}

impl FakeIdp {
    /// Starts the IdP on `bind`; issuers are under `public_url` (default `http://{bound addr}`).
    pub async fn start(
        bind: &str,
        public_url: Option<&str>,
        keyring: Arc<Keyring>,
        app: AppRegistration,
    ) -> Result<Self, ServeError> {
        Self::start_with_tls(bind, public_url, keyring, app, None).await
    }

    /// Like [`FakeIdp::start`], serving HTTPS with `tls`'s certificate when given (the default
    /// base URL is then `https://{bound addr}`).
    pub async fn start_with_tls(
        bind: &str,
        public_url: Option<&str>,
        keyring: Arc<Keyring>,
        app: AppRegistration,
        tls: Option<&crate::tls::IdpTls>,
    ) -> Result<Self, ServeError> {
        let listener = server::bind(bind).await?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: bind.to_string(),
            source,
        })?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = public_url.map_or_else(
            || format!("{scheme}://{addr}"),
            |u| u.trim_end_matches('/').to_string(),
        );
        let state = Arc::new(IdpState {
            condition: Mutex::new(IdpCondition::default()),
            started: Instant::now(),
            keyring,
            issuers: issuer_urls(&base_url),
            app,
            audiences: Mutex::new(BTreeMap::new()),
            codes: Mutex::new(HashMap::new()),
            hits: Mutex::new(Vec::new()),
            jag_alg: Mutex::new(KeyAlg::RS256),
        });
        let router = Router::new()
            .route(
                "/.well-known/oauth-authorization-server/{issuer}",
                get(metadata),
            )
            .route("/.well-known/openid-configuration/{issuer}", get(metadata))
            .route("/{issuer}/.well-known/openid-configuration", get(metadata))
            .route(
                "/{issuer}/.well-known/oauth-authorization-server",
                get(metadata),
            )
            .route("/{issuer}/jwks", get(jwks))
            .route("/clients/c3/jwks", get(client_jwks))
            .route("/{issuer}/authorize", get(authorize))
            .route("/{issuer}/token", axum::routing::post(token))
            .layer(middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let handle = match tls {
            Some(t) => {
                let config = t.server_config().await.map_err(|source| ServeError::Bind {
                    addr: bind.to_string(),
                    source,
                })?;
                server::spawn_tls(listener, router, config)?
            }
            None => server::spawn(listener, router)?,
        };
        Ok(FakeIdp {
            state,
            base_url,
            handle,
        })
    }

    /// The base URL the issuers live under.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// Issuer identifiers of every party.
    pub fn issuers(&self) -> &BTreeMap<IssuerRole, String> {
        &self.state.issuers
    }

    /// The issuer identifier of `role`.
    pub fn issuer(&self, role: IssuerRole) -> &str {
        self.state.issuers.get(&role).map_or("", String::as_str)
    }

    /// The JWKS URL of `role`.
    pub fn jwks_uri(&self, role: IssuerRole) -> String {
        format!("{}/jwks", self.issuer(role))
    }

    /// Signs the ID-JAGs of the token exchange with `alg` from now on (default RS256): the
    /// runner sets the target's default algorithm (`accepted_algs`' first).
    pub fn set_jag_alg(&self, alg: KeyAlg) {
        if let Ok(mut a) = self.state.jag_alg.lock() {
            *a = alg;
        }
    }

    /// The algorithm the token exchange signs ID-JAGs with.
    pub fn jag_alg(&self) -> KeyAlg {
        self.state.jag_alg.lock().map_or(KeyAlg::RS256, |a| *a)
    }

    /// The requesting app's registration at this IdP.
    pub fn app(&self) -> &AppRegistration {
        &self.state.app
    }

    /// Lets the IdP issue ID-JAGs for `audience` (a RAS issuer), naming the requesting app
    /// `client_id` there (ID-JAG §4.3.3: the client's id at the RAS).
    pub fn register_audience(&self, audience: &str, client_id: &str) {
        if let Ok(mut a) = self.state.audiences.lock() {
            a.insert(audience.to_string(), client_id.to_string());
        }
    }

    /// A handle on the request log that outlives borrows of the IdP.
    pub fn hit_log(&self) -> HitLog {
        HitLog(self.state.clone())
    }

    /// Every request received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state
            .hits
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop().await;
    }

    /// Runs until the process is stopped.
    pub async fn wait(self) {
        self.handle.wait().await;
    }
}

/// A handle on the running IdP for checks: its request log (mark a point, read what arrived
/// after it) and the conditions it serves under.
#[derive(Clone)]
pub struct HitLog(Arc<IdpState>);

impl HitLog {
    /// Sets what the IdP serves until [`HitLog::reset`].
    pub fn set_condition(&self, condition: IdpCondition) {
        if let Ok(mut c) = self.0.condition.lock() {
            *c = condition;
        }
    }

    /// Lets the IdP issue ID-JAGs for `audience`, see [`FakeIdp::register_audience`].
    pub fn register_audience(&self, audience: &str, client_id: &str) {
        if let Ok(mut a) = self.0.audiences.lock() {
            a.insert(audience.to_string(), client_id.to_string());
        }
    }

    /// Signs the token exchange's ID-JAGs with `alg`, see [`FakeIdp::set_jag_alg`].
    pub fn set_jag_alg(&self, alg: KeyAlg) {
        if let Ok(mut a) = self.0.jag_alg.lock() {
            *a = alg;
        }
    }

    /// Restores the normal IdP.
    pub fn reset(&self) {
        self.set_condition(IdpCondition::default());
    }

    /// The current end of the log.
    pub fn mark(&self) -> usize {
        self.0.hits.lock().map(|h| h.len()).unwrap_or(0)
    }

    /// The current end of the log and the requests received after `mark`, read at once.
    pub fn end_and_since(&self, mark: usize) -> (usize, Vec<Hit>) {
        self.0
            .hits
            .lock()
            .map(|h| {
                let after = h.get(mark..).map(<[Hit]>::to_vec).unwrap_or_default();
                (h.len(), after)
            })
            .unwrap_or_default()
    }

    /// Requests received after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Hit> {
        self.0
            .hits
            .lock()
            .map(|h| h.get(mark..).map(<[Hit]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }
}

async fn record(State(state): State<Arc<IdpState>>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let hit = Hit {
        at_ms: state.started.elapsed().as_millis(),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        peer,
    };
    if let Ok(mut h) = state.hits.lock() {
        h.push(hit);
    }
    next.run(req).await
}

fn role_of(segment: &str) -> Option<IssuerRole> {
    IssuerRole::ALL.into_iter().find(|r| r.path() == segment)
}

async fn metadata(State(state): State<Arc<IdpState>>, Path(segment): Path<String>) -> Response {
    let Some(role) = role_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let iss = &state.issuers[&role];
    Json(json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/jwks"),
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "grant_types_supported": ["authorization_code", TOKEN_EXCHANGE],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "identity_chaining_requested_token_types_supported": [ID_JAG_TOKEN_TYPE],
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<IdpState>>, Path(segment): Path<String>) -> Response {
    let Some(role) = role_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let condition = state.condition.lock().map(|c| *c).unwrap_or_default();
    let mut set = state.keyring.issuer(role).jwks();
    if role == condition.fault_issuer.unwrap_or(IssuerRole::Trusted) {
        match condition.jwks_fault {
            Some(JwksFault::ServerError) => {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            Some(JwksFault::InvalidJson) => {
                return ([(header::CONTENT_TYPE, "application/json")], "{\"keys\": [")
                    .into_response();
            }
            Some(JwksFault::EmptyKeys) => set = json!({ "keys": [] }),
            Some(JwksFault::Slow) => tokio::time::sleep(std::time::Duration::from_secs(6)).await,
            None => {}
        }
    }
    if role == IssuerRole::Trusted && condition.remove_current_key {
        set = state.keyring.next().jwks();
    } else if role == IssuerRole::Trusted
        && condition.publish_new_key
        && let Some(keys) = set.get_mut("keys").and_then(Value::as_array_mut)
    {
        let new = state.keyring.next();
        keys.push(new.rs256.public_jwk());
        keys.push(new.es256.public_jwk());
    }
    if role == IssuerRole::Trusted
        && condition.publish_enc_key
        && let Some(keys) = set.get_mut("keys").and_then(Value::as_array_mut)
    {
        let mut enc = state.keyring.enc().public_jwk();
        enc["use"] = json!("enc");
        if let Some(members) = enc.as_object_mut() {
            members.remove("alg");
        }
        keys.push(enc);
    }
    if role == IssuerRole::Trusted
        && condition.publish_weak_key
        && let Some(keys) = set.get_mut("keys").and_then(Value::as_array_mut)
    {
        keys.push(state.keyring.weak().public_jwk());
    }
    let mut resp = Json(set).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    resp
}

/// `GET /clients/c3/jwks`: the requesting app's public key for `private_key_jwt`, where a RAS
/// can register it as the client's `jwks_uri`.
async fn client_jwks(State(state): State<Arc<IdpState>>) -> Response {
    Json(json!({ "keys": [state.keyring.client().public_jwk()] })).into_response()
}

/// Signs `login_hint` in at once (no login page) and redirects with a code (OIDC Core §3.1.2).
async fn authorize(
    State(state): State<Arc<IdpState>>,
    Path(segment): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(role) = role_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "only response_type=code",
        );
    }
    if get("client_id") != Some(state.app.client_id.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown client_id",
        );
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is required",
        );
    };
    let Some(sub) = get("login_hint") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "login_required",
            "this IdP signs in the login_hint user; none given",
        );
    };
    let code = fresh_jti();
    let pending = PendingCode {
        role,
        sub: sub.to_string(),
        redirect_uri: redirect_uri.to_string(),
        nonce: get("nonce").map(str::to_string),
    };
    if let Ok(mut c) = state.codes.lock() {
        c.insert(code.clone(), pending);
    }
    let mut location = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is not a URL",
            );
        }
    };
    location.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = get("state") {
        location.query_pairs_mut().append_pair("state", s);
    }
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The authenticated client id, from Basic or from the form (RFC 6749 §2.3.1).
fn client_of(
    state: &IdpState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let dec = |x: &str| {
                url::form_urlencoded::parse(format!("x={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return Err("client authentication required"),
        },
    };
    if id == state.app.client_id && secret == state.app.secret.expose() {
        Ok(())
    } else {
        Err("unknown client or wrong secret")
    }
}

async fn token(
    State(state): State<Arc<IdpState>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(role) = role_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if let Err(why) = client_of(&state, &headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", why);
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(&state, role, &form),
        Some(TOKEN_EXCHANGE) => token_exchange(&state, role, &form, &headers),
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code or token-exchange",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn authorization_code(
    state: &IdpState,
    role: IssuerRole,
    form: &HashMap<String, String>,
) -> Response {
    let pending = form
        .get("code")
        .and_then(|c| state.codes.lock().ok().and_then(|mut m| m.remove(c)));
    let Some(p) = pending.filter(|p| p.role == role) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if form.get("redirect_uri") != Some(&p.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match",
        );
    }
    let now = now_secs();
    let mut claims = id_token_claims(
        &state.issuers[&role],
        &p.sub,
        &state.app.client_id,
        now,
        300,
    );
    if let Some(n) = p.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    match sign_jwt(
        state.keyring.issuer(role).get(KeyAlg::RS256),
        Some("JWT"),
        &claims,
    ) {
        Ok(id_token) => no_store(
            Json(json!({
                "access_token": fresh_jti(),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }))
            .into_response(),
        ),
        Err(e) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

/// Checks an ID token this issuer signed, for the app (ID-JAG §4.3.3).
fn verify_id_token(state: &IdpState, role: IssuerRole, token: &str) -> Result<String, String> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| format!("subject_token header: {e}"))?;
    let keys = state.keyring.issuer(role);
    let key = [KeyAlg::RS256, KeyAlg::ES256]
        .into_iter()
        .map(|a| keys.get(a))
        .find(|k| header.kid.as_deref() == Some(k.kid()))
        .ok_or("subject_token kid is not this issuer's")?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(key.public_jwk()).map_err(|e| e.to_string())?;
    let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[&state.issuers[&role]]);
    v.set_audience(&[&state.app.client_id]);
    let data =
        jsonwebtoken::decode::<Value>(token, &dk, &v).map_err(|e| format!("subject_token: {e}"))?;
    data.claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "subject_token has no sub".into())
}

/// RFC 8693 token exchange of an ID token for an ID-JAG (ID-JAG §4.3).
fn token_exchange(
    state: &IdpState,
    role: IssuerRole,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // ID-JAG §9.8.1.1: with a valid DPoP proof, the ID-JAG is bound to its key (cnf.jkt).
    let jkt = match headers.get("dpop").map(|v| v.to_str()) {
        None => None,
        Some(Ok(proof)) => match crate::jose::dpop::proven_jkt(proof) {
            Ok(jkt) => Some(jkt),
            Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", &why),
        },
        Some(Err(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "the DPoP header is not ASCII",
            );
        }
    };
    if get("requested_token_type") != Some(ID_JAG_TOKEN_TYPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "requested_token_type must be the id-jag token type",
        );
    }
    if get("subject_token_type") != Some(ID_TOKEN_TYPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be id_token",
        );
    }
    let Some(subject_token) = get("subject_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token is required",
        );
    };
    let sub = match verify_id_token(state, role, subject_token) {
        Ok(s) => s,
        // RFC 8693 §2.2.2: an invalid subject_token is invalid_request.
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let Some(audience) = get("audience") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "audience (the RAS issuer) is required",
        );
    };
    let client_id = state
        .audiences
        .lock()
        .ok()
        .and_then(|a| a.get(audience).cloned());
    let Some(client_id) = client_id else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "this IdP issues no ID-JAGs for that audience",
        );
    };
    let now = now_secs();
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), json!(state.issuers[&role]));
    claims.insert("sub".into(), json!(sub));
    claims.insert("aud".into(), json!(audience));
    claims.insert("client_id".into(), json!(client_id));
    claims.insert("jti".into(), json!(fresh_jti()));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    if let Some(r) = get("resource") {
        claims.insert("resource".into(), json!(r));
    }
    if let Some(s) = get("scope") {
        claims.insert("scope".into(), json!(s));
    }
    if let Some(jkt) = jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let alg = state.jag_alg.lock().map_or(KeyAlg::RS256, |a| *a);
    match sign_jwt(
        state.keyring.issuer(role).get(alg),
        Some(ID_JAG_TYP),
        &claims,
    ) {
        Ok(jag) => {
            let mut body = json!({
                "issued_token_type": ID_JAG_TOKEN_TYPE,
                "access_token": jag,
                "token_type": "N_A",
                "expires_in": 300,
            });
            if let Some(s) = get("scope") {
                body["scope"] = json!(s);
            }
            no_store(Json(body).into_response())
        }
        Err(e) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}
