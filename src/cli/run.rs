//! `xaa-conform run`: the conformance catalogue against a target (or the embedded reference
//! RAS), the terminal table and summary, then results.json, junit.xml and report.html.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::args::{parse_defect, parse_duration};
use crate::reference::Defect;
use crate::report::model::{ExpectedStatus, RunResults};
use crate::report::{self, terminal};
use crate::runner::{self, RunOptions};
use crate::spec::worst_exit as worst;

/// `xaa-conform run` options.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The RAS under test (target.yaml); without it the embedded reference RAS is tested.
    #[arg(long)]
    target: Option<PathBuf>,
    /// Run the scenarios in this folder instead of the built-in catalogue.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Expectation profile.
    #[arg(long)]
    profile: Option<String>,
    /// Only checks whose ID matches this glob (plus what they depend on), e.g. 'JAG-AUD-*'.
    #[arg(long)]
    filter: Option<String>,
    /// Where results.json and junit.xml go.
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Switch a defect on in the embedded reference RAS (repeatable); see `list`.
    #[arg(long = "reference-defect", value_name = "NAME", value_parser = parse_defect)]
    reference_defect: Vec<Defect>,
    /// Per-request timeout (default 10s, or the target file's).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Folder of issuer keys from `keys generate`; without key files, keys are made in memory.
    #[arg(long, default_value = "keys")]
    keys: PathBuf,
    /// YAML list of `{ id, reason }`: known FAILs that do not fail the run (a listed check that
    /// no longer fails does).
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
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// A progress bar on stderr when it is a terminal; nothing in CI logs.
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

/// Runs `xaa-conform run`; returns the exit code (see [`runner::exit_code`]; 3 also when a
/// report file cannot be written).
pub async fn main(args: RunArgs) -> u8 {
    crate::interrupt::install();
    let (progress, bar) = progress_bar().unzip();
    let opts = RunOptions {
        target: args.target,
        scenarios: args.scenarios,
        filter: args.filter,
        profile: args.profile,
        defects: args.reference_defect.into_iter().collect(),
        timeout: args.timeout,
        keys_dir: Some(args.keys),
        expected_failures: args.expected_failures,
        reference_rate_limit: args.reference_rate_limit,
        max_rate: args.max_rate,
        progress,
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
    let results = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    print_results(&results);
    let mut code = runner::exit_code(&results);
    if !super::announce_reports(report::write_reports(&results, &args.report_dir)) {
        code = worst(code, 3);
    }
    if results.interrupted {
        eprintln!("interrupted: the reports hold the checks that finished before the signal");
    }
    code
}

/// The terminal table, the summary line and the state of every expected failure.
fn print_results(results: &RunResults) {
    outln!("{}", terminal::table(results, color()));
    outln!("{}", terminal::summary(results));
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
        }
    }
}
