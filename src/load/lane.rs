//! The conformance lane: a few negative checks (an expired ID-JAG, one addressed to another
//! authorization server, a replayed one) sent at a low rate while the load runs, after the
//! same checks were sent once on a quiet server. A check that passes alone but fails under
//! load is reported as such: a server that skips validation when busy.
//!
//! Each answer is judged by the rules `run` applies to the same probe, at the level of the
//! reported check under the profile (the oracle's [`oracle_load::judge_lane`]): answers that
//! say nothing (429, 5xx, no answer) are counted, never judged as a pass; without an accepted
//! positive control of the lane's own client the probes are SKIP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::jag::JagKind;
use super::probe::{Identity, Prober};
use super::report::LoadCheck;
use super::stats::Class;
use crate::fixture::Fixture;
use crate::oracle::load::{self as oracle_load, LaneAnswer, LaneObservation, LaneTally};
use crate::oracle::{Expect, Outcome, Rules};
use crate::spec::Level;

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

    /// The scenario whose rules `run` applies to the same probe: the lane judges by them, so
    /// that the same answer gets the same verdict under `run` and under `load`.
    pub fn scenario(self) -> &'static str {
        match self {
            LaneProbe::Expired => "JAG-TIME-02",
            LaneProbe::WrongAud => "JAG-AUD-02",
            LaneProbe::Replay => "JAG-JTI-01",
        }
    }
}

/// How one probe is judged.
#[derive(Debug, Clone)]
pub struct LaneRule {
    /// The probe.
    pub probe: LaneProbe,
    /// The reported check's level under the profile.
    pub level: Level,
    /// The rules of the probe's scenario.
    pub rules: Rules,
    /// What the probe sends, in `run`'s words.
    pub what: String,
}

/// How every probe of the lane is judged.
pub type LaneRules = Vec<LaneRule>;

/// The rules of every probe under `profile`, from the built-in scenarios (see
/// [`LaneProbe::scenario`]) and the catalogue rows of the reported checks.
pub fn rules_for(profile: &str, fixture: &Fixture) -> Result<LaneRules, String> {
    let scenarios =
        crate::scenario::embedded().map_err(|e| format!("the built-in scenarios: {e}"))?;
    LaneProbe::ALL
        .into_iter()
        .map(|p| {
            let s = scenarios
                .iter()
                .find(|s| s.scenario.id == p.scenario())
                .ok_or_else(|| format!("no built-in scenario {}", p.scenario()))?;
            let (_, expect) = s.scenario.for_target(profile, fixture);
            let Expect::Rules(rules) = expect else {
                return Err(format!("{} has no rule set", p.scenario()));
            };
            Ok(LaneRule {
                probe: p,
                level: oracle_load::level(p.id(), profile),
                rules,
                what: s.scenario.describe_probe(),
            })
        })
        .collect()
}

/// Sends one probe as `who`: for a replay a fresh valid ID-JAG is used once first, and the
/// second use is the answer judged.
pub async fn probe(prober: &Prober, who: &Identity, p: LaneProbe) -> LaneAnswer {
    let answered = |outcome| LaneAnswer::Answered {
        outcome,
        response: None,
    };
    match p {
        LaneProbe::Expired | LaneProbe::WrongAud => {
            let kind = if p == LaneProbe::Expired {
                JagKind::Expired
            } else {
                JagKind::WrongAud
            };
            let jag = prober.mint(who, kind);
            answered(prober.send_recorded(who, &jag).await.1)
        }
        LaneProbe::Replay => {
            let jag = prober.mint(who, JagKind::Valid);
            let (first, outcome) = prober.send_recorded(who, &jag).await;
            if first.class != Class::Accepted {
                return LaneAnswer::FirstUseRefused(outcome);
            }
            answered(prober.send_recorded(who, &jag).await.1)
        }
    }
}

/// What the lane saw: its control, each probe alone and under load.
#[derive(Debug, Clone, Default)]
pub struct LaneResult {
    /// Who sent (`C2/A`).
    pub who: String,
    /// The lane's positive control: a valid ID-JAG of its client.
    pub control: Option<Outcome>,
    /// Each probe once, on a quiet server.
    pub alone: Vec<(LaneProbe, LaneAnswer)>,
    /// Each probe's answers during the load.
    pub under_load: Vec<(LaneProbe, LaneTally)>,
}

/// Sends the lane's control, then, when it was accepted, each probe once (before the load).
pub async fn alone(prober: &Prober, who: &Identity) -> LaneResult {
    let jag = prober.mint(who, JagKind::Valid);
    let control = prober.send_recorded(who, &jag).await.1;
    let mut result = LaneResult {
        who: who.label.clone(),
        control: Some(control),
        ..Default::default()
    };
    if oracle_load::lane_control_accepted(result.control.as_ref()) {
        for p in LaneProbe::ALL {
            result.alone.push((p, probe(prober, who, p).await));
        }
    }
    result
}

/// Rotates through the probes at `rate` per second until `done` is set (or Ctrl-C), each
/// answer judged as it comes by the probe's rules against the accepted `control`.
pub async fn during(
    prober: Prober,
    who: Identity,
    rate: f64,
    done: Arc<AtomicBool>,
    rules: Arc<LaneRules>,
    control: Outcome,
) -> Vec<(LaneProbe, LaneTally)> {
    let mut tallies: Vec<(LaneProbe, LaneTally)> = LaneProbe::ALL
        .into_iter()
        .map(|p| (p, LaneTally::default()))
        .collect();
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
        // The load's end (or Ctrl-C) cancels a probe in flight.
        let answer = tokio::select! {
            a = probe(&prober, &who, p) => a,
            _ = super::probe::until_set(&done) => break,
        };
        if let Some(rule) = rules.iter().find(|r| r.probe == p) {
            let j = oracle_load::judge_lane_answer(
                rule.level,
                &rule.rules,
                &control,
                &answer,
                &rule.what,
            );
            tallies[i % 3].1.add(j);
        }
        i += 1;
    }
    tallies
}

/// The lane's checks, each judged by the oracle under its rules.
pub fn judge(result: &LaneResult, rules: &LaneRules) -> Vec<LoadCheck> {
    rules
        .iter()
        .map(|rule| {
            let p = &rule.probe;
            let observation = LaneObservation {
                who: result.who.clone(),
                what: rule.what.clone(),
                control: result.control.clone(),
                alone: result
                    .alone
                    .iter()
                    .find(|(q, _)| q == p)
                    .map(|(_, a)| a.clone()),
                under_load: result
                    .under_load
                    .iter()
                    .find(|(q, _)| q == p)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_default(),
            };
            let j = oracle_load::judge_lane(rule.level, &rule.rules, &observation);
            LoadCheck {
                id: p.id().to_string(),
                level: rule.level,
                verdict: j.verdict,
                reason: j.reason,
            }
        })
        .collect()
}
