//! The replay race (LOAD-02): the same ID-JAG fired N ways at once.
//!
//! First a sequential probe (one fresh ID-JAG sent twice) shows whether the server refuses a
//! second use at all. Then a second fresh ID-JAG is sent by N concurrent requests released
//! together. The oracle judges ([`oracle_load::judge_race`]): more than one token from the race
//! is FAIL where the profile requires single use (mcp-ema), WARN where the server refuses
//! sequential reuse (a race in its replay cache), and INFO where reuse is allowed anyway;
//! without an accepted first use (the race's positive control) it is SKIP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::jag::JagKind;
use super::probe::{Identity, Prober, class_counts, join_until};
use super::report::LoadCheck;
use super::stats::Class;
use crate::oracle::load::{self as oracle_load, RaceObservation};
use crate::spec::Level;

/// What the race saw, and LOAD-02 as the oracle judged it.
#[derive(Debug, Clone)]
pub struct RaceOutcome {
    /// Requests fired together.
    pub fired: usize,
    /// Tokens issued among them.
    pub accepted: u64,
    /// Counts per class, in [`Class::ALL`] order.
    pub classes: [u64; 4],
    /// Whether the server refused the sequential second use.
    pub sequential_refused: bool,
    /// LOAD-02.
    pub check: LoadCheck,
}

/// Runs the race with `n` concurrent requests as `who`; LOAD-02 is judged at its level under
/// `profile`.
pub async fn run(
    prober: &Prober,
    who: &Identity,
    n: usize,
    profile: &str,
    stop: &AtomicBool,
) -> RaceOutcome {
    // Sequential probe: the same fresh ID-JAG twice; the first use is the race's control.
    let once = prober.mint(who, JagKind::Valid);
    let first = prober
        .send(who, &once, Instant::now(), Duration::ZERO)
        .await;
    let second = prober
        .send(who, &once, Instant::now(), Duration::ZERO)
        .await;
    let control_accepted = first.class == Class::Accepted;
    let sequential_refused = control_accepted && second.class == Class::Rejected;

    let classes = if control_accepted && !stop.load(Ordering::Relaxed) {
        let jag: Arc<str> = Arc::from(prober.mint(who, JagKind::Valid));
        let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (p, w, j, g) = (prober.clone(), who.clone(), jag.clone(), gate.clone());
            tasks.spawn(async move {
                g.wait().await;
                p.send(&w, &j, Instant::now(), Duration::ZERO).await
            });
        }
        gate.wait().await;
        class_counts(&join_until(tasks, stop).await)
    } else {
        [0; 4]
    };
    let observation = RaceObservation {
        control_accepted,
        sequential_refused,
        fired: n,
        classes,
    };
    let level = oracle_load::level("LOAD-02", profile);
    let j = oracle_load::judge_race(level, level == Level::Must, &observation);
    RaceOutcome {
        fired: n,
        accepted: classes[Class::Accepted as usize],
        classes,
        sequential_refused,
        check: LoadCheck {
            id: "LOAD-02".into(),
            level,
            verdict: j.verdict,
            reason: j.reason,
        },
    }
}
