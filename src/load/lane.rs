//! The conformance lane: a few negative checks (an expired ID-JAG, one addressed to another
//! authorization server, a replayed one) sent at a low rate while the load runs, after the
//! same checks were sent once on a quiet server. A check that passes alone but fails under
//! load is reported as such: a server that skips validation when busy.
//!
//! Answers that say nothing (429, 5xx, no answer) are counted as inconclusive, never as a pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::jag::JagKind;
use super::probe::{Identity, Prober};
use super::report::LoadCheck;
use super::stats::Class;
use crate::spec::{Level, Verdict};

/// A negative check of the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneProbe {
    /// An expired ID-JAG must be refused (LOAD-08: the exp boundary under load).
    Expired,
    /// An ID-JAG for another authorization server must be refused (JAG-AUD-02).
    WrongAud,
    /// A second use of an ID-JAG must be refused where single use holds (JAG-JTI-01).
    Replay,
}

impl LaneProbe {
    /// Every probe, in the order the lane rotates through them.
    pub const ALL: [LaneProbe; 3] = [LaneProbe::Expired, LaneProbe::WrongAud, LaneProbe::Replay];

    /// The check ID reported.
    pub fn id(self) -> &'static str {
        match self {
            LaneProbe::Expired => "LOAD-08",
            LaneProbe::WrongAud => "JAG-AUD-02@load",
            LaneProbe::Replay => "JAG-JTI-01@load",
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Refused as it must be.
    Pass,
    /// Accepted: the check failed.
    Fail,
    /// 429, 5xx, no answer, or (for replay) the first use was not accepted.
    Inconclusive,
}

/// Tallies of one probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Refused as required.
    pub pass: u64,
    /// Accepted.
    pub fail: u64,
    /// Said nothing.
    pub inconclusive: u64,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Inconclusive => self.inconclusive += 1,
        }
    }
}

fn outcome(class: Class) -> Outcome {
    match class {
        Class::Rejected => Outcome::Pass,
        Class::Accepted => Outcome::Fail,
        _ => Outcome::Inconclusive,
    }
}

/// Sends one probe as `who`.
pub async fn probe(prober: &Prober, who: &Identity, p: LaneProbe) -> Outcome {
    let now = || (Instant::now(), Duration::ZERO);
    match p {
        LaneProbe::Expired | LaneProbe::WrongAud => {
            let kind = if p == LaneProbe::Expired {
                JagKind::Expired
            } else {
                JagKind::WrongAud
            };
            let jag = prober.mint(who, kind);
            let (t, o) = now();
            outcome(prober.send(who, &jag, t, o).await.class)
        }
        LaneProbe::Replay => {
            let jag = prober.mint(who, JagKind::Valid);
            let (t, o) = now();
            if prober.send(who, &jag, t, o).await.class != Class::Accepted {
                return Outcome::Inconclusive;
            }
            let (t, o) = now();
            outcome(prober.send(who, &jag, t, o).await.class)
        }
    }
}

/// What the lane found: each probe alone and under load.
#[derive(Debug, Clone, Default)]
pub struct LaneResult {
    /// Each probe once, on a quiet server.
    pub alone: Vec<(LaneProbe, Outcome)>,
    /// Each probe's tally during the load.
    pub under_load: Vec<(LaneProbe, Tally)>,
}

/// Sends each probe once (before the load).
pub async fn alone(prober: &Prober, who: &Identity) -> Vec<(LaneProbe, Outcome)> {
    let mut out = Vec::new();
    for p in LaneProbe::ALL {
        out.push((p, probe(prober, who, p).await));
    }
    out
}

/// Rotates through the probes at `rate` per second until `done` is set (or Ctrl-C).
pub async fn during(
    prober: Prober,
    who: Identity,
    rate: f64,
    done: Arc<AtomicBool>,
) -> Vec<(LaneProbe, Tally)> {
    let mut tallies = [Tally::default(); 3];
    let period = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut i = 0usize;
    let mut next = Instant::now() + period;
    while !done.load(Ordering::Relaxed) && !goose::is_killswitch_triggered() {
        tokio::time::sleep_until(next.into()).await;
        next += period;
        if done.load(Ordering::Relaxed) {
            break;
        }
        let p = LaneProbe::ALL[i % 3];
        tallies[i % 3].add(probe(&prober, &who, p).await);
        i += 1;
    }
    LaneProbe::ALL.into_iter().zip(tallies).collect()
}

/// The checks of a lane: `single_use` says whether the profile requires single use (replay
/// then fails at MUST level; otherwise a replay accepted under load that was refused alone is
/// a WARN, and a server that allows reuse skips it).
pub fn judge(result: &LaneResult, single_use: bool) -> Vec<LoadCheck> {
    let mut checks = Vec::new();
    for (p, tally) in &result.under_load {
        let alone = result
            .alone
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, o)| *o)
            .unwrap_or(Outcome::Inconclusive);
        let level = match p {
            LaneProbe::Replay if !single_use => Level::Should,
            _ => Level::Must,
        };
        let fail = if level == Level::Must {
            Verdict::Fail
        } else {
            Verdict::Warn
        };
        let n = tally.pass + tally.fail + tally.inconclusive;
        let (verdict, reason) = if *p == LaneProbe::Replay && !single_use && alone == Outcome::Fail
        {
            (
                Verdict::Skip,
                "the server allows a second use (the profile permits it)".to_string(),
            )
        } else if alone == Outcome::Fail {
            (
                fail,
                format!(
                    "fails alone already; under load {} of {n} accepted",
                    tally.fail
                ),
            )
        } else if tally.fail > 0 {
            (
                fail,
                format!(
                    "passes alone but fails under load: {} of {n} accepted ({} refused, {} inconclusive)",
                    tally.fail, tally.pass, tally.inconclusive
                ),
            )
        } else if tally.pass == 0 {
            (
                Verdict::Skip,
                format!("no conclusive answer under load ({n} sent: 429, 5xx or no answer)"),
            )
        } else {
            (
                Verdict::Pass,
                format!(
                    "refused alone and under load ({} refused, {} inconclusive)",
                    tally.pass, tally.inconclusive
                ),
            )
        };
        checks.push(LoadCheck {
            id: p.id().to_string(),
            level,
            verdict,
            reason,
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_alone_fails_under_load() {
        let result = LaneResult {
            alone: LaneProbe::ALL.iter().map(|p| (*p, Outcome::Pass)).collect(),
            under_load: vec![
                (
                    LaneProbe::Expired,
                    Tally {
                        pass: 3,
                        fail: 1,
                        inconclusive: 0,
                    },
                ),
                (
                    LaneProbe::WrongAud,
                    Tally {
                        pass: 4,
                        fail: 0,
                        inconclusive: 2,
                    },
                ),
                (
                    LaneProbe::Replay,
                    Tally {
                        pass: 0,
                        fail: 0,
                        inconclusive: 4,
                    },
                ),
            ],
        };
        let checks = judge(&result, true);
        assert_eq!(checks[0].verdict, Verdict::Fail);
        assert!(
            checks[0]
                .reason
                .contains("passes alone but fails under load")
        );
        assert_eq!(checks[1].verdict, Verdict::Pass);
        assert_eq!(checks[2].verdict, Verdict::Skip);
    }

    #[test]
    fn reuse_allowed_skips_replay() {
        let result = LaneResult {
            alone: vec![(LaneProbe::Replay, Outcome::Fail)],
            under_load: vec![(
                LaneProbe::Replay,
                Tally {
                    pass: 0,
                    fail: 3,
                    inconclusive: 0,
                },
            )],
        };
        assert_eq!(judge(&result, false)[0].verdict, Verdict::Skip);
        assert_eq!(judge(&result, true)[0].verdict, Verdict::Fail);
    }
}
