//! `load --find-limit`: finds the token endpoint's rate limit and checks how it behaves
//! (LOAD-01, RFC 6585 §4), with plain open-model tokio streams (more exact than goose for
//! short steps).
//!
//! 1. **Ladder**: C1 (issuer A) sends fresh ID-JAGs at rising rates (fractions of `--rate`),
//!    one step each, until a second of a step has a 429: the limit is saturated.
//! 2. **Steady state**: the saturating rate is held for a measurement window that starts
//!    after that first saturated second, and the limit is the accepted requests per second
//!    in it, so a token bucket's initial burst does not inflate it.
//! 3. **Retry-After**: after waiting as the largest `Retry-After` asked, one request must be
//!    accepted.
//! 4. **Recovery**: half the limit for two seconds must be accepted throughout.
//! 5. **Key**: while C1/A floods at five times the limit (at most twice `--rate`), C2
//!    (issuer A) and C1 (issuer B) send a few requests each: whichever shares C1/A's 429s shares its limit, which says
//!    whether the limit is per client, per issuer (or subject), global, or per client and
//!    issuer.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::probe::{Answer, Identity, Prober, class_counts, status_counts};
use super::report::{LoadCheck, RateLimitReport};
use super::stats::Class;
use crate::oracle::load::{self as oracle_load, AboveLimit, LimitObservation};

/// Fractions of `--rate` the ladder steps through.
pub const LADDER: [f64; 4] = [0.25, 0.5, 0.75, 1.0];
/// Longest wait a `Retry-After` is honoured with.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// How to probe.
#[derive(Debug, Clone)]
pub struct LimitOptions {
    /// The highest rate tried, requests per second.
    pub max_rate: f64,
    /// How long each ladder step lasts.
    pub step: Duration,
    /// The steady-state measurement window.
    pub hold: Duration,
    /// The expectation profile, whose level LOAD-01 is judged at.
    pub profile: String,
    /// The limit the profile names (Auth0: 5/s), if any.
    pub profile_limit: Option<f64>,
    /// Where the search says which step it is at (the live line).
    pub phase: super::phase::PhaseBoard,
}

/// What the probes found.
#[derive(Debug, Clone)]
pub struct LimitOutcome {
    /// For `load.json`.
    pub report: RateLimitReport,
    /// LOAD-01.
    pub check: LoadCheck,
    /// The ladder steps: rate and class counts.
    pub steps: Vec<(f64, [u64; 4])>,
    /// 429s the search got (ladder, hold, retry and recovery).
    pub rate_limited: u64,
}

/// The outcome of a search cut short by Ctrl-C: LOAD-01 SKIP, nothing measured.
pub fn interrupted(opts: &LimitOptions) -> LimitOutcome {
    let level = oracle_load::level("LOAD-01", &opts.profile);
    let j = oracle_load::judge_interrupted();
    LimitOutcome {
        report: RateLimitReport::default(),
        check: LoadCheck {
            id: "LOAD-01".into(),
            level,
            verdict: j.verdict,
            reason: j.reason,
        },
        steps: Vec::new(),
        rate_limited: 0,
    }
}

/// The first second (from the stream's start) with a 429, if any.
pub fn first_saturated_second(answers: &[Answer]) -> Option<u64> {
    answers
        .iter()
        .filter(|a| a.class == Class::RateLimited)
        .map(|a| a.offset.as_secs())
        .min()
}

/// Accepted requests per second over `answers` sent in `window` seconds.
pub fn accepted_per_second(answers: &[Answer], window: Duration) -> f64 {
    let accepted = answers
        .iter()
        .filter(|a| a.class == Class::Accepted)
        .count();
    accepted as f64 / window.as_secs_f64().max(1e-3)
}

/// The accepted rate in the steady state of a run's per-second counts (in [`Class::ALL`]
/// order): the mean accepted per second over the full seconds after the first second with a
/// 429 (`full_seconds` of the timeline are complete). `None` without a 429, or without a full
/// second after it.
pub fn steady_accepted_rate(seconds: &[[u64; 4]], full_seconds: usize) -> Option<f64> {
    let first = seconds
        .iter()
        .position(|c| c[Class::RateLimited as usize] > 0)?;
    let steady = seconds.get(first + 1..full_seconds.min(seconds.len()))?;
    if steady.is_empty() {
        return None;
    }
    let accepted: u64 = steady.iter().map(|c| c[Class::Accepted as usize]).sum();
    Some(accepted as f64 / steady.len() as f64)
}

/// Share (0–1) of `answers` that were 429.
fn limited_share(answers: &[Answer]) -> f64 {
    if answers.is_empty() {
        return 0.0;
    }
    answers
        .iter()
        .filter(|a| a.class == Class::RateLimited)
        .count() as f64
        / answers.len() as f64
}

/// What the limit is keyed on, from whether C2/A and C1/B shared C1/A's limit (`None`: not
/// probed, or unclear).
pub fn key_of(client2_shares: Option<bool>, issuer_b_shares: Option<bool>) -> Option<String> {
    let k = match (client2_shares?, issuer_b_shares) {
        (false, Some(true)) | (false, None) => "client",
        (true, Some(false)) => "issuer (or subject)",
        (true, Some(true)) => "global (or source address)",
        (false, Some(false)) => "client and issuer (or subject)",
        (true, None) => "shared by clients (issuer, subject or global)",
    };
    Some(k.to_string())
}

/// Whether a probe group shared the flood's limit: most of its requests were refused like the
/// flood's (`Some(true)`), almost none were (`Some(false)`), or it is unclear (`None`).
fn shares(group: &[Answer], flood_share: f64) -> Option<bool> {
    if group.is_empty() || flood_share < 0.2 {
        return None;
    }
    let s = limited_share(group);
    if s >= flood_share * 0.35 {
        Some(true)
    } else if s <= 0.1 {
        Some(false)
    } else {
        None
    }
}

/// Runs the probes. `c2a` is the second client with issuer A, `c1b` the first client with
/// issuer B; either may be missing (the key is then found out partly or not at all).
pub async fn find_limit(
    prober: &Prober,
    c1a: &Identity,
    c2a: Option<&Identity>,
    c1b: Option<&Identity>,
    opts: &LimitOptions,
    stop: &AtomicBool,
) -> LimitOutcome {
    let (c2a, c1b, key_notes) = key_probe_controls(prober, c2a, c1b).await;
    let (c2a, c1b) = (c2a.as_ref(), c1b.as_ref());
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (steps, mut above, saturated_rate) = ladder(prober, c1a, opts, stop).await;
    let mut report = RateLimitReport::default();
    let level = oracle_load::level("LOAD-01", &opts.profile);
    let judge = |o: &LimitObservation| {
        let j = oracle_load::judge_limit(level, &opts.profile, opts.profile_limit, o);
        LoadCheck {
            id: "LOAD-01".into(),
            level,
            verdict: j.verdict,
            reason: j.reason,
        }
    };
    let sent: u64 = steps.iter().map(|(_, c)| c.iter().sum::<u64>()).sum();
    let errors: u64 = steps.iter().map(|(_, c)| c[Class::Error as usize]).sum();
    let highest_rate = steps.last().map_or(0.0, |(r, _)| *r);
    let mut rate_limited: u64 = steps
        .iter()
        .map(|(_, c)| c[Class::RateLimited as usize])
        .sum();
    let Some(rate) = saturated_rate else {
        let check = judge(&LimitObservation {
            highest_rate,
            requests: sent,
            errors,
            limited: None,
        });
        return LimitOutcome {
            report,
            check,
            steps,
            rate_limited,
        };
    };

    // Steady state: hold the saturating rate past the first saturated second.
    opts.phase.set(format!(
        "limit search: holding {}/s",
        super::figures::trim(rate, 1)
    ));
    let hold = prober.stream(c1a, rate, opts.hold, stop).await;
    rate_limited += class_counts(&hold)[Class::RateLimited as usize];
    report.measured_rps = accepted_per_second(&hold, opts.hold);
    above.extend(hold);
    for a in above.iter().filter(|a| a.class == Class::RateLimited) {
        if a.retry_after.is_some() {
            report.retry_after_seen += 1;
        } else {
            report.retry_after_missing += 1;
        }
    }
    report.statuses_above_limit = status_counts(&above);

    // Retry-After holds: wait as asked, then one request must pass.
    let wait = above
        .iter()
        .filter_map(|a| a.retry_after)
        .max()
        .map_or(Duration::from_secs(1), Duration::from_secs)
        .min(MAX_RETRY_WAIT);
    opts.phase.set(format!(
        "limit search: waiting out Retry-After ({} s)",
        wait.as_secs()
    ));
    tokio::time::sleep(wait).await;
    let retry = prober.send_fresh(c1a).await;
    rate_limited += u64::from(retry.class == Class::RateLimited);
    report.retry_after_honoured =
        (report.retry_after_seen > 0).then_some(retry.class == Class::Accepted);

    // Recovery: half the limit must pass throughout.
    let calm_rate = (report.measured_rps * 0.5).max(1.0);
    opts.phase.set("limit search: recovery below the limit");
    let calm = prober
        .stream(c1a, calm_rate, Duration::from_secs(2), stop)
        .await;
    let calm_counts = class_counts(&calm);
    rate_limited += calm_counts[Class::RateLimited as usize];
    report.recovered =
        Some(calm_counts[Class::Accepted as usize] == calm.len() as u64 && !calm.is_empty());

    // Key: flood C1/A at five times the limit; C2/A and C1/B probe meanwhile.
    if c2a.is_some() || c1b.is_some() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        opts.phase.set("limit search: what the limit is keyed on");
        let rates = (report.measured_rps, rate);
        report.key = key_probe(prober, (c1a, c2a, c1b), rates, opts, stop).await;
    }

    let bad_above = above.iter().filter(|a| a.class == Class::Error).count() as u64;
    let calm_sent = calm.len() as u64;
    let observation = LimitObservation {
        highest_rate,
        requests: sent,
        errors,
        limited: Some(AboveLimit {
            saturated_at: rate,
            measured_rps: report.measured_rps,
            requests: above.len() as u64,
            errors: bad_above,
            retry_after_seen: report.retry_after_seen,
            retry_after_missing: report.retry_after_missing,
            honoured: report.retry_after_honoured.map(|ok| {
                (
                    ok,
                    wait.as_secs(),
                    retry.status.map_or("no answer".into(), |s| s.to_string()),
                )
            }),
            recovery: report.recovered.map(|_| {
                (
                    calm_rate,
                    calm_sent,
                    calm_sent - calm_counts[Class::Accepted as usize],
                )
            }),
            key: report.key.clone(),
            key_notes,
        }),
    };
    let check = judge(&observation);
    LimitOutcome {
        report,
        check,
        steps,
        rate_limited,
    }
}

/// The key probes' own controls, on a quiet server: a probe whose valid ID-JAG is refused
/// would read as "not limited" and say nothing about the key. Returns the identities whose
/// control was accepted, and a note for each left out.
async fn key_probe_controls(
    prober: &Prober,
    c2a: Option<&Identity>,
    c1b: Option<&Identity>,
) -> (Option<Identity>, Option<Identity>, Vec<String>) {
    let mut notes = Vec::new();
    let mut kept = Vec::new();
    for who in [c2a, c1b] {
        let Some(who) = who else {
            kept.push(None);
            continue;
        };
        let answer = prober.send_fresh(who).await;
        if answer.class == Class::Accepted {
            kept.push(Some(who.clone()));
        } else {
            notes.push(format!(
                "{} left out of the key probe: its valid ID-JAG got {}",
                who.label,
                answer.status.map_or("no answer".into(), |s| s.to_string())
            ));
            kept.push(None);
        }
    }
    let c1b = kept.pop().flatten();
    let c2a = kept.pop().flatten();
    (c2a, c1b, notes)
}

/// The ladder: rising rates (fractions of `--rate`) until a second of a step has a 429.
/// Returns every step's rate and counts, the answers from the first saturated second on, and
/// the saturating rate (`None`: no 429 up to the top).
async fn ladder(
    prober: &Prober,
    c1a: &Identity,
    opts: &LimitOptions,
    stop: &AtomicBool,
) -> (Vec<(f64, [u64; 4])>, Vec<Answer>, Option<f64>) {
    let mut steps = Vec::new();
    for (i, frac) in LADDER.iter().enumerate() {
        let rate = (opts.max_rate * frac).max(1.0);
        opts.phase.set(format!(
            "limit search: step {}/{} at {}/s",
            i + 1,
            LADDER.len(),
            super::figures::trim(rate, 1)
        ));
        let answers = prober.stream(c1a, rate, opts.step, stop).await;
        steps.push((rate, class_counts(&answers)));
        if let Some(sec) = first_saturated_second(&answers) {
            let above = answers
                .into_iter()
                .filter(|a| a.offset.as_secs() >= sec)
                .collect();
            return (steps, above, Some(rate));
        }
    }
    (steps, Vec::new(), None)
}

/// What the limit is keyed on: C1/A floods at five times the `measured` limit (at most twice
/// `--rate`, at least the `saturating` rate) while C2/A and C1/B send a few requests each;
/// whichever shares C1/A's 429s shares its limit.
async fn key_probe(
    prober: &Prober,
    (c1a, c2a, c1b): (&Identity, Option<&Identity>, Option<&Identity>),
    (measured, saturating): (f64, f64),
    opts: &LimitOptions,
    stop: &AtomicBool,
) -> Option<String> {
    let flood_rate = (measured * 5.0).min(opts.max_rate * 2.0).max(saturating);
    let probe_window = Duration::from_secs(2);
    let delayed = |who: Option<&Identity>| {
        let p = prober.clone();
        let who = who.cloned();
        async move {
            let Some(who) = who else {
                return Vec::new();
            };
            tokio::time::sleep(Duration::from_millis(700)).await;
            p.stream(&who, 4.0, probe_window, &AtomicBool::new(false))
                .await
        }
    };
    let flood = prober.stream(c1a, flood_rate, Duration::from_secs(3), stop);
    let (flood, g2, gb) = tokio::join!(flood, delayed(c2a), delayed(c1b));
    let flood_share = limited_share(
        &flood
            .iter()
            .filter(|a| a.offset >= Duration::from_millis(700))
            .cloned()
            .collect::<Vec<_>>(),
    );
    key_of(
        c2a.and_then(|_| shares(&g2, flood_share)),
        c1b.and_then(|_| shares(&gb, flood_share)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ms: u64, class: Class) -> Answer {
        Answer {
            class,
            status: Some(match class {
                Class::Accepted => 200,
                Class::RateLimited => 429,
                Class::Rejected => 400,
                Class::Error => 500,
            }),
            retry_after: None,
            fault: None,
            offset: Duration::from_millis(ms),
            latency: Duration::from_millis(1),
        }
    }

    #[test]
    fn saturation_and_steady_rate() {
        let mut a: Vec<Answer> = (0..200).map(|i| answer(i * 10, Class::Accepted)).collect();
        a.push(answer(1_500, Class::RateLimited));
        assert_eq!(first_saturated_second(&a), Some(1));
        assert_eq!(first_saturated_second(&a[..10]), None);
        assert!((accepted_per_second(&a, Duration::from_secs(2)) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn steady_state_skips_the_burst() {
        // A bucket of 50/s with a burst of 50 under 100/s: 100 accepted in the first second.
        let t = [
            [100, 0, 0, 0],
            [50, 50, 0, 0],
            [50, 50, 0, 0],
            [48, 52, 0, 0],
            [9, 3, 0, 0],
        ];
        assert_eq!(steady_accepted_rate(&t, 4), Some(49.0));
        assert_eq!(steady_accepted_rate(&t[..2], 2), None);
        assert_eq!(steady_accepted_rate(&[[10, 0, 0, 0]], 1), None);
    }

    #[test]
    fn key_inference() {
        assert_eq!(key_of(Some(false), Some(true)).as_deref(), Some("client"));
        assert_eq!(
            key_of(Some(true), Some(false)).as_deref(),
            Some("issuer (or subject)")
        );
        assert_eq!(
            key_of(Some(true), Some(true)).as_deref(),
            Some("global (or source address)")
        );
        assert_eq!(key_of(None, Some(true)), None);
        let limited: Vec<Answer> = (0..6).map(|i| answer(i, Class::RateLimited)).collect();
        let ok: Vec<Answer> = (0..6).map(|i| answer(i, Class::Accepted)).collect();
        assert_eq!(shares(&limited, 0.7), Some(true));
        assert_eq!(shares(&ok, 0.7), Some(false));
        assert_eq!(shares(&ok, 0.0), None);
    }
}
