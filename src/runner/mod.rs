//! Runs the catalogue: starts the fake IdP (and the reference RAS when there is no target),
//! executes the scenarios in parallel, each in isolation with fresh `jti`s, and gathers the
//! results.

pub mod activity;
mod cases;
pub(crate) mod check;
mod cleartext;
mod dpop;
mod jwt_access_token;
mod own_grant;
pub(crate) mod preflight;
mod procedures;
pub(crate) mod request;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

pub use check::{
    CLIENT_ASSERTION_TYPE, CLIENT_SECRET_ENV, IDP_SECRET_ENV, metadata_locations, metadata_url,
};

use crate::client::HttpClient;
use crate::fixture::{Fixture, Secret};
use crate::idp::{AppRegistration, FakeIdp};
use crate::idp_control::{ControlError, IdpLog, RemoteIdp};
use crate::input::InputError;
use crate::jose::{Keyring, keys::KeyError};
use crate::oracle::{self, Judgement, Preflight};
use crate::protocol::Exchange;
use crate::reference::{self, Defect, ReferenceOptions, ReferenceRas};
use crate::report::model::{CheckResult, RunResults, Summary, TargetInfo};
use crate::scenario::{self, LoadedScenario};
use crate::server::ServeError;
use crate::spec::DRAFT;
use crate::target::{DEFAULT_TIMEOUT, TargetFile};
use crate::tls::IdpTls;
pub use activity::Activity;

/// How many checks run at once.
pub const CONCURRENCY: usize = 8;

pub use crate::spec::PROFILES;

/// Everything a check needs while it runs.
pub struct RunContext {
    /// The target's values.
    pub fixture: Fixture,
    /// Keys of the fake issuers.
    pub keyring: Arc<Keyring>,
    /// The requesting app's HTTP client.
    pub http: HttpClient,
    /// The requesting app's registration at the fake IdP.
    pub idp_app: AppRegistration,
    /// The expectation profile.
    pub profile: String,
    /// The fake IdP's request log, for checks that watch what the server fetches.
    pub hits: Option<IdpLog>,
    /// Told about every finished check.
    pub progress: Option<Progress>,
    /// The checks in flight and their long waits, for a CI log's heartbeat.
    pub activity: Option<Activity>,
    /// The metadata's `introspection_endpoint` (with C1), looked up once, by the first check
    /// that needs it, when the target declares no `introspection`.
    pub discovered_introspection: tokio::sync::OnceCell<Option<crate::fixture::Introspection>>,
}

impl RunContext {
    /// Records that `id` started (for the heartbeat).
    fn started(&self, id: &str) {
        if let Some(a) = &self.activity {
            a.started(id);
        }
    }

    /// Records that `id` finished.
    fn finished(&self, id: &str) {
        if let Some(a) = &self.activity {
            a.finished(id);
        }
    }

    /// Records that `id` waits for `what` until `until` (`None`: no longer waits).
    pub(crate) fn waiting(&self, id: &str, what: Option<(String, std::time::Instant)>) {
        if let Some(a) = &self.activity {
            match what {
                Some((w, until)) => a.waiting(id, w, until),
                None => a.done_waiting(id),
            }
        }
    }
}

/// Runs `scenarios` against the context: independent checks in parallel, then the ones that
/// depend on them. A check whose dependency did not PASS is SKIP.
pub async fn run_checks(ctx: Arc<RunContext>, scenarios: &[LoadedScenario]) -> Vec<CheckResult> {
    let mut done: BTreeMap<String, CheckResult> = BTreeMap::new();
    let mut pending: Vec<&LoadedScenario> = scenarios.iter().collect();
    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let watch = Arc::new(ServerWatch::default());
    while !pending.is_empty() {
        let (ready, waiting): (Vec<&LoadedScenario>, Vec<&LoadedScenario>) = pending
            .into_iter()
            .partition(|s| s.scenario.depends_on.iter().all(|d| done.contains_key(d)));
        if ready.is_empty() {
            for s in waiting {
                done.insert(
                    s.scenario.id.clone(),
                    not_run(&s.scenario, oracle::judge_dependency_cycle()),
                );
            }
            break;
        }
        // Checks that watch or change the IdP run one at a time, before the others, so that
        // what the IdP sees or serves during one belongs to it alone.
        let (mut watching, mut ready): (Vec<&LoadedScenario>, Vec<&LoadedScenario>) =
            ready.into_iter().partition(|s| s.scenario.exclusive());
        let mut waiting = waiting;
        if !watching.is_empty() {
            waiting.extend(ready);
            ready = vec![watching.remove(0)];
        }
        waiting.extend(watching);
        let mut tasks = tokio::task::JoinSet::new();
        for s in ready {
            let failed_dep = s.scenario.depends_on.iter().find_map(|d| {
                done.get(d)
                    .and_then(|r| oracle::judge_dependency(d, r.verdict, &r.reason))
            });
            if let Some(judgement) = failed_dep {
                done.insert(s.scenario.id.clone(), not_run(&s.scenario, judgement));
                continue;
            }
            let (ctx, limit, sc) = (ctx.clone(), limit.clone(), s.scenario.clone());
            let watch = watch.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                if watch.stopped() {
                    return not_run(&sc, oracle::judge_server_stopped());
                }
                // Ctrl-C: no check starts after it, and one in flight is cancelled.
                if crate::interrupt::interrupted() {
                    return not_run(&sc, oracle::judge_interrupted());
                }
                ctx.started(&sc.id);
                let result = tokio::select! {
                    r = cases::run(&ctx, &sc) => r,
                    _ = crate::interrupt::signalled() => {
                        ctx.finished(&sc.id);
                        return not_run(&sc, oracle::judge_interrupted());
                    }
                };
                ctx.finished(&sc.id);
                watch.record(oracle::unanswered(result.verdict));
                result
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(r) => {
                    if let Some(p) = &ctx.progress {
                        (p.0)(done.len() + 1, scenarios.len(), &r);
                    }
                    done.insert(r.id.clone(), r);
                }
                Err(e) => tracing::error!("a check task failed: {e}"),
            }
        }
        pending = waiting;
    }
    // Catalogue order; a check lost to a crashed task is an ERROR, never silently missing.
    scenarios
        .iter()
        .map(|s| {
            done.remove(&s.scenario.id)
                .unwrap_or_else(|| not_run(&s.scenario, oracle::judge_lost()))
        })
        .collect()
}

/// How many checks in a row may end without an answer before the run takes the server to
/// have stopped answering and runs no further check.
pub const STOP_AFTER_UNANSWERED: usize = 5;

/// Watches for a server that stopped answering mid-run: [`STOP_AFTER_UNANSWERED`] checks in
/// a row without an answer, in the order they finish, stop the run (the rest are not run),
/// so that a dead server costs seconds, not a timeout per check.
#[derive(Debug, Default)]
struct ServerWatch {
    consecutive: std::sync::atomic::AtomicUsize,
    stopped: std::sync::atomic::AtomicBool,
}

impl ServerWatch {
    /// Records a finished check: `unanswered` when it got no answer.
    fn record(&self, unanswered: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        if !unanswered {
            self.consecutive.store(0, SeqCst);
        } else if self.consecutive.fetch_add(1, SeqCst) + 1 >= STOP_AFTER_UNANSWERED {
            self.stopped.store(true, SeqCst);
        }
    }

    /// Whether the server is taken to have stopped answering.
    fn stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The results of a run whose valid ID-JAG a reached, configured server refused: BASE-01 runs
/// (and FAILs, with the likely causes added), and so do the checks that need no accepted
/// ID-JAG (the metadata); every other check depends on a valid ID-JAG being accepted and is
/// not run.
async fn refused_at_preflight(
    ctx: Arc<RunContext>,
    scenarios: &[LoadedScenario],
    causes: &str,
    exchange: Option<Exchange>,
) -> Vec<CheckResult> {
    let (run, skip): (Vec<LoadedScenario>, Vec<LoadedScenario>) = scenarios
        .iter()
        .cloned()
        .partition(|s| s.scenario.id == "BASE-01" || s.scenario.expect.is_metadata());
    let mut ran: BTreeMap<String, CheckResult> = run_checks(ctx, &run)
        .await
        .into_iter()
        .map(|mut c| {
            if c.id == "BASE-01" {
                c.reason = oracle::with_preflight_causes(c.verdict, &c.reason, causes);
            }
            (c.id.clone(), c)
        })
        .collect();
    let judgement = oracle::judge_refused_at_preflight(exchange.as_ref());
    let mut not_ran: BTreeMap<String, CheckResult> = skip
        .iter()
        .map(|s| {
            (
                s.scenario.id.clone(),
                not_run(&s.scenario, judgement.clone()),
            )
        })
        .collect();
    scenarios
        .iter()
        .filter_map(|s| {
            ran.remove(&s.scenario.id)
                .or_else(|| not_ran.remove(&s.scenario.id))
        })
        .collect()
}

/// The results of a run that stopped at the preflight: the preflight's diagnosis as one
/// result, then every check not run.
fn stopped_at_preflight(
    scenarios: &[LoadedScenario],
    diagnosis: &str,
    exchange: Option<Exchange>,
) -> Vec<CheckResult> {
    let judgement = oracle::judge_preflight_stop(diagnosis);
    let preflight = CheckResult {
        id: oracle::PREFLIGHT_ID.into(),
        title: "one valid ID-JAG for C1 is answered by a reached, configured token endpoint".into(),
        requirement: crate::spec::Requirement {
            level: crate::spec::Level::Must,
            source: "setup: the target file and the RAS's trust in the fake IdP".into(),
        },
        tags: vec!["preflight".into()],
        verdict: judgement.verdict,
        reason: judgement.reason,
        token: None,
        elapsed_ms: exchange.as_ref().map_or(0.0, |e| e.elapsed_ms),
        findings: Vec::new(),
        hint: None,
        exchanges: exchange.into_iter().collect(),
        expected: false,
    };
    let not_ran = oracle::judge_not_run_preflight();
    std::iter::once(preflight)
        .chain(
            scenarios
                .iter()
                .map(|s| not_run(&s.scenario, not_ran.clone())),
        )
        .collect()
}

/// The result of a check that did not run, with the oracle's judgement of why.
fn not_run(sc: &scenario::Scenario, judgement: Judgement) -> CheckResult {
    CheckResult {
        id: sc.id.clone(),
        title: sc.title.clone(),
        requirement: sc.requirement.clone(),
        tags: sc.tags.clone(),
        verdict: judgement.verdict,
        reason: judgement.reason,
        token: None,
        exchanges: Vec::new(),
        elapsed_ms: 0.0,
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

/// Puts in place the run-wide verdicts of the checks that own the form of the run's answers
/// (ERR-01, ERR-02, …): the oracle judges every exchange of the run once
/// ([`oracle::judge_findings`]), under the form rules of the check that made it.
fn with_findings(
    ctx: &RunContext,
    scenarios: &[LoadedScenario],
    mut checks: Vec<CheckResult>,
) -> Vec<CheckResult> {
    let rules_of = |sc: &scenario::Scenario| {
        oracle::FormRules::of(&sc.for_target(&ctx.profile, &ctx.fixture).1)
    };
    let by_id: BTreeMap<&str, &scenario::Scenario> = scenarios
        .iter()
        .map(|s| (s.scenario.id.as_str(), &s.scenario))
        .collect();
    let verdicts = {
        let answers: Vec<oracle::CheckAnswers> = checks
            .iter()
            .map(|c| {
                let sc = by_id.get(c.id.as_str());
                oracle::CheckAnswers {
                    check: &c.id,
                    rules: sc.map(|s| rules_of(s)).unwrap_or_default(),
                    cases: sc
                        .map(|s| {
                            s.cases
                                .iter()
                                .map(|case| (case.name.clone(), rules_of(&s.with_case(case))))
                                .collect()
                        })
                        .unwrap_or_default(),
                    exchanges: &c.exchanges,
                }
            })
            .collect();
        let owners: Vec<oracle::Owner> = checks
            .iter()
            .filter(|c| oracle::findings::OWNERS.contains(&c.id.as_str()))
            .map(|c| oracle::Owner {
                id: &c.id,
                level: c.requirement.level,
                own: Judgement {
                    verdict: c.verdict,
                    reason: c.reason.clone(),
                },
                ran: !c.exchanges.is_empty(),
            })
            .collect();
        oracle::judge_findings(&ctx.fixture.token_endpoint, &answers, &owners)
    };
    for v in verdicts {
        if let Some(c) = checks.iter_mut().find(|c| c.id == v.id) {
            c.verdict = v.judgement.verdict;
            c.reason = v.judgement.reason;
            c.findings = v.findings;
        }
    }
    checks
}

/// A function told (checks done, checks in all, the check just finished).
pub type ProgressFn = dyn Fn(usize, usize, &CheckResult) + Send + Sync;

/// Called after each check, for the terminal's progress bar.
#[derive(Clone)]
pub struct Progress(pub Arc<ProgressFn>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// What `xaa-conform run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A target file; none: the embedded reference RAS.
    pub target: Option<PathBuf>,
    /// A scenario folder; none: the compiled-in catalogue.
    pub scenarios: Option<PathBuf>,
    /// `--filter` values: each a comma list of check-ID globs, matched ignoring case; a check
    /// is selected when any matches (empty: every check).
    pub filter: Vec<String>,
    /// `--tag` values: each a comma list of scenario tags; with any, a check is selected only
    /// when it has one of them (and matches `filter`).
    pub tags: Vec<String>,
    /// `--exclude` values: each a comma list of check-ID globs left out of the report (a
    /// selected check's dependency still runs).
    pub exclude: Vec<String>,
    /// The day an expected failure's `until` is compared with (none: today, UTC).
    pub today: Option<crate::expected::Date>,
    /// Profile name.
    pub profile: Option<String>,
    /// Reference defects to switch on (embedded reference only).
    pub defects: BTreeSet<Defect>,
    /// Per-request timeout override.
    pub timeout: Option<Duration>,
    /// Where issuer keys are read from; missing files mean ephemeral keys.
    pub keys_dir: Option<PathBuf>,
    /// A file of known FAILs (`--expected-failures`).
    pub expected_failures: Option<PathBuf>,
    /// Told about every finished check (the terminal's progress bar).
    pub progress: Option<Progress>,
    /// Where the run records the checks in flight and their long waits (a CI log's
    /// heartbeat).
    pub activity: Option<Activity>,
    /// Serve the fake IdP over HTTPS with a certificate from a fresh CA, and write the CA
    /// certificate (PEM) to this file for the server under test to trust.
    pub idp_tls_ca: Option<PathBuf>,
    /// With `idp_tls_ca`: keep the CA (certificate and key, mode 0600) in this folder across
    /// runs, so that the server under test's trust store need not change at every run.
    pub idp_ca_dir: Option<PathBuf>,
    /// The embedded reference's rate limit, requests per second per client (none: unlimited).
    pub reference_rate_limit: Option<u32>,
    /// Requests per second the suite never exceeds towards the RAS (`--max-rate`); overrides
    /// the target file's `max_rate` and the profile's default.
    pub max_rate: Option<f64>,
}

/// The rate a profile assumes for a real target that declares none: Auth0 limits ID-JAG
/// exchanges to 5 requests per second in its XAA Beta.
pub fn profile_max_rate(profile: &str) -> Option<f64> {
    (profile == "auth0").then_some(5.0)
}

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input: a file, a flag, no scenarios (exit 2).
    #[error("{0}")]
    Input(#[from] InputError),
    /// A server could not start (exit 3).
    #[error("{0}")]
    Start(#[from] ServeError),
    /// Keys could not be read or made (exit 3).
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// The running IdP named in `idp.control` could not be used (exit 3).
    #[error("{0}")]
    IdpControl(#[from] ControlError),
    /// Anything else that stops the run before checks (exit 3).
    #[error("{0}")]
    Other(String),
}

impl RunError {
    /// The exit code (design.md contract).
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Input(_) => 2,
            _ => 3,
        }
    }
}

/// Loads the catalogue the options name (the compiled-in one, or `--scenarios DIR`), before
/// any selection.
pub fn load_catalogue(opts: &RunOptions) -> Result<Vec<LoadedScenario>, InputError> {
    match &opts.scenarios {
        Some(dir) => scenario::load_dir(dir),
        None => scenario::embedded(),
    }
}

/// The `--filter`, `--tag` and `--exclude` of the options.
pub fn selection(opts: &RunOptions) -> scenario::Selection {
    scenario::Selection {
        filter: opts.filter.clone(),
        tags: opts.tags.clone(),
        exclude: opts.exclude.clone(),
    }
}

/// Loads the scenarios the options ask for: the selected checks and what they depend on.
pub fn load_scenarios(opts: &RunOptions) -> Result<Vec<LoadedScenario>, InputError> {
    Ok(scenario::select(load_catalogue(opts)?, &selection(opts))?.scenarios)
}

/// The keys: from `keys_dir` when it holds a key set, otherwise fresh in-memory keys.
pub fn keyring(opts: &RunOptions) -> Result<Keyring, KeyError> {
    keyring_from_files(opts).map(|(k, _)| k)
}

/// The keys and whether they came from key files (`false`: made in memory for this run).
pub fn keyring_from_files(opts: &RunOptions) -> Result<(Keyring, bool), KeyError> {
    if let Some(dir) = &opts.keys_dir
        && let Some(k) = Keyring::load(dir)?
    {
        return Ok((k, true));
    }
    Keyring::ephemeral().map(|k| (k, false))
}

/// What to tell a user whose keys were made in memory for this run: a RAS that caches JWKS
/// will not know the next run's keys. Names the `kid`s and how to make keys that last.
pub fn new_keys_note(keys: &Keyring, dir: Option<&std::path::Path>) -> String {
    let kids: Vec<String> = keys
        .kids()
        .into_iter()
        .map(|(who, kid)| format!("{who} {kid}"))
        .collect();
    let dir = dir.map_or_else(|| "keys".to_string(), |d| d.display().to_string());
    format!(
        "note: {dir} holds no key files, so the fake IdP's keys are new for this run; a RAS that \
         caches JWKS will not know the next run's (`xaa-conform keys generate --dir {dir}` makes \
         keys that last). kids: {}",
        kids.join(", ")
    )
}

/// Says [`new_keys_note`] on stderr, once per process (load and fuzz may start several
/// environments).
fn tell_new_keys(keys: &Keyring, dir: Option<&std::path::Path>) {
    static TOLD: std::sync::Once = std::sync::Once::new();
    TOLD.call_once(|| eprintln!("{}", new_keys_note(keys, dir)));
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The servers and the context of one run: the fake IdP, the embedded reference RAS (unless
/// a target file names the server under test), and what checks need to talk to them. `run`,
/// `fuzz` and `load` all start one.
pub struct Environment {
    ctx: Arc<RunContext>,
    idp: Served,
    reference: Option<ReferenceRas>,
    kind: String,
}

impl Environment {
    /// Validates the options and starts the servers. `keys` lets callers share one keyring.
    pub async fn start(opts: &RunOptions, keys: Option<Arc<Keyring>>) -> Result<Self, RunError> {
        let profile = opts
            .profile
            .clone()
            .unwrap_or_else(|| PROFILES[0].to_string());
        if !PROFILES.contains(&profile.as_str()) {
            return Err(
                InputError::file("--profile", crate::spec::unknown_profile(&profile)).into(),
            );
        }
        let target = match &opts.target {
            Some(path) => {
                let origin = path.display().to_string();
                let file = TargetFile::read(path)?;
                let fixture = file.to_fixture(&origin)?;
                if !opts.defects.is_empty() {
                    return Err(InputError::file(
                        "--reference-defect",
                        "defects apply to the embedded reference RAS; drop --target",
                    )
                    .into());
                }
                Some((origin, file, fixture))
            }
            None => None,
        };
        let control = match &target {
            Some((origin, file, _)) => file.idp_control(origin)?,
            None => None,
        };
        if control.is_some() && opts.idp_tls_ca.is_some() {
            return Err(InputError::file(
                "--idp-tls",
                "the IdP named in idp.control serves HTTPS or not as `idp serve` was started; drop --idp-tls",
            )
            .into());
        }
        let keyring = match keys {
            Some(k) => k,
            None => {
                let (k, from_files) = keyring_from_files(opts)?;
                if !from_files && control.is_some() {
                    let dir = opts
                        .keys_dir
                        .as_ref()
                        .map_or_else(|| "keys".into(), |d| d.display().to_string());
                    return Err(InputError::file(
                        "--keys",
                        format!(
                            "{dir} holds no key files, and a run against the IdP named in \
                             idp.control signs with that IdP's keys: make them with `xaa-conform \
                             keys generate --dir {dir}`, and give both `idp serve` and `run` \
                             --keys {dir}"
                        ),
                    )
                    .into());
                }
                if !from_files {
                    tell_new_keys(&k, opts.keys_dir.as_deref());
                }
                Arc::new(k)
            }
        };
        let mut app = AppRegistration {
            client_id: "requesting-app".into(),
            secret: Secret::random(),
        };

        // HTTPS for the IdP: a fresh CA whose certificate the server under test must trust.
        let tls = match &opts.idp_tls_ca {
            Some(path) => {
                let public_host = target
                    .as_ref()
                    .and_then(|(_, file, _)| file.idp.public_url.as_deref())
                    .and_then(crate::tls::url_host);
                let hosts: Vec<String> = public_host.into_iter().collect();
                let tls = match &opts.idp_ca_dir {
                    Some(dir) => IdpTls::persistent(dir, &hosts),
                    None => IdpTls::generate(&hosts),
                }
                .map_err(RunError::Other)?;
                tls.write_ca(path).map_err(|e| {
                    RunError::Other(format!(
                        "cannot write the IdP CA certificate to {}: {e}",
                        path.display()
                    ))
                })?;
                Some(tls)
            }
            None => None,
        };
        let mut running_ca: Option<String> = None;
        let (idp, reference, fixture, kind) = match target {
            Some((origin, file, mut fixture)) if control.is_some() => {
                let Some((url, token)) = control else {
                    return Err(RunError::Other("no idp.control".into()));
                };
                let (remote, state) = RemoteIdp::connect(&url, token).await?;
                if state.kids != keyring.file_kids() {
                    return Err(RunError::Other(other_keys(
                        &state,
                        &url,
                        &keyring,
                        opts.keys_dir.as_deref(),
                    )));
                }
                if let Some(public) = &file.idp.public_url
                    && public.trim_end_matches('/') != state.base_url
                {
                    return Err(RunError::Other(format!(
                        "the IdP at idp.control {url} serves its issuers under {}, not under \
                         idp.public_url {public}",
                        state.base_url
                    )));
                }
                if let Some(t) = opts.timeout {
                    fixture.timeout = t;
                }
                fixture.issuers = state.issuers.clone();
                app = AppRegistration {
                    client_id: state.app_client_id.clone(),
                    secret: Secret::new(state.app_secret.clone()),
                };
                running_ca = state.ca_pem.clone();
                (Served::Running(remote), None, fixture, origin)
            }
            Some((origin, file, mut fixture)) => {
                let idp = FakeIdp::start_with_tls(
                    &file.idp.bind,
                    file.idp.public_url.as_deref(),
                    keyring.clone(),
                    app.clone(),
                    tls.as_ref(),
                )
                .await?;
                if let Some(t) = opts.timeout {
                    fixture.timeout = t;
                }
                // The bound address is known only now (the file may say port 0).
                fixture.issuers = idp.issuers().clone();
                (Served::Own(idp), None, fixture, origin)
            }
            None => {
                let idp = FakeIdp::start_with_tls(
                    "127.0.0.1:0",
                    None,
                    keyring.clone(),
                    app.clone(),
                    tls.as_ref(),
                )
                .await?;
                let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
                let issuers = idp.issuers().clone();
                let options = ReferenceOptions {
                    idp_ca_pem: tls.as_ref().map(|t| t.ca_pem().to_string()),
                    rate_limit: opts.reference_rate_limit,
                    ..ReferenceOptions::for_profile(&profile, opts.defects.clone())
                };
                let (ras, fixture) = ReferenceRas::start("127.0.0.1:0", options, |base| {
                    reference::embedded_fixture(base, &issuers, timeout)
                })
                .await?;
                (
                    Served::Own(idp),
                    Some(ras),
                    fixture,
                    "reference".to_string(),
                )
            }
        };
        let log = match &idp {
            Served::Own(idp) => {
                idp.register_audience(&fixture.ras_issuer, &fixture.client.id);
                // A second RAS the IdP serves, with C1's id there too: only `aud` tells its
                // ID-JAGs from this RAS's (JAG-AUD-08).
                idp.register_audience(&fixture.second_ras, &fixture.client.id);
                idp.set_jag_alg(fixture.default_alg());
                IdpLog::Local(idp.hit_log())
            }
            Served::Running(remote) => {
                remote
                    .register_audience(&fixture.ras_issuer, &fixture.client.id)
                    .await?;
                remote
                    .register_audience(&fixture.second_ras, &fixture.client.id)
                    .await?;
                remote.set_jag_alg(fixture.default_alg()).await?;
                remote.reset();
                IdpLog::Remote(remote.clone())
            }
        };
        let mut roots: Vec<reqwest::Certificate> = tls
            .as_ref()
            .map(IdpTls::reqwest_root)
            .transpose()
            .map_err(RunError::Other)?
            .into_iter()
            .collect();
        if let Some(pem) = &running_ca {
            roots.push(
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                    RunError::Other(format!("the running IdP's CA certificate: {e}"))
                })?,
            );
        }
        if let Some(pem) = &fixture.ca_pem {
            let bundle = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| RunError::Other(format!("ca_file: {e}")))?;
            roots.extend(bundle);
        }
        let mut fixture = fixture;
        if let Some(rate) = opts.max_rate {
            fixture.max_rate = Some(rate);
        } else if fixture.max_rate.is_none() && reference.is_none() {
            fixture.max_rate = profile_max_rate(&profile);
        }
        let http = HttpClient::trusting(fixture.timeout, roots)
            .map_err(|e| RunError::Other(e.to_string()))?
            .paced(fixture.max_rate, Some(fixture.idp_base()));
        let ctx = Arc::new(RunContext {
            fixture,
            keyring,
            http,
            idp_app: app,
            profile: profile.clone(),
            hits: Some(log),
            progress: opts.progress.clone(),
            activity: opts.activity.clone(),
            discovered_introspection: Default::default(),
        });
        Ok(Environment {
            ctx,
            idp,
            reference,
            kind,
        })
    }

    /// What checks need while the servers run.
    pub fn context(&self) -> Arc<RunContext> {
        self.ctx.clone()
    }

    /// `reference` for the embedded reference RAS, otherwise the target file path.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Stops the servers this environment started.
    pub async fn stop(self) {
        if let Some(r) = self.reference {
            r.stop().await;
        }
        match self.idp {
            Served::Own(idp) => idp.stop().await,
            Served::Running(remote) => {
                // Leave the running IdP as it was found.
                remote.reset();
                remote.flush().await;
            }
        }
    }
}

/// Why a run cannot use the running IdP described by `state`: its keys differ from this
/// run's. Names the key files that differ, and those missing from the folder (one written by
/// an older `keys generate`, without the rotation keys, makes them afresh in each process).
fn other_keys(
    state: &crate::idp_control::ControlState,
    url: &str,
    keys: &Keyring,
    dir: Option<&std::path::Path>,
) -> String {
    let theirs: BTreeMap<&str, &str> = state
        .kids
        .iter()
        .map(|(f, k)| (f.as_str(), k.as_str()))
        .collect();
    let differ: Vec<String> = keys
        .file_kids()
        .into_iter()
        .filter(|(f, k)| theirs.get(f.as_str()) != Some(&k.as_str()))
        .map(|(f, _)| f)
        .collect();
    let shown = dir.map_or_else(|| "keys".into(), |d| d.display().to_string());
    let missing: Vec<&String> = differ
        .iter()
        .filter(|f| dir.is_some_and(|d| !d.join(f.as_str()).exists()))
        .collect();
    let mut why = format!(
        "the IdP at {} (idp.control {url}) was started with other keys than this run's --keys \
         {shown} (differing: {}): give `idp serve` and `run` the same --keys folder",
        state.base_url,
        differ.join(", ")
    );
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|f| f.as_str()).collect();
        why.push_str(&format!(
            "; {shown} lacks {}, so each process makes its own: `xaa-conform keys generate \
             --dir {shown} --force` writes a whole set (then restart idp serve)",
            names.join(", ")
        ));
    }
    why
}

/// The fake IdP of a run: one it started, or one already running in `idp serve`.
enum Served {
    /// Started by this run, stopped with it.
    Own(FakeIdp),
    /// Running in `idp serve`, used through its control API and left running.
    Running(RemoteIdp),
}

/// A whole `run`: validate input, start the servers, run the checks, stop the servers.
/// `keys` lets callers share one keyring across runs.
pub async fn run_suite(
    opts: &RunOptions,
    keys: Option<Arc<Keyring>>,
) -> Result<RunResults, RunError> {
    let catalogue = load_catalogue(opts)?;
    let expected = match &opts.expected_failures {
        Some(path) => {
            let ids: Vec<&str> = catalogue.iter().map(|s| s.scenario.id.as_str()).collect();
            crate::expected::read(path, &ids)?
        }
        None => Vec::new(),
    };
    let scenario::Selected {
        scenarios,
        unreported,
    } = scenario::select(catalogue, &selection(opts))?;
    let started_at = rfc3339_now();
    let started = Instant::now();
    let env = Environment::start(opts, keys).await?;
    let ctx = env.context();
    let profile = ctx.profile.clone();
    let kind = env.kind.clone();
    let checks = match preflight::run(&ctx).await {
        (Preflight::Stop { diagnosis }, exchange) => {
            stopped_at_preflight(&scenarios, &diagnosis, exchange)
        }
        (Preflight::Refused { causes }, exchange) => {
            refused_at_preflight(ctx.clone(), &scenarios, &causes, exchange).await
        }
        (Preflight::Accepted, _) => {
            with_findings(&ctx, &scenarios, run_checks(ctx.clone(), &scenarios).await)
        }
    };
    env.stop().await;
    // Excluded checks ran only for the checks that depend on them.
    let checks: Vec<CheckResult> = checks
        .into_iter()
        .filter(|c| !unreported.contains(&c.id))
        .map(CheckResult::with_hint)
        .collect();

    Ok(RunResults {
        schema_version: crate::report::model::RESULTS_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        draft: DRAFT.to_string(),
        profile,
        target: TargetInfo {
            kind,
            issuer: ctx.fixture.ras_issuer.clone(),
            token_endpoint: ctx.fixture.token_endpoint.clone(),
            defects: opts.defects.iter().map(|d| d.name().to_string()).collect(),
        },
        started_at,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        summary: Summary::of(&checks),
        interrupted: checks.iter().any(|c| c.reason == oracle::INTERRUPTED),
        checks,
        expected_failures: Vec::new(),
    })
    .map(|mut results| {
        let today = opts.today.unwrap_or_else(crate::expected::Date::today_utc);
        results.apply_expected(&expected, today);
        results
    })
}

/// The exit code of a finished run (design.md): 3 when any check got no answer (ERROR),
/// else 1 when any FAILed, else 0; the oracle decides.
pub fn exit_code(results: &RunResults) -> u8 {
    exit_code_under(results, crate::spec::FailOn::Fail)
}

/// [`exit_code`] under a `--fail-on` rule (with `warn`, a WARN is exit 1 too).
pub fn exit_code_under(results: &RunResults, fail_on: crate::spec::FailOn) -> u8 {
    oracle::exit_code_under(
        results
            .checks
            .iter()
            .map(|c| (c.id.as_str(), c.verdict, c.reason.as_str())),
        &results.expected_failures,
        fail_on,
    )
}
