//! The `xaa-conform` binary: logging, argument parsing and the async runtime; the subcommands
//! live in [`xaa_conform::cli`].

use std::process::ExitCode;

use clap::Parser;

use xaa_conform::cli::{Cli, dispatch};

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("XAA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,goose=error")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let code = runtime.block_on(dispatch(cli.command));
    ExitCode::from(code)
}
