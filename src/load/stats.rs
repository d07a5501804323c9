//! What a load run measured: every response in one of four classes, each class with its own
//! HDR latency histogram (microseconds, from the intended send time, so a slow server cannot
//! hide its queueing: no coordinated omission), plus a per-second timeline.
//!
//! Pure and mergeable: shards record separately and [`LoadStats::merge`] adds them exactly.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Highest latency a histogram tracks (10 minutes, in µs); longer values are clamped.
const MAX_TRACKED_US: u64 = 600_000_000;
/// Significant decimal digits kept by every histogram.
const SIGFIG: u8 = 3;

/// The result class of one token request under load: the oracle's, so that load and run
/// agree on what an answer was.
pub use crate::oracle::load::Class;

/// One request's outcome.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Its class.
    pub class: Class,
    /// When it was scheduled to be sent, from the start of the run.
    pub intended_at: Duration,
    /// From the intended send time to the end of the answer (or the failure).
    pub latency: Duration,
}

/// Counts and latencies of one second of the run, by intended send time.
#[derive(Debug, Clone)]
pub struct Second {
    /// Requests per class in this second, in [`Class::ALL`] order.
    pub counts: [u64; 4],
    /// Latency of the accepted requests of this second.
    pub accepted: Histogram<u64>,
}

impl Second {
    fn new() -> Self {
        Second {
            counts: [0; 4],
            accepted: new_histogram(),
        }
    }
}

/// Everything one run (or one merge of shard runs) measured.
#[derive(Debug, Clone)]
pub struct LoadStats {
    classes: [Histogram<u64>; 4],
    timeline: Vec<Second>,
}

/// A histogram that could not be restored or added.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// Not base64, or not a V2 histogram.
    #[error("histogram {0}: not a serialized HDR histogram: {1}")]
    Decode(String, String),
    /// Could not add one histogram to another.
    #[error("histograms do not merge: {0}")]
    Merge(String),
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKED_US, SIGFIG)
        .expect("constant histogram bounds are within hdrhistogram's limits")
}

impl Default for LoadStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LoadStats {
    /// Empty statistics.
    pub fn new() -> Self {
        LoadStats {
            classes: [
                new_histogram(),
                new_histogram(),
                new_histogram(),
                new_histogram(),
            ],
            timeline: Vec::new(),
        }
    }

    /// Records one request.
    pub fn record(&mut self, sample: &Sample) {
        let us = (sample.latency.as_micros() as u64).clamp(1, MAX_TRACKED_US);
        self.classes[sample.class as usize].saturating_record(us);
        let second = sample.intended_at.as_secs() as usize;
        if self.timeline.len() <= second {
            self.timeline.resize_with(second + 1, Second::new);
        }
        let slot = &mut self.timeline[second];
        slot.counts[sample.class as usize] += 1;
        if sample.class == Class::Accepted {
            slot.accepted.saturating_record(us);
        }
    }

    /// Adds another run's figures (a shard of the same test) to these.
    pub fn merge(&mut self, other: &LoadStats) -> Result<(), StatsError> {
        for (mine, theirs) in self.classes.iter_mut().zip(&other.classes) {
            mine.add(theirs)
                .map_err(|e| StatsError::Merge(format!("{e:?}")))?;
        }
        if self.timeline.len() < other.timeline.len() {
            self.timeline.resize_with(other.timeline.len(), Second::new);
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            for (a, b) in mine.counts.iter_mut().zip(theirs.counts) {
                *a += b;
            }
            mine.accepted
                .add(&theirs.accepted)
                .map_err(|e| StatsError::Merge(format!("{e:?}")))?;
        }
        Ok(())
    }

    /// Requests of `class`.
    pub fn count(&self, class: Class) -> u64 {
        self.classes[class as usize].len()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        Class::ALL.iter().map(|c| self.count(*c)).sum()
    }

    /// The latency histogram (µs) of `class`.
    pub fn histogram(&self, class: Class) -> &Histogram<u64> {
        &self.classes[class as usize]
    }

    /// The latency (µs) at `quantile` (0.0–1.0) of `class`; `None` when it has no requests.
    pub fn latency_us(&self, class: Class, quantile: f64) -> Option<u64> {
        let h = self.histogram(class);
        (!h.is_empty()).then(|| h.value_at_quantile(quantile))
    }

    /// The per-second timeline.
    pub fn timeline(&self) -> &[Second] {
        &self.timeline
    }

    /// The histograms in portable form: base64 of HDR V2 (deflate) serialization, so runs
    /// can be saved, merged and compared by any HDR tool.
    pub fn to_saved(&self) -> Result<SavedStats, StatsError> {
        let classes = Class::ALL
            .iter()
            .map(|c| Ok((c.name().to_string(), encode(self.histogram(*c))?)))
            .collect::<Result<_, StatsError>>()?;
        let timeline = self
            .timeline
            .iter()
            .map(|s| {
                Ok(SavedSecond {
                    counts: s.counts,
                    accepted: encode(&s.accepted)?,
                })
            })
            .collect::<Result<_, StatsError>>()?;
        Ok(SavedStats { classes, timeline })
    }

    /// Restores statistics saved by [`LoadStats::to_saved`].
    pub fn from_saved(saved: &SavedStats) -> Result<LoadStats, StatsError> {
        let mut stats = LoadStats::new();
        for class in Class::ALL {
            if let Some(text) = saved.classes.get(class.name()) {
                stats.classes[class as usize] = decode(class.name(), text)?;
            }
        }
        stats.timeline = saved
            .timeline
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok(Second {
                    counts: s.counts,
                    accepted: decode(&format!("timeline[{i}]"), &s.accepted)?,
                })
            })
            .collect::<Result<_, StatsError>>()?;
        Ok(stats)
    }
}

/// Serialized histograms of a run (the `histograms` member of `load.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedStats {
    /// Per class name: base64 of the HDR V2-deflate serialized latency histogram (µs).
    pub classes: std::collections::BTreeMap<String, String>,
    /// Per second of the run: counts by class and the accepted-latency histogram.
    pub timeline: Vec<SavedSecond>,
}

/// One saved second of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedSecond {
    /// Requests per class: accepted, rate_limited, rejected, error.
    pub counts: [u64; 4],
    /// base64 HDR V2-deflate histogram of the accepted latencies (µs).
    pub accepted: String,
}

fn encode(h: &Histogram<u64>) -> Result<String, StatsError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| StatsError::Merge(format!("serialize: {e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn decode(name: &str, text: &str) -> Result<Histogram<u64>, StatsError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| StatsError::Decode(name.into(), e.to_string()))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| StatsError::Decode(name.into(), format!("{e:?}")))?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(class: Class, at_ms: u64, latency_ms: u64) -> Sample {
        Sample {
            class,
            intended_at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
        }
    }

    #[test]
    fn classes_follow_status_and_body() {
        let token = br#"{"access_token":"t"}"#;
        let refusal = br#"{"error":"invalid_grant"}"#;
        assert_eq!(Class::of(Some(200), token), Class::Accepted);
        assert_eq!(Class::of(Some(200), b"{}"), Class::Error);
        assert_eq!(Class::of(Some(429), b""), Class::RateLimited);
        assert_eq!(Class::of(Some(400), refusal), Class::Rejected);
        assert_eq!(Class::of(Some(400), b"Bad Request"), Class::Error);
        assert_eq!(Class::of(Some(503), refusal), Class::Error);
        assert_eq!(Class::of(None, b""), Class::Error);
    }

    #[test]
    fn rate_limited_latency_stays_out_of_accepted() {
        let mut s = LoadStats::new();
        s.record(&sample(Class::Accepted, 0, 10));
        s.record(&sample(Class::RateLimited, 0, 1));
        assert_eq!(s.count(Class::Accepted), 1);
        assert_eq!(s.count(Class::RateLimited), 1);
        let p50 = s.latency_us(Class::Accepted, 0.5).unwrap_or(0);
        assert!((9_990..=10_010).contains(&p50), "{p50}");
        assert_eq!(s.latency_us(Class::Error, 0.5), None);
    }

    #[test]
    fn merge_is_exact_and_survives_saving() {
        let mut a = LoadStats::new();
        let mut b = LoadStats::new();
        for i in 0..100 {
            a.record(&sample(Class::Accepted, i * 10, 5));
            b.record(&sample(Class::Accepted, 1500 + i * 10, 50));
        }
        b.record(&sample(Class::Error, 2500, 1000));
        let restored = LoadStats::from_saved(&b.to_saved().unwrap()).unwrap();
        a.merge(&restored).unwrap();
        assert_eq!(a.count(Class::Accepted), 200);
        assert_eq!(a.count(Class::Error), 1);
        assert_eq!(a.timeline().len(), 3);
        assert_eq!(a.timeline()[0].counts[0], 100);
        assert_eq!(a.timeline()[2].counts[3], 1);
        let p99 = a.latency_us(Class::Accepted, 0.99).unwrap_or(0);
        assert!((49_950..=50_050).contains(&p99), "{p99}");
    }

    #[test]
    fn bad_saved_histogram_is_an_error_not_a_panic() {
        let mut saved = SavedStats::default();
        saved
            .classes
            .insert("accepted".into(), "not base64!".into());
        assert!(LoadStats::from_saved(&saved).is_err());
        saved.classes.insert("accepted".into(), "AAAA".into());
        assert!(LoadStats::from_saved(&saved).is_err());
    }
}
