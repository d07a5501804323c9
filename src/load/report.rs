//! `load.json`: what a load run measured, in a versioned layout with a JSON Schema.
//! [`super::output`] writes it with `load.html` into the report directory.
//!
//! Pure: the report is computed from [`LoadStats`] (exact HDR histograms and counts) and a
//! duration; it carries the histograms themselves ([`SavedStats`]) so shard reports can be
//! merged exactly later ([`super::merge`]) and compared across runs.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::figures::Measured;
use super::stats::{Class, LoadStats, SavedStats, StatsError};
use super::threshold::{self, Threshold, ThresholdResult};

pub use super::figures::Percentiles;
use crate::spec::{Level, Verdict};

/// Version of the `load.json` layout; bumped on any incompatible change.
pub const LOAD_SCHEMA_VERSION: u32 = 1;
/// File name of the JSON report inside a report directory.
pub const LOAD_JSON: &str = "load.json";
/// File name of the HTML report inside a report directory.
pub const LOAD_HTML: &str = "load.html";

/// The result of one load run, or of a merge of shard runs: the content of `load.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadReport {
    /// Layout version ([`LOAD_SCHEMA_VERSION`]); merges refuse mixed versions.
    pub schema_version: u32,
    /// Version of xaa-conform that wrote the report.
    pub tool_version: String,
    /// How the run was configured.
    pub config: LoadConfigReport,
    /// Wall time of the measured phase in seconds: the denominator of every rate.
    pub elapsed_s: f64,
    /// Requests per result class.
    pub classes: Classes,
    /// Requests of the `error` class by cause (`connection_refused`, `connection_reset`,
    /// `head_timeout`, `body_timeout`, `body_over_cap`, `invalid_json`, `redirect`, `tls`,
    /// `server_error`, …; see `xaa-conform schema load`), in the main phase.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Latency of the accepted requests in µs (429s and errors never count here).
    pub latency_us: Percentiles,
    /// Latency in µs of every class, by class name (`accepted`, `rate_limited`, `rejected`,
    /// `error`).
    pub latency_by_class: BTreeMap<String, Percentiles>,
    /// All requests answered (or failed) per second of `elapsed_s`.
    pub achieved_rps: f64,
    /// Accepted requests (tokens issued) per second of `elapsed_s`.
    pub accepted_rps: f64,
    /// Share of all requests in the `error` class, 0.0–1.0.
    pub error_rate: f64,
    /// Share of all requests refused with a 4xx other than 429, 0.0–1.0.
    pub rejected_rate: f64,
    /// Share of all requests answered 429, 0.0–1.0.
    pub rate_limited_rate: f64,
    /// Whether the generator kept to its schedule (an invalid run measured the generator).
    pub generator: GeneratorHealth,
    /// What the rate-limit probe found, when the limit was probed.
    pub rate_limit: Option<RateLimitReport>,
    /// Conformance checks judged during the run (rate limiting, Retry-After, …).
    pub checks: Vec<LoadCheck>,
    /// The `--threshold` expressions and how the run fared against each.
    pub thresholds: Vec<ThresholdResult>,
    /// For a merged report: the shard reports it was made from, in merge order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
    /// The histograms themselves (HDR V2-deflate, base64), for exact merges and comparison.
    pub histograms: SavedStats,
    /// 429 answers by the phase that got them (`main load`, `replay race`, `slow JWKS`,
    /// `limit search`), for the phases that ran.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limited_by_phase: BTreeMap<String, u64>,
    /// Whether Ctrl-C cut the run short: the figures and checks hold what finished before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// The load run's settings, as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadConfigReport {
    /// The token endpoint driven.
    pub token_endpoint: String,
    /// Expectation profile.
    pub profile: String,
    /// The arrival-rate plan as given (e.g. `100/s for 30s`).
    pub rate_plan: String,
    /// Planned duration of the measured phase in seconds.
    pub duration_s: f64,
    /// Concurrent goose users.
    pub users: u64,
    /// Whether one ID-JAG was sent repeatedly instead of a fresh one per request.
    pub reuse_assertion: bool,
    /// Share of requests sent with a deliberately invalid ID-JAG, 0.0–1.0.
    pub invalid_share: f64,
    /// `i/N` when this run is one shard of a distributed test.
    pub shard: Option<String>,
    /// Signing algorithm of the minted ID-JAGs (`RS256`, `ES256`).
    pub alg: String,
}

/// Requests per result class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Classes {
    /// A token was issued.
    pub accepted: u64,
    /// 429 Too Many Requests.
    pub rate_limited: u64,
    /// Any other 4xx.
    pub rejected: u64,
    /// 5xx, timeouts, connection errors, 2xx without a token.
    pub error: u64,
}

impl Classes {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.accepted + self.rate_limited + self.rejected + self.error
    }

    /// The count of `class`.
    pub fn get(&self, class: Class) -> u64 {
        match class {
            Class::Accepted => self.accepted,
            Class::RateLimited => self.rate_limited,
            Class::Rejected => self.rejected,
            Class::Error => self.error,
        }
    }
}

/// Whether the load generator kept to its arrival schedule. When it fell behind, the run
/// measured the generator rather than the server: `valid` is false and `reason` says why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GeneratorHealth {
    /// Requests the schedule planned.
    pub planned: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Requests sent later than planned (beyond the tolerance).
    pub late: u64,
    /// Planned requests never sent.
    pub dropped: u64,
    /// The worst lateness in µs.
    pub max_late_us: u64,
    /// Whether the figures describe the server (false: the generator was the bottleneck).
    pub valid: bool,
    /// Why the run is not valid, when it is not.
    pub reason: Option<String>,
}

/// What probing the rate limit found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RateLimitReport {
    /// The highest accepted rate sustained before 429s began, per second.
    pub measured_rps: f64,
    /// 429 answers carrying a `Retry-After` header.
    pub retry_after_seen: u64,
    /// 429 answers without `Retry-After`.
    pub retry_after_missing: u64,
    /// Whether requests that waited as `Retry-After` asked were accepted (`null`: not tested).
    pub retry_after_honoured: Option<bool>,
    /// Whether the server accepted again after the load dropped below the limit.
    pub recovered: Option<bool>,
    /// What the limit appears to be keyed on (client, subject, IP, …), when found out.
    pub key: Option<String>,
    /// HTTP statuses received above the limit, by status code (as text), or by the cause
    /// when no HTTP answer came.
    pub statuses_above_limit: BTreeMap<String, u64>,
    /// The `Retry-After` values of the 429s as written, with how often each came (at most
    /// 16 distinct values; more are counted under `…`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retry_after_values: BTreeMap<String, u64>,
    /// The values of `retry_after_values` that are absurd, each with why (not delta-seconds
    /// nor an HTTP date, a date in the past, a wait over an hour).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retry_after_absurd: BTreeMap<String, String>,
}

/// One conformance check judged during a load run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadCheck {
    /// Requirement ID (e.g. `RAS-RATE-01`).
    pub id: String,
    /// The requirement's level.
    pub level: Level,
    /// The verdict.
    pub verdict: Verdict,
    /// One line saying why.
    pub reason: String,
}

/// One input of a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedShard {
    /// The file it was read from.
    pub file: String,
    /// Its `config.shard` (`i/N`), when it had one.
    pub shard: Option<String>,
    /// Its requests, all classes.
    pub requests: u64,
    /// Its `elapsed_s`.
    pub elapsed_s: f64,
}

/// `n / d`, or 0 when `d` is 0.
fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

impl LoadReport {
    /// The report of a run that measured `stats` over `elapsed`: classes, percentiles of
    /// every class, rates and shares are computed here; `rate_limit`, `checks` and
    /// `thresholds` start empty for the caller to fill ([`LoadReport::apply_thresholds`]).
    pub fn from_stats(
        config: LoadConfigReport,
        stats: &LoadStats,
        elapsed: Duration,
        generator: GeneratorHealth,
    ) -> Result<LoadReport, StatsError> {
        let mut report = LoadReport {
            schema_version: LOAD_SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            config,
            elapsed_s: elapsed.as_secs_f64(),
            classes: Classes::default(),
            errors: BTreeMap::new(),
            latency_us: Percentiles::default(),
            latency_by_class: BTreeMap::new(),
            achieved_rps: 0.0,
            accepted_rps: 0.0,
            error_rate: 0.0,
            rejected_rate: 0.0,
            rate_limited_rate: 0.0,
            generator,
            rate_limit: None,
            checks: Vec::new(),
            thresholds: Vec::new(),
            merged_from: Vec::new(),
            histograms: stats.to_saved()?,
            rate_limited_by_phase: BTreeMap::new(),
            interrupted: false,
        };
        report.recompute(stats);
        Ok(report)
    }

    /// Recomputes every figure derived from the histograms (`classes`, `latency_us`,
    /// `latency_by_class`, rates and shares) from `stats` and `elapsed_s`.
    pub fn recompute(&mut self, stats: &LoadStats) {
        self.classes = Classes {
            accepted: stats.count(Class::Accepted),
            rate_limited: stats.count(Class::RateLimited),
            rejected: stats.count(Class::Rejected),
            error: stats.count(Class::Error),
        };
        self.latency_us = Percentiles::of(stats, Class::Accepted);
        self.latency_by_class = Class::ALL
            .iter()
            .map(|c| (c.name().to_string(), Percentiles::of(stats, *c)))
            .collect();
        let total = self.classes.total();
        let per_second = |n: u64| {
            if self.elapsed_s > 0.0 {
                n as f64 / self.elapsed_s
            } else {
                0.0
            }
        };
        self.achieved_rps = per_second(total);
        self.accepted_rps = per_second(self.classes.accepted);
        self.error_rate = ratio(self.classes.error, total);
        self.rejected_rate = ratio(self.classes.rejected, total);
        self.rate_limited_rate = ratio(self.classes.rate_limited, total);
    }

    /// The `error` class by cause, most frequent first (ties by key): each cause's key in
    /// `errors`, its words ([`crate::fault::Fault::label`]; the key itself when unknown) and
    /// its count. The terminal summary and load.html list them so.
    pub fn errors_by_cause(&self) -> Vec<(&str, &str, u64)> {
        let mut by: Vec<(&str, &str, u64)> = self
            .errors
            .iter()
            .map(|(k, n)| {
                let label = crate::fault::Fault::from_name(k).map_or(k.as_str(), |f| f.label());
                (k.as_str(), label, *n)
            })
            .collect();
        by.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        by
    }

    /// Restores the histograms saved in the report.
    pub fn stats(&self) -> Result<LoadStats, StatsError> {
        LoadStats::from_saved(&self.histograms)
    }

    /// The figures thresholds are judged against.
    pub fn measured(&self) -> Measured {
        Measured {
            latency_us: self.latency_us,
            error_rate: self.error_rate,
            rejected_rate: self.rejected_rate,
            rate_limited_rate: self.rate_limited_rate,
            achieved_rps: self.achieved_rps,
            accepted_rps: self.accepted_rps,
        }
    }

    /// Judges `thresholds` against this report's figures and stores the results (replacing
    /// earlier ones); returns whether all held.
    pub fn apply_thresholds(&mut self, thresholds: &[Threshold]) -> bool {
        self.thresholds = threshold::judge_all(thresholds, &self.measured());
        !self.breached()
    }

    /// Whether any threshold was breached (exit 4).
    pub fn breached(&self) -> bool {
        self.thresholds.iter().any(|t| !t.passed)
    }

    /// One line per breached threshold, for the terminal summary.
    pub fn breach_lines(&self) -> Vec<String> {
        self.thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| format!("threshold `{}` breached: {}", t.expr, t.message))
            .collect()
    }
}

/// The JSON Schema (draft 2020-12, generated by schemars) of [`LoadReport`], i.e. of
/// `load.json`; published so scripts can validate what they read (`xaa-conform schema load`).
pub fn load_report_schema() -> Value {
    schemars::schema_for!(LoadReport).to_value()
}

/// `report` as pretty-printed JSON with a trailing newline: the content of `load.json`.
pub fn to_json(report: &LoadReport) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::stats::Sample;

    fn stats() -> LoadStats {
        let mut s = LoadStats::new();
        for i in 0..90u64 {
            s.record(&Sample {
                class: Class::Accepted,
                intended_at: Duration::from_millis(i * 20),
                latency: Duration::from_millis(10 + i % 10),
            });
        }
        for (class, n) in [
            (Class::RateLimited, 6),
            (Class::Rejected, 3),
            (Class::Error, 1),
        ] {
            for _ in 0..n {
                s.record(&Sample {
                    class,
                    intended_at: Duration::from_millis(500),
                    latency: Duration::from_micros(300),
                });
            }
        }
        s
    }

    #[test]
    fn figures_come_from_the_histograms() {
        let r = LoadReport::from_stats(
            LoadConfigReport::default(),
            &stats(),
            Duration::from_secs(2),
            GeneratorHealth::default(),
        )
        .unwrap();
        assert_eq!(r.schema_version, LOAD_SCHEMA_VERSION);
        assert_eq!(
            r.classes,
            Classes {
                accepted: 90,
                rate_limited: 6,
                rejected: 3,
                error: 1
            }
        );
        assert_eq!(r.achieved_rps, 50.0);
        assert_eq!(r.accepted_rps, 45.0);
        assert_eq!(r.error_rate, 0.01);
        assert_eq!(r.rate_limited_rate, 0.06);
        // Accepted latency 10–19 ms; the 0.3 ms 429s never count in it.
        let p50 = r.latency_us.p50.unwrap_or(0);
        assert!((14_000..=15_020).contains(&p50), "{p50}");
        assert!(r.latency_us.min.unwrap_or(0) >= 9_990);
        assert_eq!(r.latency_us.count, 90);
        assert_eq!(r.latency_by_class["rate_limited"].count, 6);
        assert!(r.latency_by_class["rate_limited"].max.unwrap_or(0) < 1_000);
        assert_eq!(r.latency_by_class.len(), 4);
        // The saved histograms restore to the same figures.
        let back = r.stats().unwrap();
        assert_eq!(back.count(Class::Accepted), 90);
        assert_eq!(back.timeline().len(), 2);
    }

    #[test]
    fn empty_run_has_null_percentiles_and_zero_rates() {
        let r = LoadReport::from_stats(
            LoadConfigReport::default(),
            &LoadStats::new(),
            Duration::ZERO,
            GeneratorHealth::default(),
        )
        .unwrap();
        assert_eq!(r.latency_us.p99, None);
        assert_eq!((r.achieved_rps, r.error_rate), (0.0, 0.0));
        let json = to_json(&r).unwrap();
        assert!(json.contains("\"p99\": null"), "{json}");
    }

    #[test]
    fn thresholds_are_stored_and_breaches_listed() {
        let mut r = LoadReport::from_stats(
            LoadConfigReport::default(),
            &stats(),
            Duration::from_secs(2),
            GeneratorHealth::default(),
        )
        .unwrap();
        let ts = threshold::parse_all(&["p99<1s", "error_rate<0.1%"]).unwrap();
        assert!(!r.apply_thresholds(&ts));
        assert!(r.breached());
        assert_eq!(r.thresholds.len(), 2);
        let lines = r.breach_lines();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("threshold `error_rate<0.1%` breached: error_rate = 1%"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn json_round_trips_and_matches_its_schema_shape() {
        let r = LoadReport::from_stats(
            LoadConfigReport {
                shard: Some("0/2".into()),
                ..Default::default()
            },
            &stats(),
            Duration::from_secs(2),
            GeneratorHealth::default(),
        )
        .unwrap();
        let json = to_json(&r).unwrap();
        let back: LoadReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["classes"]["accepted"], 90);
        assert!(v["latency_us"]["p50"].is_u64());
        assert!(v.get("merged_from").is_none());
        let schema = load_report_schema();
        assert!(schema["properties"]["classes"].is_object(), "{schema}");
        assert!(schema["properties"]["rate_limit"].is_object());
    }
}
