//! Single token requests outside goose, for the rate-limit probes, the replay race and the
//! conformance lane: a plain reqwest client, a few identities (client × issuer), an
//! open-model stream at a fixed rate, and the classification every load path shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::engine::{BODY_CAP, parse_retry_after, read_capped};
use super::jag::{JagFactory, JagKind, TokenForm};
use super::stats::Class;
use crate::fault::Fault;
use crate::oracle::{Outcome, classify_response};
use crate::protocol::RecordedResponse;

/// Who a request is from: a client with ID-JAGs from one issuer.
#[derive(Debug, Clone)]
pub struct Identity {
    /// A label for reports (`C1/A`, `C2/A`, `C1/B`).
    pub label: String,
    /// Mints this identity's ID-JAGs.
    pub jags: Arc<JagFactory>,
    /// How its client authenticates.
    pub form: TokenForm,
}

/// The answer to one probe request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Its class.
    pub class: Class,
    /// The HTTP status, when one came.
    pub status: Option<u16>,
    /// `Retry-After` in seconds on a 429 (`None`: absent or unparseable).
    pub retry_after: Option<u64>,
    /// Why it is in the error class, when it is.
    pub fault: Option<Fault>,
    /// When it was due, from the start of its stream.
    pub offset: Duration,
    /// From the intended send time to the end of the answer.
    pub latency: Duration,
}

/// Sends token requests with a plain reqwest client.
#[derive(Debug, Clone)]
pub struct Prober {
    http: reqwest::Client,
    endpoint: String,
    timeout: Duration,
    counter: Arc<std::sync::atomic::AtomicU64>,
}

pub use crate::jose::mint::unix_now;

impl Prober {
    /// A prober of `endpoint` whose requests give up after `timeout`.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("xaa-conform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Prober {
            http,
            endpoint: endpoint.to_string(),
            timeout,
            counter: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    /// A fresh ID-JAG of `kind` for `who`, issued now (its `jti` unique to this prober).
    pub fn mint(&self, who: &Identity, kind: JagKind) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        who.jags.mint(kind, n, unix_now(), None)
    }

    /// Sends `assertion` as `who`, timing from `due`.
    pub async fn send(
        &self,
        who: &Identity,
        assertion: &str,
        due: Instant,
        offset: Duration,
    ) -> Answer {
        self.exchange(who, assertion, due, offset, false).await.0
    }

    /// Sends `assertion` as `who` now, and keeps what the run's judge needs: the answer
    /// classified by the oracle, with its response (headers and body).
    pub async fn send_recorded(&self, who: &Identity, assertion: &str) -> (Answer, Outcome) {
        let (answer, recorded) = self
            .exchange(who, assertion, Instant::now(), Duration::ZERO, true)
            .await;
        let outcome = match recorded {
            Ok(r) => classify_response(&r),
            Err(reason) => Outcome::NoAnswer { reason },
        };
        (answer, outcome)
    }

    /// One request; with `record`, the response as the judge sees it (or why none came).
    async fn exchange(
        &self,
        who: &Identity,
        assertion: &str,
        due: Instant,
        offset: Duration,
        record: bool,
    ) -> (Answer, Result<RecordedResponse, String>) {
        let mut req = self
            .http
            .post(&self.endpoint)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .timeout(self.timeout)
            .body(who.form.body(assertion));
        if let Some(auth) = who.form.authorization() {
            req = req.header(reqwest::header::AUTHORIZATION, auth);
        }
        let mut recorded = Err("no answer".to_string());
        let (status, class, retry_after, fault) = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry = if status == 429 {
                    parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER))
                } else {
                    None
                };
                let headers: Vec<(String, Vec<u8>)> = if record {
                    resp.headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                        .collect()
                } else {
                    Vec::new()
                };
                match read_capped(resp, BODY_CAP).await {
                    Ok(b) => {
                        if record {
                            recorded = Ok(RecordedResponse::from_bytes(status, headers, &b));
                        }
                        let class = Class::of(Some(status), &b);
                        let fault = (class == Class::Error).then(|| Fault::of_answer(status, &b));
                        (Some(status), class, retry, fault)
                    }
                    Err(f) => {
                        recorded = Err(format!("HTTP {status}, then {}", f.label()));
                        (None, Class::Error, None, Some(f))
                    }
                }
            }
            Err(e) => {
                let f = Fault::of_request_error(&e);
                recorded = Err(if e.is_timeout() {
                    format!("no answer within {} s", self.timeout.as_secs_f64())
                } else {
                    format!("no answer ({}): {e}", f.label())
                });
                (None, Class::Error, None, Some(f))
            }
        };
        let answer = Answer {
            class,
            status,
            retry_after,
            fault,
            offset,
            latency: Instant::now().saturating_duration_since(due),
        };
        (answer, recorded)
    }

    /// Sends a fresh valid ID-JAG as `who`, now.
    pub async fn send_fresh(&self, who: &Identity) -> Answer {
        let jag = self.mint(who, JagKind::Valid);
        self.send(who, &jag, Instant::now(), Duration::ZERO).await
    }

    /// An open-model stream: `rate` fresh valid requests per second as `who` for `duration`,
    /// each started on schedule whatever the latency; stops early when `stop` is set.
    pub async fn stream(
        &self,
        who: &Identity,
        rate: f64,
        duration: Duration,
        stop: &AtomicBool,
    ) -> Vec<Answer> {
        self.stream_tagged(who, rate, duration, stop, |_| {
            ((), self.mint(who, JagKind::Valid))
        })
        .await
        .into_iter()
        .map(|((), a)| a)
        .collect()
    }

    /// The same open-model stream, the `i`th request's ID-JAG made by `next(i)` with a tag
    /// kept beside its answer (what kind of ID-JAG it was); in the order they were sent.
    pub async fn stream_tagged<T: Send + 'static>(
        &self,
        who: &Identity,
        rate: f64,
        duration: Duration,
        stop: &AtomicBool,
        mut next: impl FnMut(u64) -> (T, String),
    ) -> Vec<(T, Answer)> {
        let start = Instant::now();
        let n = (rate * duration.as_secs_f64()).ceil().max(0.0) as u64;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            if stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered() {
                break;
            }
            let offset = Duration::from_secs_f64(i as f64 / rate);
            let due = start + offset;
            let (tag, jag) = next(i);
            tokio::time::sleep_until(due.into()).await;
            let me = self.clone();
            let who = who.clone();
            tasks.spawn(async move { (tag, me.send(&who, &jag, due, offset).await) });
        }
        let mut out = join_until(tasks, stop).await;
        out.sort_by_key(|(_, a)| a.offset);
        out
    }
}

/// Resolves once `flag` is set or goose's killswitch tripped (Ctrl-C), polled every 50 ms:
/// a phase awaiting this beside its requests stops within that of the signal.
pub async fn until_set(flag: &AtomicBool) {
    while !(flag.load(Ordering::Relaxed) || goose::is_killswitch_triggered()) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The answers of `tasks` as they finish; once `stop` is set (or Ctrl-C) the requests still in
/// flight are cancelled, not awaited.
pub async fn join_until<T: 'static>(
    mut tasks: tokio::task::JoinSet<T>,
    stop: &AtomicBool,
) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                Some(Ok(a)) => out.push(a),
                Some(Err(_)) => {}
                None => break,
            },
            _ = until_set(stop) => {
                tasks.abort_all();
                break;
            }
        }
    }
    out
}

/// Counts per class of `answers`, in [`Class::ALL`] order.
pub fn class_counts(answers: &[Answer]) -> [u64; 4] {
    let mut c = [0u64; 4];
    for a in answers {
        c[a.class as usize] += 1;
    }
    c
}

/// Answers by status code as text, or by the cause when no HTTP answer came
/// (`head_timeout`, `connection_reset`, … of [`Fault::name`]).
pub fn status_counts(answers: &[Answer]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for a in answers {
        let k = match (a.status, a.fault) {
            (Some(s), _) => s.to_string(),
            (None, Some(f)) => f.name().to_string(),
            (None, None) => Fault::Other.name().to_string(),
        };
        *m.entry(k).or_default() += 1;
    }
    m
}
