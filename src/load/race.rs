//! The replay race (LOAD-02): the same ID-JAG fired N ways at once.
//!
//! First a sequential probe (one fresh ID-JAG sent twice) shows whether the server refuses a
//! second use at all. Then a second fresh ID-JAG is sent by N concurrent requests released
//! together. More than one token from the race is FAIL where the profile requires single use
//! (mcp-ema), WARN where the server refuses sequential reuse (a race in its replay cache), and
//! INFO where reuse is allowed anyway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::jag::JagKind;
use super::probe::{Identity, Prober, class_counts};
use super::report::LoadCheck;
use super::stats::Class;
use crate::spec::{Level, Verdict};

/// What the race saw.
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

/// The verdict of a race: `single_use` says whether the profile requires single use.
pub fn judge(
    single_use: bool,
    sequential_refused: bool,
    fired: usize,
    classes: [u64; 4],
) -> (Verdict, String) {
    let accepted = classes[Class::Accepted as usize];
    let limited = classes[Class::RateLimited as usize];
    let seen = format!(
        "{accepted} of {fired} concurrent uses of one ID-JAG got a token ({limited} rate-limited)"
    );
    if accepted == 0 {
        return (
            Verdict::Skip,
            format!("{seen}: no use was accepted, so the race says nothing"),
        );
    }
    match (accepted > 1, single_use, sequential_refused) {
        (false, _, _) => (
            Verdict::Pass,
            format!("{seen}: single use held under concurrency"),
        ),
        (true, true, _) => (
            Verdict::Fail,
            format!("{seen}: the profile requires single use"),
        ),
        (true, false, true) => (
            Verdict::Warn,
            format!(
                "{seen}, although a sequential second use is refused: a race in the replay cache"
            ),
        ),
        (true, false, false) => (
            Verdict::Info,
            format!("{seen}; the server allows reuse, as the profile permits"),
        ),
    }
}

/// Runs the race with `n` concurrent requests as `who`.
pub async fn run(prober: &Prober, who: &Identity, n: usize, single_use: bool) -> RaceOutcome {
    // Sequential probe: the same fresh ID-JAG twice.
    let once = prober.mint(who, JagKind::Valid);
    let first = prober
        .send(who, &once, Instant::now(), Duration::ZERO)
        .await;
    let second = prober
        .send(who, &once, Instant::now(), Duration::ZERO)
        .await;
    let sequential_refused = first.class == Class::Accepted && second.class == Class::Rejected;

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
    let mut answers = Vec::with_capacity(n);
    while let Some(r) = tasks.join_next().await {
        if let Ok(a) = r {
            answers.push(a);
        }
    }
    let classes = class_counts(&answers);
    let (verdict, reason) = judge(single_use, sequential_refused, n, classes);
    RaceOutcome {
        fired: n,
        accepted: classes[Class::Accepted as usize],
        classes,
        sequential_refused,
        check: LoadCheck {
            id: "LOAD-02".into(),
            level: Level::Should,
            verdict,
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(judge(true, true, 10, [1, 0, 9, 0]).0, Verdict::Pass);
        assert_eq!(judge(true, true, 10, [3, 0, 7, 0]).0, Verdict::Fail);
        assert_eq!(judge(false, true, 10, [2, 0, 8, 0]).0, Verdict::Warn);
        assert_eq!(judge(false, false, 10, [10, 0, 0, 0]).0, Verdict::Info);
        assert_eq!(judge(true, true, 10, [0, 10, 0, 0]).0, Verdict::Skip);
    }
}
