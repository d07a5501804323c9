//! Ctrl-C, the same for every subcommand: the first SIGINT asks the run to stop (no new request
//! is started, what finished is reported and marked interrupted, the exit code is 130); a second
//! exits 130 at once. Installed before goose starts, so goose's own handler, whose second signal
//! exits 1 (which would read as a conformance failure), is never installed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use crate::spec::EXIT_INTERRUPTED;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler; a second call (or a failure to install) changes nothing, and the run
/// then simply cannot be interrupted gracefully.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting at once");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupted: stopping, the reports of what finished are being written");
    });
}

/// Whether SIGINT was received.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Resolves once SIGINT was received (polled every 50 ms, so a stop is seen within that).
pub async fn signalled() {
    while !interrupted() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
