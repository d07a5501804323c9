//! `xaa-conform load merge`: N shard `load.json` files into one report, exactly.
//!
//! The histograms are added bucket by bucket ([`LoadStats::merge`]), so the merged
//! percentiles are those of the union of all samples (not an average of percentiles);
//! counts are summed and every rate and share is recomputed over the merged run's wall
//! time, the longest of the shards' (they run side by side). Inputs that do not belong
//! together are bad input (exit 2): a missing or unreadable file, bad JSON (with
//! `file:line:column`), another `schema_version`, a different token endpoint, shards of
//! different tests (`i/N` with another `N`), the same shard twice, or an incomplete set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::output::write_reports;
use super::report::{
    GeneratorHealth, LOAD_SCHEMA_VERSION, LoadReport, MergedShard, RateLimitReport,
};
use super::shard::Shard;
use super::stats::{LoadStats, StatsError};
use super::threshold::{self, Threshold, ThresholdError};

/// Arguments of `xaa-conform load merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The shard reports (`load.json` files, or report directories holding one).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the merged `load.json` and `load.html`.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Thresholds to judge on the merged figures (default: those the shards were run with).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Merge even when some shards of `i/N` are missing.
    #[arg(long)]
    pub allow_partial: bool,
}

/// Shard reports that cannot be merged, or a merged report that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No input was given.
    #[error("no shard reports to merge")]
    NoInputs,
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON or not a load report.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// A file has another layout version than this tool reads.
    #[error(
        "{}: schema_version {found}, but this xaa-conform reads load.json version {expected}; \
         merge reports written by the same version",
        path.display()
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this tool reads.
        expected: u32,
    },
    /// The inputs do not belong to one test.
    #[error("inconsistent shard reports: {0}")]
    Inconsistent(String),
    /// A saved histogram could not be restored or added.
    #[error("{}: {source}", path.display())]
    Stats {
        /// The file.
        path: PathBuf,
        /// The histogram error.
        #[source]
        source: StatsError,
    },
    /// A `--threshold` is not valid.
    #[error(transparent)]
    Threshold(#[from] ThresholdError),
    /// The merged report could not be written.
    #[error(transparent)]
    Write(#[from] crate::report::ReportError),
}

impl MergeError {
    /// The exit code of design.md: 3 when the merged report cannot be written, else 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            MergeError::Write(_) => 3,
            _ => 2,
        }
    }
}

/// Just the version, read before the whole report so that a file of another version gets
/// a version error rather than a missing-field one.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u32>,
}

fn json_error(path: &Path, e: &serde_json::Error) -> MergeError {
    // serde_json appends " at line L column C" to its messages; the position is in front.
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    MergeError::Json {
        path: path.to_path_buf(),
        line: e.line().max(1),
        column: e.column().max(1),
        message,
    }
}

/// Reads one shard report (`path` may also be a directory holding `load.json`).
pub fn read_report(path: &Path) -> Result<LoadReport, MergeError> {
    let file = if path.is_dir() {
        path.join(super::report::LOAD_JSON)
    } else {
        path.to_path_buf()
    };
    let text = fs::read_to_string(&file).map_err(|source| MergeError::Read {
        path: file.clone(),
        source,
    })?;
    let probe: VersionProbe = serde_json::from_str(&text).map_err(|e| json_error(&file, &e))?;
    match probe.schema_version {
        None => {
            return Err(MergeError::Json {
                path: file,
                line: 1,
                column: 1,
                message: "not a load report: no `schema_version` member".into(),
            });
        }
        Some(v) if v != LOAD_SCHEMA_VERSION => {
            return Err(MergeError::SchemaVersion {
                path: file,
                found: v,
                expected: LOAD_SCHEMA_VERSION,
            });
        }
        Some(_) => {}
    }
    serde_json::from_str(&text).map_err(|e| json_error(&file, &e))
}

/// Reads and merges the reports at `paths` (see [`merge_reports`]).
pub fn merge_files(paths: &[PathBuf], allow_partial: bool) -> Result<LoadReport, MergeError> {
    let reports = paths
        .iter()
        .map(|p| Ok((p.clone(), read_report(p)?)))
        .collect::<Result<Vec<_>, MergeError>>()?;
    merge_reports(&reports, allow_partial)
}

/// Checks that the shard labels form one test: the same `N`, no index twice, and (unless
/// `allow_partial`) every index present. Reports without a label are accepted as they are.
fn check_shards(inputs: &[(PathBuf, LoadReport)], allow_partial: bool) -> Result<(), MergeError> {
    let mut by_count: BTreeMap<u32, BTreeMap<u32, &Path>> = BTreeMap::new();
    for (path, r) in inputs {
        let Some(label) = &r.config.shard else {
            continue;
        };
        let shard = Shard::parse(label).map_err(|e| {
            MergeError::Inconsistent(format!("{}: config.shard: {e}", path.display()))
        })?;
        let seen = by_count.entry(shard.count).or_default();
        if let Some(first) = seen.insert(shard.index, path) {
            return Err(MergeError::Inconsistent(format!(
                "shard {shard} appears twice ({} and {}); its requests would count twice",
                first.display(),
                path.display()
            )));
        }
    }
    if by_count.len() > 1 {
        let counts: Vec<String> = by_count.keys().map(|n| format!("/{n}")).collect();
        return Err(MergeError::Inconsistent(format!(
            "shards of different tests ({}): every shard of one test has the same N",
            counts.join(", ")
        )));
    }
    if let Some((count, seen)) = by_count.iter().next()
        && !allow_partial
        && seen.len() < *count as usize
    {
        let missing: Vec<String> = (0..*count)
            .filter(|i| !seen.contains_key(i))
            .map(|i| format!("{i}/{count}"))
            .collect();
        return Err(MergeError::Inconsistent(format!(
            "shard{} {} missing (pass --allow-partial to merge the others anyway)",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Combines two "was it so?" answers: any `false` wins, then any `true`, else unknown.
fn all_of(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), _) | (_, Some(true)) => Some(true),
        _ => None,
    }
}

/// Merges shard reports into one. Histograms are added exactly and every figure derived from
/// them is recomputed; `elapsed_s` is the longest shard's; generator counts and rate-limit
/// counts are summed (a shared limit's measured rate is the sum of the shards' shares, a shard that saw no 429 counting its accepted rate);
/// checks are kept with the shard they came from; thresholds are judged again on the
/// merged figures (the union of the shards' expressions).
pub fn merge_reports(
    inputs: &[(PathBuf, LoadReport)],
    allow_partial: bool,
) -> Result<LoadReport, MergeError> {
    let Some((_, first)) = inputs.first() else {
        return Err(MergeError::NoInputs);
    };
    for (path, r) in inputs {
        if r.config.token_endpoint != first.config.token_endpoint {
            return Err(MergeError::Inconsistent(format!(
                "{} drove {}, {} drove {}",
                inputs[0].0.display(),
                first.config.token_endpoint,
                path.display(),
                r.config.token_endpoint
            )));
        }
    }
    check_shards(inputs, allow_partial)?;

    let mut stats = LoadStats::new();
    let mut merged = first.clone();
    merged.tool_version = env!("CARGO_PKG_VERSION").to_string();
    merged.config.shard = None;
    merged.config.users = 0;
    merged.elapsed_s = 0.0;
    merged.generator = GeneratorHealth {
        valid: true,
        ..GeneratorHealth::default()
    };
    merged.rate_limit = None;
    merged.checks.clear();
    merged.merged_from.clear();
    let mut plans: Vec<&str> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut exprs: Vec<String> = Vec::new();

    for (i, (path, r)) in inputs.iter().enumerate() {
        let shard_stats = r.stats().map_err(|source| MergeError::Stats {
            path: path.clone(),
            source,
        })?;
        stats
            .merge(&shard_stats)
            .map_err(|source| MergeError::Stats {
                path: path.clone(),
                source,
            })?;
        let label = r
            .config
            .shard
            .clone()
            .unwrap_or_else(|| path.display().to_string());
        merged.elapsed_s = merged.elapsed_s.max(r.elapsed_s);
        merged.config.duration_s = merged.config.duration_s.max(r.config.duration_s);
        merged.config.users += r.config.users;
        if !plans.contains(&r.config.rate_plan.as_str()) {
            plans.push(&r.config.rate_plan);
        }

        let g = &mut merged.generator;
        g.planned += r.generator.planned;
        g.sent += r.generator.sent;
        g.late += r.generator.late;
        g.dropped += r.generator.dropped;
        g.max_late_us = g.max_late_us.max(r.generator.max_late_us);
        if !r.generator.valid {
            g.valid = false;
            reasons.push(format!(
                "shard {label}: {}",
                r.generator.reason.as_deref().unwrap_or("not valid")
            ));
        }

        if let Some(rl) = &r.rate_limit {
            let m = merged.rate_limit.get_or_insert_with(|| RateLimitReport {
                retry_after_honoured: None,
                recovered: None,
                ..RateLimitReport::default()
            });
            m.measured_rps += rl.measured_rps;
            m.retry_after_seen += rl.retry_after_seen;
            m.retry_after_missing += rl.retry_after_missing;
            m.retry_after_honoured = all_of(m.retry_after_honoured, rl.retry_after_honoured);
            m.recovered = all_of(m.recovered, rl.recovered);
            if m.key.is_none() {
                m.key.clone_from(&rl.key);
            }
            for (status, n) in &rl.statuses_above_limit {
                *m.statuses_above_limit.entry(status.clone()).or_default() += n;
            }
            let mut values =
                crate::pace::RetryAfterValues(std::mem::take(&mut m.retry_after_values));
            values.merge(&crate::pace::RetryAfterValues(
                rl.retry_after_values.clone(),
            ));
            m.retry_after_values = values.0;
            m.retry_after_absurd.extend(rl.retry_after_absurd.clone());
        }

        for c in &r.checks {
            let mut c = c.clone();
            c.reason = format!("[shard {label}] {}", c.reason);
            merged.checks.push(c);
        }
        merged.interrupted |= r.interrupted;
        if i > 0 {
            for (cause, n) in &r.errors {
                *merged.errors.entry(cause.clone()).or_default() += n;
            }
        }
        for t in &r.thresholds {
            if !exprs.contains(&t.expr) {
                exprs.push(t.expr.clone());
            }
        }
        merged.merged_from.push(MergedShard {
            file: path.display().to_string(),
            shard: r.config.shard.clone(),
            requests: r.classes.total(),
            elapsed_s: r.elapsed_s,
        });
    }
    // A shard that saw no 429 while another was limited was served all it sent: its accepted
    // rate is its part of the server's limit, which the sum would otherwise leave out (with
    // one key for every shard, the limiter's share between them is the schedules' to decide).
    if let Some(m) = merged.rate_limit.as_mut() {
        m.measured_rps += inputs
            .iter()
            .filter(|(_, r)| r.rate_limit.is_none())
            .map(|(_, r)| r.accepted_rps)
            .sum::<f64>();
    }
    merged.config.rate_plan = plans.join(" + ");
    if !reasons.is_empty() {
        merged.generator.reason = Some(reasons.join("; "));
    }
    merged.histograms = stats.to_saved().map_err(|source| MergeError::Stats {
        path: inputs[0].0.clone(),
        source,
    })?;
    merged.recompute(&stats);
    let thresholds = threshold::parse_all(&exprs)?;
    merged.apply_thresholds(&thresholds);
    Ok(merged)
}

/// The terminal summary of a merged report: requests per class, latency, rates, and one
/// line per breached threshold.
pub fn summary(report: &LoadReport) -> String {
    let c = &report.classes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "merged {} shard report(s): {} requests in {:.1} s ({:.1}/s)",
        report.merged_from.len(),
        c.total(),
        report.elapsed_s,
        report.achieved_rps
    );
    let _ = writeln!(
        out,
        "  accepted {}  rate_limited {}  rejected {}  error {}",
        c.accepted, c.rate_limited, c.rejected, c.error
    );
    let lat = super::figures::latency_ms;
    let l = &report.latency_us;
    let _ = writeln!(
        out,
        "  accepted latency p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        lat(l.p50),
        lat(l.p90),
        lat(l.p99),
        lat(l.p999),
        lat(l.max)
    );
    if !report.generator.valid {
        let _ = writeln!(
            out,
            "  WARNING: the load generator fell behind: {}",
            report
                .generator
                .reason
                .as_deref()
                .unwrap_or("see load.html")
        );
    }
    for t in &report.thresholds {
        let _ = writeln!(
            out,
            "  threshold {} {}: {}",
            t.expr,
            if t.passed { "met" } else { "BREACHED" },
            t.message
        );
    }
    out
}

/// Runs `xaa-conform load merge`: reads, merges, judges, writes `load.json` and `load.html`,
/// prints a summary; returns the exit code (0, 2 bad input, 3 cannot write, 4 breached).
pub fn run(args: &MergeArgs) -> u8 {
    match merge_and_write(args) {
        Ok((report, paths)) => {
            out!("{}", summary(&report));
            for p in paths {
                outln!("  wrote {}", p.display());
            }
            if report.breached() { 4 } else { 0 }
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Reads and merges `args.inputs`, judges the thresholds (those given, or else the shards'),
/// and writes the merged report into `args.report_dir`.
pub fn merge_and_write(args: &MergeArgs) -> Result<(LoadReport, Vec<PathBuf>), MergeError> {
    let given: Vec<Threshold> = threshold::parse_all(&args.thresholds)?;
    let mut report = merge_files(&args.inputs, args.allow_partial)?;
    if !given.is_empty() {
        report.apply_thresholds(&given);
    }
    let paths = write_reports(&report, &args.report_dir)?;
    Ok((report, paths))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::report::LoadConfigReport;
    use crate::load::stats::{Class, Sample};
    use std::time::Duration;

    fn shard_report(label: Option<&str>, latency_ms: u64, n: u64) -> LoadReport {
        let mut s = LoadStats::new();
        for i in 0..n {
            s.record(&Sample {
                class: if i % 10 == 0 {
                    Class::RateLimited
                } else {
                    Class::Accepted
                },
                intended_at: Duration::from_millis(i * 100),
                latency: Duration::from_millis(latency_ms),
            });
        }
        let mut r = LoadReport::from_stats(
            LoadConfigReport {
                token_endpoint: "http://127.0.0.1:1/token".into(),
                rate_plan: "10/s".into(),
                users: 2,
                shard: label.map(str::to_string),
                ..Default::default()
            },
            &s,
            Duration::from_secs(n / 10),
            GeneratorHealth {
                planned: n,
                sent: n,
                valid: true,
                ..Default::default()
            },
        )
        .unwrap();
        r.rate_limit = Some(RateLimitReport {
            measured_rps: 5.0,
            retry_after_seen: 1,
            retry_after_honoured: Some(true),
            statuses_above_limit: [("429".to_string(), 3)].into(),
            ..Default::default()
        });
        r.apply_thresholds(&threshold::parse_all(&["p99<15ms"]).unwrap());
        r
    }

    fn inputs(reports: Vec<LoadReport>) -> Vec<(PathBuf, LoadReport)> {
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| (PathBuf::from(format!("s{i}/load.json")), r))
            .collect()
    }

    /// Three shards against one limit: two limited, one served all it sent; the limit is the
    /// two measured parts plus the third's accepted rate, not the two alone.
    #[test]
    fn a_shard_that_was_never_limited_counts_its_accepted_rate_in_the_limit() {
        let mut unlimited = shard_report(Some("0/3"), 10, 100);
        unlimited.rate_limit = None;
        let served = unlimited.accepted_rps;
        assert!(served > 0.0);
        let m = merge_reports(
            &inputs(vec![
                unlimited,
                shard_report(Some("1/3"), 10, 100),
                shard_report(Some("2/3"), 10, 100),
            ]),
            false,
        )
        .unwrap();
        let rl = m.rate_limit.as_ref().unwrap();
        assert_eq!(rl.measured_rps, 10.0 + served);
        // Without any limited shard there is no limit to report.
        let mut a = shard_report(Some("0/2"), 10, 100);
        let mut b = shard_report(Some("1/2"), 10, 100);
        a.rate_limit = None;
        b.rate_limit = None;
        let m = merge_reports(&inputs(vec![a, b]), false).unwrap();
        assert!(m.rate_limit.is_none());
    }

    #[test]
    fn sums_counts_and_rejudges_thresholds() {
        let m = merge_reports(
            &inputs(vec![
                shard_report(Some("0/2"), 10, 100),
                shard_report(Some("1/2"), 20, 100),
            ]),
            false,
        )
        .unwrap();
        assert_eq!(m.classes.accepted, 180);
        assert_eq!(m.classes.rate_limited, 20);
        assert_eq!(m.elapsed_s, 10.0);
        assert_eq!(m.achieved_rps, 20.0);
        assert_eq!(m.config.users, 4);
        assert_eq!(m.config.shard, None);
        assert_eq!(m.config.rate_plan, "10/s");
        assert_eq!(m.generator.planned, 200);
        let rl = m.rate_limit.as_ref().unwrap();
        assert_eq!(rl.measured_rps, 10.0);
        assert_eq!(rl.statuses_above_limit["429"], 6);
        assert_eq!(rl.retry_after_honoured, Some(true));
        assert_eq!(m.merged_from.len(), 2);
        // Each shard alone met p99<15ms only if its latency was 10 ms; merged, p99 is 20 ms.
        assert_eq!(m.thresholds.len(), 1);
        assert!(!m.thresholds[0].passed, "{:?}", m.thresholds);
        assert!(summary(&m).contains("BREACHED"));
    }

    #[test]
    fn inconsistent_shards_are_refused() {
        let e = merge_reports(
            &inputs(vec![
                shard_report(Some("0/2"), 10, 10),
                shard_report(Some("0/2"), 10, 10),
            ]),
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = merge_reports(
            &inputs(vec![
                shard_report(Some("0/2"), 10, 10),
                shard_report(Some("1/3"), 10, 10),
            ]),
            true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("different tests"), "{e}");
        let e = merge_reports(&inputs(vec![shard_report(Some("0/3"), 10, 10)]), false).unwrap_err();
        assert!(e.to_string().contains("shards 1/3, 2/3 missing"), "{e}");
        assert!(merge_reports(&inputs(vec![shard_report(Some("0/3"), 10, 10)]), true).is_ok());
        let mut other = shard_report(None, 10, 10);
        other.config.token_endpoint = "http://elsewhere/token".into();
        let e = merge_reports(&inputs(vec![shard_report(None, 10, 10), other]), false).unwrap_err();
        assert!(e.to_string().contains("elsewhere"), "{e}");
        assert!(matches!(
            merge_reports(&[], false),
            Err(MergeError::NoInputs)
        ));
    }

    #[test]
    fn invalid_generators_make_the_merge_invalid() {
        let mut bad = shard_report(Some("1/2"), 10, 10);
        bad.generator.valid = false;
        bad.generator.reason = Some("dropped 40%".into());
        let m =
            merge_reports(&inputs(vec![shard_report(Some("0/2"), 10, 10), bad]), false).unwrap();
        assert!(!m.generator.valid);
        assert_eq!(
            m.generator.reason.as_deref(),
            Some("shard 1/2: dropped 40%")
        );
    }

    #[test]
    fn answers_combine_false_first() {
        assert_eq!(all_of(Some(true), Some(false)), Some(false));
        assert_eq!(all_of(None, Some(true)), Some(true));
        assert_eq!(all_of(None, None), None);
    }
}
