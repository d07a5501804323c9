//! CI thresholds for load runs: `p99<200ms`, `error_rate<0.1%`, `accepted_rps>=100`, ….
//!
//! Pure: an expression is parsed once ([`Threshold::parse`]) and judged after the run against
//! the report's own figures ([`judge`]), which come from our HDR histograms and exact counts
//! (goose's own `--threshold`, which aborts the run, is not used). A breach is exit 4.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::figures::{Measured, trim};

pub use super::figures::duration_us;

/// The metrics a threshold can name, with every accepted spelling, for error messages.
pub const VALID_METRICS: &str = "p50, p90, p95, p99, p99.9 (or p999), max (accepted latency, \
     with a unit: us, µs, ms, s), error_rate, rejected_rate, rate_limited_rate (fractions: 0.001 \
     or 0.1%), rps (achieved requests/s), accepted_rps";

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Median accepted latency.
    P50,
    /// 90th percentile of accepted latency.
    P90,
    /// 95th percentile of accepted latency.
    P95,
    /// 99th percentile of accepted latency.
    P99,
    /// 99.9th percentile of accepted latency.
    P999,
    /// Highest accepted latency.
    Max,
    /// Share of requests in the `error` class (5xx, timeouts, connection errors).
    ErrorRate,
    /// Share of requests refused with a 4xx other than 429.
    RejectedRate,
    /// Share of requests answered 429.
    RateLimitedRate,
    /// Requests per second sent and answered, all classes.
    Rps,
    /// Accepted requests (tokens issued) per second.
    AcceptedRps,
}

/// How the measured value must compare with the limit for the threshold to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Comparator {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl Comparator {
    fn symbol(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Comparator::Lt => actual < limit,
            Comparator::Le => actual <= limit,
            Comparator::Gt => actual > limit,
            Comparator::Ge => actual >= limit,
        }
    }

    /// Whether the limit is a ceiling (`<`, `<=`) rather than a floor.
    fn is_ceiling(self) -> bool {
        matches!(self, Comparator::Lt | Comparator::Le)
    }
}

/// The kind of quantity a metric is, which fixes its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Microseconds.
    Latency,
    /// A fraction of all requests, 0.0–1.0.
    Fraction,
    /// Per second.
    Rate,
}

impl Metric {
    fn parse(name: &str) -> Option<Metric> {
        Some(match name.to_ascii_lowercase().as_str() {
            "p50" | "median" => Metric::P50,
            "p90" => Metric::P90,
            "p95" => Metric::P95,
            "p99" => Metric::P99,
            "p99.9" | "p999" => Metric::P999,
            "max" => Metric::Max,
            "error_rate" => Metric::ErrorRate,
            "rejected_rate" => Metric::RejectedRate,
            "rate_limited_rate" => Metric::RateLimitedRate,
            "rps" => Metric::Rps,
            "accepted_rps" => Metric::AcceptedRps,
            _ => return None,
        })
    }

    /// The canonical name, as written in reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
            Metric::Max => "max",
            Metric::ErrorRate => "error_rate",
            Metric::RejectedRate => "rejected_rate",
            Metric::RateLimitedRate => "rate_limited_rate",
            Metric::Rps => "rps",
            Metric::AcceptedRps => "accepted_rps",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Metric::P50 | Metric::P90 | Metric::P95 | Metric::P99 | Metric::P999 | Metric::Max => {
                Kind::Latency
            }
            Metric::ErrorRate | Metric::RejectedRate | Metric::RateLimitedRate => Kind::Fraction,
            Metric::Rps | Metric::AcceptedRps => Kind::Rate,
        }
    }

    /// The measured value in the metric's base unit (µs, fraction, per second); `None` for a
    /// latency metric when no request was accepted.
    fn value(self, r: &Measured) -> Option<f64> {
        let l = &r.latency_us;
        let us = |v: Option<u64>| v.map(|v| v as f64);
        match self {
            Metric::P50 => us(l.p50),
            Metric::P90 => us(l.p90),
            Metric::P95 => us(l.p95),
            Metric::P99 => us(l.p99),
            Metric::P999 => us(l.p999),
            Metric::Max => us(l.max),
            Metric::ErrorRate => Some(r.error_rate),
            Metric::RejectedRate => Some(r.rejected_rate),
            Metric::RateLimitedRate => Some(r.rate_limited_rate),
            Metric::Rps => Some(r.achieved_rps),
            Metric::AcceptedRps => Some(r.accepted_rps),
        }
    }
}

/// One parsed threshold. `limit` is in the metric's base unit: µs for latencies, a fraction
/// (0.001 for 0.1%) for rates of a class, requests per second for throughputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The expression as the user wrote it.
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// How it must compare.
    pub comparator: Comparator,
    /// The limit, in the metric's base unit.
    pub limit: f64,
}

/// A threshold expression that could not be parsed (exit 2 at the command line).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad threshold `{expr}`: {reason}")]
pub struct ThresholdError {
    /// The expression.
    pub expr: String,
    /// What is wrong with it, naming what would be valid.
    pub reason: String,
}

impl Threshold {
    /// Parses `METRIC OP VALUE`, e.g. `p99<200ms`, `p99.9 <= 1s`, `error_rate<0.1%`,
    /// `accepted_rps>=100`. Spaces are allowed around the comparator.
    pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
        let err = |reason: String| ThresholdError {
            expr: expr.to_string(),
            reason,
        };
        let text = expr.trim();
        let Some(pos) = text.find(['<', '>']) else {
            return Err(err(format!(
                "no comparator; write METRIC<VALUE, <=, > or >=, e.g. `p99<200ms` \
                 (metrics: {VALID_METRICS})"
            )));
        };
        let (name, rest) = text.split_at(pos);
        let (comparator, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Comparator::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Comparator::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Comparator::Lt, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Comparator::Gt, v)
        } else {
            return Err(err("no comparator".into()));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(err(format!(
                "no metric before `{}` (metrics: {VALID_METRICS})",
                comparator.symbol()
            )));
        }
        let metric = Metric::parse(name).ok_or_else(|| {
            err(format!(
                "unknown metric `{name}`; valid metrics: {VALID_METRICS}"
            ))
        })?;
        let value = value.trim();
        if value.is_empty() {
            return Err(err(format!("no value after `{}`", comparator.symbol())));
        }
        let limit = parse_value(metric.kind(), value).map_err(err)?;
        Ok(Threshold {
            expr: text.to_string(),
            metric,
            comparator,
            limit,
        })
    }
}

/// Splits `value` into its number and the unit that follows it.
fn split_number(value: &str) -> Result<(f64, &str), String> {
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '+'))
        .unwrap_or(value.len());
    let (num, unit) = value.split_at(end);
    let cleaned: String = num.chars().filter(|c| *c != '_').collect();
    let n: f64 = cleaned
        .parse()
        .map_err(|_| format!("`{value}` does not start with a number"))?;
    if !n.is_finite() {
        return Err(format!("`{value}` is not a finite number"));
    }
    Ok((n, unit.trim()))
}

fn parse_value(kind: Kind, value: &str) -> Result<f64, String> {
    let (n, unit) = split_number(value)?;
    match kind {
        Kind::Latency => {
            let factor = match unit {
                "us" | "µs" | "μs" => 1.0,
                "ms" => 1_000.0,
                "s" => 1_000_000.0,
                "" => {
                    return Err(format!(
                        "a latency needs a unit: `{value}us`, `{value}ms` or `{value}s`"
                    ));
                }
                other => {
                    return Err(format!(
                        "unknown latency unit `{other}`; use us, µs, ms or s"
                    ));
                }
            };
            Ok(n * factor)
        }
        Kind::Fraction => {
            let f = match unit {
                "%" => n / 100.0,
                "" => n,
                other => {
                    return Err(format!(
                        "a rate is a fraction (0.001) or a percentage (0.1%), not `{other}`"
                    ));
                }
            };
            if f > 1.0 {
                return Err(format!(
                    "`{value}` is over 100%; write a fraction of 1 (0.001) or a percentage (0.1%)"
                ));
            }
            Ok(f)
        }
        Kind::Rate => match unit {
            "" | "/s" | "rps" => Ok(n),
            other => Err(format!(
                "a throughput is requests per second, a plain number, not `{other}`"
            )),
        },
    }
}

/// The outcome of one threshold on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThresholdResult {
    /// The expression as given.
    pub expr: String,
    /// The metric's canonical name (`p99`, `error_rate`, …).
    pub metric: String,
    /// The comparator: `<`, `<=`, `>` or `>=`.
    pub comparator: Comparator,
    /// The measured value in the metric's base unit (µs, fraction, per second); `null` when
    /// there was nothing to measure (a latency with no accepted request).
    pub actual: Option<f64>,
    /// The limit in the same unit.
    pub limit: f64,
    /// The base unit of `actual` and `limit`: `us`, `fraction` or `per_second`.
    pub unit: String,
    /// Whether the threshold held.
    pub passed: bool,
    /// One line for people: `p99 = 312.4 ms, over the 200 ms limit by 112.4 ms (56%)`.
    pub message: String,
}

/// Judges `threshold` against the figures of a run.
pub fn judge(threshold: &Threshold, report: &Measured) -> ThresholdResult {
    let t = threshold;
    let kind = t.metric.kind();
    let actual = t.metric.value(report);
    let name = t.metric.name();
    let limit_text = show(kind, t.limit);
    let (passed, message) = match actual {
        None => (
            false,
            format!(
                "{name}: no accepted request, so there is no latency to compare with the {} \
                 {limit_text} limit (counted as breached)",
                t.comparator.symbol()
            ),
        ),
        Some(a) if t.comparator.holds(a, t.limit) => (
            true,
            format!(
                "{name} = {}, within the {} {limit_text} limit",
                show(kind, a),
                t.comparator.symbol()
            ),
        ),
        Some(a) => {
            let by = (a - t.limit).abs();
            let relative = if t.limit != 0.0 {
                format!(" ({})", percent(by / t.limit.abs()))
            } else {
                String::new()
            };
            let side = if t.comparator.is_ceiling() {
                "over"
            } else {
                "under"
            };
            let margin = if by == 0.0 {
                format!("at the {} {limit_text} limit", t.comparator.symbol())
            } else {
                format!(
                    "{side} the {limit_text} limit by {}{relative}",
                    show(kind, by)
                )
            };
            (false, format!("{name} = {}, {margin}", show(kind, a)))
        }
    };
    ThresholdResult {
        expr: t.expr.clone(),
        metric: name.to_string(),
        comparator: t.comparator,
        actual,
        limit: t.limit,
        unit: match kind {
            Kind::Latency => "us",
            Kind::Fraction => "fraction",
            Kind::Rate => "per_second",
        }
        .to_string(),
        passed,
        message,
    }
}

/// Judges every threshold, in order.
pub fn judge_all(thresholds: &[Threshold], report: &Measured) -> Vec<ThresholdResult> {
    thresholds.iter().map(|t| judge(t, report)).collect()
}

/// Parses every expression; the first bad one is the error.
pub fn parse_all<S: AsRef<str>>(exprs: &[S]) -> Result<Vec<Threshold>, ThresholdError> {
    exprs.iter().map(|e| Threshold::parse(e.as_ref())).collect()
}

/// A value of `kind` for people: latencies in µs, ms or s; fractions as percentages.
fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Latency => duration_us(v),
        Kind::Fraction => percent(v),
        Kind::Rate => format!("{}/s", trim(v, 1)),
    }
}

/// A fraction as a percentage with enough digits for small rates (0.1%, 0.012%).
fn percent(f: f64) -> String {
    let p = f * 100.0;
    let digits = if p == 0.0 || p.abs() >= 10.0 {
        0
    } else if p.abs() >= 1.0 {
        1
    } else if p.abs() >= 0.01 {
        3
    } else {
        5
    };
    format!("{}%", trim(p, digits))
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.metric.name(),
            self.comparator.symbol(),
            show(self.metric.kind(), self.limit).replace(' ', "")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::figures::Percentiles;
    use crate::load::stats::{Class, LoadStats, Sample};
    use std::time::Duration;

    /// The figures of a ten-second run with these requests.
    fn report(accepted_ms: &[u64], errors: u64, rejected: u64, limited: u64) -> Measured {
        let mut s = LoadStats::new();
        let mut add = |class, ms| {
            s.record(&Sample {
                class,
                intended_at: Duration::ZERO,
                latency: Duration::from_millis(ms),
            })
        };
        for ms in accepted_ms {
            add(Class::Accepted, *ms);
        }
        for _ in 0..errors {
            add(Class::Error, 5);
        }
        for _ in 0..rejected {
            add(Class::Rejected, 5);
        }
        for _ in 0..limited {
            add(Class::RateLimited, 1);
        }
        let total = accepted_ms.len() as u64 + errors + rejected + limited;
        let share = |n: u64| {
            if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            }
        };
        Measured {
            latency_us: Percentiles::of(&s, Class::Accepted),
            error_rate: share(errors),
            rejected_rate: share(rejected),
            rate_limited_rate: share(limited),
            achieved_rps: total as f64 / 10.0,
            accepted_rps: accepted_ms.len() as f64 / 10.0,
        }
    }

    #[test]
    fn parses_metrics_units_and_comparators() {
        let t = Threshold::parse("p99<200ms").unwrap();
        assert_eq!(
            (t.metric, t.comparator, t.limit),
            (Metric::P99, Comparator::Lt, 200_000.0)
        );
        let t = Threshold::parse(" p99.9 <= 1.5s ").unwrap();
        assert_eq!(
            (t.metric, t.comparator, t.limit),
            (Metric::P999, Comparator::Le, 1_500_000.0)
        );
        assert_eq!(t.expr, "p99.9 <= 1.5s");
        assert_eq!(Threshold::parse("p999<900us").unwrap().limit, 900.0);
        assert_eq!(Threshold::parse("p99 < 200 ms").unwrap().limit, 200_000.0);
        assert_eq!(Threshold::parse("error_rate < 0.5 %").unwrap().limit, 0.005);
        assert_eq!(Threshold::parse("max<900µs").unwrap().limit, 900.0);
        assert_eq!(Threshold::parse("P50<2ms").unwrap().metric, Metric::P50);
        let t = Threshold::parse("error_rate<0.1%").unwrap();
        assert_eq!(t.metric, Metric::ErrorRate);
        assert!((t.limit - 0.001).abs() < 1e-12);
        assert_eq!(Threshold::parse("rejected_rate<=0.05").unwrap().limit, 0.05);
        assert_eq!(
            Threshold::parse("rate_limited_rate<1%").unwrap().metric,
            Metric::RateLimitedRate
        );
        let t = Threshold::parse("accepted_rps>=100").unwrap();
        assert_eq!(
            (t.metric, t.comparator, t.limit),
            (Metric::AcceptedRps, Comparator::Ge, 100.0)
        );
        let t = Threshold::parse("rps>50").unwrap();
        assert_eq!((t.metric, t.comparator), (Metric::Rps, Comparator::Gt));
        assert_eq!(t.to_string(), "rps>50/s");
        assert_eq!(
            Threshold::parse("p99<200ms").unwrap().to_string(),
            "p99<200ms"
        );
    }

    #[test]
    fn bad_expressions_say_what_is_valid() {
        let e = Threshold::parse("p98<200ms").unwrap_err();
        assert!(e.reason.contains("unknown metric `p98`"), "{e}");
        assert!(e.reason.contains("accepted_rps"), "{e}");
        assert!(
            e.to_string().starts_with("bad threshold `p98<200ms`"),
            "{e}"
        );
        let e = Threshold::parse("p99=200ms").unwrap_err();
        assert!(e.reason.contains("no comparator"), "{e}");
        assert!(
            Threshold::parse("p99<200")
                .unwrap_err()
                .reason
                .contains("needs a unit")
        );
        assert!(
            Threshold::parse("p99<200m")
                .unwrap_err()
                .reason
                .contains("unknown latency unit")
        );
        assert!(
            Threshold::parse("p99<")
                .unwrap_err()
                .reason
                .contains("no value")
        );
        assert!(
            Threshold::parse("<200ms")
                .unwrap_err()
                .reason
                .contains("no metric")
        );
        assert!(
            Threshold::parse("p99<fast")
                .unwrap_err()
                .reason
                .contains("number")
        );
        assert!(
            Threshold::parse("error_rate<150%")
                .unwrap_err()
                .reason
                .contains("over 100%")
        );
        assert!(Threshold::parse("error_rate<2").is_err());
        assert!(Threshold::parse("rps>=10ms").is_err());
        assert!(Threshold::parse("error_rate<0.1ms").is_err());
        assert!(parse_all(&["p99<1s", "bogus>1"]).is_err());
        assert_eq!(parse_all(&["p99<1s", "rps>1"]).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn judging_reports_actual_limit_and_margin() {
        // 100 accepted: 99 at 10 ms, one at 300 ms; p99 is 10 ms, max 300 ms.
        let mut lat = vec![10; 99];
        lat.push(300);
        let r = report(&lat, 1, 0, 0);
        let ok = judge(&Threshold::parse("p99<200ms").unwrap(), &r);
        assert!(ok.passed, "{ok:?}");
        assert!(
            ok.message.starts_with("p99 = 10 ms, within"),
            "{}",
            ok.message
        );
        let max = judge(&Threshold::parse("max<200ms").unwrap(), &r);
        assert!(!max.passed);
        assert_eq!(max.unit, "us");
        assert_eq!(
            max.message,
            "max = 300 ms, over the 200 ms limit by 100 ms (50%)"
        );
        // 1 error in 101 requests: 0.99%.
        let er = judge(&Threshold::parse("error_rate<0.1%").unwrap(), &r);
        assert!(!er.passed);
        assert_eq!(
            er.message,
            "error_rate = 0.99%, over the 0.1% limit by 0.89% (890%)"
        );
        // 100 accepted in 10 s: 10/s.
        let rps = judge(&Threshold::parse("accepted_rps>=100").unwrap(), &r);
        assert!(!rps.passed);
        assert_eq!(rps.actual, Some(10.0));
        assert_eq!(
            rps.message,
            "accepted_rps = 10/s, under the 100/s limit by 90/s (90%)"
        );
        let at = judge(&Threshold::parse("accepted_rps>10").unwrap(), &r);
        assert!(!at.passed);
        assert!(at.message.contains("at the > 10/s limit"), "{}", at.message);
        assert!(judge(&Threshold::parse("accepted_rps>=10").unwrap(), &r).passed);
        assert!(judge(&Threshold::parse("rejected_rate<=0").unwrap(), &r).passed);
    }

    #[test]
    fn latency_threshold_without_accepted_requests_is_breached_not_a_panic() {
        let r = report(&[], 3, 2, 5);
        let res = judge(&Threshold::parse("p99<200ms").unwrap(), &r);
        assert!(!res.passed);
        assert_eq!(res.actual, None);
        assert!(
            res.message.contains("no accepted request"),
            "{}",
            res.message
        );
        let rate = judge(&Threshold::parse("rate_limited_rate<10%").unwrap(), &r);
        assert!(!rate.passed);
        assert!(
            rate.message.starts_with("rate_limited_rate = 50%"),
            "{}",
            rate.message
        );
        // Nothing at all: rates are 0, throughput 0.
        let empty = report(&[], 0, 0, 0);
        assert!(judge(&Threshold::parse("error_rate<1%").unwrap(), &empty).passed);
        assert!(!judge(&Threshold::parse("rps>0").unwrap(), &empty).passed);
        assert!(!judge(&Threshold::parse("max<=1s").unwrap(), &empty).passed);
    }
}
