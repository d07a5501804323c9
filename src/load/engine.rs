//! The load engine: goose, embedded as a library, driven by our own open-model schedule.
//!
//! A ticket scheme turns goose's closed model (a fixed number of users) into an arrival rate:
//! an atomic counter hands out request indices; each goose user, in one long transaction,
//! takes the next index, mints that request's ID-JAG (issued at its intended second), sleeps
//! until the intended send time, sends, classes the answer and records a [`Sample`] whose
//! latency runs **from the intended time** (no coordinated omission). Users loop until the
//! schedule is exhausted, so goose ends the run by itself when they all exit (`iterations` =
//! 1; goose does not reset metrics in that mode).
//!
//! Lateness is measured per send: a send more than [`LATE_BOUND`] after its intended time is
//! *late*; a request whose intended time passes more than [`DROP_GRACE`] beyond the end of the
//! schedule before a user could take it is *dropped* (not sent). The generator is **invalid**
//! (its figures describe the generator, not the server) when late plus dropped requests exceed
//! [`MAX_LATE_SHARE`] of those planned, or when fewer than [`MIN_START_SHARE`] of the planned
//! requests were started; too few users for the server's latency and CPU-bound minting both
//! show up this way.
//!
//! goose's own stdout ("N users launched.") is silenced while it runs.
//!
//! Ctrl-C: goose installs its own handler, which trips its killswitch; users see it (or our own
//! stop flag) between requests and stop, goose returns, and the caller writes the partial
//! report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use goose::config::GooseConfiguration;
use goose::prelude::*;
use hdrhistogram::Histogram;

use super::jag::{JagFactory, JagKind, TokenForm};
use super::schedule::Schedule;
use super::stats::{Class, LoadStats, Sample};
use crate::fault::Fault;

/// A send more than this after its intended time is late.
pub const LATE_BOUND: Duration = Duration::from_millis(10);
/// A request not sent by this long after the end of the schedule is dropped.
pub const DROP_GRACE: Duration = Duration::from_secs(1);
/// The generator is invalid when more than this share of planned requests was late or dropped.
pub const MAX_LATE_SHARE: f64 = 0.01;
/// The generator is invalid when it started fewer than this share of the planned requests.
pub const MIN_START_SHARE: f64 = 0.95;
/// How long users are given to start before the schedule's time zero.
const START_LEAD: Duration = Duration::from_millis(250);
/// Largest response body read under load (the engine's and the probes').
pub const BODY_CAP: usize = 64 * 1024;
/// Most HTTP clients the users get (more users share them).
const CLIENTS: usize = 256;
/// Longest single sleep, so a stop is noticed quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// Users enough for `rate` requests per second at up to 100 ms latency, within 16..=2000.
pub fn default_users(peak_rate: f64) -> usize {
    ((peak_rate * 0.1).ceil() as usize).clamp(16, 2000)
}

/// Told about the run about once a second.
pub type TickFn = Arc<dyn Fn(&Live) + Send + Sync>;

/// What the engine is asked to run.
#[derive(Clone)]
pub struct EngineConfig {
    /// The token endpoint URL.
    pub token_endpoint: String,
    /// When each request is due.
    pub schedule: Schedule,
    /// goose users (concurrent requests at most).
    pub users: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Mints the ID-JAGs.
    pub jags: Arc<JagFactory>,
    /// How the client authenticates.
    pub form: TokenForm,
    /// Send one ID-JAG for every request instead of a fresh one each.
    pub reuse_assertion: bool,
    /// Share (0–1) of requests carrying an invalid ID-JAG (expired, wrong aud, bad signature).
    pub invalid_share: f64,
    /// Set to stop the run early (the caller's own Ctrl-C handling, tests).
    pub stop: Arc<AtomicBool>,
    /// Called about once a second with the run so far (the live progress line).
    pub on_tick: Option<TickFn>,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("token_endpoint", &self.token_endpoint)
            .field("schedule", &self.schedule.to_string())
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

/// The run so far, for the progress line.
#[derive(Debug, Clone)]
pub struct Live {
    /// Time since the schedule's start.
    pub elapsed: Duration,
    /// Requests sent.
    pub sent: u64,
    /// Requests planned.
    pub planned: u64,
    /// Sends per second over the last tick.
    pub rate: f64,
    /// p99 latency (µs) of the accepted requests of the last tick.
    pub p99_us: Option<u64>,
    /// Counts per class, in [`Class::ALL`] order.
    pub classes: [u64; 4],
    /// Late sends so far.
    pub late: u64,
}

/// How the generator kept its schedule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generator {
    /// Requests the schedule planned.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Sent more than [`LATE_BOUND`] after their intended time.
    pub late: u64,
    /// Not sent by [`DROP_GRACE`] after the schedule's end.
    pub dropped: u64,
    /// Not sent because the run was stopped (Ctrl-C).
    pub cancelled: u64,
    /// Largest lateness of a send, µs.
    pub max_late_us: u64,
    /// Whether the figures describe the server (see the module docs for the rule).
    pub valid: bool,
    /// Why not, when invalid.
    pub reason: Option<String>,
}

impl Generator {
    /// Applies the validity rule of the module docs.
    pub fn judge(mut self) -> Self {
        let considered = self.planned.saturating_sub(self.cancelled);
        if considered == 0 {
            // Stopped before anything was due: nothing to judge.
            self.valid = true;
            self.reason = None;
            return self;
        }
        let considered = considered as f64;
        let late_share = (self.late + self.dropped) as f64 / considered;
        let started = self.sent as f64 / considered;
        self.reason = if started < MIN_START_SHARE {
            Some(format!(
                "the generator started only {:.1} % of the planned requests ({} dropped): \
                 too few users for the server's latency (raise --users) or not enough CPU",
                started * 100.0,
                self.dropped
            ))
        } else if late_share > MAX_LATE_SHARE {
            Some(format!(
                "{:.1} % of the requests were sent more than {} ms late (at most {:.1} ms): \
                 too few users for the server's latency (raise --users) or CPU-bound minting",
                late_share * 100.0,
                LATE_BOUND.as_millis(),
                self.max_late_us as f64 / 1000.0
            ))
        } else {
            None
        };
        self.valid = self.reason.is_none();
        self
    }
}

/// Retry-After on 429 answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryAfterTally {
    /// 429s with a parseable `Retry-After`.
    pub seen: u64,
    /// 429s without one (or with one that does not parse).
    pub missing: u64,
    /// Smallest value seen, seconds.
    pub min_secs: Option<u64>,
    /// Largest value seen, seconds.
    pub max_secs: Option<u64>,
    /// The header values as written, with how often each came (see
    /// [`crate::pace::RetryAfterValues`]).
    pub values: crate::pace::RetryAfterValues,
}

impl RetryAfterTally {
    /// Counts one 429's `Retry-After` header (`None`: absent).
    pub fn record(&mut self, header: Option<&reqwest::header::HeaderValue>) {
        match parse_retry_after(header) {
            Some(v) => {
                self.seen += 1;
                self.min_secs = Some(self.min_secs.map_or(v, |m| m.min(v)));
                self.max_secs = Some(self.max_secs.map_or(v, |m| m.max(v)));
            }
            None => self.missing += 1,
        }
        if let Some(h) = header {
            self.values.add(&String::from_utf8_lossy(h.as_bytes()), 1);
        }
    }

    fn merge(&mut self, o: &RetryAfterTally) {
        self.seen += o.seen;
        self.missing += o.missing;
        for v in [o.min_secs, o.max_secs].into_iter().flatten() {
            self.min_secs = Some(self.min_secs.map_or(v, |m| m.min(v)));
            self.max_secs = Some(self.max_secs.map_or(v, |m| m.max(v)));
        }
        self.values.merge(&o.values);
    }
}

/// Everything a finished (or stopped) engine run measured.
#[derive(Debug, Clone)]
pub struct EngineOutcome {
    /// Latency histograms by class, timeline.
    pub stats: LoadStats,
    /// How the generator kept the schedule.
    pub generator: Generator,
    /// `Retry-After` on 429s.
    pub retry_after: RetryAfterTally,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests in the error class, by cause.
    pub errors: BTreeMap<Fault, u64>,
    /// Counts by ID-JAG kind (valid, expired, …) and class, in [`Class::ALL`] order.
    pub by_kind: BTreeMap<JagKind, [u64; 4]>,
    /// Valid ID-JAGs answered with 5xx (a FAIL under mixed traffic).
    pub valid_5xx: u64,
    /// Invalid ID-JAGs that got a token (a FAIL).
    pub invalid_accepted: u64,
    /// Requests goose itself counted (a cross-check of ours).
    pub goose_requests: u64,
    /// Whether the run was stopped before the schedule ended.
    pub interrupted: bool,
    /// From the schedule's start to the last answer.
    pub elapsed: Duration,
}

impl EngineOutcome {
    /// The outcome of a run stopped before it started: all `planned` requests cancelled.
    pub fn not_started(planned: u64) -> Self {
        EngineOutcome {
            stats: LoadStats::new(),
            generator: Generator {
                planned,
                cancelled: planned,
                ..Default::default()
            }
            .judge(),
            retry_after: RetryAfterTally::default(),
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            by_kind: BTreeMap::new(),
            valid_5xx: 0,
            invalid_accepted: 0,
            goose_requests: 0,
            interrupted: true,
            elapsed: Duration::ZERO,
        }
    }
}

/// The engine could not run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The token endpoint URL is unusable.
    #[error("token endpoint `{0}`: {1}")]
    Url(String, String),
    /// goose refused the configuration or failed.
    #[error("goose: {0}")]
    Goose(String),
}

#[derive(Default)]
struct Tally {
    stats: LoadStats,
    sent: u64,
    late: u64,
    dropped: u64,
    max_late_us: u64,
    retry_after: RetryAfterTally,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<Fault, u64>,
    by_kind: BTreeMap<JagKind, [u64; 4]>,
    valid_5xx: u64,
    invalid_accepted: u64,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        // Histograms of one run share bounds: adding cannot fail.
        let _ = self.stats.merge(&o.stats);
        self.sent += o.sent;
        self.late += o.late;
        self.dropped += o.dropped;
        self.max_late_us = self.max_late_us.max(o.max_late_us);
        self.retry_after.merge(&o.retry_after);
        for (k, v) in o.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in o.by_kind {
            let e = self.by_kind.entry(k).or_default();
            for (a, b) in e.iter_mut().zip(v) {
                *a += b;
            }
        }
        self.valid_5xx += o.valid_5xx;
        self.invalid_accepted += o.invalid_accepted;
    }
}

/// Shared between the goose users of one run.
struct Shared {
    cfg: EngineConfig,
    path: String,
    /// The users' clients (goose's own follow redirects, and a token endpoint's redirect is
    /// an answer to count, not to follow): one per user up to [`CLIENTS`], built before the
    /// schedule starts; one shared by all measured 7–15 % slower (its pool's lock).
    http: Vec<reqwest::Client>,
    start: Instant,
    start_unix: f64,
    next: AtomicU64,
    /// The one assertion of `--reuse-assertion`.
    fixed_body: Option<String>,
    sent: AtomicU64,
    late: AtomicU64,
    classes: [AtomicU64; 4],
    window: Mutex<Option<Histogram<u64>>>,
    tallies: Mutex<Vec<Tally>>,
    stopped: AtomicBool,
}

impl Shared {
    fn stop_requested(&self) -> bool {
        self.cfg.stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered()
    }

    /// The kind of global request `g`: invalid ones spread evenly at `invalid_share`.
    fn kind_of(&self, g: u64) -> JagKind {
        kind_for(g, self.cfg.invalid_share)
    }
}

/// The ID-JAG kind of global request `g` when a `share` of requests is invalid: exactly
/// `floor(n · share)` of the first `n` are invalid, evenly spread, rotating through the kinds.
pub fn kind_for(g: u64, share: f64) -> JagKind {
    if share <= 0.0 {
        return JagKind::Valid;
    }
    let before = (g as f64 * share).floor();
    let after = ((g + 1) as f64 * share).floor();
    if after > before {
        JagKind::INVALID[(before as usize) % JagKind::INVALID.len()]
    } else {
        JagKind::Valid
    }
}

/// A `Retry-After` value in seconds: delta-seconds, or an HTTP date from now (RFC 9110
/// §10.2.3; a past date is 0).
pub fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<u64> {
    use crate::pace::RetryAfter;
    match crate::pace::read_retry_after(value?.to_str().ok()?, SystemTime::now()) {
        RetryAfter::Wait(d) => Some(d.as_secs()),
        RetryAfter::Past => Some(0),
        RetryAfter::Unusable => None,
    }
}

/// Reads at most `cap` bytes of a body, or says why it could not be read.
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, Fault> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > cap {
                    return Err(Fault::BodyOverCap);
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(Fault::of_body_error(&e)),
        }
    }
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Runs the schedule against the token endpoint; returns when every user is done (the
/// schedule ended, the stop flag was set, or Ctrl-C).
pub async fn run(cfg: EngineConfig) -> Result<EngineOutcome, EngineError> {
    let url = url::Url::parse(&cfg.token_endpoint)
        .map_err(|e| EngineError::Url(cfg.token_endpoint.clone(), e.to_string()))?;
    if url.host().is_none() {
        return Err(EngineError::Url(
            cfg.token_endpoint.clone(),
            "no host".into(),
        ));
    }
    let origin = url.origin().ascii_serialization();
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let users = cfg.users.max(1);
    let planned = cfg.schedule.len();
    let fixed_body = cfg.reuse_assertion.then(|| {
        let iat = now_unix() as i64;
        let lifetime = cfg.schedule.duration().as_secs() as i64 + 600;
        let token = cfg.jags.mint(JagKind::Valid, 0, iat, Some(lifetime));
        cfg.form.body(&token)
    });
    let http = (0..users.min(CLIENTS))
        .map(|_| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(cfg.timeout)
                .user_agent(concat!("xaa-conform/", env!("CARGO_PKG_VERSION")))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EngineError::Url(cfg.token_endpoint.clone(), e.to_string()))?;
    // goose starts users at ten times their number per second: all within 0.1 s.
    let lead = START_LEAD + Duration::from_millis(100);
    let start = Instant::now() + lead;
    let start_unix = now_unix() + lead.as_secs_f64();
    let shared = Arc::new(Shared {
        http,
        path,
        start,
        start_unix,
        next: AtomicU64::new(0),
        fixed_body,
        sent: AtomicU64::new(0),
        late: AtomicU64::new(0),
        classes: Default::default(),
        window: Mutex::new(Histogram::new(3).ok()),
        tallies: Mutex::new(Vec::new()),
        stopped: AtomicBool::new(false),
        cfg,
    });

    let mut config = GooseConfiguration::default();
    config.host = Some(origin);
    config.users = Some(users);
    config.increase_rate = Some(format!("{}", users * 10));
    config.iterations = Some(1);
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_transaction_metrics = true;
    config.no_scenario_metrics = true;
    config.no_gzip = true;
    config.timeout = Some(format!(
        "{}",
        shared.cfg.timeout.as_secs_f64().ceil().max(1.0) as u64
    ));

    let s = shared.clone();
    let transaction: TransactionFunction = Arc::new(move |user| {
        let s = s.clone();
        Box::pin(async move {
            let tally = user_loop(&s, user).await;
            if let Ok(mut t) = s.tallies.lock() {
                t.push(tally);
            }
            Ok(())
        })
    });

    let ticker = shared.cfg.on_tick.clone().map(|tick| {
        let s = shared.clone();
        tokio::spawn(async move { ticker(s, tick).await })
    });
    let attack = GooseAttack::initialize_with_config(config)
        .map_err(|e| EngineError::Goose(format!("{e:?}")))?
        .register_scenario(scenario!("TokenEndpoint").register_transaction(
            Transaction::new(transaction).set_name("POST token (jwt-bearer)"),
        ));
    // goose prints "N users launched." to stdout whatever it is told: stdout points at
    // /dev/null while it runs, so the summary is the run's only stdout (`load | head` ends
    // quietly). A second engine in one process finds it gagged already and goes on.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let gagged = gag::Gag::stdout().ok();
    let result = attack.execute().await;
    drop(gagged);
    shared.stopped.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        t.abort();
    }
    let metrics = result.map_err(|e| EngineError::Goose(format!("{e:?}")))?;
    let goose_requests = metrics
        .requests
        .values()
        .map(|r| (r.success_count + r.fail_count) as u64)
        .sum();
    let interrupted = shared.stop_requested();
    let elapsed = Instant::now().saturating_duration_since(shared.start);

    let mut total = Tally::default();
    if let Ok(mut t) = shared.tallies.lock() {
        for one in t.drain(..) {
            total.merge(one);
        }
    }
    let cancelled = planned.saturating_sub(total.sent + total.dropped);
    let generator = Generator {
        planned,
        sent: total.sent,
        late: total.late,
        dropped: total.dropped,
        cancelled,
        max_late_us: total.max_late_us,
        valid: true,
        reason: None,
    }
    .judge();
    Ok(EngineOutcome {
        stats: total.stats,
        generator,
        retry_after: total.retry_after,
        statuses: total.statuses,
        errors: total.errors,
        by_kind: total.by_kind,
        valid_5xx: total.valid_5xx,
        invalid_accepted: total.invalid_accepted,
        goose_requests,
        interrupted,
        elapsed,
    })
}

async fn ticker(s: Arc<Shared>, tick: TickFn) {
    let mut last_sent = 0;
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if s.stopped.load(Ordering::Relaxed) {
            return;
        }
        let sent = s.sent.load(Ordering::Relaxed);
        let now = Instant::now();
        let p99 = s.window.lock().ok().and_then(|mut h| {
            let h = h.as_mut()?;
            let v = (!h.is_empty()).then(|| h.value_at_quantile(0.99));
            h.reset();
            v
        });
        let live = Live {
            elapsed: now.saturating_duration_since(s.start),
            sent,
            planned: s.cfg.schedule.len(),
            rate: (sent - last_sent) as f64 / now.duration_since(last).as_secs_f64().max(1e-3),
            p99_us: p99,
            classes: std::array::from_fn(|i| s.classes[i].load(Ordering::Relaxed)),
            late: s.late.load(Ordering::Relaxed),
        };
        tick(&live);
        last_sent = sent;
        last = now;
    }
}

/// Sleeps until `due`, waking every [`SLEEP_SLICE`] to notice a stop; false when stopped.
async fn sleep_until(s: &Shared, due: Instant) -> bool {
    loop {
        if s.stop_requested() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        tokio::time::sleep((due - now).min(SLEEP_SLICE)).await;
    }
}

/// One goose user: takes tickets until the schedule is exhausted or the run is stopped.
async fn user_loop(s: &Shared, user: &mut GooseUser) -> Tally {
    // goose sends with the user's client: make it one of ours, which follow no redirect.
    user.client = s.http[user.weighted_users_index % s.http.len()].clone();
    let mut t = Tally::default();
    let end = s.start + s.cfg.schedule.duration() + DROP_GRACE;
    let mut window: Vec<u64> = Vec::with_capacity(64);
    loop {
        if s.stop_requested() {
            break;
        }
        let i = s.next.fetch_add(1, Ordering::Relaxed);
        let Some(offset) = s.cfg.schedule.intended(i) else {
            break;
        };
        let due = s.start + offset;
        if Instant::now() > end {
            t.dropped += 1;
            continue;
        }
        let g = s.cfg.schedule.global_index(i);
        let kind = s.kind_of(g);
        let body: String = match &s.fixed_body {
            Some(b) => b.clone(),
            None => {
                let iat = (s.start_unix + offset.as_secs_f64()).floor() as i64;
                s.cfg.form.body(&s.cfg.jags.mint(kind, g, iat, None))
            }
        };
        if !sleep_until(s, due).await {
            break;
        }
        let (class, us) = send(s, user, &mut t, kind, body, due, offset).await;
        s.classes[class as usize].fetch_add(1, Ordering::Relaxed);
        s.sent.fetch_add(1, Ordering::Relaxed);
        if class == Class::Accepted {
            window.push(us);
            if window.len() >= 64 {
                flush_window(s, &mut window);
            }
        }
    }
    flush_window(s, &mut window);
    t
}

fn flush_window(s: &Shared, window: &mut Vec<u64>) {
    if window.is_empty() {
        return;
    }
    if let Ok(mut h) = s.window.lock()
        && let Some(h) = h.as_mut()
    {
        for us in window.iter() {
            let _ = h.record((*us).max(1));
        }
    }
    window.clear();
}

/// Sends one request and records it; returns its class and latency (µs).
async fn send(
    s: &Shared,
    user: &mut GooseUser,
    t: &mut Tally,
    kind: JagKind,
    body: String,
    due: Instant,
    offset: Duration,
) -> (Class, u64) {
    let mut builder = user
        .client
        .post(&s.cfg.token_endpoint)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .timeout(s.cfg.timeout)
        .body(body);
    if let Some(auth) = s.cfg.form.authorization() {
        builder = builder.header(reqwest::header::AUTHORIZATION, auth);
    }
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(s.path.as_str())
        .name("token")
        .set_request_builder(builder)
        .build();
    let sent_at = Instant::now();
    let late = sent_at.saturating_duration_since(due);
    t.sent += 1;
    t.max_late_us = t.max_late_us.max(late.as_micros() as u64);
    if late > LATE_BOUND {
        t.late += 1;
        s.late.fetch_add(1, Ordering::Relaxed);
    }
    let (status, class, fault) = match user.request(request).await {
        Ok(goose) => match goose.response {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if status == 429 {
                    t.retry_after
                        .record(resp.headers().get(reqwest::header::RETRY_AFTER));
                }
                match read_capped(resp, BODY_CAP).await {
                    Ok(b) => {
                        let class = Class::of(Some(status), &b);
                        let fault = (class == Class::Error).then(|| Fault::of_answer(status, &b));
                        (Some(status), class, fault)
                    }
                    Err(f) => (None, Class::Error, Some(f)),
                }
            }
            Err(e) => (None, Class::Error, Some(Fault::of_request_error(&e))),
        },
        Err(_) => (None, Class::Error, Some(Fault::Other)),
    };
    if let Some(f) = fault {
        *t.errors.entry(f).or_default() += 1;
    }
    if let Some(code) = status {
        *t.statuses.entry(code).or_default() += 1;
    }
    match (kind, class) {
        (JagKind::Valid, _) if status.is_some_and(|c| c >= 500) => t.valid_5xx += 1,
        (JagKind::Valid, _) => {}
        (_, Class::Accepted) => t.invalid_accepted += 1,
        _ => {}
    }
    record(t, kind, class, due, offset)
}

fn record(
    t: &mut Tally,
    kind: JagKind,
    class: Class,
    due: Instant,
    offset: Duration,
) -> (Class, u64) {
    let latency = Instant::now().saturating_duration_since(due);
    t.stats.record(&Sample {
        class,
        intended_at: offset,
        latency,
    });
    t.by_kind.entry(kind).or_default()[class as usize] += 1;
    (class, latency.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_share_is_exact_and_rotates() {
        let kinds: Vec<JagKind> = (0..1000).map(|g| kind_for(g, 0.1)).collect();
        let invalid: Vec<&JagKind> = kinds.iter().filter(|k| **k != JagKind::Valid).collect();
        assert_eq!(invalid.len(), 100);
        for k in JagKind::INVALID {
            let n = invalid.iter().filter(|x| ***x == k).count();
            assert!((33..=34).contains(&n), "{k:?} {n}");
        }
        assert!((0..1000).all(|g| kind_for(g, 0.0) == JagKind::Valid));
        assert!((0..10).all(|g| kind_for(g, 1.0) != JagKind::Valid));
    }

    #[test]
    fn retry_after_values() {
        let h = |s: &'static str| reqwest::header::HeaderValue::from_static(s);
        assert_eq!(parse_retry_after(Some(&h("3"))), Some(3));
        assert_eq!(
            parse_retry_after(Some(&h("Sun, 06 Nov 1994 08:49:37 GMT"))),
            Some(0)
        );
        assert_eq!(parse_retry_after(Some(&h("soon"))), None);
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn generator_rule() {
        let g = |planned, sent, late, dropped| {
            Generator {
                planned,
                sent,
                late,
                dropped,
                ..Default::default()
            }
            .judge()
        };
        assert!(g(1000, 1000, 10, 0).valid);
        assert!(!g(1000, 1000, 11, 0).valid);
        assert!(!g(1000, 940, 0, 60).valid);
        let stopped = Generator {
            planned: 1000,
            sent: 500,
            cancelled: 500,
            ..Default::default()
        }
        .judge();
        assert!(stopped.valid, "{stopped:?}");
        assert!(EngineOutcome::not_started(100).generator.valid);
    }
}
