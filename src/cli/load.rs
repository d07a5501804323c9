//! The `load` command: options → servers → race, lane, load, limit probes → report →
//! thresholds → exit code.
//!
//! Phases, in order (each skipped when switched off): the replay race (LOAD-02) and the
//! conformance lane's quiet pass on a fresh server; with `--invalid-share`, a short valid-only
//! calibration at the load's rate (LOAD-07's baseline); the open-model load (goose) with the
//! lane running beside it (its latency trend is LOAD-04); the slow JWKS (`--jwks-stall`,
//! LOAD-06); the rate-limit probes (`--find-limit`, LOAD-01). Then `load.json` and `load.html`
//! are written, also after Ctrl-C (a partial report, marked as such).

use crate::cli::args::{parse_defect, parse_duration};
use std::io::IsTerminal;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::fixture::Fixture;
use crate::jose::{IssuerRole, KeyAlg, Keyring};
use crate::load::engine::{self, EngineConfig, EngineOutcome, Live};
use crate::load::jag::{JagFactory, JagKind, TokenForm};
use crate::load::lane::{self, LaneResult};
use crate::load::limit::{self, LimitOptions, LimitOutcome};
use crate::load::merge::MergeArgs;
use crate::load::output::write_reports;
use crate::load::phase::PhaseBoard;
use crate::load::probe::{Identity, Prober};
use crate::load::race::{self, RaceOutcome};
use crate::load::report::{
    GeneratorHealth, LoadCheck, LoadConfigReport, LoadReport, RateLimitReport,
};
use crate::load::schedule::Schedule;
use crate::load::shard::Shard;
use crate::load::stall::{self, StallOutcome};
use crate::load::stats::Class;
use crate::load::threshold;
use crate::oracle::Judgement;
use crate::oracle::load::{self as oracle_load, MixedObservation};
use crate::reference::Defect;
use crate::runner::{Environment, RunContext, RunOptions};

/// Longest run `--duration` (or a plan) may ask for.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// The signing algorithm of the minted ID-JAGs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Alg {
    /// ECDSA P-256 (fast to sign).
    Es256,
    /// RSA-2048 PKCS#1 v1.5.
    Rs256,
}

/// The algorithm `load` signs its ID-JAGs with: `--alg` when given, else the target's
/// default (the first of its `accepted_algs`).
pub fn load_alg(alg: Option<Alg>, fixture: &crate::fixture::Fixture) -> KeyAlg {
    alg.map_or_else(|| fixture.default_alg(), Alg::key_alg)
}

impl Alg {
    fn key_alg(self) -> KeyAlg {
        match self {
            Alg::Es256 => KeyAlg::ES256,
            Alg::Rs256 => KeyAlg::RS256,
        }
    }
}

/// `xaa-conform load` options.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LoadArgs {
    /// `load merge`: add up shard reports.
    #[command(subcommand)]
    pub command: Option<LoadCommand>,
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Expectation profile (default id-jag-04; mcp-ema requires single use: a replay race with
    /// two tokens FAILs).
    #[arg(long, value_name = "PROFILE", value_parser = crate::cli::args::profile_parser())]
    pub profile: Option<String>,
    /// Arrival rate: requests started per second, on schedule whatever the latency (also the
    /// highest rate --find-limit tries).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long to send at --rate (required unless --requests or --plan).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Send this many requests at --rate instead of a duration.
    #[arg(long, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// A linear ramp from 0 to --rate before --duration.
    #[arg(long, value_parser = parse_duration)]
    pub ramp: Option<Duration>,
    /// A rate plan instead of --rate/--duration: `10/s:5s,10..50/s:10s,50/s:30s`.
    #[arg(long, conflicts_with_all = ["duration", "requests", "ramp"])]
    pub plan: Option<String>,
    /// goose users, the most requests in flight (default: enough for 100 ms at the peak rate).
    #[arg(long)]
    pub users: Option<usize>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Signing algorithm of the ID-JAGs (default: the target's default algorithm, the first
    /// of its `accepted_algs`).
    #[arg(long, value_enum)]
    pub alg: Option<Alg>,
    /// Send one ID-JAG repeatedly (for servers that allow reuse, e.g. the Auth0 profile).
    #[arg(long)]
    pub reuse_assertion: bool,
    /// Share of requests carrying an invalid ID-JAG (expired, wrong aud, bad signature):
    /// `0.1` or `10%`. An invalid one accepted, or a valid one answered 5xx, is a FAIL.
    #[arg(long, default_value = "0", value_parser = parse_share)]
    pub invalid_share: f64,
    /// Find the rate limit up to --rate and check 429, Retry-After, recovery and its key.
    #[arg(long)]
    pub find_limit: bool,
    /// Length of each --find-limit step.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub step: Duration,
    /// Steady-state window the limit is measured over.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub hold: Duration,
    /// Concurrent requests of the replay race (0: no race).
    #[arg(long, default_value_t = 10)]
    pub race: usize,
    /// After the load, this long at --rate while the trusted issuer's JWKS answers only after
    /// 6 s, with every 4th ID-JAG under a kid no one publishes (LOAD-06: fail closed, keep
    /// serving). 0: no such phase.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub jwks_stall: Duration,
    /// Rate of the conformance lane during the load, per second (0: no lane).
    #[arg(long, default_value_t = 2.0)]
    pub lane_rate: f64,
    /// Skip the preflight (one valid ID-JAG, judged as `run` judges it, before any load): to
    /// load a server's failure path. A load in which no valid ID-JAG got a token still exits 3.
    #[arg(long)]
    pub no_preflight: bool,
    /// A pass/fail threshold on the results (repeatable): `p99<200ms`, `error_rate<0.1%`,
    /// `accepted_rps>=100`. A breach exits 4.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Where the reports go: load.json (the figures, the checks and the thresholds, for
    /// `load merge` and `diff`) and load.html (the latency charts, to read in a browser).
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub report_dir: PathBuf,
    /// `warn`: a WARN fails the run as a FAIL does (exit 1); `fail` (the default): only FAILs.
    #[arg(long, value_name = "fail|warn", default_value = "fail", value_parser = crate::cli::args::parse_fail_on)]
    pub fail_on: crate::spec::FailOn,
    /// This process is shard i of N (0-based): it sends its share of the schedule.
    #[arg(long, value_name = "i/N")]
    pub shard: Option<String>,
    /// Switch a defect on in the embedded reference RAS (repeatable); `xaa-conform list
    /// --defects` lists them.
    #[arg(long = "reference-defect", value_name = "NAME", value_parser = parse_defect)]
    pub reference_defect: Vec<Defect>,
    /// Rate limit of the embedded reference RAS: requests per second per client.
    #[arg(long, value_name = "N")]
    pub reference_rate_limit: Option<u32>,
    /// Folder of issuer keys from `keys generate`.
    #[arg(long, default_value = "keys")]
    pub keys: PathBuf,
}

/// Subcommands of `load`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LoadCommand {
    /// Merge shard reports (`load.json` of each `--shard i/N` run) into one.
    Merge(MergeArgs),
}

/// `0.1` or `10%`, within 0–1.
fn parse_share(s: &str) -> Result<f64, String> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| format!("`{s}` is not a share (0.1 or 10%)"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 1 (0%–100%)"))
    }
}

use crate::spec::worst_exit as worst;

/// The schedule the options ask for (exit 2 when they do not make one).
pub fn schedule_of(args: &LoadArgs, shard: Shard) -> Result<Schedule, String> {
    let schedule = match (&args.plan, args.duration, args.requests) {
        (Some(plan), _, _) => Schedule::parse(plan).map_err(|e| e.to_string())?,
        (None, Some(d), _) => Schedule::constant(args.rate, d, args.ramp.unwrap_or_default())
            .map_err(|e| e.to_string())?,
        (None, None, Some(n)) => {
            if args.rate.is_nan() || args.rate <= 0.0 {
                return Err("--rate must be above 0".into());
            }
            let d = Duration::from_secs_f64(n as f64 / args.rate);
            Schedule::constant(args.rate, d, args.ramp.unwrap_or_default())
                .map_err(|e| e.to_string())?
        }
        (None, None, None) => {
            return Err("a load run must be bounded: give --duration, --requests or --plan".into());
        }
    };
    if schedule.duration() > MAX_DURATION {
        return Err(format!(
            "the run would last {}, more than the ceiling of {}",
            humantime::format_duration(schedule.duration()),
            humantime::format_duration(MAX_DURATION)
        ));
    }
    schedule
        .shard(shard.index, shard.count)
        .map_err(|e| e.to_string())
}

/// The identities of a run: C1 with issuer A, C2 with issuer A, C1 with issuer B.
fn identities(
    keyring: &Arc<Keyring>,
    fixture: &Fixture,
    alg: KeyAlg,
    jti_prefix: &str,
) -> Result<(Identity, Option<Identity>, Option<Identity>), String> {
    let base = fixture.baseline();
    let make = |label: &str, role, client: &crate::fixture::Client, tag: &str| {
        let mut b = base.clone();
        b.client_id = client.id.clone();
        JagFactory::new(
            keyring.clone(),
            &b,
            role,
            alg,
            &format!("{jti_prefix}{tag}"),
        )
        .and_then(|jags| jags.with_foreign_audience(&fixture.other_ras))
        .map(|jags| Identity {
            label: label.to_string(),
            jags: Arc::new(jags),
            form: TokenForm::new(&client.id, &client.secret, client.auth),
        })
        .map_err(|e| format!("cannot mint: {e}"))
    };
    let c1a = make("C1/A", IssuerRole::Trusted, &fixture.client, "a")?;
    let c2a = match &fixture.client2 {
        Some(c2) => Some(make("C2/A", IssuerRole::Trusted, c2, "c")?),
        None => None,
    };
    let c1b = if fixture.issuers.contains_key(&IssuerRole::TrustedB) {
        Some(make("C1/B", IssuerRole::TrustedB, &fixture.client, "b")?)
    } else {
        None
    };
    Ok((c1a, c2a, c1b))
}

fn progress_line(live: &Live) {
    let p99 = crate::load::figures::latency_ms(live.p99_us);
    let c = live.classes;
    let line = format!(
        "\rmain load {:>6.1}s  sent {}/{}  {:>7.1}/s  p99 {}  accepted {}  429 {}  rejected {}  error {}  late {}   ",
        live.elapsed.as_secs_f64(),
        live.sent,
        live.planned,
        live.rate,
        p99,
        c[0],
        c[1],
        c[2],
        c[3],
        live.late
    );
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// Runs `xaa-conform load`; returns the exit code.
pub async fn main(args: LoadArgs) -> u8 {
    if let Some(LoadCommand::Merge(m)) = &args.command {
        return crate::load::merge::run(m);
    }
    match run(&args).await {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

async fn run(args: &LoadArgs) -> Result<u8, (u8, String)> {
    let bad = |m: String| (2u8, m);
    let thresholds = threshold::parse_all(&args.thresholds).map_err(|e| bad(e.to_string()))?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).map_err(|e| bad(e.to_string()))?,
        None => Shard::SINGLE,
    };
    let schedule = schedule_of(args, shard).map_err(bad)?;
    if args.reuse_assertion && args.invalid_share > 0.0 {
        return Err(bad(
            "--reuse-assertion sends one valid ID-JAG: it cannot mix in invalid ones (--invalid-share)"
                .into(),
        ));
    }
    if args.find_limit && (args.rate.is_nan() || args.rate <= 0.0) {
        return Err(bad("--find-limit needs a --rate above 0".into()));
    }
    if args.target.is_some() && args.reference_rate_limit.is_some() {
        return Err(bad(
            "--reference-rate-limit applies to the embedded reference RAS; drop --target".into(),
        ));
    }

    // Ctrl-C: our handler, installed before goose's (which would exit 1 on a second signal);
    // the first stops every phase (no new request, in-flight ones cancelled) and trips
    // goose's killswitch, a second exits 130 at once.
    crate::interrupt::install();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        tokio::spawn(async move {
            crate::interrupt::signalled().await;
            stop.store(true, Ordering::Relaxed);
            goose::trigger_killswitch("SIGINT received");
        })
    };
    let opts = RunOptions {
        target: args.target.clone(),
        profile: args.profile.clone(),
        defects: args.reference_defect.iter().copied().collect(),
        timeout: Some(args.timeout),
        keys_dir: Some(args.keys.clone()),
        reference_rate_limit: args.reference_rate_limit,
        ..Default::default()
    };
    let env = Environment::start(&opts, None)
        .await
        .map_err(|e| (e.exit_code(), e.to_string()))?;
    let board = PhaseBoard::default();
    let tty = std::io::stderr().is_terminal();
    let ticker = tokio::spawn(show_phases(board.clone(), tty));
    let result = phases(args, &env, schedule, shard, &stop, &board).await;
    ticker.abort();
    if tty {
        eprint!("\r\x1b[2K");
    }
    env.stop().await;
    watcher.abort();
    let (mut report, unusable) = result?;
    let interrupted = stop.load(Ordering::Relaxed) || crate::interrupt::interrupted();
    report.interrupted = interrupted;

    // The checks' exit code by the contract's rules, as for `run` (a PREFLIGHT ERROR is 3, a
    // FAIL 1).
    let checks = report.checks.iter();
    let checks = checks.map(|c| (c.id.as_str(), c.verdict, c.reason.as_str()));
    let mut code = crate::oracle::exit_code_under(checks, &[], args.fail_on);
    if !report.apply_thresholds(&thresholds) {
        code = worst(code, 4);
    }
    if let Some(why) = &unusable {
        eprintln!("error: {why}: see load.json");
        code = worst(code, 3);
    }
    out!("{}", summary(&report));
    if !super::announce_reports(write_reports(&report, &args.report_dir)) {
        code = worst(code, 3);
    }
    if interrupted {
        eprintln!("interrupted: the reports hold what was measured before the signal");
        code = worst(code, crate::interrupt::EXIT_INTERRUPTED);
    }
    Ok(code)
}

/// How often a CI log hears which phase a load is in when nothing changed.
const PHASE_HEARTBEAT: Duration = Duration::from_secs(10);

/// Shows the phase `board` names: on a terminal, a live line redrawn every second (the
/// engine's own progress line takes over in the main load); in a CI log, a line when the
/// phase changes and a heartbeat every [`PHASE_HEARTBEAT`] while it lasts.
async fn show_phases(board: PhaseBoard, tty: bool) {
    let mut last: Option<String> = None;
    let mut said = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(if tty { 1000 } else { 250 })).await;
        let Some((phase, lasted)) = board.now() else {
            continue;
        };
        if tty {
            if phase != MAIN_LOAD {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{phase}  {:.0}s", lasted.as_secs_f64());
                let _ = err.flush();
            }
        } else if last.as_deref() != Some(phase.as_str()) {
            eprintln!("load: {phase}");
            said = std::time::Instant::now();
        } else if said.elapsed() >= PHASE_HEARTBEAT {
            eprintln!("load: {phase}, {:.0} s so far", lasted.as_secs_f64());
            said = std::time::Instant::now();
        }
        last = Some(phase);
    }
}

/// The phase name of the load itself.
const MAIN_LOAD: &str = "main load";

/// Runs the phases; returns the report and, when not one valid ID-JAG got a token, why the
/// run cannot judge the server. Each phase is named on `board` as it starts.
async fn phases(
    args: &LoadArgs,
    env: &Environment,
    schedule: Schedule,
    shard: Shard,
    stop: &Arc<AtomicBool>,
    board: &PhaseBoard,
) -> Result<(LoadReport, Option<String>), (u8, String)> {
    let ctx = env.context();
    let fixture = &ctx.fixture;
    let profile = ctx.profile.clone();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let jti_prefix = format!("{}{}-", shard.jti_prefix(), &run_id[..12]);
    let (c1a, c2a, c1b) = identities(
        &ctx.keyring,
        fixture,
        load_alg(args.alg, fixture),
        &jti_prefix,
    )
    .map_err(|e| (3, e))?;
    let prober = Prober::new(&fixture.token_endpoint, args.timeout).map_err(|e| (3, e))?;
    let stopped = || stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered();
    // The run's preflight first: a setup mistake is diagnosed before any load, and the
    // reports say so (exit 3).
    if !args.no_preflight && !stopped() {
        board.set("preflight");
        let (preflight, _) = crate::runner::preflight::run(&ctx).await;
        if let Some(diagnosis) = oracle_load::preflight_stops_load(&preflight) {
            let users = args.users.unwrap_or(1);
            let measured = Measured {
                outcome: EngineOutcome::not_started(schedule.len()),
                race: None,
                lane: None,
                limit: None,
                stall: None,
                baseline_p50_us: None,
            };
            let lane_rules = Vec::new();
            let (mut report, _) =
                report_of(args, &ctx, &schedule, shard, users, &lane_rules, measured)?;
            let j = crate::oracle::judge_preflight_stop(&diagnosis);
            report.checks.push(LoadCheck {
                id: crate::oracle::PREFLIGHT_ID.into(),
                level: crate::spec::Level::Must,
                verdict: j.verdict,
                reason: j.reason.clone(),
            });
            return Ok((report, Some(j.reason)));
        }
    }
    let lane_who = c2a.clone().unwrap_or_else(|| c1a.clone());
    let lane_rules = Arc::new(lane::rules_for(&profile, fixture).map_err(|e| (3, e))?);
    // Of a sharded test only shard 0 probes (race, lane, limit): N probers would disturb each
    // other and the load.
    let prober_shard = shard.index == 0;
    let race_n = if prober_shard { args.race } else { 0 };
    let lane_rate = if prober_shard { args.lane_rate } else { 0.0 };
    let find_limit = prober_shard && args.find_limit;

    // 1. On a quiet server: the race, and the lane's probes alone.
    let race: Option<RaceOutcome> = if race_n > 0 && !stopped() {
        board.set(format!("replay race ({race_n} at once)"));
        Some(race::run(&prober, &c1a, race_n, &profile, stop).await)
    } else {
        None
    };
    let mut lane_result = LaneResult::default();
    if lane_rate > 0.0 && !stopped() {
        board.set("conformance lane, alone");
        lane_result = lane::alone(&prober, &lane_who).await;
    }
    // Fresh buckets for the load.
    if race_n > 0 || lane_rate > 0.0 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    // 2. The load, with the lane beside it.
    let users = args
        .users
        .unwrap_or_else(|| engine::default_users(schedule.peak_rate() / f64::from(shard.count)));
    let lane_done = Arc::new(AtomicBool::new(false));
    // The lane runs under load only when its control was accepted: its probes say nothing
    // otherwise.
    let lane_control = lane_result
        .control
        .clone()
        .filter(|c| oracle_load::lane_control_accepted(Some(c)));
    let lane_task = (lane_rate > 0.0)
        .then_some(lane_control)
        .flatten()
        .map(|control| {
            tokio::spawn(lane::during(
                prober.clone(),
                lane_who.clone(),
                lane_rate,
                lane_done.clone(),
                lane_rules.clone(),
                control,
            ))
        });
    // Mixed traffic's baseline (LOAD-07): valid ID-JAGs alone at the load's rate, briefly.
    let baseline_p50_us = if args.invalid_share > 0.0 && !stopped() {
        board.set("mixed traffic's calibration (valid ID-JAGs only)");
        let calibration = calibration_schedule(&schedule).map_err(|e| (3, e))?;
        let prefix = format!("{jti_prefix}k");
        let o = run_engine(args, &ctx, &calibration, users, &prefix, &c1a, stop, None).await?;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        o.stats.latency_us(Class::Accepted, 0.5)
    } else {
        None
    };
    board.set(MAIN_LOAD);
    let outcome = run_engine(
        args,
        &ctx,
        &schedule,
        users,
        &jti_prefix,
        &c1a,
        stop,
        Some(args.invalid_share),
    )
    .await?;
    lane_done.store(true, Ordering::Relaxed);
    if let Some(t) = lane_task
        && let Ok(under) = t.await
    {
        lane_result.under_load = under;
    }

    // 3. The slow JWKS (LOAD-06), probed by shard 0 only.
    let stall: Option<StallOutcome> = match &ctx.hits {
        Some(idp) if prober_shard && !args.jwks_stall.is_zero() && !stopped() => {
            board.set(format!(
                "slow JWKS ({} s, the JWKS answering after {} s)",
                args.jwks_stall.as_secs_f64(),
                stall::JWKS_DELAY.as_secs()
            ));
            let s = stall::run(
                &prober,
                &c1a,
                idp,
                args.rate,
                args.jwks_stall,
                &profile,
                stop,
            )
            .await
            .map_err(|e| (3, e))?;
            // A new second for the limit's buckets.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            Some(s)
        }
        _ => None,
    };

    // 4. The rate limit.
    let limit: Option<LimitOutcome> = if find_limit && !stopped() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let o = LimitOptions {
            max_rate: args.rate,
            step: args.step,
            hold: args.hold,
            profile: profile.clone(),
            profile_limit: crate::runner::profile_max_rate(&profile),
            phase: board.clone(),
        };
        // Ctrl-C cancels the search at once (its waits included): LOAD-01 is then SKIP.
        let l = tokio::select! {
            l = limit::find_limit(&prober, &c1a, c2a.as_ref(), c1b.as_ref(), &o, stop) => l,
            _ = crate::load::probe::until_set(stop) => limit::interrupted(&o),
        };
        // A search whose streams were cut short measured nothing it can judge.
        Some(if stopped() { limit::interrupted(&o) } else { l })
    } else {
        None
    };

    // 5. The report.
    let measured = Measured {
        outcome,
        race,
        lane: (lane_rate > 0.0).then_some(lane_result),
        limit,
        stall,
        baseline_p50_us,
    };
    report_of(args, &ctx, &schedule, shard, users, &lane_rules, measured)
}

/// How long mixed traffic's valid-only calibration lasts (at most the load's length).
const CALIBRATION: Duration = Duration::from_secs(2);

/// The calibration's schedule: the load's mean rate for [`CALIBRATION`].
fn calibration_schedule(load: &Schedule) -> Result<Schedule, String> {
    let secs = load.duration().as_secs_f64().max(1e-3);
    let rate = load.len() as f64 / secs;
    Schedule::constant(rate, CALIBRATION.min(load.duration()), Duration::ZERO)
        .map_err(|e| e.to_string())
}

/// The open-model load (goose) on its own jti namespace, apart from the probes' (which share
/// C1/A's identity), with `invalid_share` of invalid ID-JAGs and the live progress line on a
/// terminal (`None`: valid ID-JAGs only, quietly: the calibration); not started when the run
/// was already stopped.
#[allow(clippy::too_many_arguments)]
async fn run_engine(
    args: &LoadArgs,
    ctx: &RunContext,
    schedule: &Schedule,
    users: usize,
    jti_prefix: &str,
    c1a: &Identity,
    stop: &Arc<AtomicBool>,
    invalid_share: Option<f64>,
) -> Result<EngineOutcome, (u8, String)> {
    let fixture = &ctx.fixture;
    let stopped = || stop.load(Ordering::Relaxed) || goose::is_killswitch_triggered();
    let mut base = fixture.baseline();
    base.client_id = fixture.client.id.clone();
    let engine_jags = Arc::new(
        JagFactory::new(
            ctx.keyring.clone(),
            &base,
            IssuerRole::Trusted,
            load_alg(args.alg, fixture),
            &format!("{jti_prefix}e"),
        )
        .and_then(|jags| jags.with_foreign_audience(&fixture.other_ras))
        .map_err(|e| (3, format!("cannot mint: {e}")))?,
    );
    let tty = std::io::stderr().is_terminal() && invalid_share.is_some();
    let cfg = EngineConfig {
        token_endpoint: fixture.token_endpoint.clone(),
        schedule: schedule.clone(),
        users,
        timeout: args.timeout,
        jags: engine_jags,
        form: c1a.form.clone(),
        reuse_assertion: args.reuse_assertion,
        invalid_share: invalid_share.unwrap_or(0.0),
        stop: stop.clone(),
        on_tick: tty.then(|| Arc::new(progress_line) as engine::TickFn),
    };
    let outcome: EngineOutcome = if stopped() {
        EngineOutcome::not_started(schedule.len())
    } else {
        engine::run(cfg).await.map_err(|e| (3, e.to_string()))?
    };
    if tty {
        eprintln!();
    }
    Ok(outcome)
}

/// What the phases of a run measured.
struct Measured {
    /// The load itself.
    outcome: EngineOutcome,
    /// The replay race, when it ran.
    race: Option<RaceOutcome>,
    /// The conformance lane, when it ran.
    lane: Option<LaneResult>,
    /// The rate-limit probes, when they ran.
    limit: Option<LimitOutcome>,
    /// The slow-JWKS phase, when it ran.
    stall: Option<StallOutcome>,
    /// Mixed traffic's calibration: the median (µs) of valid ID-JAGs alone, when it ran.
    baseline_p50_us: Option<u64>,
}

/// The load report of a run: configuration, figures, rate limit and checks; and, when not one
/// valid ID-JAG got a token, why the run cannot judge the server.
fn report_of(
    args: &LoadArgs,
    ctx: &RunContext,
    schedule: &Schedule,
    shard: Shard,
    users: usize,
    lane_rules: &lane::LaneRules,
    measured: Measured,
) -> Result<(LoadReport, Option<String>), (u8, String)> {
    let Measured {
        outcome,
        race,
        lane,
        limit,
        stall,
        baseline_p50_us,
    } = measured;
    let fixture = &ctx.fixture;
    let elapsed = if outcome.interrupted {
        outcome.elapsed
    } else {
        schedule.duration()
    };
    let g = &outcome.generator;
    let mut reason = g.reason.clone();
    if outcome.interrupted {
        let note = format!(
            "interrupted (Ctrl-C): partial report, {} of {} planned requests not sent",
            g.cancelled, g.planned
        );
        reason = Some(reason.map_or(note.clone(), |r| format!("{r}; {note}")));
    }
    let generator = GeneratorHealth {
        planned: g.planned,
        sent: g.sent,
        late: g.late,
        dropped: g.dropped + g.cancelled,
        max_late_us: g.max_late_us,
        valid: g.valid,
        reason,
    };
    let config = LoadConfigReport {
        token_endpoint: fixture.token_endpoint.clone(),
        profile: ctx.profile.clone(),
        rate_plan: schedule.to_string(),
        duration_s: schedule.duration().as_secs_f64(),
        users: users as u64,
        reuse_assertion: args.reuse_assertion,
        invalid_share: args.invalid_share,
        shard: args
            .shard
            .as_ref()
            .map(|_| format!("{}/{}", shard.index, shard.count)),
        alg: load_alg(args.alg, &ctx.fixture).name().to_string(),
    };
    let mut report = LoadReport::from_stats(config, &outcome.stats, elapsed, generator)
        .map_err(|e| (3, e.to_string()))?;
    report.errors = outcome
        .errors
        .iter()
        .map(|(f, n)| (f.name().to_string(), *n))
        .collect();
    if let Some(l) = &limit {
        report.checks.push(l.check.clone());
    }
    let mut by_phase = std::collections::BTreeMap::new();
    by_phase.insert(MAIN_LOAD.to_string(), report.classes.rate_limited);
    if let Some(r) = &race {
        by_phase.insert("replay race".into(), r.classes[Class::RateLimited as usize]);
    }
    if let Some(l) = &limit {
        by_phase.insert("limit search".into(), l.rate_limited);
    }
    if let Some(s) = &stall {
        by_phase.insert("slow JWKS".into(), s.rate_limited);
        report.checks.push(s.check.clone());
    }
    report.rate_limited_by_phase = by_phase;
    report.rate_limit = rate_limit_of(&outcome, schedule, limit.as_ref());
    if let Some(r) = &race {
        report.checks.push(r.check.clone());
    }
    let lane_checks = lane
        .as_ref()
        .map(|l| lane::judge(l, lane_rules))
        .unwrap_or_default();
    if !outcome.interrupted {
        report
            .checks
            .push(trend_check(&outcome, schedule, &ctx.profile));
    }
    let mixed_checks = if args.invalid_share > 0.0 {
        mixed_checks(&outcome, &ctx.profile, baseline_p50_us)
    } else {
        Vec::new()
    };
    report
        .checks
        .extend(merge_checks(lane_checks, mixed_checks));
    // Not one valid ID-JAG got a token: the figures describe refusals or failures, not a
    // token endpoint (exit 3, like a preflight stop on `run`).
    let valid = outcome
        .by_kind
        .get(&JagKind::Valid)
        .copied()
        .unwrap_or_default();
    let retry_after = outcome
        .retry_after
        .values
        .describe(outcome.retry_after.missing, std::time::SystemTime::now());
    let unusable = oracle_load::diagnose_load(valid.iter().sum(), &valid, &retry_after);
    Ok((report, unusable))
}

/// The rate-limit figures: the probes' (with the load's own Retry-After counts added), or,
/// without probes, the load's 429s (their Retry-After and the limit in its steady state).
fn rate_limit_of(
    outcome: &EngineOutcome,
    schedule: &Schedule,
    probes: Option<&LimitOutcome>,
) -> Option<RateLimitReport> {
    let ra = &outcome.retry_after;
    let main_rl = (ra.seen + ra.missing > 0).then(|| {
        let seconds: Vec<[u64; 4]> = outcome.stats.timeline().iter().map(|s| s.counts).collect();
        let full = schedule.duration().as_secs() as usize;
        RateLimitReport {
            measured_rps: limit::steady_accepted_rate(&seconds, full).unwrap_or(0.0),
            retry_after_seen: ra.seen,
            retry_after_missing: ra.missing,
            statuses_above_limit: outcome
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            retry_after_values: ra.values.0.clone(),
            retry_after_absurd: ra
                .values
                .absurd(std::time::SystemTime::now())
                .into_iter()
                .map(|(k, why)| (k, why.to_string()))
                .collect(),
            ..Default::default()
        }
    });
    match (probes, main_rl) {
        (Some(l), main) => {
            let mut rl = l.report.clone();
            if let Some(m) = main {
                rl.retry_after_seen += m.retry_after_seen;
                rl.retry_after_missing += m.retry_after_missing;
                rl.retry_after_values = m.retry_after_values;
                rl.retry_after_absurd = m.retry_after_absurd;
            }
            Some(rl)
        }
        (None, main) => main,
    }
}

/// The checks of mixed traffic (`--invalid-share`): LOAD-07 for the valid requests, and each
/// invalid kind under the check of the rule it breaks (`JAG-SIG-03@load`, …), each at its
/// level under `profile`; `baseline_p50_us` is the valid-only calibration's median.
fn mixed_checks(o: &EngineOutcome, profile: &str, baseline_p50_us: Option<u64>) -> Vec<LoadCheck> {
    let valid = o.by_kind.get(&JagKind::Valid).copied().unwrap_or_default();
    let invalid: u64 = o
        .by_kind
        .iter()
        .filter(|(k, _)| **k != JagKind::Valid)
        .map(|(_, c)| c.iter().sum::<u64>())
        .sum();
    let level = oracle_load::level("LOAD-07", profile);
    let j = oracle_load::judge_mixed(
        level,
        &MixedObservation {
            valid,
            valid_5xx: o.valid_5xx,
            invalid,
            valid_p50_us: o.stats.latency_us(Class::Accepted, 0.5),
            baseline_p50_us,
        },
    );
    let mut checks = vec![LoadCheck {
        id: "LOAD-07".into(),
        level,
        verdict: j.verdict,
        reason: j.reason,
    }];
    for kind in JagKind::INVALID {
        let (Some(row), Some(classes)) = (kind.requirement(), o.by_kind.get(&kind)) else {
            continue;
        };
        let id = format!("{row}@load");
        let level = oracle_load::level(&id, profile);
        let j = oracle_load::judge_refused_under_load(level, kind.name(), classes);
        checks.push(LoadCheck {
            id,
            level,
            verdict: j.verdict,
            reason: j.reason,
        });
    }
    checks
}

/// LOAD-04, the latency trend of the main load: the median of each second's accepted requests
/// (the oracle leaves the first out); steady when the schedule kept its peak rate throughout.
fn trend_check(o: &EngineOutcome, schedule: &Schedule, profile: &str) -> LoadCheck {
    let medians: Vec<Option<u64>> = o
        .stats
        .timeline()
        .iter()
        .take(schedule.duration().as_secs() as usize)
        .map(|s| (!s.accepted.is_empty()).then(|| s.accepted.value_at_quantile(0.5)))
        .collect();
    let mean = schedule.len() as f64 / schedule.duration().as_secs_f64().max(1e-3);
    let steady = mean >= 0.95 * schedule.peak_rate();
    let level = oracle_load::level("LOAD-04", profile);
    let j = oracle_load::judge_trend(level, steady, &medians);
    LoadCheck {
        id: "LOAD-04".into(),
        level,
        verdict: j.verdict,
        reason: j.reason,
    }
}

/// The lane's checks and mixed traffic's, one per ID: where both judged the same rule
/// (`JAG-AUD-02@load`) the oracle combines them.
fn merge_checks(lane: Vec<LoadCheck>, mixed: Vec<LoadCheck>) -> Vec<LoadCheck> {
    let mut out = lane;
    for m in mixed {
        match out.iter_mut().find(|c| c.id == m.id) {
            Some(c) => {
                let j = oracle_load::judge_both(
                    ("lane", judgement_of(c)),
                    ("mixed traffic", judgement_of(&m)),
                );
                c.verdict = j.verdict;
                c.reason = j.reason;
            }
            None => out.push(m),
        }
    }
    out
}

/// A load check's verdict and reason, for the oracle to combine.
fn judgement_of(c: &LoadCheck) -> Judgement {
    Judgement {
        verdict: c.verdict,
        reason: c.reason.clone(),
    }
}

/// The terminal summary of a finished run.
pub fn summary(r: &LoadReport) -> String {
    let us = crate::load::figures::latency_ms;
    let mut out = String::new();
    let c = &r.classes;
    out.push_str(&format!(
        "load: {} requests in {:.1} s against {} ({}, {}, {} users)\n",
        c.total(),
        r.elapsed_s,
        r.config.token_endpoint,
        r.config.rate_plan,
        r.config.alg,
        r.config.users
    ));
    out.push_str(&format!(
        "  achieved {:.1}/s, accepted {:.1}/s\n  classes: accepted {}  rate_limited {}  rejected {}  error {}\n",
        r.achieved_rps, r.accepted_rps, c.accepted, c.rate_limited, c.rejected, c.error
    ));
    if !r.errors.is_empty() {
        // `connection reset or closed early 20, no response head within the timeout 3`.
        let causes: Vec<String> = r
            .errors_by_cause()
            .into_iter()
            .map(|(_, label, n)| format!("{label} {n}"))
            .collect();
        out.push_str(&format!("  errors by cause: {}\n", causes.join(", ")));
    }
    let limited: u64 = r.rate_limited_by_phase.values().sum();
    if limited > 0 {
        let parts: Vec<String> = r
            .rate_limited_by_phase
            .iter()
            .map(|(phase, n)| format!("{phase} {n}"))
            .collect();
        out.push_str(&format!(
            "  429s by phase: {} (total {limited})\n",
            parts.join(", ")
        ));
    }
    let l = &r.latency_us;
    out.push_str(&format!(
        "  accepted latency: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
        us(l.p50),
        us(l.p90),
        us(l.p99),
        us(l.p999),
        us(l.max)
    ));
    for class in [Class::RateLimited, Class::Rejected, Class::Error] {
        if let Some(p) = r.latency_by_class.get(class.name())
            && p.count > 0
        {
            out.push_str(&format!(
                "  {} latency: p50 {}  p99 {}\n",
                class.name(),
                us(p.p50),
                us(p.p99)
            ));
        }
    }
    let g = &r.generator;
    out.push_str(&format!(
        "  generator: {} ({} planned, {} sent, {} late > {} ms, {} not sent, max late {:.1} ms){}\n",
        if g.valid { "valid" } else { "INVALID" },
        g.planned,
        g.sent,
        g.late,
        engine::LATE_BOUND.as_millis(),
        g.dropped,
        g.max_late_us as f64 / 1000.0,
        g.reason
            .as_deref()
            .map(|x| format!(": {x}"))
            .unwrap_or_default()
    ));
    if let Some(rl) = &r.rate_limit {
        let yn = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "not tested",
        };
        let limited = rl.retry_after_seen + rl.retry_after_missing;
        if limited == 0 && rl.measured_rps == 0.0 {
            out.push_str("  rate limit: none found (see LOAD-01)\n");
        } else {
            out.push_str(&format!(
            "  rate limit: {:.1}/s measured; Retry-After on {} of {} 429s; honoured: {}; recovered: {}; key: {}\n",
            rl.measured_rps,
            rl.retry_after_seen,
            limited,
            yn(rl.retry_after_honoured),
            yn(rl.recovered),
            rl.key.as_deref().unwrap_or("unknown")
        ));
        }
        if !rl.retry_after_absurd.is_empty() {
            let absurd: Vec<String> = rl
                .retry_after_absurd
                .iter()
                .map(|(v, why)| format!("`{v}` ({why})"))
                .collect();
            out.push_str(&format!(
                "  absurd Retry-After values: {}\n",
                absurd.join(", ")
            ));
        }
    }
    for check in &r.checks {
        out.push_str(&format!(
            "  {:<16} {:<5} {}\n",
            check.id,
            check.verdict.to_string(),
            check.reason
        ));
    }
    for t in &r.thresholds {
        out.push_str(&format!(
            "  threshold {:<20} {}: {}\n",
            t.expr,
            if t.passed { "met" } else { "BREACHED" },
            t.message
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse() {
        assert_eq!(parse_share("0.1"), Ok(0.1));
        assert_eq!(parse_share("10%"), Ok(0.1));
        assert!(parse_share("150%").is_err());
        assert!(parse_share("x").is_err());
    }

    #[test]
    fn exit_code_precedence() {
        assert_eq!(worst(4, 1), 1);
        assert_eq!(worst(1, 3), 3);
        assert_eq!(worst(0, 4), 4);
        assert_eq!(worst(2, 3), 2);
    }
}
