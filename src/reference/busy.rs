//! How busy the reference RAS is, for the defects that show only under load: whether ID-JAGs
//! have been validated at a sustained rate for a few seconds, and the one lock every
//! validation goes through under `bad-signature-global-lock`.
//!
//! A server that takes a short cut when it is busy (skips a check to keep up) passes every
//! single-request check and fails only under sustained traffic. The gauge makes "busy" a load
//! no `run` produces ([`BUSY_RPS`] for [`BUSY_SECONDS`] seconds in a row), so those defects
//! stay invisible to the `run` catalogue and are proven by `xaa-conform load` (their
//! [`super::Proof`] is `Load`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Validations per second that count towards being busy.
pub const BUSY_RPS: u64 = 50;

/// Whole seconds in a row at [`BUSY_RPS`] or more from which the reference is busy. `run`
/// never gets there: its checks that change the IdP run one at a time (a few requests a
/// second), then the rest 8 at a time in one wave of a second or two (about 100 to 180
/// validations a second against the embedded reference, measured); a load sends the rate it
/// is given for as long as it is given.
pub const BUSY_SECONDS: u64 = 4;

/// How long `bad-signature-global-lock` holds its lock after a signature that does not verify
/// (as a synchronous audit write of the failure would): one request at a time, so every
/// request behind it waits. A few such checks in `run` cost it well under a second.
pub const BAD_SIGNATURE_HOLD: Duration = Duration::from_millis(300);

/// Counts validations per wall-clock second since the server started.
#[derive(Debug)]
pub struct Busy {
    started: Instant,
    /// (the current second, validations in it, whole seconds in a row before it at
    /// [`BUSY_RPS`] or more).
    window: Mutex<(u64, u64, u64)>,
    /// The global lock of `bad-signature-global-lock`.
    global: tokio::sync::Mutex<()>,
}

impl Default for Busy {
    fn default() -> Self {
        Busy {
            started: Instant::now(),
            window: Mutex::new((0, 0, 0)),
            global: tokio::sync::Mutex::new(()),
        }
    }
}

impl Busy {
    /// Counts one validation; true when the reference is busy.
    pub fn record(&self) -> bool {
        self.record_at(self.started.elapsed().as_secs())
    }

    /// Passes the global lock after a signature check: held [`BAD_SIGNATURE_HOLD`] when the
    /// signature did not verify (`failed`), only taken and released otherwise.
    pub async fn through_global_lock(&self, failed: bool) {
        let held = self.global.lock().await;
        if failed {
            tokio::time::sleep(BAD_SIGNATURE_HOLD).await;
        }
        drop(held);
    }

    /// [`Busy::record`] in second `second` of the server's life.
    fn record_at(&self, second: u64) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        let (at, count, streak) = *w;
        *w = match second.saturating_sub(at) {
            0 => (at, count + 1, streak),
            1 if count >= BUSY_RPS => (second, 1, streak + 1),
            _ => (second, 1, 0),
        };
        w.2 >= BUSY_SECONDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_after_seconds_in_a_row_at_the_rate() {
        let b = Busy::default();
        let second = |s: u64, n: u64| (0..n).map(|_| b.record_at(s)).last().unwrap_or(false);
        // A burst of one second is not busy, nor is a slower second in the streak.
        assert!(!second(1, 500));
        assert!(!second(2, BUSY_RPS - 1));
        for s in 3..3 + BUSY_SECONDS {
            assert!(!second(s, BUSY_RPS), "second {s}");
        }
        assert!(second(3 + BUSY_SECONDS, 1));
        // A quiet gap ends it.
        assert!(!second(5 + BUSY_SECONDS, 1));
    }
}
