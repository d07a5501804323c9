//! The measured figures of a load run: the latency percentiles the report carries and the
//! pages show, the figures a threshold is judged against, and how a latency reads.
//!
//! The bottom of the load reports: [`super::report`], [`super::threshold`] and
//! [`super::html`] all read these, and this module reads only the histograms
//! ([`super::stats`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::stats::{Class, LoadStats};

/// Latency percentiles of one class, in µs; each is `null` when the class has no request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 95th percentile.
    pub p95: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// 99.9th percentile.
    pub p999: Option<u64>,
    /// Lowest.
    pub min: Option<u64>,
    /// Highest.
    pub max: Option<u64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Requests measured.
    pub count: u64,
}

impl Percentiles {
    /// The percentiles of `class` in `stats` (HDR: within 0.1% of the true value).
    pub fn of(stats: &LoadStats, class: Class) -> Percentiles {
        let h = stats.histogram(class);
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |q: f64| Some(h.value_at_quantile(q));
        Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            min: Some(h.min()),
            max: Some(h.max()),
            mean: Some(h.mean()),
            count: h.len(),
        }
    }
}

/// The figures of a run that thresholds compare: the accepted requests' latency, the share of
/// each failing class and the throughput (the same numbers `load.json` carries).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Latency of the accepted requests in µs.
    pub latency_us: Percentiles,
    /// Share of all requests in the `error` class, 0.0–1.0.
    pub error_rate: f64,
    /// Share of all requests refused with a 4xx other than 429, 0.0–1.0.
    pub rejected_rate: f64,
    /// Share of all requests answered 429, 0.0–1.0.
    pub rate_limited_rate: f64,
    /// All requests answered (or failed) per second.
    pub achieved_rps: f64,
    /// Accepted requests per second.
    pub accepted_rps: f64,
}

/// A latency in µs, in the unit that reads best.
pub fn duration_us(us: f64) -> String {
    if us.abs() >= 1_000_000.0 {
        format!("{} s", trim(us / 1_000_000.0, 3))
    } else if us.abs() >= 1_000.0 {
        format!("{} ms", trim(us / 1_000.0, 1))
    } else {
        format!("{} µs", trim(us, 0))
    }
}

/// A latency in µs as the terminal says every latency of `load` and `load merge`: in
/// milliseconds (`0.35 ms`, `12.4 ms`, `1520.0 ms`), `-` when there is none.
pub fn latency_ms(us: Option<u64>) -> String {
    match us {
        None => "-".to_string(),
        Some(us) if us < 10_000 => format!("{:.2} ms", us as f64 / 1000.0),
        Some(us) => format!("{:.1} ms", us as f64 / 1000.0),
    }
}

/// `v` with at most `digits` decimals, trailing zeros removed.
pub(crate) fn trim(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}
