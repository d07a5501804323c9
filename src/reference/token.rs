//! The reference token endpoint and resource API: client authentication, the jwt-bearer
//! grant, the token response (RFC 6749 §5, RFC 7523 §2.1, ID-JAG §4.4), and RFC 6750
//! Bearer access to the governed resources.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::validate::{self, Refusal};
use super::{Defect, RasState};
use crate::protocol::{CLIENT_ASSERTION_TYPE, JWT_BEARER};

pub use super::issued::IssuedToken;

/// Parameters a token request may carry; with `reject-unknown-params` others are refused.
const KNOWN_PARAMS: &[&str] = &[
    "grant_type",
    "assertion",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// `text` within the RFC 6749 §5.2 charset of `error_description` (%x20-21 / %x23-5B /
/// %x5D-7E): a double quote becomes a single one, anything else outside it a `?`, so that a
/// message from a library (a fetch error, a parser's) never breaks the rule.
fn within_error_charset(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

fn error_response(
    state: &RasState,
    status: StatusCode,
    error: &str,
    description: &str,
) -> Response {
    let description = &within_error_charset(description);
    let body = if state
        .cfg
        .defects
        .contains(&Defect::ErrorDescriptionDoubleQuoted)
    {
        json!({ "error": error, "error_description": Value::String(description.into()).to_string() })
    } else if state.cfg.error_descriptions {
        json!({ "error": error, "error_description": description })
    } else {
        json!({ "error": error })
    };
    let mut resp = (status, Json(body)).into_response();
    if !state.cfg.defects.contains(&Defect::ErrorWithoutNoStore) {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    resp
}

pub(super) fn bad_request(state: &RasState, error: &str, description: &str) -> Response {
    error_response(state, StatusCode::BAD_REQUEST, error, description)
}

fn invalid_client(state: &RasState, basic: bool, description: &str) -> Response {
    let mut resp = error_response(
        state,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        description,
    );
    // RFC 9110 §15.5.2: every 401 carries a challenge, whatever the client sent.
    let defect = if basic {
        Defect::NoWwwAuthenticate
    } else {
        Defect::NoChallengeForBodyCredentials
    };
    if !state.cfg.defects.contains(&defect) {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"xaa-reference\""),
        );
    }
    resp
}

/// A form-urlencoded part (RFC 6749 §2.3.1 encodes Basic's id and secret so).
pub(super) fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Whether `given` is the registered secret, compared in constant time.
pub(super) fn secret_matches(cfg_secret: &str, given: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(cfg_secret.as_bytes(), given.as_bytes())
        .is_ok()
}

/// The authenticated client's id and secret.
pub(super) struct Authenticated {
    /// The client id.
    pub(super) id: String,
    secret: String,
}

/// The base64 part of an `Authorization: Basic …` header, when there is one.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| rest.trim().to_string())
        })
}

/// Authenticates the client (RFC 6749 §2.3.1): Basic with form-urlencoded parts, or the
/// body parameters, never both.
pub(super) fn authenticate(
    state: &RasState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Authenticated, Box<Response>> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (id, secret, via_basic) = match basic_credentials(headers) {
        Some(b64) => {
            if (param("client_secret").is_some() && !has(Defect::AllowMultipleAuthMethods))
                || param("client_assertion").is_some()
            {
                return Err(Box::new(bad_request(
                    state,
                    "invalid_request",
                    "more than one client authentication method",
                )));
            }
            let decode = |x: &str| {
                if has(Defect::BasicWithoutFormDecoding) {
                    Some(x.to_string())
                } else {
                    form_decode(x)
                }
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| s.split_once(':').map(|(a, b)| (decode(a), decode(b))));
            let Some((Some(id), Some(secret))) = decoded else {
                return Err(Box::new(invalid_client(
                    state,
                    true,
                    "malformed Basic credentials",
                )));
            };
            if let Some(body_id) = param("client_id")
                && body_id != id
                && !has(Defect::IgnoreBodyClientId)
            {
                return Err(Box::new(bad_request(
                    state,
                    "invalid_request",
                    "client_id differs from the authenticated client",
                )));
            }
            (id, secret, true)
        }
        None => match (param("client_id"), param("client_secret")) {
            (Some(id), Some(secret)) => (id.to_string(), secret.to_string(), false),
            (Some(id), None) if has(Defect::AllowUnauthenticatedClient) => {
                if let Some(c) = state.cfg.clients.iter().find(|c| c.id == id) {
                    return Ok(Authenticated {
                        id: c.id.clone(),
                        secret: c.secret.expose().to_string(),
                    });
                }
                return Err(Box::new(invalid_client(state, false, "unknown client")));
            }
            _ => {
                return Err(Box::new(invalid_client(
                    state,
                    false,
                    "client authentication required",
                )));
            }
        },
    };
    let lenient = !via_basic && has(Defect::NoSecretCheckForPost);
    match state.cfg.clients.iter().find(|c| c.id == id) {
        Some(c) if lenient || secret_matches(c.secret.expose(), &secret) => Ok(Authenticated {
            id,
            secret: c.secret.expose().to_string(),
        }),
        _ => Err(Box::new(invalid_client(
            state,
            via_basic,
            "unknown client or wrong secret",
        ))),
    }
}

/// Authenticates a `private_key_jwt` client by its assertion (RFC 7523 §2.2, §3; RFC 7521
/// §4.2): `iss` = `sub` = a client registered with a JWKS, `aud` this server, unexpired,
/// signed by the client's key, used once.
async fn authenticate_assertion(
    state: &RasState,
    form: &[(String, String)],
    assertion: &str,
) -> Result<Authenticated, Box<Response>> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let refuse = |why: &str| Box::new(invalid_client(state, false, why));
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if param("client_secret").is_some() {
        return Err(Box::new(bad_request(
            state,
            "invalid_request",
            "more than one client authentication method",
        )));
    }
    if has(Defect::NoPrivateKeyJwt) {
        return Err(refuse("client assertions are not supported"));
    }
    if param("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE)
        && !has(Defect::IgnoreClientAssertionType)
    {
        return Err(refuse(
            "client_assertion_type must be the jwt-bearer client assertion type",
        ));
    }
    let cx = validate::ClientAssertionContext {
        cfg: &state.cfg,
        cache: &state.cache,
        replay: &state.replay,
    };
    let id = validate::client_assertion(&cx, assertion)
        .await
        .map_err(|r| refuse(&r.description))?;
    if let Some(param_id) = param("client_id")
        && param_id != id
        && !has(Defect::IgnoreClientIdParam)
    {
        return Err(refuse(
            "client_id does not identify the client of the assertion",
        ));
    }
    Ok(Authenticated {
        id,
        secret: String::new(),
    })
}

/// The request parameters, from the form body (or, under defects, a JSON body or the query).
fn parameters(
    state: &RasState,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &str,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    if *method == Method::GET {
        return Ok(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" && has(Defect::AcceptJsonBody) {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(body) else {
            return Err(Box::new(bad_request(
                state,
                "invalid_request",
                "the body is not a JSON object",
            )));
        };
        return Ok(m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect());
    }
    let form_ok = if has(Defect::StrictContentType) {
        content_type == "application/x-www-form-urlencoded"
    } else {
        media == "application/x-www-form-urlencoded"
    };
    if !form_ok {
        return Err(Box::new(bad_request(
            state,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    Ok(url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect())
}

/// A handler step's early answer.
type Answer = Box<Response>;

/// `POST /token` (and `GET /token` under the `accept-get` defect): the parameters, the
/// client, its rate, the grant type, the ID-JAG, then what is granted and the token response.
pub(crate) async fn token(
    State(state): State<Arc<RasState>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    match exchange(&state, &method, &headers, query.as_deref(), &body).await {
        Ok(resp) | Err(resp) => resp,
    }
}

/// The token endpoint's steps, in order; the first that refuses answers.
async fn exchange(
    state: &RasState,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &str,
) -> Result<Response, Response> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    if *method == Method::GET && !has(Defect::AcceptGet) {
        return Err((StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response());
    }
    let form = single_parameters(state, method, headers, query, body).map_err(|r| *r)?;
    let client = authenticate_client(state, headers, &form)
        .await
        .map_err(|r| *r)?;
    check_rate(state, &client.id).map_err(|r| *r)?;
    check_known_parameters(state, &form).map_err(|r| *r)?;
    // RFC 6749 §3.2: parameters sent without a value are treated as omitted.
    let param = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    check_grant_type(state, param("grant_type")).map_err(|r| *r)?;
    check_client_grant(state, &client.id).map_err(|r| *r)?;
    let assertion = required_assertion(state, param("assertion")).map_err(|r| *r)?;
    // The DPoP proof before the ID-JAG, so that a retry with a nonce is not the ID-JAG's
    // second use.
    let proven = super::dpop::at_token_endpoint(state, headers, method.as_str(), |e, d| {
        bad_request(state, e, d)
    })
    .map_err(|r| *r)?;
    let cx = validate::Context {
        cfg: &state.cfg,
        cache: &state.cache,
        replay: &state.replay,
        busy: &state.busy,
        http: &state.http,
        client_id: &client.id,
        client_secret: &client.secret,
    };
    let grant = validate::validate(&cx, assertion)
        .await
        .map_err(|r| refused(state, r, assertion))?;
    let jkt =
        super::dpop::binding(state, &grant, proven).map_err(|r| refused(state, r, assertion))?;
    let (resources, resource_claim) =
        granted_resources(state, &grant, param("resource")).map_err(|r| *r)?;
    let granted = granted_scopes(state, &grant, param("scope")).map_err(|r| *r)?;
    // Under `scope-param-ignored-silently` the token carries the ID-JAG's whole scope.
    let carried = if has(Defect::ScopeParamIgnoredSilently) {
        granted_scopes(state, &grant, None).map_err(|r| *r)?
    } else {
        granted.clone()
    };
    let lifetime = state.cfg.token_lifetime_secs;
    let authorization_details = grant.authorization_details.clone();
    let access_token = issue(
        state,
        IssuedToken {
            user: grant.user,
            client_id: client.id,
            scopes: carried,
            resources,
            expires: Instant::now() + Duration::from_secs(lifetime),
            issued_at: crate::jose::mint::unix_now(),
            jkt: jkt.clone(),
        },
    );
    Ok(token_response(
        state,
        &access_token,
        lifetime,
        &granted,
        resource_claim,
        super::dpop::token_type(state, jkt.as_deref()),
        authorization_details,
    ))
}

/// The request parameters, each at most once (RFC 6749 §3.2: parameters MUST NOT be
/// included more than once; under `first-param-wins` the first of a repeated one is used, under
/// `last-param-wins` the last).
fn single_parameters(
    state: &RasState,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &str,
) -> Result<Vec<(String, String)>, Answer> {
    let mut form = parameters(state, method, headers, query, body)?;
    let mut seen = BTreeSet::new();
    if state.cfg.defects.contains(&Defect::FirstParamWins) {
        form.retain(|(k, _)| seen.insert(k.clone()));
    } else if state.cfg.defects.contains(&Defect::LastParamWins) {
        form.reverse();
        form.retain(|(k, _)| seen.insert(k.clone()));
        form.reverse();
    } else if let Some((dup, _)) = form.iter().find(|(k, _)| !seen.insert(k.clone())) {
        return Err(Box::new(bad_request(
            state,
            "invalid_request",
            &format!("parameter {dup} is repeated"),
        )));
    }
    Ok(form)
}

/// The client: by its assertion (`private_key_jwt`) when it sends one and no Authorization
/// header, otherwise by its secret.
async fn authenticate_client(
    state: &RasState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Authenticated, Answer> {
    match form.iter().find(|(k, _)| k == "client_assertion") {
        Some((_, ca)) if !headers.contains_key(header::AUTHORIZATION) => {
            authenticate_assertion(state, form, ca).await
        }
        _ => authenticate(state, headers, form),
    }
}

/// RFC 6585 §4: over the client's rate, 429 with Retry-After (whole seconds).
fn check_rate(state: &RasState, client_id: &str) -> Result<(), Answer> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    let Err(retry_after) = limiter.check(client_id, Instant::now()) else {
        return Ok(());
    };
    let mut resp = error_response(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "rate limit exceeded for this client",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    Err(Box::new(resp))
}

/// Under `reject-unknown-params`: a parameter this server does not know is refused (RFC 6749
/// §3.2 says to ignore it).
fn check_known_parameters(state: &RasState, form: &[(String, String)]) -> Result<(), Answer> {
    if state.cfg.defects.contains(&Defect::RejectUnknownParams)
        && let Some((k, _)) = form
            .iter()
            .find(|(k, _)| !KNOWN_PARAMS.contains(&k.as_str()))
    {
        return Err(Box::new(bad_request(
            state,
            "invalid_request",
            &format!("unknown parameter {k}"),
        )));
    }
    Ok(())
}

/// grant_type: required, the jwt-bearer grant (RFC 7523 §2.1).
fn check_grant_type(state: &RasState, grant_type: Option<&str>) -> Result<(), Answer> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    match grant_type {
        None if has(Defect::DefaultGrantType) => Ok(()),
        None => Err(Box::new(bad_request(
            state,
            "invalid_request",
            "grant_type is required",
        ))),
        Some(JWT_BEARER) => Ok(()),
        Some(g) if has(Defect::GrantTypePrefixMatch) && g.starts_with(JWT_BEARER) => Ok(()),
        Some(_) if has(Defect::HtmlErrorForUnknownGrant) => Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                Html("<html><body><h1>Bad Request</h1></body></html>"),
            )
                .into_response(),
        )),
        Some(other) => Err(Box::new(bad_request(
            state,
            "unsupported_grant_type",
            &format!("{other} is not supported"),
        ))),
    }
}

/// The client is enabled for the jwt-bearer grant (RFC 6749 §5.2 `unauthorized_client`).
fn check_client_grant(state: &RasState, client_id: &str) -> Result<(), Answer> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    if has(Defect::IgnoreClientGrants)
        || !state
            .cfg
            .clients_without_grant
            .iter()
            .any(|c| c == client_id)
    {
        return Ok(());
    }
    let error = if has(Defect::UnauthorizedClientAsInvalidGrant) {
        "invalid_grant"
    } else {
        "unauthorized_client"
    };
    Err(Box::new(bad_request(
        state,
        error,
        "this client is not enabled for the jwt-bearer grant",
    )))
}

/// assertion: required (RFC 7523 §2.1).
fn required_assertion<'f>(state: &RasState, assertion: Option<&'f str>) -> Result<&'f str, Answer> {
    if let Some(a) = assertion {
        return Ok(a);
    }
    if state
        .cfg
        .defects
        .contains(&Defect::ServerErrorOnMissingAssertion)
    {
        return Err(Box::new(error_response(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "assertion unwrap failed",
        )));
    }
    Err(Box::new(bad_request(
        state,
        "invalid_request",
        "assertion is required",
    )))
}

/// Resource: a `resource` parameter must stay within the ID-JAG's (RFC 8707 §2). Returns the
/// resources the token is restricted to and the `resource` of the response.
fn granted_resources(
    state: &RasState,
    grant: &validate::Grant,
    requested: Option<&str>,
) -> Result<(Vec<String>, Option<Value>), Answer> {
    let mut resources = grant.resources.clone();
    let mut resource_claim = grant.resource_claim.clone();
    if let Some(requested) = requested {
        if state.cfg.defects.contains(&Defect::ResourceParamOverrides) {
            resources = vec![requested.to_string()];
            resource_claim = Some(Value::String(requested.to_string()));
        } else if !grant.resources.is_empty() && !grant.resources.iter().any(|r| r == requested) {
            return Err(Box::new(bad_request(
                state,
                "invalid_target",
                &format!("resource {requested} is not in the ID-JAG"),
            )));
        }
    }
    Ok((resources, resource_claim))
}

/// Scope: at most what the ID-JAG grants (RFC 7521 §4.1), only scopes defined here; the
/// default scopes when neither names any (RFC 6749 §3.3).
fn granted_scopes(
    state: &RasState,
    grant: &validate::Grant,
    requested: Option<&str>,
) -> Result<Vec<String>, Answer> {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let requested: Option<Vec<String>> =
        requested
            .filter(|_| !has(Defect::IgnoreScopeParam))
            .map(|s| {
                s.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            });
    let mut granted: Vec<String> = match requested {
        // Under `grant-requested-scope-without-claim`: an ID-JAG without scope caps nothing,
        // and the scope asked for is granted as it is, defined here or not.
        Some(req) if grant.scopes.is_empty() && has(Defect::GrantRequestedScopeWithoutClaim) => {
            return Ok(req);
        }
        // MCP EMA §7.2.1: the intersection of the requested and the ID-JAG's scopes.
        Some(mut req)
            if state.cfg.intersect_requested_scope
                && !has(Defect::GrantRequestedScope)
                && !has(Defect::ScopeBeyondGrantRefused)
                && req.iter().any(|s| grant.scopes.contains(s)) =>
        {
            req.retain(|s| grant.scopes.contains(s));
            req
        }
        Some(req) => {
            if !has(Defect::GrantRequestedScope)
                && let Some(extra) = req.iter().find(|s| !grant.scopes.contains(s))
            {
                return Err(Box::new(bad_request(
                    state,
                    "invalid_scope",
                    &format!("scope {extra} exceeds the ID-JAG"),
                )));
            }
            req
        }
        None => grant.scopes.clone(),
    };
    if !has(Defect::GrantUndefinedScopes) {
        granted.retain(|s| state.cfg.scopes.contains(s));
    }
    if granted.is_empty() && grant.scopes.is_empty() {
        if has(Defect::ServerErrorWithoutScope) {
            return Err(Box::new(error_response(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "scope is null",
            )));
        }
        granted = state.cfg.default_scopes.clone();
    }
    Ok(granted)
}

/// Records `issued` under a fresh access token, for the resource API, and returns the token:
/// an opaque random string, or an RFC 9068 JWT when the reference issues those.
fn issue(state: &RasState, issued: IssuedToken) -> String {
    let jwt = state.at_key.as_ref().and_then(|key| {
        super::jwt_at::issue(
            key,
            &state.cfg.issuer,
            &state.cfg.resources,
            &issued,
            state.cfg.token_lifetime_secs,
            super::jwt_at::issuing(&state.cfg.defects),
        )
    });
    let access_token = jwt.unwrap_or_else(|| crate::fixture::Secret::random().expose().to_string());
    if let Ok(mut t) = state.tokens.lock() {
        // Expired tokens are dropped every 1024 issues: amortized, not a scan per request.
        if t.len() % 1024 == 1023 {
            let now = Instant::now();
            t.retain(|_, v| v.expires > now);
        }
        t.insert(access_token.clone(), issued);
    }
    access_token
}

/// The successful token response (RFC 6749 §5.1, ID-JAG §4.4), never cached.
fn token_response(
    state: &RasState,
    access_token: &str,
    lifetime: u64,
    granted: &[String],
    resource_claim: Option<Value>,
    token_type: &str,
    authorization_details: Option<Vec<Value>>,
) -> Response {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let mut body = json!({
        "access_token": access_token,
        "token_type": if has(Defect::TokenTypeNA) && token_type == "Bearer" { "N_A" } else { token_type },
    });
    if !has(Defect::NoExpiresIn) {
        body["expires_in"] = json!(lifetime);
    }
    if !granted.is_empty() && !has(Defect::OmitGrantedScope) {
        body["scope"] = json!(granted.join(" "));
    }
    if let Some(r) = resource_claim
        && !has(Defect::OmitGrantedResource)
    {
        body["resource"] = match r {
            Value::Array(many) if many.len() > 1 && has(Defect::ResourcesJoinedBySpaces) => {
                let joined: Vec<&str> = many.iter().filter_map(Value::as_str).collect();
                json!(joined.join(" "))
            }
            r => r,
        };
    }
    // The granted authorization details (ID-JAG §4.4.1, RFC 9396 §7).
    super::rar::respond(&state.cfg, &mut body, authorization_details);
    if has(Defect::SuccessWithErrorMember) {
        body["error"] = Value::Null;
    }
    if has(Defect::IssueRefreshToken) {
        body["refresh_token"] =
            Value::String(crate::fixture::Secret::random().expose().to_string());
    }
    let mut resp = Json(body).into_response();
    if !has(Defect::NoCacheControl) {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn refused(state: &RasState, r: Refusal, assertion: &str) -> Response {
    let description = if state.cfg.defects.contains(&Defect::EchoAssertionInErrors) {
        format!("{}: {assertion}", r.description)
    } else {
        r.description
    };
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    error_response(state, status, r.error, &description)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3, ID-JAG §7.2).
pub(crate) async fn metadata(State(state): State<Arc<RasState>>) -> Response {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let iss = &state.cfg.issuer;
    let mut doc = json!({
        "issuer": if has(Defect::MetadataIssuerSlash) { format!("{iss}/") } else { iss.clone() },
        "token_endpoint": state.cfg.token_endpoint,
        "grant_types_supported": if has(Defect::NoJwtBearerGrantType) { json!(["client_credentials"]) } else { json!([JWT_BEARER]) },
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": state.cfg.scopes,
        "introspection_endpoint": format!("{}/introspect", state.cfg.api_base),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    if state.at_key.is_some() {
        doc["jwks_uri"] = json!(format!("{}/jwks", state.cfg.api_base));
    }
    let profile = "urn:ietf:params:oauth:grant-profile:id-jag";
    if has(Defect::ProfilesAsString) {
        doc["authorization_grant_profiles_supported"] = json!(profile);
    } else if has(Defect::ProfilesListIssuers) {
        let issuers: Vec<&str> = state
            .cfg
            .trusted
            .iter()
            .map(|t| t.issuer.as_str())
            .collect();
        doc["authorization_grant_profiles_supported"] = json!([profile, issuers.join(" ")]);
    } else if !has(Defect::NoGrantProfile) {
        doc["authorization_grant_profiles_supported"] = json!([profile]);
    }
    Json(doc).into_response()
}

/// `GET /jwks`: the key that signs JWT access tokens (the metadata's `jwks_uri`); 404 when
/// the reference issues opaque ones.
pub(crate) async fn jwks(State(state): State<Arc<RasState>>) -> Response {
    match &state.at_key {
        Some(key) => Json(super::jwt_at::jwks(key)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET` or `POST /api/{resource}`: the resource API behind the issued access tokens
/// (RFC 6750). GET needs the read scope (`s.read`), POST the write scope (`s.write`); tokens restricted to resources work only
/// there. Answers who the token is for.
pub(crate) async fn resource_api(
    State(state): State<Arc<RasState>>,
    Path(name): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let has = |d: Defect| state.cfg.defects.contains(&d);
    let challenge = |status: StatusCode, error: Option<&str>| {
        let mut resp = status.into_response();
        let value = match error {
            Some(e) => format!("Bearer realm=\"xaa-reference\", error=\"{e}\""),
            None => "Bearer realm=\"xaa-reference\"".to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    // The header is the method resource servers MUST support (RFC 6750 §2.1); one method
    // at most (§2).
    let token = match super::bearer::presented(&method, &headers, query.as_deref(), &body) {
        super::bearer::Presented::Header(t) => t,
        // RFC 6750 §2.3 makes the query method optional; a server that takes it SHOULD
        // answer `Cache-Control: private`, which this one, under the defect, leaves out.
        super::bearer::Presented::Query(t) if has(Defect::ApiQueryTokenCacheable) => t,
        super::bearer::Presented::Several { header: Some(t) }
            if has(Defect::ApiAcceptsTwoTokenMethods) =>
        {
            t
        }
        super::bearer::Presented::Several { .. } => {
            return challenge(StatusCode::BAD_REQUEST, Some("invalid_request"));
        }
        // No token in the header: the query and body methods are not supported here.
        _ => {
            if has(Defect::ApiChallengeMissing) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            return challenge(StatusCode::UNAUTHORIZED, None);
        }
    };
    // A DPoP-bound token comes under the DPoP scheme (RFC 9449 §7.1).
    let dpop_scheme = super::dpop::authorization(&headers).is_some_and(|(_, dpop)| dpop);
    let url = format!("{}/api/{name}", state.cfg.api_base);
    let issued = state
        .tokens
        .lock()
        .ok()
        .and_then(|t| t.get(&token).cloned());
    // A JWT access token is verified from the token alone, as a resource server would.
    let issued = match &state.at_key {
        Some(key) => {
            let how = super::jwt_at::verifying(&state).await;
            super::jwt_at::verify(key, &state.cfg.issuer, &token, &how)
        }
        None => issued,
    };
    let issued = match issued {
        Some(t) if t.expires > Instant::now() => t,
        _ if has(Defect::ApiAcceptsAnyToken) => {
            return Json(
                json!({ "resource": url, "user": "unknown", "client_id": null, "scope": "" }),
            )
            .into_response();
        }
        _ => return challenge(StatusCode::UNAUTHORIZED, Some("invalid_token")),
    };
    if let Err(refused) = super::dpop::at_resource(
        &state,
        &headers,
        method.as_str(),
        &url,
        &token,
        dpop_scheme,
        issued.jkt.as_deref(),
    ) {
        return *refused;
    }
    if has(Defect::ApiRefusesRestrictedTokens) && !issued.resources.is_empty() {
        return challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"));
    }
    if !issued.resources.is_empty()
        && !issued.resources.contains(&url)
        && !has(Defect::UnrestrictedAccessTokens)
    {
        return challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"));
    }
    let needed = if method == Method::POST {
        &state.cfg.write_scope
    } else {
        &state.cfg.read_scope
    };
    if !issued.scopes.iter().any(|s| s == needed) && !has(Defect::ApiIgnoresScope) {
        return challenge(StatusCode::FORBIDDEN, Some("insufficient_scope"));
    }
    Json(json!({
        "resource": url,
        "user": issued.user,
        "client_id": issued.client_id,
        "scope": issued.scopes.join(" "),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_descriptions_stay_within_the_rfc_6749_charset() {
        let kept = "issuer https://idp/x is not trusted: kid 'k1' [a-z]~!";
        assert_eq!(super::within_error_charset(kept), kept);
        assert_eq!(
            super::within_error_charset("bad \"kid\" \\ é\n"),
            "bad 'kid' ? ??"
        );
        let out = super::within_error_charset("\"\\\u{7f}\t…");
        assert!(crate::oracle::classify::is_error_charset(&out), "{out}");
    }
}
