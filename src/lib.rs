//! xaa-conform: conformance and load testing for Cross App Access (XAA) resource
//! authorization servers that accept Identity Assertion JWT Authorization Grants (ID-JAGs).
//!
//! One scenario flows load → mint → mutate → send → judge → report; the modules follow it:
//! [`scenario`] (load), [`jose`] (mint, mutate), [`client`] (send), [`oracle`] (judge),
//! [`report`], with [`runner`] driving them and [`idp`] and [`reference`] as the servers the
//! suite plays and tests.

/// `println!` for the command line that ends quietly when stdout is closed
/// (`xaa-conform run | head -1`): a write to a closed pipe is dropped, so the run goes on and
/// still writes its reports.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ends quietly when stdout is closed (see `outln!`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

pub mod catalogue;
pub mod cli;
pub mod client;
pub mod diff;
pub mod expected;
pub mod fault;
pub mod fixture;
pub mod fuzz;
pub mod idp;
pub mod idp_control;
pub mod input;
pub mod interrupt;
pub mod jose;
pub mod load;
pub mod names;
pub mod oracle;
pub mod pace;
pub mod protocol;
pub mod reference;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod spec;
pub mod target;
pub mod tls;
