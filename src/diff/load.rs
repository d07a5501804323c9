//! Figure changes between two `load.json` files, judged against a tolerance.
//!
//! Compared: the p50 and p99 latency of the accepted requests, the achieved and accepted
//! throughput, the error rate, and the measured rate limit when both runs probed one. A
//! latency up, or a throughput or rate limit down, by more than the tolerance (relative to the
//! old figure) is a regression (exit 4, like a breached load threshold). The error rate is
//! shown with its change but does not gate: a server that errs more also accepts less, which
//! the accepted throughput catches.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DIFF_SCHEMA_VERSION, EXIT_LOAD_REGRESSED};
use crate::load::report::LoadReport;

/// How far a figure may move the wrong way before it is a regression, as a fraction of the
/// old figure (`0.1` for `--tolerance 10%`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Tolerance(f64);

impl Tolerance {
    /// The default: 10 %.
    pub const DEFAULT: Tolerance = Tolerance(0.1);

    /// A tolerance of `fraction` (0.1 for 10 %); `None` when negative or not finite.
    pub fn from_fraction(fraction: f64) -> Option<Tolerance> {
        (fraction.is_finite() && fraction >= 0.0).then_some(Tolerance(fraction))
    }

    /// The tolerance as a fraction of the old figure.
    pub fn fraction(self) -> f64 {
        self.0
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::DEFAULT
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", super::trim(self.0 * 100.0, 2))
    }
}

/// A `--tolerance` that is not a percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tolerance: give a percentage of 0 or more, like `10%` or `2.5%`")]
pub struct ToleranceError(String);

impl FromStr for Tolerance {
    type Err = ToleranceError;

    /// `10%`, `10 %` or `10`: a percentage of the old figure.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = s.trim().trim_end_matches('%').trim_end();
        number
            .parse::<f64>()
            .ok()
            .and_then(|p| Tolerance::from_fraction(p / 100.0))
            .ok_or_else(|| ToleranceError(s.to_string()))
    }
}

/// A figure the load diff compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    /// Median latency of the accepted requests, µs.
    LatencyP50,
    /// 99th-percentile latency of the accepted requests, µs.
    LatencyP99,
    /// All requests answered (or failed) per second.
    AchievedRps,
    /// Accepted requests (tokens issued) per second.
    AcceptedRps,
    /// Share of all requests in the `error` class, 0.0–1.0.
    ErrorRate,
    /// The highest accepted rate sustained before 429s began, per second.
    RateLimit,
}

impl MetricName {
    /// The words the table and markdown use.
    pub fn label(self) -> &'static str {
        match self {
            MetricName::LatencyP50 => "latency p50",
            MetricName::LatencyP99 => "latency p99",
            MetricName::AchievedRps => "achieved throughput",
            MetricName::AcceptedRps => "accepted throughput",
            MetricName::ErrorRate => "error rate",
            MetricName::RateLimit => "measured rate limit",
        }
    }

    /// Which way is better, for the figures that gate (`None`: the error rate, shown only).
    pub fn better(self) -> Option<Better> {
        match self {
            MetricName::LatencyP50 | MetricName::LatencyP99 => Some(Better::Lower),
            MetricName::AchievedRps | MetricName::AcceptedRps | MetricName::RateLimit => {
                Some(Better::Higher)
            }
            MetricName::ErrorRate => None,
        }
    }

    /// The unit of the figure.
    pub fn unit(self) -> Unit {
        match self {
            MetricName::LatencyP50 | MetricName::LatencyP99 => Unit::Microseconds,
            MetricName::AchievedRps | MetricName::AcceptedRps | MetricName::RateLimit => {
                Unit::PerSecond
            }
            MetricName::ErrorRate => Unit::Share,
        }
    }
}

/// Which direction of a figure is an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Lower is better (latency).
    Lower,
    /// Higher is better (throughput, rate limit).
    Higher,
}

/// The unit of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Microseconds.
    Microseconds,
    /// Requests per second.
    PerSecond,
    /// A share of all requests, 0.0–1.0.
    Share,
}

/// How a figure fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricStatus {
    /// Worse by more than the tolerance: fails the gate (exit 4).
    Regressed,
    /// Better by more than the tolerance.
    Improved,
    /// Moved by no more than the tolerance.
    WithinTolerance,
    /// Shown, never judged (the error rate).
    NotJudged,
    /// A run lacks the figure (no accepted request, no rate-limit probe), or the old figure
    /// is 0 so no relative change exists.
    NotCompared,
}

impl MetricStatus {
    /// The words the table and markdown use.
    pub fn label(self) -> &'static str {
        match self {
            MetricStatus::Regressed => "REGRESSED",
            MetricStatus::Improved => "improved",
            MetricStatus::WithinTolerance => "within tolerance",
            MetricStatus::NotJudged => "not judged",
            MetricStatus::NotCompared => "not compared",
        }
    }
}

/// One compared figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metric {
    /// Which figure.
    pub name: MetricName,
    /// Its unit.
    pub unit: Unit,
    /// In the old run (`null`: the run lacks it).
    pub old: Option<f64>,
    /// In the new run (`null`: the run lacks it).
    pub new: Option<f64>,
    /// `new - old`, when both exist.
    pub delta: Option<f64>,
    /// `(new - old) / old`, when both exist and `old` is not 0.
    pub relative: Option<f64>,
    /// How it fared against the tolerance.
    pub status: MetricStatus,
}

impl Metric {
    /// The comparison of figure `name`, `old` then `new`, against `tolerance`.
    pub fn judge(name: MetricName, old: Option<f64>, new: Option<f64>, t: Tolerance) -> Metric {
        let delta = old.zip(new).map(|(o, n)| n - o);
        let relative = old
            .zip(new)
            .filter(|(o, _)| *o != 0.0)
            .map(|(o, n)| (n - o) / o);
        let status = match (name.better(), relative) {
            (None, _) => MetricStatus::NotJudged,
            (Some(_), None) => MetricStatus::NotCompared,
            (Some(better), Some(r)) => {
                let worse = match better {
                    Better::Lower => r,
                    Better::Higher => -r,
                };
                if worse > t.fraction() {
                    MetricStatus::Regressed
                } else if -worse > t.fraction() {
                    MetricStatus::Improved
                } else {
                    MetricStatus::WithinTolerance
                }
            }
        };
        Metric {
            name,
            unit: name.unit(),
            old,
            new,
            delta,
            relative,
            status,
        }
    }
}

/// What a load diff says about one of its two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadSide {
    /// The file, as given on the command line.
    pub file: String,
    /// The xaa-conform version that wrote it.
    pub tool_version: String,
    /// The token endpoint driven.
    pub token_endpoint: String,
    /// The arrival-rate plan as given.
    pub rate_plan: String,
    /// Wall time of the measured phase in seconds.
    pub elapsed_s: f64,
    /// Requests of all classes.
    pub requests: u64,
    /// Whether the generator kept to its schedule (false: the figures measured it).
    pub generator_valid: bool,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
}

impl LoadSide {
    fn of(file: &str, r: &LoadReport) -> LoadSide {
        LoadSide {
            file: file.to_string(),
            tool_version: r.tool_version.clone(),
            token_endpoint: r.config.token_endpoint.clone(),
            rate_plan: r.config.rate_plan.clone(),
            elapsed_s: r.elapsed_s,
            requests: r.classes.total(),
            generator_valid: r.generator.valid,
            interrupted: r.interrupted,
        }
    }
}

/// The figure changes between two load.json files (`"kind": "load"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadDiff {
    /// Layout version of this document ([`super::DIFF_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The baseline run.
    pub old: LoadSide,
    /// The run compared with it.
    pub new: LoadSide,
    /// How far a figure may move the wrong way, as a fraction of the old figure.
    pub tolerance: Tolerance,
    /// Whether a figure regressed by more than the tolerance.
    pub regressed: bool,
    /// The exit code of `diff`: 4 when regressed, else 0.
    pub exit_code: u8,
    /// The figures, in a fixed order: latency p50, p99, achieved and accepted throughput,
    /// error rate, measured rate limit.
    pub metrics: Vec<Metric>,
    /// What a reader should know about the comparison (a generator that fell behind,
    /// different endpoints or plans, an interrupted run).
    pub notes: Vec<String>,
}

/// The figure changes from `old` (read from `old_file`) to `new`, judged against `tolerance`.
pub fn diff(
    old_file: &str,
    old: &LoadReport,
    new_file: &str,
    new: &LoadReport,
    tolerance: Tolerance,
) -> LoadDiff {
    let us = |v: Option<u64>| v.map(|v| v as f64);
    let limit = |r: &LoadReport| r.rate_limit.as_ref().map(|l| l.measured_rps);
    let figures = [
        (
            MetricName::LatencyP50,
            us(old.latency_us.p50),
            us(new.latency_us.p50),
        ),
        (
            MetricName::LatencyP99,
            us(old.latency_us.p99),
            us(new.latency_us.p99),
        ),
        (
            MetricName::AchievedRps,
            Some(old.achieved_rps),
            Some(new.achieved_rps),
        ),
        (
            MetricName::AcceptedRps,
            Some(old.accepted_rps),
            Some(new.accepted_rps),
        ),
        (
            MetricName::ErrorRate,
            Some(old.error_rate),
            Some(new.error_rate),
        ),
        (MetricName::RateLimit, limit(old), limit(new)),
    ];
    let metrics: Vec<Metric> = figures
        .into_iter()
        .map(|(name, o, n)| Metric::judge(name, o, n, tolerance))
        .collect();
    let regressed = metrics.iter().any(|m| m.status == MetricStatus::Regressed);
    LoadDiff {
        schema_version: DIFF_SCHEMA_VERSION,
        old: LoadSide::of(old_file, old),
        new: LoadSide::of(new_file, new),
        tolerance,
        regressed,
        exit_code: if regressed { EXIT_LOAD_REGRESSED } else { 0 },
        metrics,
        notes: notes(old_file, old, new_file, new),
    }
}

/// What makes the two runs less comparable than they look.
fn notes(old_file: &str, old: &LoadReport, new_file: &str, new: &LoadReport) -> Vec<String> {
    let mut notes = Vec::new();
    if old.config.token_endpoint != new.config.token_endpoint {
        notes.push(format!(
            "the runs drove different token endpoints ({} before, {} after)",
            old.config.token_endpoint, new.config.token_endpoint
        ));
    }
    if old.config.rate_plan != new.config.rate_plan {
        notes.push(format!(
            "the runs followed different rate plans ({} before, {} after)",
            old.config.rate_plan, new.config.rate_plan
        ));
    }
    if old.config.reuse_assertion != new.config.reuse_assertion {
        notes.push("one run reused one ID-JAG, the other minted a fresh one per request".into());
    }
    match (&old.rate_limit, &new.rate_limit) {
        (Some(_), None) => notes.push(format!("{new_file}: no rate-limit probe to compare")),
        (None, Some(_)) => notes.push(format!("{old_file}: no rate-limit probe to compare")),
        _ => {}
    }
    for (file, r) in [(old_file, old), (new_file, new)] {
        if !r.generator.valid {
            notes.push(format!(
                "{file}: the generator fell behind its schedule, so its figures measured the \
                 generator ({})",
                r.generator
                    .reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ));
        }
        if r.interrupted {
            notes.push(format!("{file}: the run was interrupted (Ctrl-C)"));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_read_as_percentages() {
        for (text, fraction) in [("10%", 0.1), ("2.5 %", 0.025), ("0", 0.0), ("150%", 1.5)] {
            let t: Tolerance = text.parse().unwrap();
            assert!((t.fraction() - fraction).abs() < 1e-12, "{text}");
        }
        for bad in ["", "%", "-5%", "ten", "NaN", "inf"] {
            assert!(bad.parse::<Tolerance>().is_err(), "{bad}");
        }
        assert_eq!(Tolerance::DEFAULT.to_string(), "10 %");
    }

    #[test]
    fn a_figure_regresses_only_beyond_the_tolerance_the_wrong_way() {
        let t = Tolerance::DEFAULT;
        let p50 = |o, n| Metric::judge(MetricName::LatencyP50, Some(o), Some(n), t).status;
        let rps = |o, n| Metric::judge(MetricName::AcceptedRps, Some(o), Some(n), t).status;
        assert_eq!(p50(1000.0, 1100.0), MetricStatus::WithinTolerance);
        assert_eq!(p50(1000.0, 1101.0), MetricStatus::Regressed);
        assert_eq!(p50(1000.0, 800.0), MetricStatus::Improved);
        assert_eq!(rps(100.0, 91.0), MetricStatus::WithinTolerance);
        assert_eq!(rps(100.0, 89.0), MetricStatus::Regressed);
        assert_eq!(rps(100.0, 120.0), MetricStatus::Improved);
        assert_eq!(rps(0.0, 120.0), MetricStatus::NotCompared);
        let err = Metric::judge(MetricName::ErrorRate, Some(0.0), Some(0.5), t);
        assert_eq!(err.status, MetricStatus::NotJudged);
        assert_eq!(err.delta, Some(0.5));
        let none = Metric::judge(MetricName::RateLimit, Some(50.0), None, t);
        assert_eq!(none.status, MetricStatus::NotCompared);
    }
}
