//! The arrival schedule of an open-model load run: when request `i` is meant to be sent.
//!
//! A schedule is a list of phases, each a constant rate or a linear ramp over a duration.
//! Request `i` (from 0) is due at the time `t` where the cumulative planned count
//! `C(t) = ∫ rate` reaches `i`, so a constant 10/s sends at 0, 100 ms, 200 ms, … whatever the
//! server's latency. A shard `k/N` sends the global requests `k, k+N, k+2N, …` of the same
//! schedule, so N shards together keep exactly the planned arrival times.
//!
//! Pure: no clock, no I/O; the engine maps these offsets onto its start instant.

use std::fmt;
use std::time::Duration;

/// Longest schedule accepted (every run is bounded).
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Highest rate accepted, requests per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Most requests one schedule may plan.
pub const MAX_REQUESTS: u64 = 1_000_000_000;

/// One phase of a schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// `rate` requests per second for `duration`.
    Constant {
        /// Requests per second.
        rate: f64,
        /// How long.
        duration: Duration,
    },
    /// A rate changing linearly from `from` to `to` over `duration`.
    Ramp {
        /// Rate at the start, requests per second.
        from: f64,
        /// Rate at the end, requests per second.
        to: f64,
        /// How long.
        duration: Duration,
    },
}

impl Phase {
    fn duration(&self) -> Duration {
        match *self {
            Phase::Constant { duration, .. } | Phase::Ramp { duration, .. } => duration,
        }
    }

    /// Planned requests in the whole phase (fractional).
    fn count(&self) -> f64 {
        match *self {
            Phase::Constant { rate, duration } => rate * duration.as_secs_f64(),
            Phase::Ramp { from, to, duration } => (from + to) / 2.0 * duration.as_secs_f64(),
        }
    }

    /// The offset within the phase at which the cumulative count reaches `n`
    /// (`0 <= n < count()`).
    fn time_of(&self, n: f64) -> f64 {
        match *self {
            Phase::Constant { rate, .. } => n / rate,
            Phase::Ramp { from, to, duration } => {
                let d = duration.as_secs_f64();
                // C(t) = from·t + a·t², a = (to − from) / 2d; the stable root of a·t² + from·t − n.
                let a = (to - from) / (2.0 * d);
                let disc = (from * from + 4.0 * a * n).max(0.0);
                let denom = from + disc.sqrt();
                if denom <= 0.0 { 0.0 } else { 2.0 * n / denom }
            }
        }
    }

    fn rate_at(&self, t: f64) -> f64 {
        match *self {
            Phase::Constant { rate, .. } => rate,
            Phase::Ramp { from, to, duration } => {
                from + (to - from) * (t / duration.as_secs_f64()).clamp(0.0, 1.0)
            }
        }
    }
}

/// A rate plan that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The text does not parse.
    #[error("rate plan `{text}`: {why} (expected e.g. `10/s:5s,10..50/s:10s,50/s:30s`)")]
    Syntax {
        /// The offending text.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// The plan is empty, unbounded or too large.
    #[error("rate plan: {0}")]
    Bounds(String),
    /// The shard does not exist.
    #[error("shard {index}/{count}: the index must be below the count, and the count above 0")]
    Shard {
        /// Shard index.
        index: u32,
        /// Shard count.
        count: u32,
    },
}

/// An arrival schedule, possibly restricted to one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    phases: Vec<Phase>,
    /// Cumulative planned count at the start of each phase, and at the end (len + 1).
    starts: Vec<f64>,
    /// Cumulative offset of each phase.
    offsets: Vec<Duration>,
    shard: (u32, u32),
}

impl Schedule {
    /// A schedule of `phases`; errors when it is empty, longer than [`MAX_DURATION`], faster
    /// than [`MAX_RATE`] or plans more than [`MAX_REQUESTS`].
    pub fn new(phases: Vec<Phase>) -> Result<Self, ScheduleError> {
        if phases.is_empty() {
            return Err(ScheduleError::Bounds("no phases".into()));
        }
        let mut starts = vec![0.0];
        let mut offsets = vec![Duration::ZERO];
        for p in &phases {
            let rates = match *p {
                Phase::Constant { rate, .. } => [rate, rate],
                Phase::Ramp { from, to, .. } => [from, to],
            };
            if rates
                .iter()
                .any(|r| !r.is_finite() || *r < 0.0 || *r > MAX_RATE)
            {
                return Err(ScheduleError::Bounds(format!(
                    "rates must be between 0 and {MAX_RATE} per second"
                )));
            }
            if p.duration().is_zero() {
                return Err(ScheduleError::Bounds("a phase lasts 0 s".into()));
            }
            let last_offset = offsets.last().copied().unwrap_or_default();
            offsets.push(last_offset + p.duration());
            let last_start = starts.last().copied().unwrap_or_default();
            starts.push(last_start + p.count());
        }
        let total = offsets.last().copied().unwrap_or_default();
        if total > MAX_DURATION {
            return Err(ScheduleError::Bounds(format!(
                "lasts {total:?}, more than the ceiling of {MAX_DURATION:?}"
            )));
        }
        let planned = starts.last().copied().unwrap_or_default();
        if planned > MAX_REQUESTS as f64 {
            return Err(ScheduleError::Bounds(format!(
                "plans {planned:.0} requests, more than the ceiling of {MAX_REQUESTS}"
            )));
        }
        if planned < 1.0 {
            return Err(ScheduleError::Bounds("plans no request".into()));
        }
        Ok(Schedule {
            phases,
            starts,
            offsets,
            shard: (0, 1),
        })
    }

    /// `rate` requests per second for `duration`, after a linear ramp from 0 over `ramp`
    /// (none when zero).
    pub fn constant(rate: f64, duration: Duration, ramp: Duration) -> Result<Self, ScheduleError> {
        let mut phases = Vec::new();
        if !ramp.is_zero() {
            phases.push(Phase::Ramp {
                from: 0.0,
                to: rate,
                duration: ramp,
            });
        }
        phases.push(Phase::Constant { rate, duration });
        Schedule::new(phases)
    }

    /// Parses a rate plan: comma-separated phases `RATE/s:DURATION` (constant) or
    /// `FROM..TO/s:DURATION` (linear ramp), e.g. `10/s:5s,10..50/s:10s,50/s:30s`.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let syntax = |why: &str| ScheduleError::Syntax {
            text: text.to_string(),
            why: why.to_string(),
        };
        let mut phases = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (rate, dur) = part
                .split_once(':')
                .ok_or_else(|| syntax(&format!("`{part}` has no `:DURATION`")))?;
            let rate = rate
                .trim()
                .strip_suffix("/s")
                .ok_or_else(|| syntax(&format!("`{rate}` must end in /s")))?;
            let duration = humantime::parse_duration(dur.trim())
                .map_err(|e| syntax(&format!("duration `{dur}`: {e}")))?;
            let num = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| syntax(&format!("`{s}` is not a rate")))
            };
            phases.push(match rate.split_once("..") {
                Some((a, b)) => Phase::Ramp {
                    from: num(a)?,
                    to: num(b)?,
                    duration,
                },
                None => Phase::Constant {
                    rate: num(rate)?,
                    duration,
                },
            });
        }
        Schedule::new(phases)
    }

    /// This schedule's share for shard `index` of `count` (0-based index).
    pub fn shard(mut self, index: u32, count: u32) -> Result<Self, ScheduleError> {
        if count == 0 || index >= count {
            return Err(ScheduleError::Shard { index, count });
        }
        self.shard = (index, count);
        Ok(self)
    }

    /// The phases.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// How long the schedule lasts.
    pub fn duration(&self) -> Duration {
        self.offsets.last().copied().unwrap_or_default()
    }

    /// Requests the whole schedule plans, all shards together.
    pub fn total_planned(&self) -> u64 {
        let c = self.starts.last().copied().unwrap_or_default();
        c.ceil() as u64
    }

    /// Requests this shard plans.
    pub fn len(&self) -> u64 {
        let (k, n) = (u64::from(self.shard.0), u64::from(self.shard.1));
        let total = self.total_planned();
        if total <= k {
            0
        } else {
            (total - k).div_ceil(n)
        }
    }

    /// Whether this shard plans no request.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The global index (over all shards) of this shard's `i`-th request.
    pub fn global_index(&self, i: u64) -> u64 {
        u64::from(self.shard.0) + i * u64::from(self.shard.1)
    }

    /// When this shard's request `i` (from 0) is due, from the start of the run; `None`
    /// past the end.
    pub fn intended(&self, i: u64) -> Option<Duration> {
        if i >= self.len() {
            return None;
        }
        let g = self.global_index(i) as f64;
        // The phase whose cumulative count range holds g (phases with no requests skipped).
        let k = self.starts.partition_point(|s| *s <= g).saturating_sub(1);
        let phase = self.phases.get(k)?;
        let within = phase.time_of(g - self.starts[k]);
        let t = self.offsets[k] + Duration::from_secs_f64(within.max(0.0));
        Some(t.min(self.offsets[k + 1]))
    }

    /// The planned rate (all shards together) at offset `t`.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let k = self.offsets.partition_point(|o| *o <= t).saturating_sub(1);
        match self.phases.get(k) {
            Some(p) => p.rate_at((t - self.offsets[k]).as_secs_f64()),
            None => 0.0,
        }
    }

    /// The mean planned rate of this shard, requests per second.
    pub fn mean_rate(&self) -> f64 {
        self.len() as f64 / self.duration().as_secs_f64().max(1e-9)
    }

    /// The highest planned rate (all shards together).
    pub fn peak_rate(&self) -> f64 {
        self.phases
            .iter()
            .map(|p| match *p {
                Phase::Constant { rate, .. } => rate,
                Phase::Ramp { from, to, .. } => from.max(to),
            })
            .fold(0.0, f64::max)
    }
}

impl fmt::Display for Schedule {
    /// The plan in the syntax [`Schedule::parse`] reads, with the shard when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .phases
            .iter()
            .map(|p| match *p {
                Phase::Constant { rate, duration } => {
                    format!("{rate}/s:{}", humantime::format_duration(duration))
                }
                Phase::Ramp { from, to, duration } => {
                    format!("{from}..{to}/s:{}", humantime::format_duration(duration))
                }
            })
            .collect();
        f.write_str(&parts.join(","))?;
        if self.shard.1 > 1 {
            write!(f, " (shard {}/{})", self.shard.0, self.shard.1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Option<Duration>) -> f64 {
        d.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN)
    }

    #[test]
    fn constant_rate_is_evenly_spaced_and_bounded() {
        let s = Schedule::constant(10.0, Duration::from_secs(2), Duration::ZERO).unwrap();
        assert_eq!(s.len(), 20);
        assert_eq!(ms(s.intended(0)), 0.0);
        assert!((ms(s.intended(1)) - 100.0).abs() < 1e-6);
        assert!((ms(s.intended(19)) - 1900.0).abs() < 1e-6);
        assert_eq!(s.intended(20), None);
        assert_eq!(s.duration(), Duration::from_secs(2));
        assert_eq!(s.to_string(), "10/s:2s");
    }

    #[test]
    fn ramp_follows_the_integral_of_the_rate() {
        // 0 → 100/s over 2 s: C(t) = 25 t², 100 requests; request n at sqrt(n / 25).
        let s = Schedule::constant(100.0, Duration::from_secs(1), Duration::from_secs(2)).unwrap();
        assert_eq!(s.len(), 200);
        for n in [1u64, 4, 25, 64, 99] {
            let want = (n as f64 / 25.0).sqrt() * 1000.0;
            assert!((ms(s.intended(n)) - want).abs() < 1e-3, "{n}");
        }
        // After the ramp: 100/s from t = 2 s.
        assert!((ms(s.intended(100)) - 2000.0).abs() < 1e-3);
        assert!((ms(s.intended(150)) - 2500.0).abs() < 1e-3);
        // Monotonic all through.
        let times: Vec<f64> = (0..s.len()).map(|i| ms(s.intended(i))).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!((s.rate_at(Duration::from_secs(1)) - 50.0).abs() < 1e-9);
        assert_eq!(s.peak_rate(), 100.0);
    }

    #[test]
    fn ramp_down_is_monotonic_and_ends_in_time() {
        let s = Schedule::parse("100..0/s:2s").unwrap();
        assert_eq!(s.len(), 100);
        let times: Vec<f64> = (0..s.len()).map(|i| ms(s.intended(i))).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(times.iter().all(|t| *t <= 2000.0));
    }

    #[test]
    fn rate_plan_parses_and_prints_back() {
        let s = Schedule::parse("10/s:5s, 10..50/s:10s,50/s:30s").unwrap();
        assert_eq!(s.phases().len(), 3);
        assert_eq!(s.len(), 50 + 300 + 1500);
        assert_eq!(s.duration(), Duration::from_secs(45));
        assert_eq!(s.to_string(), "10/s:5s,10..50/s:10s,50/s:30s");
        // The third phase starts at 15 s with request 350.
        assert!((ms(s.intended(350)) - 15_000.0).abs() < 1e-3);
        for bad in [
            "",
            "10:5s",
            "10/s",
            "x/s:5s",
            "10/s:forever",
            "-1/s:5s",
            "0/s:5s",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Schedule::parse("1000/s:25h").is_err());
        assert!(Schedule::parse("2000000/s:1s").is_err());
    }

    #[test]
    fn shards_partition_the_schedule_exactly() {
        let all = Schedule::constant(30.0, Duration::from_secs(1), Duration::ZERO).unwrap();
        let mut times: Vec<Duration> = Vec::new();
        for k in 0..4 {
            let s = all.clone().shard(k, 4).unwrap();
            assert_eq!(s.to_string(), format!("30/s:1s (shard {k}/4)"));
            times.extend((0..s.len()).filter_map(|i| s.intended(i)));
        }
        times.sort();
        let whole: Vec<Duration> = (0..all.len()).filter_map(|i| all.intended(i)).collect();
        assert_eq!(times, whole);
        assert!(all.clone().shard(4, 4).is_err());
        assert!(all.shard(0, 0).is_err());
    }
}
