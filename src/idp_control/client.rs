//! The run's side of the control API: one worker task sends the calls in the order they were
//! made, so that a reset a check's guard sends as it drops is applied before the next
//! check's condition.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{Audience, ControlState, HitsSince, JagAlg};
use crate::fixture::Secret;
use crate::jose::KeyAlg;
use crate::protocol::IdpCondition;

/// How long one control call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to the control API failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    /// No answer.
    #[error("the IdP control API at {url} did not answer: {why}")]
    Unreachable {
        /// The API's base URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The token was refused.
    #[error(
        "the IdP control API at {url} refused the token (HTTP {status}): give the token `idp serve` printed (idp.control.token_file)"
    )]
    Refused {
        /// The API's base URL.
        url: String,
        /// 401 or 403.
        status: u16,
    },
    /// Another status, or a body that is not what the API answers.
    #[error("the IdP control API at {url} answered {what}")]
    Answer {
        /// The API's base URL.
        url: String,
        /// What came back.
        what: String,
    },
    /// The worker that sends the calls is gone (the run is ending).
    #[error("the IdP control client has stopped")]
    Stopped,
}

struct Call {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    reply: Option<oneshot::Sender<Result<Value, ControlError>>>,
}

/// A running IdP's control API, as the run uses it.
#[derive(Clone)]
pub struct RemoteIdp {
    calls: mpsc::UnboundedSender<Call>,
}

/// The client and where to send: one call at a time.
struct Link {
    http: reqwest::Client,
    url: String,
    token: Secret,
}

impl Link {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ControlError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ControlError::Unreachable {
            url: self.url.clone(),
            why: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(ControlError::Refused {
                url: self.url.clone(),
                status,
            });
        }
        if status == 204 {
            return Ok(Value::Null);
        }
        if status != 200 {
            return Err(ControlError::Answer {
                url: self.url.clone(),
                what: format!("HTTP {status} to {path}"),
            });
        }
        resp.json().await.map_err(|e| ControlError::Answer {
            url: self.url.clone(),
            what: format!("a body that is not JSON to {path}: {e}"),
        })
    }
}

fn parse<T: DeserializeOwned>(url: &str, v: Value) -> Result<T, ControlError> {
    serde_json::from_value(v).map_err(|e| ControlError::Answer {
        url: url.to_string(),
        what: format!("an unexpected body: {e}"),
    })
}

fn json<T: Serialize>(v: &T) -> Option<Value> {
    serde_json::to_value(v).ok()
}

impl RemoteIdp {
    /// Connects to the control API at `url` with `token`: reads its state (a refused token is
    /// [`ControlError::Refused`]) and starts the worker that sends the calls in order.
    pub async fn connect(url: &str, token: Secret) -> Result<(Self, ControlState), ControlError> {
        let url = url.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ControlError::Unreachable {
                url: url.clone(),
                why: e.to_string(),
            })?;
        let link = Link { http, url, token };
        let state: ControlState = parse(
            &link.url,
            link.call(reqwest::Method::GET, "/state", None).await?,
        )?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                let r = link.call(c.method, &c.path, c.body.as_ref()).await;
                match c.reply {
                    Some(reply) => {
                        let _ = reply.send(r);
                    }
                    None => {
                        if let Err(e) = r {
                            tracing::warn!("{e}");
                        }
                    }
                }
            }
        });
        Ok((RemoteIdp { calls: tx }, state))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: String,
        body: Option<Value>,
    ) -> Result<Value, ControlError> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(Call {
                method,
                path,
                body,
                reply: Some(reply),
            })
            .map_err(|_| ControlError::Stopped)?;
        answer.await.map_err(|_| ControlError::Stopped)?
    }

    /// The requests after the `since`th and the log's current end.
    pub async fn hits_since(&self, since: usize) -> Result<HitsSince, ControlError> {
        let v = self
            .call(reqwest::Method::GET, format!("/hits?since={since}"), None)
            .await?;
        parse("the IdP control API", v)
    }

    /// Serves `condition` from when this returns.
    pub async fn set_condition(&self, condition: IdpCondition) -> Result<(), ControlError> {
        self.call(reqwest::Method::PUT, "/condition".into(), json(&condition))
            .await
            .map(drop)
    }

    /// Restores the normal IdP, in order with the other calls (not awaited: a guard's drop
    /// sends it).
    pub fn reset(&self) {
        let _ = self.calls.send(Call {
            method: reqwest::Method::DELETE,
            path: "/condition".into(),
            body: None,
            reply: None,
        });
    }

    /// Lets the IdP issue ID-JAGs for `audience`, naming the requesting app `client_id` there.
    pub async fn register_audience(
        &self,
        audience: &str,
        client_id: &str,
    ) -> Result<(), ControlError> {
        let body = json(&Audience {
            audience: audience.into(),
            client_id: client_id.into(),
        });
        self.call(reqwest::Method::PUT, "/audience".into(), body)
            .await
            .map(drop)
    }

    /// Signs the token exchange's ID-JAGs with `alg` from now on.
    pub async fn set_jag_alg(&self, alg: KeyAlg) -> Result<(), ControlError> {
        self.call(
            reqwest::Method::PUT,
            "/jag-alg".into(),
            json(&JagAlg { alg }),
        )
        .await
        .map(drop)
    }

    /// Waits until every call sent so far has been answered (the last reset included).
    pub async fn flush(&self) {
        let _ = self.hits_since(usize::MAX).await;
    }
}
