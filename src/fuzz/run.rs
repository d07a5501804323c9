//! Running generated cases against a server: generation, the oracle's judgement of each
//! answer, shrinking of every distinct finding, and the replay of saved cases.
//!
//! Cases come from proptest strategies (seeded, so the same seed gives the same cases). Each
//! answer is judged by `crate::oracle::fuzz` from the catalogue rows the case breaks. A
//! finding with a key no earlier finding has (the requirement broken, with the row of the
//! case that provoked it) is shrunk with proptest's value tree to the smallest case that
//! still shows one of its new keys; the run goes on until `cases`, the time limit or
//! `max_findings` distinct findings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

use super::model::{Case, case_strategy};
use crate::fixture::ClientAuthMethod;
use crate::jose::mint;
use crate::oracle::fuzz::{CaseClass, CaseFinding, FuzzWorld, classify_case, judge_case};
use crate::oracle::{self};
use crate::pace;
use crate::report::model::{Exchange, SentToken};
use crate::runner::RunContext;
use crate::runner::request::{redact_issued_tokens, token_request_for};

/// How a fuzz run is bounded and seeded.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Cases to generate.
    pub cases: u32,
    /// The seed: the same seed generates the same cases.
    pub seed: u64,
    /// Stop generating new cases after this long (shrinking a found case still finishes).
    pub time_limit: Duration,
    /// At most this many steps per case.
    pub max_steps: usize,
    /// At most this many shrinking attempts per finding.
    pub max_shrink_iters: u32,
    /// Step kinds or parts never generated (`--without`).
    pub without: Vec<String>,
    /// Stop after this many distinct findings.
    pub max_findings: usize,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            cases: 256,
            seed: 0,
            time_limit: Duration::from_secs(300),
            max_steps: 4,
            max_shrink_iters: 512,
            without: Vec::new(),
            max_findings: 10,
        }
    }
}

/// One case sent, and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// The case.
    pub case: Case,
    /// What the case owes, as the oracle classed it from the steps sent.
    pub class: CaseClass,
    /// The ID-JAG sent (decoded for reports), when one was minted.
    pub token: Option<SentToken>,
    /// The token request and the answer.
    pub exchange: Option<Exchange>,
    /// `None` when the server behaved; otherwise what it did wrong.
    pub finding: Option<CaseFinding>,
}

/// One distinct finding: the case that first showed it and its shrunk form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Found {
    /// The finding's keys with its verdict (see `CaseFinding::judged_keys`), from the
    /// minimal case, e.g. `FAIL JAG-AUD-03`.
    pub keys: Vec<String>,
    /// The number of the generated case that first showed it (1-based).
    pub found_after: u32,
    /// Later generated cases that showed only keys of this finding.
    pub more_cases: u32,
    /// Requests sent while shrinking it.
    pub shrink_requests: u32,
    /// The case as first found.
    pub original: Trial,
    /// The smallest case that still shows one of its new keys.
    pub minimal: Trial,
}

/// What a fuzz run found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuzzOutcome {
    /// The seed used.
    pub seed: u64,
    /// Cases generated and sent (shrinking attempts not counted).
    pub cases_run: u32,
    /// Generated cases that could not be sent to this target (a placeholder it does not
    /// declare, an algorithm it does not accept, a rate limit that persisted).
    pub not_applicable: u32,
    /// Cases by class: valid, invalid, should_refuse, either.
    pub by_class: BTreeMap<String, u32>,
    /// Requests sent while shrinking, all findings together.
    pub shrink_requests: u32,
    /// True when the time limit ended generation before `cases` were run.
    pub stopped_for_time: bool,
    /// True when `max_findings` ended generation.
    pub stopped_for_findings: bool,
    /// True when Ctrl-C ended generation: the findings are those made before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The distinct findings, in the order found.
    pub findings: Vec<Found>,
    /// Wall time.
    pub elapsed_ms: f64,
}

/// Why a case could not be sent at all (not a server fault).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotApplicable(pub String);

/// What the oracle needs to know of this run's target.
pub fn world(ctx: &RunContext) -> FuzzWorld<'_> {
    FuzzWorld {
        profile: &ctx.profile,
        jit_provisioning: ctx.fixture.jit_provisioning,
        body_auth: ctx.fixture.client.auth == ClientAuthMethod::ClientSecretPost,
    }
}

/// Mints and sends one case and has the oracle judge the answer.
pub async fn try_case(ctx: &RunContext, case: &Case) -> Result<Trial, NotApplicable> {
    let world = world(ctx);
    let class = classify_case(&case.labels(), &world).map_err(NotApplicable)?;
    let mut applied = case.apply();
    for s in applied.jag.strings_mut() {
        *s = ctx.fixture.substitute(s).map_err(|e| NotApplicable(e.0))?;
    }
    // A public client has no secret to get wrong and no authentication to leave out.
    if ctx.fixture.client.auth == ClientAuthMethod::None
        && (applied.request.wrong_secret || applied.request.client_auth.is_some())
    {
        return Err(NotApplicable(
            "C1 is a public client: no client authentication to change".into(),
        ));
    }
    // Signed with the target's first accepted algorithm unless the case names one; one it
    // does not accept is no test of it.
    match applied.jag.alg {
        None => applied.jag.alg = Some(ctx.fixture.default_alg()),
        Some(alg) if !ctx.fixture.accepts_alg(alg) => {
            return Err(NotApplicable(format!(
                "the target does not accept {} ID-JAGs",
                alg.name()
            )));
        }
        Some(_) => {}
    }
    let minted = mint::mint(
        &ctx.keyring,
        &ctx.fixture.baseline(),
        &applied.jag,
        mint::unix_now(),
    )
    .map_err(|e| NotApplicable(e.to_string()))?;
    let request = token_request_for(ctx, &applied.request, &minted.token, None)
        .map_err(|e| NotApplicable(e.to_string()))?;
    let mut exchange = ctx
        .http
        .token_request("probe", &ctx.fixture.token_endpoint, &request)
        .await;
    // A 429 is the client's to wait out and retry (the one 429 policy of `crate::pace`); a
    // rate limit that persists is no answer, never a finding.
    if let Some(e) = exchange
        .error
        .as_deref()
        .filter(|e| pace::is_rate_limited(e))
    {
        return Err(NotApplicable(e.to_string()));
    }
    let outcome = oracle::classify(&exchange);
    // Issued tokens are live credentials: never in reports.
    redact_issued_tokens(std::slice::from_mut(&mut exchange));
    let finding = judge_case(&class, &outcome, &world);
    Ok(Trial {
        case: case.clone(),
        class,
        token: Some(SentToken {
            token: minted.token,
            header: minted.header,
            claims: minted.claims,
            mutation: case.describe(),
        }),
        exchange: Some(exchange),
        finding,
    })
}

/// Whether a trial shows the same kind of wrong as `found`, at its verdict or a graver one,
/// sharing one of its keys: shrinking must not drift to another root cause of the same kind
/// (a refused `resource` array into a refused `aud` array).
fn shows(trial: &Trial, found: &CaseFinding) -> bool {
    let wanted = found.keys();
    trial
        .finding
        .as_ref()
        .is_some_and(|f| f.as_grave_as(found) && f.keys().iter().any(|k| wanted.contains(k)))
}

/// Shrinks `tree` (whose current case is `first`) to the smallest case that still shows it
/// ([`shows`]), proptest's way: simplify while it shows,
/// complicate when it stops showing. Returns the minimal trial and the requests sent.
fn shrink<T: ValueTree<Value = Case>>(
    ctx: &RunContext,
    runtime: &tokio::runtime::Handle,
    tree: &mut T,
    first: Trial,
    max_iters: u32,
) -> (Trial, u32) {
    let Some(wanted) = first.finding.clone() else {
        return (first, 0);
    };
    let mut best = first;
    let mut requests = 0;
    if !tree.simplify() {
        return (best, requests);
    }
    for _ in 0..max_iters {
        if crate::interrupt::interrupted() {
            break;
        }
        let attempt = runtime.block_on(try_case(ctx, &tree.current()));
        if attempt.is_ok() {
            requests += 1;
        }
        match attempt {
            Ok(trial) if shows(&trial, &wanted) => {
                best = trial;
                if !tree.simplify() {
                    break;
                }
            }
            _ => {
                if !tree.complicate() {
                    break;
                }
            }
        }
    }
    (best, requests)
}

/// Runs generated cases until `opts.cases`, the time limit or `opts.max_findings` distinct
/// findings, shrinking each. Blocking: call it from a blocking thread inside a Tokio runtime
/// (`spawn_blocking`).
pub fn fuzz_blocking(
    ctx: &RunContext,
    runtime: &tokio::runtime::Handle,
    opts: &FuzzOptions,
) -> FuzzOutcome {
    let started = Instant::now();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let strategy = case_strategy(opts.max_steps, &opts.without);
    let mut out = FuzzOutcome {
        seed: opts.seed,
        cases_run: 0,
        not_applicable: 0,
        by_class: BTreeMap::new(),
        shrink_requests: 0,
        stopped_for_time: false,
        stopped_for_findings: false,
        interrupted: false,
        findings: Vec::new(),
        elapsed_ms: 0.0,
    };
    let mut known: BTreeSet<String> = BTreeSet::new();
    // Cases that cannot be sent do not count; give up after this many in a row.
    let max_not_applicable = opts.cases.saturating_mul(4).max(1024);
    let mut not_applicable_in_a_row = 0;
    while out.cases_run < opts.cases {
        if crate::interrupt::interrupted() {
            out.interrupted = true;
            break;
        }
        if out.findings.len() >= opts.max_findings {
            out.stopped_for_findings = true;
            break;
        }
        if started.elapsed() > opts.time_limit {
            out.stopped_for_time = true;
            break;
        }
        let Ok(mut tree) = strategy.new_tree(&mut runner) else {
            break;
        };
        let trial = match runtime.block_on(try_case(ctx, &tree.current())) {
            Ok(t) => t,
            Err(_) => {
                out.not_applicable += 1;
                not_applicable_in_a_row += 1;
                if not_applicable_in_a_row > max_not_applicable {
                    break;
                }
                continue;
            }
        };
        not_applicable_in_a_row = 0;
        out.cases_run += 1;
        *out.by_class.entry(trial.class.name().into()).or_insert(0) += 1;
        let Some(finding) = &trial.finding else {
            continue;
        };
        // A finding is new when none of its keys is an earlier finding's (one root cause,
        // one finding); shrinking may show it is an earlier one after all.
        let keys = finding.judged_keys();
        if count_as_known(&mut out.findings, &known, &keys) {
            continue;
        }
        let found_after = out.cases_run;
        let (minimal, requests) = shrink(
            ctx,
            runtime,
            &mut tree,
            trial.clone(),
            opts.max_shrink_iters,
        );
        out.shrink_requests += requests;
        let minimal_keys = minimal
            .finding
            .as_ref()
            .map(CaseFinding::judged_keys)
            .unwrap_or_default();
        if count_as_known(&mut out.findings, &known, &minimal_keys) {
            continue;
        }
        known.extend(minimal_keys.iter().cloned());
        out.findings.push(Found {
            keys: minimal_keys,
            found_after,
            more_cases: 0,
            shrink_requests: requests,
            original: trial,
            minimal,
        });
    }
    out.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    out
}

/// Whether `keys` overlap an earlier finding's; if so that finding counts one more case.
fn count_as_known(findings: &mut [Found], known: &BTreeSet<String>, keys: &[String]) -> bool {
    if !keys.iter().any(|k| known.contains(k)) {
        return false;
    }
    if let Some(f) = findings
        .iter_mut()
        .find(|f| f.keys.iter().any(|k| keys.contains(k)))
    {
        f.more_cases += 1;
    }
    true
}

/// Sends saved cases again, in order: the regression corpus.
pub async fn replay(ctx: &RunContext, cases: &[Case]) -> Vec<Result<Trial, NotApplicable>> {
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push(try_case(ctx, case).await);
    }
    out
}
