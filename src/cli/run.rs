//! `xaa-conform run`: the conformance catalogue against a target (or the embedded reference
//! RAS), the terminal table and summary, then results.json, junit.xml and report.html.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::args::{parse_defect, parse_duration, parse_fail_on};
use crate::expected::Date;
use crate::reference::Defect;
use crate::report::model::{ExpectedStatus, RunResults};
use crate::report::{self, terminal};
use crate::runner::{self, RunOptions};
use crate::spec::{FailOn, worst_exit as worst};

/// `xaa-conform run` options.
#[derive(clap::Args)]
#[command(after_help = crate::cli::ENVIRONMENT_HELP)]
pub struct RunArgs {
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    target: Option<PathBuf>,
    /// Run the scenarios in this folder instead of the built-in catalogue.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Expectation profile (default id-jag-04): the levels and expectations the checks
    /// follow; `xaa-conform list --profile NAME` shows each check's level under it.
    #[arg(long, value_name = "PROFILE", value_parser = crate::cli::args::profile_parser())]
    profile: Option<String>,
    /// Only checks whose ID matches one of these globs, ignoring case (plus what they depend
    /// on), e.g. 'JAG-AUD-*,BASE-0[12]'; repeatable, each a comma list.
    #[arg(long, value_name = "GLOBS")]
    filter: Vec<String>,
    /// Only checks whose scenario has one of these tags (and that match --filter, if given);
    /// repeatable, each a comma list.
    #[arg(long = "tag", value_name = "TAGS")]
    tags: Vec<String>,
    /// Leave checks whose ID matches one of these globs out of the report (a selected check's
    /// dependency still runs); repeatable, each a comma list.
    #[arg(long, value_name = "GLOBS")]
    exclude: Vec<String>,
    /// `warn`: a WARN fails the run as a FAIL does (exit 1); `fail` (the default): only FAILs.
    #[arg(long, value_name = "fail|warn", default_value = "fail", value_parser = parse_fail_on)]
    fail_on: FailOn,
    /// Where the reports go: results.json (every verdict with its evidence), junit.xml (for
    /// CI), report.html (to read in a browser), and idp-ca.pem with --idp-tls; the Markdown
    /// summary goes where --report-markdown says.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    report_dir: PathBuf,
    /// Switch a defect on in the embedded reference RAS (repeatable); `xaa-conform list
    /// --defects` lists them.
    #[arg(long = "reference-defect", value_name = "NAME", value_parser = parse_defect)]
    reference_defect: Vec<Defect>,
    /// Per-request timeout (default 10s, or the target file's).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Folder of issuer keys from `keys generate`; without key files, keys are made in memory.
    #[arg(long, default_value = "keys")]
    keys: PathBuf,
    /// YAML list of `{ id, reason, until? }`: known FAILs that do not fail the run (a listed
    /// check that no longer fails does; past `until: YYYY-MM-DD` the FAIL counts again).
    /// Entries for checks this run leaves out are ignored.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Serve the fake IdP over HTTPS, with a certificate from a CA made for this run (its
    /// private key stays in memory); the CA certificate is written to --idp-ca-out.
    #[arg(long)]
    idp_tls: bool,
    /// Where --idp-tls writes the CA certificate (default <report-dir>/idp-ca.pem).
    #[arg(long, value_name = "FILE", requires = "idp_tls")]
    idp_ca_out: Option<PathBuf>,
    /// Keep the --idp-tls CA in this folder across runs (ca.pem, and ca-key.pem at mode
    /// 0600): made on the first run, reused after, so the RAS's trust store need not change.
    #[arg(long, value_name = "DIR", requires = "idp_tls")]
    idp_ca_dir: Option<PathBuf>,
    /// Rate limit of the embedded reference RAS: requests per second per client (429 with
    /// Retry-After above it).
    #[arg(long, value_name = "N")]
    reference_rate_limit: Option<u32>,
    /// Never send more than this to the RAS, e.g. 5/s (default: the target file's `max_rate`,
    /// or 5/s under the auth0 profile); a 429 is waited out and retried three times.
    #[arg(long, value_name = "RATE", value_parser = crate::pace::parse_rate)]
    max_rate: Option<f64>,
    /// Show every check, reasons in full (default: a line per FAIL, WARN, ERROR and SKIP).
    #[arg(short, long, conflicts_with = "quiet")]
    verbose: bool,
    /// Show only the summary line.
    #[arg(short, long)]
    quiet: bool,
    /// Also write a Markdown summary here (the verdicts by area, what failed with its likely
    /// cause); when GITHUB_STEP_SUMMARY is set, the same is appended to that file.
    #[arg(long, value_name = "FILE")]
    report_markdown: Option<PathBuf>,
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// How often a CI log hears from a run whose checks are quiet (`XAA_HEARTBEAT` overrides,
/// e.g. `1s`).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// A progress bar on stderr when it is a terminal.
fn progress_bar() -> Option<(runner::Progress, indicatif::ProgressBar)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let progress = runner::Progress(Arc::new(move |done, total, check| {
        shown.set_length(total as u64);
        shown.set_position(done as u64);
        shown.set_message(format!("{} {}", check.id, check.verdict));
    }));
    Some((progress, bar))
}

/// When stderr is no terminal (CI): a line per check as it finishes, and a heartbeat when
/// nothing was said for [`HEARTBEAT`] (the checks in flight, or what they wait for).
fn ci_stream(
    width: usize,
) -> (
    runner::Progress,
    runner::Activity,
    tokio::task::JoinHandle<()>,
) {
    let said = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let last = said.clone();
    let progress = runner::Progress(Arc::new(move |done, total, check| {
        let counter = format!("[{done:>w$}/{total}] ", w = total.to_string().len());
        let line =
            terminal::check_line(check, 0, width.saturating_sub(counter.len()), false, false);
        eprintln!("{counter}{line}");
        if let Ok(mut t) = last.lock() {
            *t = std::time::Instant::now();
        }
    }));
    let activity = runner::Activity::default();
    let every = std::env::var("XAA_HEARTBEAT")
        .ok()
        .and_then(|v| humantime::parse_duration(&v).ok())
        .unwrap_or(HEARTBEAT);
    let watched = activity.clone();
    let beat = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every / 4).await;
            let quiet_for = said.lock().map(|t| t.elapsed()).unwrap_or_default();
            if quiet_for < every {
                continue;
            }
            if let Some(line) = runner::activity::heartbeat(&watched.snapshot()) {
                eprintln!("… {line}");
            }
            if let Ok(mut t) = said.lock() {
                *t = std::time::Instant::now();
            }
        }
    });
    (progress, activity, beat)
}

/// The environment variable that sets the day `until:` dates are compared with
/// (`YYYY-MM-DD`; unset: today, UTC), so that runs and tests can be reproduced on any day.
pub const TODAY_ENV: &str = "XAA_CONFORM_TODAY";

/// The day of [`TODAY_ENV`], when it is set.
fn today_from_env() -> Result<Option<Date>, String> {
    match std::env::var(TODAY_ENV) {
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|e: String| format!("{TODAY_ENV}: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{TODAY_ENV}: {e}")),
    }
}

/// Runs `xaa-conform run`; returns the exit code (see [`runner::exit_code_under`]; 3 also
/// when a report file cannot be written).
pub async fn main(args: RunArgs) -> u8 {
    let today = match today_from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    crate::interrupt::install();
    let width = super::screen_width();
    let detail = if args.quiet {
        terminal::Detail::Quiet
    } else if args.verbose {
        terminal::Detail::Verbose
    } else {
        terminal::Detail::Normal
    };
    let (mut progress, bar) = progress_bar().unzip();
    let mut activity = None;
    let mut heartbeat = None;
    if bar.is_none() && detail != terminal::Detail::Quiet {
        let (p, a, beat) = ci_stream(width);
        progress = Some(p);
        activity = Some(a);
        heartbeat = Some(beat);
    }
    let opts = RunOptions {
        target: args.target,
        scenarios: args.scenarios,
        filter: args.filter,
        tags: args.tags,
        exclude: args.exclude,
        today,
        profile: args.profile,
        defects: args.reference_defect.into_iter().collect(),
        timeout: args.timeout,
        keys_dir: Some(args.keys),
        expected_failures: args.expected_failures,
        reference_rate_limit: args.reference_rate_limit,
        max_rate: args.max_rate,
        progress,
        activity,
        idp_ca_dir: args.idp_ca_dir,
        idp_tls_ca: args.idp_tls.then(|| {
            args.idp_ca_out
                .clone()
                .unwrap_or_else(|| args.report_dir.join("idp-ca.pem"))
        }),
    };
    let outcome = runner::run_suite(&opts, None).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(beat) = heartbeat {
        beat.abort();
    }
    let results = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let screen = terminal::Screen {
        width,
        color: color(),
        detail,
        report_html: Some(
            args.report_dir
                .join(report::html::FILE_NAME)
                .display()
                .to_string(),
        ),
    };
    print_results(&results, &screen);
    let mut code = runner::exit_code_under(&results, args.fail_on);
    let written = report::write_reports(&results, &args.report_dir);
    if let Ok(files) = &written
        && !write_markdown(&results, files, args.report_markdown.as_deref())
    {
        code = worst(code, 3);
    }
    let announced = if detail == terminal::Detail::Quiet {
        written
            .map(|_| ())
            .map_err(|e| eprintln!("error: {e}"))
            .is_ok()
    } else {
        super::announce_reports(written)
    };
    if !announced {
        code = worst(code, 3);
    }
    if results.interrupted {
        eprintln!("interrupted: the reports hold the checks that finished before the signal");
    }
    code
}

/// Writes the Markdown summary to `file` and appends it to `$GITHUB_STEP_SUMMARY` when that
/// is set; false (said on stderr) when a file could not be written.
fn write_markdown(results: &RunResults, files: &[PathBuf], file: Option<&std::path::Path>) -> bool {
    let step = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty());
    if file.is_none() && step.is_none() {
        return true;
    }
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let text = report::markdown::summary(results, &names);
    let mut ok = true;
    if let Some(f) = file
        && let Err(e) = std::fs::write(f, &text)
    {
        eprintln!("error: cannot write {}: {e}", f.display());
        ok = false;
    }
    if let Some(step) = step {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&step)
            .and_then(|mut f| writeln!(f, "{text}"));
        if let Err(e) = appended {
            eprintln!(
                "error: cannot append the job summary to GITHUB_STEP_SUMMARY ({}): {e}",
                std::path::Path::new(&step).display()
            );
            ok = false;
        }
    }
    ok
}

/// The checks that need attention, the summary line, the recap and the state of every
/// expected failure, as `screen` says.
fn print_results(results: &RunResults, screen: &terminal::Screen) {
    outln!("{}", terminal::render(results, screen));
    if screen.detail == terminal::Detail::Quiet {
        return;
    }
    let mut ignored = 0;
    for e in &results.expected_failures {
        match e.status {
            ExpectedStatus::Expected => {
                outln!("expected failure {}: {}", e.id, e.reason)
            }
            ExpectedStatus::Stale => {
                outln!(
                    "STALE expected failure {}: it no longer fails; remove it from the file",
                    e.id
                )
            }
            ExpectedStatus::Unfinished => {
                outln!(
                    "expected failure {}: not judged, the run was interrupted",
                    e.id
                )
            }
            ExpectedStatus::Expired => {
                outln!(
                    "EXPIRED expected failure {}: its until date {} has passed; the FAIL counts",
                    e.id,
                    e.until.as_deref().unwrap_or("?")
                )
            }
            ExpectedStatus::Ignored => ignored += 1,
        }
    }
    if ignored > 0 {
        outln!(
            "expected failures: {ignored} {} for checks not in this run ignored",
            if ignored == 1 { "entry" } else { "entries" }
        );
    }
}
