//! The slow-JWKS phase (LOAD-06, `--jwks-stall`): for its length the fake IdP's trusted
//! issuer answers its JWKS only after [`JWKS_DELAY`] (the `slow` fault `run`'s scenarios
//! use, longer than the five seconds most HTTP clients give a fetch), while a steady stream
//! of token requests goes on: valid ID-JAGs, and every [`UNKNOWN_EVERY`]th one signed with a
//! key no one publishes under a fresh `kid`, so that each asks the server for a key lookup it
//! cannot complete in time.
//!
//! What is measured (the oracle's [`oracle_load::judge_stall`] judges it): how many of the
//! unpublished-`kid` ID-JAGs got a token (issued unverified), and whether the valid ones kept
//! being served (their latency and failures). The IdP is restored when the phase ends,
//! whatever happens.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::probe::{Answer, Identity, Prober, unix_now};
use super::report::LoadCheck;
use super::stats::Class;
use crate::idp_control::IdpLog;
use crate::oracle::load::{self as oracle_load, StallObservation};
use crate::protocol::{IdpCondition, JwksFault};

/// How long the slow JWKS takes to answer (the IdP's `slow` fault).
pub const JWKS_DELAY: Duration = Duration::from_secs(6);

/// One request in this many carries an unpublished `kid`.
pub const UNKNOWN_EVERY: u64 = 4;

/// What the phase measured, and its check.
#[derive(Debug, Clone)]
pub struct StallOutcome {
    /// What was observed.
    pub observation: StallObservation,
    /// LOAD-06, judged.
    pub check: LoadCheck,
    /// 429s seen in the phase.
    pub rate_limited: u64,
}

/// Restores the IdP when dropped.
struct Restore<'a>(&'a IdpLog);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.reset();
    }
}

/// Runs the phase: `rate` requests per second as `who` for `duration` while the trusted
/// issuer's JWKS is slow; stops early when `stop` is set. `Err` when the IdP could not be
/// told to slow down.
pub async fn run(
    prober: &Prober,
    who: &Identity,
    idp: &IdpLog,
    rate: f64,
    duration: Duration,
    profile: &str,
    stop: &AtomicBool,
) -> Result<StallOutcome, String> {
    idp.set_condition(IdpCondition {
        jwks_fault: Some(JwksFault::Slow),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("the IdP would not slow its JWKS down: {e}"))?;
    let _restore = Restore(idp);
    let answers = prober
        .stream_tagged(who, rate, duration, stop, |i| {
            let unknown = i % UNKNOWN_EVERY == UNKNOWN_EVERY - 1;
            let jag = if unknown {
                who.jags.mint_unknown_kid(i, unix_now())
            } else {
                prober.mint(who, super::jag::JagKind::Valid)
            };
            (unknown, jag)
        })
        .await;
    let observation = observe(&answers, rate, duration);
    let level = oracle_load::level("LOAD-06", profile);
    let j = oracle_load::judge_stall(level, &observation);
    Ok(StallOutcome {
        rate_limited: answers
            .iter()
            .filter(|(_, a)| a.class == Class::RateLimited)
            .count() as u64,
        observation,
        check: LoadCheck {
            id: "LOAD-06".into(),
            level,
            verdict: j.verdict,
            reason: j.reason,
        },
    })
}

/// The observation of the phase's answers.
fn observe(answers: &[(bool, Answer)], rate: f64, duration: Duration) -> StallObservation {
    let mut valid = [0u64; 4];
    let mut unknown = [0u64; 4];
    let mut stalled = 0;
    let mut h: Option<Histogram<u64>> = Histogram::new(3).ok();
    for (is_unknown, a) in answers {
        if *is_unknown {
            unknown[a.class as usize] += 1;
            continue;
        }
        valid[a.class as usize] += 1;
        if a.class == Class::Accepted {
            let us = a.latency.as_micros() as u64;
            if us > oracle_load::STALLED_AFTER_US {
                stalled += 1;
            }
            if let Some(h) = h.as_mut() {
                let _ = h.record(us.max(1));
            }
        }
    }
    let q = |p: f64| {
        h.as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(p))
    };
    StallObservation {
        jwks_delay_s: JWKS_DELAY.as_secs(),
        rate,
        duration_s: duration.as_secs_f64(),
        valid,
        valid_stalled: stalled,
        valid_p50_us: q(0.5),
        valid_p99_us: q(0.99),
        unknown,
    }
}
