//! The requesting app's HTTP side: token requests with client authentication, IdP calls,
//! and a record of every exchange with a curl reproduction whose secrets are redacted.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::fixture::{ClientAuthMethod, Secret};
use crate::report::model::{Exchange, RecordedRequest, RecordedResponse};

/// Largest response body read; a larger one is an ERROR, so memory stays bounded.
pub const BODY_CAP: usize = 1024 * 1024;

/// The grant type of an ID-JAG presentation (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What replaces a secret in reports and logs.
pub const REDACTED: &str = "[REDACTED]";

/// Client credentials and how to present them.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: Secret,
    /// Presentation method.
    pub method: ClientAuthMethod,
    /// Environment variable named in curl reproductions in place of the secret.
    pub secret_env: String,
}

/// An HTTP client with a per-request timeout and a body cap, never following redirects.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
}

/// `application/x-www-form-urlencoded` encoding of one component (RFC 6749 App. B).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl HttpClient {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let inner = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("xaa-conform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpClient { inner })
    }

    /// POSTs a form, authenticating with `creds` when given. `role` labels the exchange.
    pub async fn post_form(
        &self,
        role: &str,
        url: &str,
        params: &[(String, String)],
        creds: Option<&ClientCredentials>,
    ) -> Exchange {
        let mut params = params.to_vec();
        let mut headers = HeaderMap::new();
        let mut shown_headers = vec![(
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        )];
        let mut curl = format!("curl -sS -X POST {}", shell_quote(url));
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(c) = creds {
            secrets.push(c.secret.expose());
            match c.method {
                ClientAuthMethod::ClientSecretBasic => {
                    let pair = format!("{}:{}", form_encode(&c.id), form_encode(c.secret.expose()));
                    let value = format!("Basic {}", STANDARD.encode(pair));
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        headers.insert(reqwest::header::AUTHORIZATION, v);
                    }
                    shown_headers.push(("authorization".into(), format!("Basic {REDACTED}")));
                    curl.push_str(&format!(
                        " -u {}\"${}\"",
                        shell_quote(&format!("{}:", form_encode(&c.id))),
                        c.secret_env
                    ));
                }
                ClientAuthMethod::ClientSecretPost => {
                    params.push(("client_id".into(), c.id.clone()));
                    params.push(("client_secret".into(), c.secret.expose().to_string()));
                }
                ClientAuthMethod::None => params.push(("client_id".into(), c.id.clone())),
            }
        }
        let redact = |v: &str| {
            if secrets.contains(&v) {
                REDACTED.to_string()
            } else {
                v.to_string()
            }
        };
        let shown_body = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(&redact(v))))
            .collect::<Vec<_>>()
            .join("&");
        for (k, v) in &params {
            let value = if secrets.contains(&v.as_str()) {
                format!(
                    "{}=\"${}\"",
                    form_encode(k),
                    creds.map_or("", |c| c.secret_env.as_str())
                )
            } else {
                shell_quote(&format!("{k}={v}"))
            };
            curl.push_str(&format!(" --data-urlencode {value}"));
        }
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = RecordedRequest {
            method: "POST".into(),
            url: url.to_string(),
            headers: shown_headers,
            body: shown_body,
        };
        let rb = self
            .inner
            .post(url)
            .headers(headers)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
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

    async fn send(
        &self,
        role: &str,
        rb: reqwest::RequestBuilder,
        request: RecordedRequest,
        curl: String,
    ) -> Exchange {
        let started = Instant::now();
        let (response, error) = match rb.send().await {
            Err(e) => (None, Some(describe_error(&e))),
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut body = Vec::new();
                let mut error = None;
                loop {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => {
                            if body.len() + chunk.len() > BODY_CAP {
                                error = Some(format!(
                                    "response body over the {} KiB cap",
                                    BODY_CAP / 1024
                                ));
                                break;
                            }
                            body.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            error =
                                Some(format!("reading the body failed: {}", describe_error(&e)));
                            break;
                        }
                    }
                }
                match error {
                    Some(e) => (None, Some(format!("HTTP {status}, then {e}"))),
                    None => (
                        Some(RecordedResponse {
                            status,
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        }),
                        None,
                    ),
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
}

/// One line naming what went wrong, from the innermost cause.
fn describe_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "redirect error"
    } else if e.is_body() || e.is_decode() {
        "unreadable body"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    format!("{kind}: {cause}")
}
