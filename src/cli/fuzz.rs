//! The `fuzz` command: start the servers, send the preflight's valid ID-JAG, run generated
//! cases (or replay saved ones), and print, report and save every distinct finding shrunk.

use crate::cli::args::{parse_defect, parse_duration};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::fuzz::model::Case;
use crate::fuzz::run::{FuzzOptions, FuzzOutcome, Trial, fuzz_blocking, replay, world};
use crate::oracle::fuzz::{judge_fuzz_control, judge_fuzz_run, judge_trial, level_of};
use crate::oracle::{self, Judgement};
use crate::reference::Defect;
use crate::report::model::{CheckResult, RunResults, Summary, TargetInfo};
use crate::runner::{Environment, RunContext, RunOptions};
use crate::spec::{DRAFT, Level, Requirement};

/// The most cases one run may generate.
pub const MAX_CASES: u32 = 1_000_000;

/// `xaa-conform fuzz` options.
#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Expectation profile (default id-jag-04).
    #[arg(long, value_name = "PROFILE", value_parser = crate::cli::args::profile_parser())]
    pub profile: Option<String>,
    /// Cases to generate.
    #[arg(long, default_value_t = 256)]
    pub cases: u32,
    /// Seed of the generator: the same seed gives the same cases (default: a random one,
    /// printed so the run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop generating cases after this long.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub time_limit: Duration,
    /// At most this many mutation steps per case.
    #[arg(long, default_value_t = 4)]
    pub max_steps: usize,
    /// Never generate steps of this kind or on this part of the request (repeatable): a kind
    /// such as `extra_header`, or a part such as `claim:sub` or `header:typ`, e.g. a known
    /// divergence, to look for others.
    #[arg(long, value_name = "KIND|PART", value_parser = parse_kind)]
    pub without: Vec<String>,
    /// Stop after this many distinct findings (each shrunk and reported).
    #[arg(long, default_value_t = 10)]
    pub max_findings: usize,
    /// Where the reports go: fuzz.json (the seed, the cases and every finding shrunk), the
    /// run's results.json, junit.xml and report.html, and fuzz-failures.json (the regression
    /// corpus, unless --failures).
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub report_dir: PathBuf,
    /// `warn`: a WARN fails the run as a FAIL does (exit 1); `fail` (the default): only FAILs.
    #[arg(long, value_name = "fail|warn", default_value = "fail", value_parser = crate::cli::args::parse_fail_on)]
    pub fail_on: crate::spec::FailOn,
    /// The regression corpus: minimal violating cases are appended here
    /// (default: <report-dir>/fuzz-failures.json).
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Send the cases saved in FILE again instead of generating new ones.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Switch a defect on in the embedded reference RAS (repeatable); `xaa-conform list
    /// --defects` lists them.
    #[arg(long = "reference-defect", value_name = "NAME", value_parser = parse_defect)]
    pub reference_defect: Vec<Defect>,
    /// Rate-limit the embedded reference RAS to N token requests per second per client
    /// (a 429 with Retry-After above it); a 429 is judged like any refusal.
    #[arg(long, value_name = "N")]
    pub reference_rate_limit: Option<u32>,
    /// Per-request timeout (default 10s, or the target file's).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Folder of issuer keys from `keys generate`.
    #[arg(long, default_value = "keys")]
    pub keys: PathBuf,
}

fn parse_kind(s: &str) -> Result<String, String> {
    use crate::fuzz::model::{PARTS, STEP_KINDS, is_leave_out};
    if is_leave_out(s) {
        return Ok(s.to_string());
    }
    let names: Vec<&str> = STEP_KINDS.iter().chain(PARTS).copied().collect();
    match crate::names::did_you_mean(s, &names) {
        Some(near) => Err(format!("unknown step kind or part `{s}`; {near}")),
        None => Err(format!(
            "unknown step kind or part `{s}`; valid kinds: {}; valid parts: {}",
            STEP_KINDS.join(", "),
            PARTS.join(", ")
        )),
    }
}

/// One saved violation: the regression corpus entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFailure {
    /// The seed that found it.
    pub seed: u64,
    /// What the server did wrong.
    pub violation: String,
    /// The requirement it broke, when the finding names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// The minimal case.
    pub case: Case,
}

fn read_failures(path: &Path) -> Result<Vec<SavedFailure>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
}

fn append_failure(path: &Path, entry: SavedFailure) -> Result<(), String> {
    let mut all = if path.exists() {
        read_failures(path)?
    } else {
        Vec::new()
    };
    if !all.iter().any(|f| f.case == entry.case) {
        all.push(entry);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The requirement a finding is filed under: the row's level in this world and its source.
fn requirement_of(ctx: &RunContext, row: Option<&str>) -> Requirement {
    let w = world(ctx);
    match row.and_then(crate::catalogue::find) {
        Some(r) => Requirement {
            level: level_of(r.id, &w),
            source: r.source.to_string(),
        },
        None => Requirement {
            level: Level::Must,
            source: "the fuzz table (src/oracle/fuzz.rs): RFC 7523 §3; ID-JAG §4.4; RFC 6749 §5.2"
                .into(),
        },
    }
}

/// A report entry for one sent case, judged by the oracle.
fn check_of(ctx: &RunContext, id: String, trial: &Trial) -> CheckResult {
    let judgement = judge_trial(trial.finding.as_ref(), &trial.case.describe());
    let row = trial.finding.as_ref().and_then(|f| f.row());
    let broken = match &trial.finding {
        Some(f) => format!(" ({})", f.keys().join(", ")),
        None => String::new(),
    };
    CheckResult {
        title: format!("generated case: {}{broken}", trial.case.describe()),
        id,
        requirement: requirement_of(ctx, row),
        tags: vec!["fuzz".into()],
        verdict: judgement.verdict,
        reason: judgement.reason,
        token: trial.token.clone(),
        exchanges: trial.exchange.iter().cloned().collect(),
        elapsed_ms: trial.exchange.as_ref().map_or(0.0, |e| e.elapsed_ms),
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

/// The report entry of the run as a whole.
fn summary_check(ctx: &RunContext, outcome: &FuzzOutcome) -> CheckResult {
    let j = judge_fuzz_run(outcome.cases_run, outcome.findings.len());
    CheckResult {
        id: "FUZZ".into(),
        title: format!(
            "generated cases with seed {}: no token for a case that breaks a MUST, a token for a valid one, never a 5xx",
            outcome.seed
        ),
        requirement: requirement_of(ctx, None),
        tags: vec!["fuzz".into()],
        verdict: j.verdict,
        reason: j.reason,
        token: None,
        exchanges: Vec::new(),
        elapsed_ms: outcome.elapsed_ms,
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

/// The one report entry of a fuzz run stopped by its control (the preflight).
fn control_check(
    judgement: Judgement,
    exchange: Option<crate::report::model::Exchange>,
) -> CheckResult {
    CheckResult {
        id: oracle::PREFLIGHT_ID.into(),
        title: "one valid ID-JAG for C1 is accepted before any generated case (the fuzz control)"
            .into(),
        requirement: Requirement {
            level: Level::Must,
            source: "setup: the target file and the RAS's trust in the fake IdP".into(),
        },
        tags: vec!["preflight".into(), "fuzz".into()],
        verdict: judgement.verdict,
        reason: judgement.reason,
        token: None,
        elapsed_ms: exchange.as_ref().map_or(0.0, |e| e.elapsed_ms),
        exchanges: exchange.into_iter().collect(),
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

/// Report IDs for findings: the row and `@fuzz`, numbered when a row comes back.
fn finding_id(taken: &mut Vec<String>, row: Option<&str>) -> String {
    let base = format!("{}@fuzz", row.unwrap_or("FUZZ"));
    let mut id = base.clone();
    let mut n = 1;
    while taken.contains(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    taken.push(id.clone());
    id
}

fn print_trial(label: &str, trial: &Trial) {
    let what = trial.finding.as_ref().map_or("held".to_string(), |f| {
        format!("{} {}", f.verdict, f.reason)
    });
    outln!("{label}: {what}");
    outln!(
        "  class: {} ({})",
        trial.class.name(),
        trial.class.rows().join(", ")
    );
    for step in &trial.case.steps {
        outln!("  step: {}", step.describe());
    }
    if let Some(t) = &trial.token {
        outln!("  header: {}", t.header);
        outln!("  claims: {}", t.claims);
    }
    if let Some(ex) = &trial.exchange {
        match &ex.response {
            Some(r) => {
                let body: String = r.body.chars().take(300).collect();
                outln!("  answer: {} {body}", r.status);
            }
            None => outln!(
                "  answer: none ({})",
                ex.error.as_deref().unwrap_or("no response")
            ),
        }
        outln!("  reproduce: {}", ex.curl);
    }
}

/// Runs `xaa-conform fuzz`; returns the exit code (0 no violation, 1 violation, 2 bad input,
/// 3 the run could not happen).
pub async fn main(args: FuzzArgs) -> u8 {
    crate::interrupt::install();
    if args.cases == 0 || args.cases > MAX_CASES {
        eprintln!("error: --cases must be between 1 and {MAX_CASES}");
        return 2;
    }
    if args.max_findings == 0 {
        eprintln!("error: --max-findings must be at least 1");
        return 2;
    }
    if args.max_steps == 0 || args.max_steps > 16 {
        eprintln!("error: --max-steps must be between 1 and 16");
        return 2;
    }
    let replayed = match &args.replay {
        Some(path) => match read_failures(path) {
            Ok(list) => Some(list),
            Err(e) => {
                eprintln!("error: --replay {e}");
                return 2;
            }
        },
        None => None,
    };
    let opts = RunOptions {
        target: args.target.clone(),
        profile: args.profile.clone(),
        defects: args
            .reference_defect
            .iter()
            .copied()
            .collect::<BTreeSet<_>>(),
        timeout: args.timeout,
        reference_rate_limit: args.reference_rate_limit,
        keys_dir: Some(args.keys.clone()),
        ..RunOptions::default()
    };
    let env = match Environment::start(&opts, None).await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let started = Instant::now();
    let code = run_with(&env, &args, replayed, &started_at, started).await;
    env.stop().await;
    code
}

async fn run_with(
    env: &Environment,
    args: &FuzzArgs,
    replayed: Option<Vec<SavedFailure>>,
    started_at: &str,
    started: Instant,
) -> u8 {
    let ctx = env.context();
    // The control is the preflight's valid ID-JAG: refused or unanswered, nothing can be
    // judged, and the preflight's diagnosis says why (exit 3, never a finding).
    let (preflight, exchange) = crate::runner::preflight::run(&ctx).await;
    let answer = exchange.as_ref().map(oracle::classify);
    if let Some(stop) = judge_fuzz_control(&preflight, answer.as_ref()) {
        eprintln!("error: {}", stop.reason);
        let results = results_of(
            env,
            args,
            vec![control_check(stop, exchange)],
            started_at,
            started,
        );
        write(&results, None, args);
        return 3;
    }

    let (checks, outcome_json) = match replayed {
        Some(list) => (replay_saved(&ctx, &list).await, None),
        None => match generate(&ctx, args).await {
            Ok((checks, outcome)) => (checks, Some(outcome)),
            Err(code) => return code,
        },
    };
    let mut results = results_of(env, args, checks, started_at, started);
    results.interrupted = outcome_json.as_ref().is_some_and(|o| o.interrupted);
    if !write(&results, outcome_json.as_ref(), args) {
        return 3;
    }
    if results.interrupted {
        eprintln!("interrupted: the reports hold the findings made before the signal");
        return crate::interrupt::EXIT_INTERRUPTED;
    }
    oracle::exit_code_under(
        results
            .checks
            .iter()
            .map(|c| (c.id.as_str(), c.verdict, c.reason.as_str())),
        &[],
        args.fail_on,
    )
}

/// Sends the saved cases again; returns their checks, judged afresh.
async fn replay_saved(ctx: &RunContext, list: &[SavedFailure]) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    let cases: Vec<Case> = list.iter().map(|f| f.case.clone()).collect();
    let trials = replay(ctx, &cases).await;
    for (i, (saved, trial)) in list.iter().zip(trials).enumerate() {
        let id = format!("FUZZ-REPLAY-{}", i + 1);
        match trial {
            Ok(trial) => {
                if trial.finding.is_some() {
                    print_trial(&format!("{id} still shows"), &trial);
                } else {
                    outln!("{id} holds now (was: {})", saved.violation);
                }
                checks.push(check_of(ctx, id, &trial));
            }
            Err(e) => outln!("{id} cannot be sent to this target: {e}"),
        }
    }
    outln!("replayed {} saved case(s)", list.len());
    checks
}

/// Generates and sends new cases, and saves every minimal finding; returns the checks (the
/// run's summary, then one per finding) and the outcome for fuzz.json (Err: the exit code
/// when the run stopped).
async fn generate(
    ctx: &Arc<RunContext>,
    args: &FuzzArgs,
) -> Result<(Vec<CheckResult>, FuzzOutcome), u8> {
    let seed = args.seed.unwrap_or_else(rand_seed);
    let opts = FuzzOptions {
        cases: args.cases,
        seed,
        time_limit: args.time_limit,
        max_steps: args.max_steps,
        without: args.without.clone(),
        max_findings: args.max_findings,
        ..FuzzOptions::default()
    };
    let handle = tokio::runtime::Handle::current();
    let ctx2 = ctx.clone();
    let outcome =
        match tokio::task::spawn_blocking(move || fuzz_blocking(&ctx2, &handle, &opts)).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: the fuzz run stopped: {e}");
                return Err(3);
            }
        };
    print_summary(&outcome);
    let mut checks = vec![summary_check(ctx, &outcome)];
    let mut taken = Vec::new();
    let path = failures_path(args);
    for (i, found) in outcome.findings.iter().enumerate() {
        let min = &found.minimal;
        outln!(
            "finding {}: after {} case(s), {} step(s) shrunk in {} request(s) to:",
            i + 1,
            found.found_after,
            found.original.case.steps.len(),
            found.shrink_requests
        );
        print_trial("minimal case", min);
        let row = min.finding.as_ref().and_then(|f| f.row());
        checks.push(check_of(ctx, finding_id(&mut taken, row), min));
        let entry = SavedFailure {
            seed,
            violation: min
                .finding
                .as_ref()
                .map(|f| f.reason.clone())
                .unwrap_or_default(),
            requirement: row.map(str::to_string),
            case: min.case.clone(),
        };
        if let Err(e) = append_failure(&path, entry) {
            eprintln!("error: cannot save the case: {e}");
        }
    }
    if !outcome.findings.is_empty() {
        outln!(
            "saved to {} (re-run: --replay {})",
            path.display(),
            path.display()
        );
    }
    Ok((checks, outcome))
}

fn print_summary(o: &FuzzOutcome) {
    let kinds: Vec<String> = o.by_class.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let stopped = if o.interrupted {
        ", interrupted (Ctrl-C)"
    } else if o.stopped_for_findings {
        ", stopped at --max-findings"
    } else if o.stopped_for_time {
        ", stopped by the time limit"
    } else {
        ""
    };
    let found = match o.findings.len() {
        0 => "no finding".to_string(),
        n => format!("{n} distinct finding(s)"),
    };
    outln!(
        "fuzz: {} case(s) with seed {} ({}) in {:.1} s{stopped}: {found}",
        o.cases_run,
        o.seed,
        kinds.join(", "),
        o.elapsed_ms / 1000.0,
    );
}

fn rand_seed() -> u64 {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ]) % 1_000_000_000
}

fn failures_path(args: &FuzzArgs) -> PathBuf {
    args.failures
        .clone()
        .unwrap_or_else(|| args.report_dir.join("fuzz-failures.json"))
}

fn results_of(
    env: &Environment,
    args: &FuzzArgs,
    checks: Vec<CheckResult>,
    started_at: &str,
    started: Instant,
) -> RunResults {
    let ctx = env.context();
    RunResults {
        schema_version: crate::report::model::RESULTS_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        draft: DRAFT.to_string(),
        profile: ctx.profile.clone(),
        target: TargetInfo {
            kind: env.kind().to_string(),
            issuer: ctx.fixture.ras_issuer.clone(),
            token_endpoint: ctx.fixture.token_endpoint.clone(),
            defects: args
                .reference_defect
                .iter()
                .map(|d| d.name().to_string())
                .collect(),
        },
        started_at: started_at.to_string(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        summary: Summary::of(&checks),
        checks: checks.into_iter().map(CheckResult::with_hint).collect(),
        expected_failures: Vec::new(),
        interrupted: false,
    }
}

/// Writes fuzz.json and the usual results files; false when a file could not be written.
fn write(results: &RunResults, outcome: Option<&FuzzOutcome>, args: &FuzzArgs) -> bool {
    let mut ok = true;
    if !super::announce_reports(crate::report::write_reports(results, &args.report_dir)) {
        ok = false;
    }
    if let Some(o) = outcome {
        let path = args.report_dir.join("fuzz.json");
        match serde_json::to_string_pretty(o) {
            Ok(text) => {
                if let Err(e) = std::fs::write(&path, text + "\n") {
                    eprintln!("error: {}: {e}", path.display());
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("error: fuzz.json: {e}");
                ok = false;
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::parse_kind;

    #[test]
    fn a_mistyped_kind_gets_the_nearest_name_not_the_whole_list() {
        assert_eq!(parse_kind("claim:sub").unwrap(), "claim:sub");
        let err = parse_kind("claim:sbu").unwrap_err();
        assert!(
            err.contains("did you mean") && err.contains("`claim:sub`"),
            "{err}"
        );
        assert!(!err.contains("valid kinds"), "{err}");
        let far = parse_kind("zzzzzzzzzzzz").unwrap_err();
        assert!(far.contains("valid kinds"), "{far}");
    }
}
