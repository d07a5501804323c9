//! The `xaa-conform` command line: the clap definition of the subcommands and the dispatch to
//! their modules, one file per subcommand; `main.rs` only parses and calls [`dispatch`].
//!
//! Each module holds its subcommand's arguments and an entry point that returns the exit code
//! (0 pass, 1 a FAIL, 2 bad input, 3 the run could not happen, 4 a breached load threshold;
//! for `diff`, 1 a new FAIL or ERROR and 4 a load regression).

pub mod args;
pub mod diff;
pub mod fuzz;
pub mod idp;
pub mod keys;
pub mod list;
pub mod load;
pub mod reference;
pub mod run;
pub mod schema;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::report::ReportError;

/// The terminal's width in columns: `COLUMNS` when set, else stdout's terminal, else
/// [`crate::report::terminal::DEFAULT_WIDTH`].
pub(crate) fn screen_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        .unwrap_or(crate::report::terminal::DEFAULT_WIDTH)
}

/// Tells where the reports were written, or why they could not be: `true` when they were.
pub(crate) fn announce_reports(written: Result<Vec<PathBuf>, ReportError>) -> bool {
    match written {
        Ok(paths) => {
            let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            outln!("reports: {}", shown.join(", "));
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// The environment variables `xaa-conform` reads, shown after `--help` of the tool and of
/// `run` (the README has the same table).
pub const ENVIRONMENT_HELP: &str = "\
Environment:
  XAA_LOG                  diagnostics on stderr, a tracing filter such as `debug` or
                           `xaa_conform=trace` (default: warn)
  NO_COLOR                 when set, no colour in the terminal output
  COLUMNS                  the width the terminal output fits (default: the terminal's, else 100)
  GITHUB_STEP_SUMMARY      `run` appends its Markdown summary to this file (GitHub Actions sets it)
  XAA_CONFORM_TODAY        the day, YYYY-MM-DD, that expected-failure `until:` dates are compared
                           with (default: today, UTC)
  XAA_HEARTBEAT            how long a CI log may stay quiet before `run` names what it waits for,
                           e.g. 5s (default: 10s)
  XAA_CLIENT_SECRET        the RAS client's secret: `reference serve` registers its clients with it
                           and XAA_CLIENT2_SECRET; curl reproductions name it
  XAA_CLIENT2_SECRET       the second client's secret (`reference serve`)
  XAA_IDP_CLIENT_SECRET    the requesting app's secret at the fake IdP (`idp serve`; default: a
                           random one); curl reproductions name it
  XAA_INTROSPECTION_CLIENT_SECRET
                           the introspection client's secret, named in curl reproductions and
                           in the target.yaml `reference serve` prints
  ${VAR} in a target file  secrets are read from the variable a `${VAR}` names, e.g.
                           `secret: ${XAA_CLIENT_SECRET}`";

/// Conformance testing for Cross App Access (ID-JAG) resource authorization servers.
#[derive(Parser)]
#[command(name = "xaa-conform", version, about, long_about = None, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `xaa-conform`.
#[derive(Subcommand)]
pub enum Command {
    /// Run the conformance catalogue (against the embedded reference RAS unless --target).
    Run(run::RunArgs),
    /// The fake IdP on its own, for manual setups.
    Idp {
        /// What to do with the fake IdP.
        #[command(subcommand)]
        command: idp::IdpCommand,
    },
    /// The reference RAS on its own.
    Reference {
        /// What to do with the reference RAS.
        #[command(subcommand)]
        command: reference::ReferenceCommand,
    },
    /// Issuer signing keys.
    Keys {
        /// What to do with the keys.
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// List the checks: IDs, levels under --profile, coverage and the reference defects that
    /// prove them (--defects: the defects alone).
    List(list::ListArgs),
    /// Print the JSON Schemas of scenario, target, results and load files.
    Schema(schema::SchemaArgs),
    /// Generated attacks: proptest cases over the mutation model, shrunk to a minimal
    /// violating case.
    Fuzz(fuzz::FuzzArgs),
    /// Load-test the token endpoint: an open-model arrival rate, fresh ID-JAGs, HDR latency,
    /// rate-limit probes and thresholds (`load merge` adds up shard reports).
    Load(load::LoadArgs),
    /// Compare two results.json (verdict changes per check) or two load.json (figures
    /// against a tolerance) for release gating: exit 1 on a new FAIL or ERROR, 4 on a load
    /// regression.
    Diff(diff::DiffArgs),
}

/// Runs one subcommand to its end; returns the process exit code.
pub async fn dispatch(command: Command) -> u8 {
    match command {
        Command::Run(args) => run::main(args).await,
        Command::Idp { command } => idp::main(command).await,
        Command::Reference { command } => reference::main(command).await,
        Command::Keys { command } => keys::main(command),
        Command::List(args) => list::main(args),
        Command::Schema(args) => schema::main(args),
        Command::Fuzz(args) => fuzz::main(args).await,
        Command::Load(args) => load::main(args).await,
        Command::Diff(args) => diff::main(args),
    }
}
