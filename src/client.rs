//! The requesting app's HTTP side: token requests with client authentication, IdP calls,
//! and a record of every exchange with a curl reproduction whose secrets are redacted.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::fixture::{ClientAuthMethod, Secret};
use crate::protocol::{Exchange, RecordedRequest, RecordedResponse};

pub use crate::protocol::{AuthMethod, HttpMethod, JWT_BEARER};

/// Largest response body read; a larger one is an ERROR, so memory stays bounded.
pub const BODY_CAP: usize = 1024 * 1024;

/// What replaces a secret in reports and logs.
pub const REDACTED: &str = "[REDACTED]";

impl From<ClientAuthMethod> for AuthMethod {
    fn from(m: ClientAuthMethod) -> Self {
        match m {
            ClientAuthMethod::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost => AuthMethod::ClientSecretPost,
            ClientAuthMethod::None => AuthMethod::None,
        }
    }
}

/// Client credentials and how to present them.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: Secret,
    /// Presentation method.
    pub method: AuthMethod,
    /// Environment variable named in curl reproductions in place of the secret.
    pub secret_env: String,
}

/// A token-endpoint request: parameters, credentials and how they travel.
#[derive(Debug, Clone, Default)]
pub struct FormRequest {
    /// Parameters in order (repeats allowed).
    pub params: Vec<(String, String)>,
    /// Client credentials, if any.
    pub auth: Option<ClientCredentials>,
    /// `Content-Type` instead of `application/x-www-form-urlencoded`.
    pub content_type: Option<String>,
    /// POST (default) or GET.
    pub method: HttpMethod,
    /// Send the parameters as a JSON object instead of a form.
    pub json_body: bool,
    /// Extra request headers (a `DPoP` proof, RFC 9449 §4.1), shown in the record and the
    /// curl reproduction as they are.
    pub headers: Vec<(String, String)>,
}

/// An HTTP client with a per-request timeout and a body cap, never following redirects.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// Spaces requests to the RAS under its declared `max_rate`, when it has one.
    pacer: Option<std::sync::Arc<Pacer>>,
    /// Requests to URLs under this prefix (the fake IdP) are not paced.
    unpaced_prefix: Option<String>,
    /// Retries after a 429 before the exchange is given up as rate-limited.
    retries: u32,
    /// Each request's total deadline: connect, response head and body together.
    timeout: Duration,
}

/// `application/x-www-form-urlencoded` encoding of one component (RFC 6749 App. B).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Why the HTTP client could not be built (its TLS backend or settings were refused).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

impl HttpClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, ClientBuildError> {
        Self::trusting(timeout, Vec::new())
    }

    /// Like [`HttpClient::new`], also trusting the certificate authorities `extra_roots` (the
    /// fake IdP's own CA when it serves HTTPS, the target's `ca_file`); certificates are
    /// always verified.
    pub fn trusting(
        timeout: Duration,
        extra_roots: Vec<reqwest::Certificate>,
    ) -> Result<Self, ClientBuildError> {
        let mut builder = reqwest::Client::builder();
        for ca in extra_roots {
            builder = builder.add_root_certificate(ca);
        }
        // The total deadline and the wait for the head are the client's own (see `receive`),
        // so that a timeout says where it struck. reqwest's connect timeout ends a connect
        // (TCP and TLS) that takes the whole deadline just before the deadline does, so that
        // it is told as a connect timeout.
        let inner = builder
            .connect_timeout(connect_limit(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("xaa-conform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientBuildError)?;
        Ok(HttpClient {
            inner,
            pacer: None,
            unpaced_prefix: None,
            retries: crate::pace::MAX_RETRIES,
            timeout,
        })
    }

    /// The same client, starting at most `max_rate` requests per second (shared by every
    /// clone), except to URLs under `unpaced_prefix` (the fake IdP, which is the suite's own).
    pub fn paced(mut self, max_rate: Option<f64>, unpaced_prefix: Option<String>) -> Self {
        self.pacer = max_rate.map(|r| std::sync::Arc::new(Pacer::new(r)));
        self.unpaced_prefix = unpaced_prefix;
        self
    }

    /// For a race of `n` requests that must leave together: waits until `n` consecutive
    /// slots of the pace are free and takes them all, then returns this client unpaced, so
    /// that the `n` requests are released at once while the average rate stays under
    /// `max_rate` (the next paced request waits for the slot after the burst's last).
    pub async fn burst(&self, n: u32) -> Self {
        if let Some(p) = &self.pacer {
            p.wait_burst(n).await;
        }
        HttpClient {
            pacer: None,
            ..self.clone()
        }
    }

    /// The same client with `retries` retries after a 429 (default [`crate::pace::MAX_RETRIES`]).
    pub fn with_429_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// POSTs a form, authenticating with `creds` when given. `role` labels the exchange.
    pub async fn post_form(
        &self,
        role: &str,
        url: &str,
        params: &[(String, String)],
        creds: Option<&ClientCredentials>,
    ) -> Exchange {
        let req = FormRequest {
            params: params.to_vec(),
            auth: creds.cloned(),
            ..Default::default()
        };
        self.token_request(role, url, &req).await
    }

    /// Sends a token-endpoint request as described, recording it with secrets redacted and a
    /// curl command that repeats it.
    pub async fn token_request(&self, role: &str, url: &str, req: &FormRequest) -> Exchange {
        let mut params = req.params.clone();
        let mut headers = HeaderMap::new();
        let mut shown_headers = Vec::new();
        let mut curl_auth = String::new();
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(c) = &req.auth {
            secrets.push(c.secret.expose());
            let basic = matches!(
                c.method,
                AuthMethod::ClientSecretBasic | AuthMethod::BasicAndPost
            );
            let post = matches!(
                c.method,
                AuthMethod::ClientSecretPost | AuthMethod::BasicAndPost
            );
            if basic {
                let pair = format!("{}:{}", form_encode(&c.id), form_encode(c.secret.expose()));
                if let Ok(v) = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair))) {
                    headers.insert(reqwest::header::AUTHORIZATION, v);
                }
                shown_headers.push(("authorization".into(), format!("Basic {REDACTED}")));
                curl_auth = format!(
                    " -u {}\"${}\"",
                    shell_quote(&format!("{}:", form_encode(&c.id))),
                    c.secret_env
                );
            }
            if post {
                params.push(("client_id".into(), c.id.clone()));
                params.push(("client_secret".into(), c.secret.expose().to_string()));
            }
            if c.method == AuthMethod::None {
                params.push(("client_id".into(), c.id.clone()));
            }
        }
        for (name, value) in &req.headers {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
                shown_headers.push((name.to_ascii_lowercase(), value.clone()));
                curl_auth.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
            }
        }
        let secret_env = req.auth.as_ref().map_or("", |c| c.secret_env.as_str());
        let is_secret = |v: &str| secrets.contains(&v);
        let encode = |redact: bool| {
            params
                .iter()
                .map(|(k, v)| {
                    let v = if redact && is_secret(v) {
                        REDACTED
                    } else {
                        v.as_str()
                    };
                    format!("{}={}", form_encode(k), form_encode(v))
                })
                .collect::<Vec<_>>()
                .join("&")
        };
        let json = |redact: bool| {
            let mut m = serde_json::Map::new();
            for (k, v) in &params {
                let v = if redact && is_secret(v) {
                    REDACTED
                } else {
                    v.as_str()
                };
                m.insert(k.clone(), serde_json::Value::String(v.to_string()));
            }
            serde_json::Value::Object(m).to_string()
        };
        let content_type = req.content_type.clone().unwrap_or_else(|| {
            if req.json_body {
                "application/json".into()
            } else {
                "application/x-www-form-urlencoded".into()
            }
        });

        let (rb, shown_url, shown_body, curl) = match req.method {
            HttpMethod::Get => {
                let full = if params.is_empty() {
                    url.to_string()
                } else {
                    format!("{url}?{}", encode(false))
                };
                let shown = if params.is_empty() {
                    url.to_string()
                } else {
                    format!("{url}?{}", encode(true))
                };
                let curl_url = shown.replace(REDACTED, &format!("${secret_env}"));
                let curl = format!("curl -sS -G {}{curl_auth}", shell_quote(&curl_url));
                (
                    self.inner.get(full).headers(headers),
                    shown,
                    String::new(),
                    curl,
                )
            }
            body_method => {
                shown_headers.insert(0, ("content-type".to_string(), content_type.clone()));
                let mut curl = format!(
                    "curl -sS -X {} {}{curl_auth}",
                    body_method.as_str(),
                    shell_quote(url)
                );
                let (body, shown) = if req.json_body {
                    (json(false), json(true))
                } else {
                    (encode(false), encode(true))
                };
                if req.json_body || req.content_type.is_some() {
                    curl.push_str(&format!(
                        " -H {}",
                        shell_quote(&format!("content-type: {content_type}"))
                    ));
                    curl.push_str(&format!(" --data-raw {}", shell_quote(&shown)));
                    if shown.contains(REDACTED) {
                        curl.push_str(&format!("  # replace {REDACTED} with ${secret_env}"));
                    }
                } else {
                    for (k, v) in &params {
                        let value = if is_secret(v) {
                            format!("{}=\"${secret_env}\"", form_encode(k))
                        } else {
                            shell_quote(&format!("{k}={v}"))
                        };
                        curl.push_str(&format!(" --data-urlencode {value}"));
                    }
                }
                let rb = self
                    .inner
                    .request(wire_method(body_method), url)
                    .headers(headers)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body);
                (rb, url.to_string(), shown, curl)
            }
        };
        let request = RecordedRequest {
            method: req.method.as_str().into(),
            url: shown_url,
            headers: shown_headers,
            body: shown_body,
        };
        self.send(role, rb, request, curl).await
    }

    /// Calls a resource API with an optional Bearer token (RFC 6750 §2.1).
    pub async fn bearer_request(
        &self,
        role: &str,
        method: HttpMethod,
        url: &str,
        token: Option<&str>,
    ) -> Exchange {
        let auth = token.map(|t| format!("Bearer {t}"));
        self.authorized_request(role, method, url, auth.as_deref(), &[])
            .await
    }

    /// Calls a resource API with an optional `Authorization` value (`Bearer …`, `DPoP …`,
    /// RFC 9449 §7.1) and extra headers (a `DPoP` proof).
    pub async fn authorized_request(
        &self,
        role: &str,
        method: HttpMethod,
        url: &str,
        authorization: Option<&str>,
        extra: &[(String, String)],
    ) -> Exchange {
        let (mut rb, name) = (
            self.inner.request(wire_method(method), url),
            method.as_str(),
        );
        let mut shown_headers = Vec::new();
        let mut curl = format!("curl -sS -X {name} {}", shell_quote(url));
        let auth = authorization.map(|a| ("Authorization".to_string(), a.to_string()));
        for (k, v) in auth.iter().chain(extra) {
            shown_headers.push((k.to_ascii_lowercase(), v.clone()));
            curl.push_str(&format!(" -H {}", shell_quote(&format!("{k}: {v}"))));
            rb = rb.header(k.as_str(), v.as_str());
        }
        let request = RecordedRequest {
            method: name.into(),
            url: url.to_string(),
            headers: shown_headers,
            body: String::new(),
        };
        self.send(role, rb, request, curl).await
    }

    /// Calls a resource API with `token` sent as `token_in` says (RFC 6750 §2): the
    /// `Authorization: Bearer` header, the `access_token` query parameter, the `access_token`
    /// form body parameter, or the header and one of the others at once.
    pub async fn api_request(
        &self,
        role: &str,
        method: HttpMethod,
        url: &str,
        token: &str,
        token_in: crate::scenario::TokenIn,
    ) -> Exchange {
        use crate::scenario::TokenIn;
        let in_header = matches!(
            token_in,
            TokenIn::Header | TokenIn::HeaderAndQuery | TokenIn::HeaderAndBody
        );
        let in_query = matches!(token_in, TokenIn::Query | TokenIn::HeaderAndQuery);
        let in_body = matches!(token_in, TokenIn::Body | TokenIn::HeaderAndBody);
        let mut target = url.to_string();
        if in_query && let Ok(mut u) = url::Url::parse(url) {
            u.query_pairs_mut().append_pair("access_token", token);
            target = u.to_string();
        }
        let name = method.as_str();
        let mut rb = self.inner.request(wire_method(method), &target);
        let mut shown_headers = Vec::new();
        let mut curl = format!("curl -sS -X {name} {}", shell_quote(&target));
        if in_header {
            shown_headers.push(("authorization".to_string(), format!("Bearer {token}")));
            curl.push_str(&format!(
                " -H {}",
                shell_quote(&format!("Authorization: Bearer {token}"))
            ));
            rb = rb.bearer_auth(token);
        }
        let mut body = String::new();
        if in_body {
            body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("access_token", token)
                .finish();
            shown_headers.push((
                "content-type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ));
            curl.push_str(&format!(" --data {}", shell_quote(&body)));
            rb = rb
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body.clone());
        }
        let request = RecordedRequest {
            method: name.into(),
            url: target,
            headers: shown_headers,
            body,
        };
        self.send(role, rb, request, curl).await
    }

    /// GETs a URL (redirects are not followed: a 302 is the answer).
    pub async fn get(&self, role: &str, url: &str) -> Exchange {
        let request = RecordedRequest {
            method: "GET".into(),
            url: url.to_string(),
            headers: vec![],
            body: String::new(),
        };
        let curl = format!("curl -sS {}", shell_quote(url));
        self.send(role, self.inner.get(url), request, curl).await
    }

    /// Sends one request under the pace and the 429 policy (see [`crate::pace`]): a 429 is
    /// waited out and the same request sent again, at most `retries` times; a 429 after that
    /// is no usable answer, and the error names every wait.
    async fn send(
        &self,
        role: &str,
        rb: reqwest::RequestBuilder,
        request: RecordedRequest,
        curl: String,
    ) -> Exchange {
        let started = Instant::now();
        let pacer = self.pacer.as_deref().filter(|_| {
            !self
                .unpaced_prefix
                .as_deref()
                .is_some_and(|p| request.url.starts_with(p))
        });
        let mut rb = rb;
        let mut waits: Vec<String> = Vec::new();
        let (response, error) = loop {
            let again = rb.try_clone();
            if let Some(p) = pacer {
                p.wait().await;
            }
            let (response, error) = self.receive(rb).await;
            let Some(resp) = response.as_ref().filter(|r| r.status == 429) else {
                break (response, error);
            };
            let retry_after = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                .map(|(_, v)| v.as_str());
            let (wait, note) = crate::pace::retry_wait(retry_after, std::time::SystemTime::now());
            waits.push(note);
            match again {
                Some(next) if waits.len() <= self.retries as usize => {
                    tokio::time::sleep(wait).await;
                    rb = next;
                }
                _ if self.retries == 0 => break (response, error),
                _ => {
                    break (
                        None,
                        Some(format!(
                            "{}: 429 on {} tries ({}); set max_rate in the target file",
                            crate::pace::RATE_LIMITED,
                            waits.len(),
                            waits.join("; ")
                        )),
                    );
                }
            }
        };
        Exchange {
            role: role.to_string(),
            request,
            response,
            error,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
            curl,
        }
    }

    /// One request and its answer read under the body cap and the request's total deadline,
    /// or why there is none, saying where it broke off: connect, the wait for the response
    /// head, or the body (stalled or still arriving at the deadline).
    async fn receive(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> (Option<RecordedResponse>, Option<String>) {
        let limit = self.timeout;
        let started = tokio::time::Instant::now();
        let deadline = started + limit;
        let mut resp = match tokio::time::timeout_at(deadline, rb.send()).await {
            Err(_) => {
                return (
                    None,
                    Some(format!("no response head within {}", secs(limit))),
                );
            }
            Ok(Err(e)) => return (None, Some(describe_error(&e, limit))),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
            .collect();
        let length = resp.content_length();
        let head_at = tokio::time::Instant::now();
        let mut last_byte = head_at;
        let mut body = Vec::new();
        let error = loop {
            match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    if body.len() + chunk.len() > BODY_CAP {
                        break Some(format!(
                            "the response body is over the {} KiB cap",
                            BODY_CAP / 1024
                        ));
                    }
                    body.extend_from_slice(&chunk);
                    last_byte = tokio::time::Instant::now();
                }
                Ok(Ok(None)) => break None,
                Ok(Err(e)) => {
                    break Some(format!(
                        "reading the body failed after {}: {}",
                        received(body.len(), length),
                        describe_body_error(&e)
                    ));
                }
                Err(_) => {
                    let now = tokio::time::Instant::now();
                    let quiet = now - last_byte;
                    // Stalled: nothing for at least half the time the body had.
                    break Some(if quiet * 2 >= now - head_at {
                        format!(
                            "the body stalled: no byte for {} ({}) when the {} total deadline \
                             passed",
                            secs(quiet),
                            received(body.len(), length),
                            secs(limit)
                        )
                    } else {
                        format!(
                            "the body still arriving after the {} total deadline ({})",
                            secs(limit),
                            received(body.len(), length)
                        )
                    });
                }
            }
        };
        match error {
            Some(e) => (None, Some(format!("HTTP {status}, then {e}"))),
            None => (
                Some(RecordedResponse::from_bytes(status, headers, &body)),
                None,
            ),
        }
    }
}

/// What broke a body off: bad chunked encoding, or the innermost cause (a reset, the
/// connection closed before the `Content-Length` was reached, …).
fn describe_body_error(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    if text.contains("chunk") {
        format!("bad chunked encoding: {text}")
    } else {
        text
    }
}

/// The connect limit for a total deadline of `timeout`: a little less, so that a connect
/// that takes it all is told as a connect timeout, not as a missing response head.
fn connect_limit(timeout: Duration) -> Duration {
    timeout.saturating_sub((timeout / 20).min(Duration::from_millis(50)))
}

/// A duration as said in messages, to a tenth of a second: `5 s`, `0.5 s`.
fn secs(d: Duration) -> String {
    let tenths = (d.as_secs_f64() * 10.0).round() / 10.0;
    format!("{tenths} s")
}

/// How much of the body came: `10 of 200 bytes`, `3 bytes`.
fn received(got: usize, length: Option<u64>) -> String {
    match length {
        Some(n) => format!("{got} of {n} bytes"),
        None => format!("{got} bytes"),
    }
}

/// One line naming what went wrong and where: the cause as `load` counts it
/// ([`Fault::of_request_error`](crate::fault::Fault::of_request_error)), in words that keep
/// the detail a reader needs (the address and limit of a connect, hyper's words for a
/// malformed head, a bad body framing).
fn describe_error(e: &reqwest::Error, limit: Duration) -> String {
    use crate::fault::Fault;
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    let place = || {
        e.url()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "the server".into())
    };
    match Fault::of_request_error(e) {
        Fault::ConnectTimeout => {
            format!("connect to {} timed out after {}", place(), secs(limit))
        }
        _ if e.is_connect() => format!("connection failed: connect to {}: {text}", place()),
        Fault::HeadTimeout => format!("timed out after {}: {text}", secs(limit)),
        Fault::MalformedHead if text == "message head is too large" => {
            "the response head is over the client's size limit (message head is too large)".into()
        }
        Fault::MalformedHead => format!("the response head is malformed: {text}"),
        Fault::ConnectionReset if text == "connection closed before message completed" => {
            "the server closed the connection before a complete response head".into()
        }
        _ if text.contains("chunk") => format!("bad chunked encoding: {text}"),
        Fault::Redirect => format!("redirect error: {text}"),
        _ if e.is_body() || e.is_decode() => format!("unreadable body: {text}"),
        _ => format!("request failed: {text}"),
    }
}

/// Spaces requests so that they start at most `rate` per second, across every task that
/// shares it. The first request goes at once; each later one waits for its slot.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    /// A pacer for `rate` requests per second (`rate` > 0).
    pub fn new(rate: f64) -> Self {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / rate.max(f64::MIN_POSITIVE)),
            next: tokio::sync::Mutex::new(None),
        }
    }

    /// The time between two request starts.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for a burst of `n` requests sent at once: `n` − 1 slots of silence after this
    /// caller's slot (a token bucket of one second's depth is full again), then the burst,
    /// then `n` slots before the next caller (a one-second window holds no more than `n`).
    /// The average stays under the rate.
    pub async fn wait_burst(&self, n: u32) {
        let n = n.max(1);
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = next.map_or(now, |t| (t + self.interval * (n - 1)).max(now));
            *next = Some(slot + self.interval * n);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Waits until this caller's slot; slots are handed out in call order.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The reqwest method of `m`.
fn wire_method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_said_to_a_tenth_of_a_second() {
        assert_eq!(secs(Duration::from_secs(5)), "5 s");
        assert_eq!(secs(Duration::from_millis(990)), "1 s");
        assert_eq!(secs(Duration::from_millis(500)), "0.5 s");
        assert_eq!(received(10, Some(200)), "10 of 200 bytes");
        assert_eq!(received(3, None), "3 bytes");
    }

    #[test]
    fn a_connect_ends_just_before_the_total_deadline() {
        assert_eq!(
            connect_limit(Duration::from_secs(5)),
            Duration::from_millis(4950)
        );
        assert_eq!(
            connect_limit(Duration::from_millis(100)),
            Duration::from_millis(95)
        );
    }
}
