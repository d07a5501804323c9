//! The `fuzz` command: start the servers, run generated cases (or replay saved ones), print
//! and save the minimal violating case.

use crate::cli::args::{parse_defect, parse_duration};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::fuzz::model::Case;
use crate::fuzz::run::{FuzzOptions, FuzzOutcome, Trial, fuzz_blocking, replay};
use crate::reference::Defect;
use crate::report::model::{CheckResult, RunResults, Summary, TargetInfo};
use crate::runner::{Environment, RunContext, RunOptions};
use crate::spec::{DRAFT, Level, Requirement, Verdict};

/// The most cases one run may generate.
pub const MAX_CASES: u32 = 1_000_000;

/// `xaa-conform fuzz` options.
#[derive(Debug, Clone, clap::Args)]
pub struct FuzzArgs {
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Expectation profile.
    #[arg(long)]
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
    /// Never generate steps of this kind (repeatable), e.g. a known divergence such as
    /// `extra_header`, to look for others.
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub without: Vec<String>,
    /// Where fuzz.json and the results/report files go.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// The regression corpus: minimal violating cases are appended here
    /// (default: <report-dir>/fuzz-failures.json).
    #[arg(long, value_name = "FILE")]
    pub failures: Option<PathBuf>,
    /// Send the cases saved in FILE again instead of generating new ones.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Switch a defect on in the embedded reference RAS (repeatable).
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
    if crate::fuzz::model::STEP_KINDS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown step kind `{s}`; valid kinds: {}",
            crate::fuzz::model::STEP_KINDS.join(", ")
        ))
    }
}

/// One saved violation: the regression corpus entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFailure {
    /// The seed that found it.
    pub seed: u64,
    /// What the server did wrong.
    pub violation: String,
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

fn check_of(id: String, trial: &Trial) -> CheckResult {
    let (verdict, reason) = match &trial.violation {
        Some(v) => (Verdict::Fail, format!("{v} ({})", trial.case.describe())),
        None => (Verdict::Pass, format!("held: {}", trial.case.describe())),
    };
    CheckResult {
        title: format!("generated case: {}", trial.case.describe()),
        id,
        requirement: Requirement {
            level: Level::Must,
            source: "RFC 7523 §3; ID-JAG §4.4; RFC 6749 §5.2 (the fuzz property)".into(),
        },
        tags: vec!["fuzz".into()],
        verdict,
        reason,
        token: trial.token.clone(),
        exchanges: trial.exchange.iter().cloned().collect(),
        elapsed_ms: trial.exchange.as_ref().map_or(0.0, |e| e.elapsed_ms),
        findings: Vec::new(),
    }
}

fn print_trial(label: &str, trial: &Trial) {
    println!("{label}: {}", trial.violation.as_deref().unwrap_or("held"));
    println!("  expected: {:?}", trial.expected);
    for step in &trial.case.steps {
        println!("  step: {}", step.describe());
    }
    if let Some(t) = &trial.token {
        println!("  header: {}", t.header);
        println!("  claims: {}", t.claims);
    }
    if let Some(ex) = &trial.exchange {
        match &ex.response {
            Some(r) => {
                let body: String = r.body.chars().take(300).collect();
                println!("  answer: {} {body}", r.status);
            }
            None => println!(
                "  answer: none ({})",
                ex.error.as_deref().unwrap_or("no response")
            ),
        }
        println!("  reproduce: {}", ex.curl);
    }
}

/// Runs `xaa-conform fuzz`; returns the exit code (0 no violation, 1 violation, 2 bad input,
/// 3 the run could not happen).
pub async fn main(args: FuzzArgs) -> u8 {
    if args.cases == 0 || args.cases > MAX_CASES {
        eprintln!("error: --cases must be between 1 and {MAX_CASES}");
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
    // The positive control: the unchanged ID-JAG must be accepted, or nothing can be judged.
    let control = match crate::fuzz::run::try_case(&ctx, &Case { steps: vec![] }).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: the valid ID-JAG could not be built: {e}");
            return 3;
        }
    };
    if let Some(why) = &control.violation {
        eprintln!("error: the positive control failed, so no case can be judged: {why}");
        let results = results_of(
            env,
            args,
            vec![check_of("FUZZ-CONTROL".into(), &control)],
            started_at,
            started,
        );
        write(&results, None, args);
        return 3;
    }

    let mut checks = vec![check_of("FUZZ-CONTROL".into(), &control)];
    let (more, violated, outcome_json) = match replayed {
        Some(list) => {
            let (more, violated) = replay_saved(&ctx, &list).await;
            (more, violated, None)
        }
        None => match generate(&ctx, args).await {
            Ok((more, violated, outcome)) => (more, violated, Some(outcome)),
            Err(code) => return code,
        },
    };
    checks.extend(more);
    let results = results_of(env, args, checks, started_at, started);
    if !write(&results, outcome_json.as_ref(), args) {
        return 3;
    }
    u8::from(violated)
}

/// Sends the saved cases again; returns their checks and whether one still violates.
async fn replay_saved(ctx: &RunContext, list: &[SavedFailure]) -> (Vec<CheckResult>, bool) {
    let mut checks = Vec::new();
    let mut violated = false;
    let cases: Vec<Case> = list.iter().map(|f| f.case.clone()).collect();
    let trials = replay(ctx, &cases).await;
    for (i, (saved, trial)) in list.iter().zip(trials).enumerate() {
        let id = format!("FUZZ-REPLAY-{}", i + 1);
        match trial {
            Ok(trial) => {
                if trial.violation.is_some() {
                    violated = true;
                    print_trial(&format!("{id} still violates"), &trial);
                } else {
                    println!("{id} holds now (was: {})", saved.violation);
                }
                checks.push(check_of(id, &trial));
            }
            Err(e) => println!("{id} cannot be sent to this target: {e}"),
        }
    }
    println!("replayed {} saved case(s)", list.len());
    (checks, violated)
}

/// Generates and sends new cases, and saves the minimal violating one; returns its check,
/// whether there was a violation, and the outcome for fuzz.json (Err: the exit code when the
/// run stopped).
async fn generate(
    ctx: &Arc<RunContext>,
    args: &FuzzArgs,
) -> Result<(Vec<CheckResult>, bool, FuzzOutcome), u8> {
    let mut checks = Vec::new();
    let mut violated = false;
    let seed = args.seed.unwrap_or_else(rand_seed);
    let opts = FuzzOptions {
        cases: args.cases,
        seed,
        time_limit: args.time_limit,
        max_steps: args.max_steps,
        without: args.without.clone(),
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
    if let Some(min) = &outcome.minimal {
        violated = true;
        if let Some(orig) = &outcome.original {
            println!(
                "found after {} case(s) with {} step(s); shrunk in {} request(s) to:",
                outcome.cases_run,
                orig.case.steps.len(),
                outcome.shrink_requests
            );
        }
        print_trial("minimal case", min);
        checks.push(check_of("FUZZ-1".into(), min));
        let path = failures_path(args);
        let entry = SavedFailure {
            seed,
            violation: min.violation.clone().unwrap_or_default(),
            case: min.case.clone(),
        };
        match append_failure(&path, entry) {
            Ok(()) => println!(
                "saved to {} (re-run: --replay {})",
                path.display(),
                path.display()
            ),
            Err(e) => eprintln!("error: cannot save the failing case: {e}"),
        }
    }
    Ok((checks, violated, outcome))
}

fn print_summary(o: &FuzzOutcome) {
    let kinds: Vec<String> = o
        .by_expectation
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    println!(
        "fuzz: {} case(s) with seed {} ({}) in {:.1} s{}: {}",
        o.cases_run,
        o.seed,
        kinds.join(", "),
        o.elapsed_ms / 1000.0,
        if o.stopped_for_time {
            ", stopped by the time limit"
        } else {
            ""
        },
        if o.minimal.is_some() {
            "VIOLATION"
        } else {
            "no violation"
        }
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
        checks,
        expected_failures: Vec::new(),
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
