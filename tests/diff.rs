//! `xaa-conform diff OLD NEW` through the built binary: the verdict changes between two
//! results.json files and the figure changes between two load.json files, in the three
//! formats (golden files in `tests/golden/diff-*`), the exit codes (1 for a new FAIL or
//! ERROR, 4 for a load regression, 0 otherwise) and bad input (exit 2, the file named).
//!
//! The input reports are built here from the model types, not by running the suite.
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test diff`, then review the diff.

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use xaa_conform::load::report::{
    Classes, GeneratorHealth, LoadConfigReport, LoadReport, Percentiles, RateLimitReport,
};
use xaa_conform::report::model::{
    CheckResult, ExpectedFailure, ExpectedStatus, RunResults, Summary, TargetInfo,
};
use xaa_conform::spec::{Level, Requirement, Verdict};

/// Longest one `diff` may take: it reads two small files.
const TIMEOUT: Duration = Duration::from_secs(60);

fn check(id: &str, verdict: Verdict, reason: &str) -> CheckResult {
    CheckResult {
        id: id.to_string(),
        title: format!("the title of {id}"),
        requirement: Requirement {
            level: Level::Must,
            source: "ID-JAG-04 §4.4.1".into(),
        },
        tags: vec![],
        verdict,
        reason: reason.to_string(),
        token: None,
        exchanges: vec![],
        elapsed_ms: 12.5,
        findings: vec![],
        hint: None,
        expected: false,
    }
}

fn run(started_at: &str, checks: Vec<CheckResult>) -> RunResults {
    RunResults {
        schema_version: xaa_conform::report::model::RESULTS_SCHEMA_VERSION,
        tool_version: "0.1.0".into(),
        draft: xaa_conform::spec::DRAFT.into(),
        profile: "id-jag-04".into(),
        target: TargetInfo {
            kind: "reference".into(),
            issuer: "http://127.0.0.1:9000/".into(),
            token_endpoint: "http://127.0.0.1:9000/token".into(),
            defects: vec![],
        },
        started_at: started_at.into(),
        elapsed_ms: 1234.0,
        summary: Summary::of(&checks),
        checks,
        expected_failures: vec![],
        interrupted: false,
    }
}

/// The baseline run.
fn old_run() -> RunResults {
    use Verdict::*;
    run(
        "2026-11-30T10:00:00Z",
        vec![
            check("BASE-01", Pass, "a valid ID-JAG was accepted"),
            check("JAG-AUD-02", Pass, "refused with invalid_grant"),
            check("JAG-EXP-01", Info, "refused with invalid_grant"),
            check(
                "JAG-SIG-03",
                Fail,
                "accepted an ID-JAG with a flipped signature bit",
            ),
            check(
                "ERR-05",
                Pass,
                "every error carried Cache-Control: no-store",
            ),
            check("RAS-RATE-01", Pass, "429 with Retry-After"),
            check("JAG-TYP-01", Pass, "refused with invalid_grant"),
        ],
    )
}

/// The run compared with it: one change of each kind, and one check unchanged; its
/// expected-failures file lists one of the new FAILs.
fn new_run() -> RunResults {
    use Verdict::*;
    let mut r = run(
        "2026-12-01T10:00:00Z",
        vec![
            check("BASE-01", Pass, "a valid ID-JAG was accepted"),
            check(
                "JAG-AUD-02",
                Fail,
                "accepted an ID-JAG whose aud names another authorization server \
                 (https://other-ras.example/): the access token was issued all the same",
            ),
            check(
                "JAG-EXP-01",
                Error,
                "no answer: connection reset | retried once",
            ),
            check("JAG-SIG-03", Pass, "refused with invalid_grant"),
            check(
                "ERR-05",
                Warn,
                "2 of 14 errors lacked Cache-Control: no-store",
            ),
            check(
                "RAS-RATE-01",
                Skip,
                "not applicable: the target declares no rate",
            ),
            check("JAG-JTI-02", Fail, "the same jti was accepted twice"),
            check("JAG-ISS-04", Pass, "refused with invalid_grant"),
        ],
    );
    r.expected_failures = vec![ExpectedFailure {
        id: "JAG-JTI-02".into(),
        reason: "replay cache lands in the next release".into(),
        status: ExpectedStatus::Expected,
        until: None,
    }];
    r
}

fn load_report(p50_ms: u64, p99_ms: u64, accepted_rps: f64, limit: Option<f64>) -> LoadReport {
    let elapsed_s = 30.0;
    let accepted = (accepted_rps * elapsed_s) as u64;
    let classes = Classes {
        accepted,
        rate_limited: 0,
        rejected: 0,
        error: 15,
    };
    let total = classes.total() as f64;
    let latency = Percentiles {
        p50: Some(p50_ms * 1000),
        p90: Some(p99_ms * 800),
        p95: Some(p99_ms * 900),
        p99: Some(p99_ms * 1000),
        p999: Some(p99_ms * 1200),
        min: Some(1_000),
        max: Some(p99_ms * 1500),
        mean: Some(p50_ms as f64 * 1100.0),
        count: accepted,
    };
    LoadReport {
        schema_version: xaa_conform::load::report::LOAD_SCHEMA_VERSION,
        tool_version: "0.1.0".into(),
        config: LoadConfigReport {
            token_endpoint: "http://127.0.0.1:9000/token".into(),
            profile: "id-jag-04".into(),
            rate_plan: "500/s for 30s".into(),
            duration_s: elapsed_s,
            users: 64,
            reuse_assertion: false,
            invalid_share: 0.0,
            shard: None,
            alg: "RS256".into(),
        },
        elapsed_s,
        classes,
        errors: BTreeMap::from([("connection_reset".to_string(), 15)]),
        latency_us: latency,
        latency_by_class: BTreeMap::from([("accepted".to_string(), latency)]),
        achieved_rps: total / elapsed_s,
        accepted_rps,
        error_rate: 15.0 / total,
        rejected_rate: 0.0,
        rate_limited_rate: 0.0,
        generator: GeneratorHealth {
            planned: total as u64,
            sent: total as u64,
            valid: true,
            ..GeneratorHealth::default()
        },
        rate_limit: limit.map(|measured_rps| RateLimitReport {
            measured_rps,
            ..RateLimitReport::default()
        }),
        checks: vec![],
        thresholds: vec![],
        merged_from: vec![],
        histograms: Default::default(),
        rate_limited_by_phase: Default::default(),
        interrupted: false,
    }
}

/// Writes `files` into a fresh directory and runs `xaa-conform diff ARGS` there, so the file
/// names in the output are the short relative ones given.
fn diff_in(files: &[(&str, String)], args: &[&str]) -> Output {
    let dir = common::report_dir();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write input");
    }
    let mut cmd = common::command();
    cmd.current_dir(dir.path()).arg("diff").args(args);
    common::output_with_timeout(cmd, TIMEOUT)
}

fn results_json(r: &RunResults) -> String {
    xaa_conform::report::json::try_to_json(r).expect("serialize results")
}

fn load_json(r: &LoadReport) -> String {
    xaa_conform::load::report::to_json(r).expect("serialize load report")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn results_pair() -> Vec<(&'static str, String)> {
    vec![
        ("old.json", results_json(&old_run())),
        ("new.json", results_json(&new_run())),
    ]
}

/// Every line of the table fits in 80 columns.
fn assert_narrow(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns ({}): {line}",
            line.chars().count()
        );
    }
}

#[test]
fn a_results_diff_as_a_table_names_each_kind_of_change_and_exits_1() {
    let out = diff_in(&results_pair(), &["old.json", "new.json"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert_narrow(&text);
    for label in [
        "new FAIL",
        "new ERROR",
        "fixed",
        "new WARN",
        "changed",
        "added",
        "gone",
    ] {
        assert!(text.contains(label), "no `{label}` in:\n{text}");
    }
    common::assert_golden("diff-results.txt", &text);
}

#[test]
fn a_results_diff_as_json_follows_its_schema() {
    let out = diff_in(
        &results_pair(),
        &["old.json", "new.json", "--format", "json"],
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    let value: serde_json::Value = serde_json::from_str(&text).expect("diff JSON");
    let schema = xaa_conform::diff::diff_schema();
    let validator = jsonschema::validator_for(&schema).expect("the diff schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(value["kind"], "results");
    assert_eq!(value["regressed"], true);
    assert_eq!(value["exit_code"], 1);
    assert_eq!(value["counts"]["new_fail"], 2);
    assert_eq!(value["counts"]["unchanged"], 1);
    // A known FAIL of the new run is marked, and still counts.
    assert_eq!(value["changes"][1]["id"], "JAG-JTI-02");
    assert_eq!(value["changes"][1]["known_failure"], true);
    // The schema `xaa-conform schema diff` prints is the same.
    let printed = common::run_with_timeout(["schema", "diff"], TIMEOUT);
    assert_exit(&printed, 0);
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).expect("schema");
    assert_eq!(printed, schema);
    common::assert_golden("diff-results.json", &text);
}

#[test]
fn a_results_diff_as_markdown_is_a_github_table() {
    let out = diff_in(
        &results_pair(),
        &["old.json", "new.json", "--format", "markdown"],
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("|---|---|---|---|---|---|"), "{text}");
    // A `|` in a reason is escaped, so the row keeps its cells.
    assert!(text.contains("connection reset \\| retried once"), "{text}");
    common::assert_golden("diff-results.md", &text);
}

#[test]
fn a_results_diff_without_new_fail_or_error_exits_0() {
    let mut fixed = old_run();
    fixed.checks[3].verdict = Verdict::Pass;
    fixed.checks[3].reason = "refused with invalid_grant".into();
    fixed.checks[4].verdict = Verdict::Warn;
    fixed.summary = Summary::of(&fixed.checks);
    let out = diff_in(
        &[
            ("old.json", results_json(&old_run())),
            ("new.json", results_json(&fixed)),
        ],
        &["old.json", "new.json"],
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("result: no regression (exit 0)"), "{text}");
    assert!(text.contains("1 fixed, 1 new WARN\n5 unchanged"), "{text}");
    // The same run twice: nothing changed.
    let same = diff_in(
        &[("a.json", results_json(&old_run()))],
        &["a.json", "a.json"],
    );
    assert_exit(&same, 0);
    assert!(
        stdout(&same).contains("no verdict changed"),
        "{}",
        stdout(&same)
    );
}

fn load_pair(new: &LoadReport) -> Vec<(&'static str, String)> {
    vec![
        (
            "old-load.json",
            load_json(&load_report(10, 40, 495.0, Some(200.0))),
        ),
        ("new-load.json", load_json(new)),
    ]
}

/// p99 up 25 %, accepted throughput down 19 %, the rate limit down 15 %.
fn regressed_load() -> LoadReport {
    load_report(10, 50, 400.0, Some(170.0))
}

#[test]
fn a_load_regression_exits_4_in_every_format() {
    let files = load_pair(&regressed_load());
    for (format, golden) in [
        ("table", "diff-load-regressed.txt"),
        ("json", "diff-load-regressed.json"),
        ("markdown", "diff-load-regressed.md"),
    ] {
        let out = diff_in(
            &files,
            &["old-load.json", "new-load.json", "--format", format],
        );
        assert_exit(&out, 4);
        let text = stdout(&out);
        if format == "table" {
            assert_narrow(&text);
            assert!(text.contains("REGRESSED"), "{text}");
        }
        if format == "json" {
            let value: serde_json::Value = serde_json::from_str(&text).expect("diff JSON");
            let validator =
                jsonschema::validator_for(&xaa_conform::diff::diff_schema()).expect("compiles");
            assert!(validator.is_valid(&value), "{text}");
            assert_eq!(value["kind"], "load");
            assert_eq!(value["tolerance"], 0.1);
        }
        common::assert_golden(golden, &text);
    }
}

#[test]
fn a_load_run_within_the_tolerance_exits_0() {
    // p50 +5 %, p99 +7.5 %, accepted throughput -3 %: all within 10 %; no probe in the new run.
    let within = load_report(10, 43, 480.0, None);
    let mut within = within;
    within.latency_us.p50 = Some(10_500);
    let out = diff_in(&load_pair(&within), &["old-load.json", "new-load.json"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_narrow(&text);
    assert!(!text.contains("REGRESSED"), "{text}");
    common::assert_golden("diff-load-within.txt", &text);
}

#[test]
fn a_wider_tolerance_lets_the_same_regression_pass() {
    let files = load_pair(&regressed_load());
    let out = diff_in(
        &files,
        &["old-load.json", "new-load.json", "--tolerance", "30%"],
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("tolerance 30 %"), "{}", stdout(&out));
    let bad = diff_in(
        &files,
        &["old-load.json", "new-load.json", "--tolerance=-5%"],
    );
    assert_exit(&bad, 2);
    assert!(stderr(&bad).contains("-5%"), "{}", stderr(&bad));
}

/// Runs `diff` on `old` and `new` (written as given) and expects exit 2 with every one of
/// `named` in stderr and nothing on stdout.
fn assert_bad_input(files: &[(&str, String)], args: &[&str], named: &[&str]) {
    let out = diff_in(files, args);
    assert_exit(&out, 2);
    let err = stderr(&out);
    for n in named {
        assert!(err.contains(n), "`{n}` not named in stderr:\n{err}");
    }
    assert!(stdout(&out).is_empty(), "stdout: {}", stdout(&out));
}

#[test]
fn a_missing_file_is_bad_input_named() {
    assert_bad_input(
        &[("old.json", results_json(&old_run()))],
        &["old.json", "missing.json"],
        &["missing.json", "cannot read"],
    );
    // A directory with no report in it.
    let dir = common::report_dir();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let empty = empty.to_string_lossy().into_owned();
    assert_bad_input(
        &[("old.json", results_json(&old_run()))],
        &["old.json", &empty],
        &[&empty, "no results.json or load.json"],
    );
}

#[test]
fn a_file_that_is_not_json_is_bad_input_with_its_position() {
    assert_bad_input(
        &[
            ("old.json", results_json(&old_run())),
            ("new.json", "{\n  \"checks\": [\n    oops\n".into()),
        ],
        &["old.json", "new.json"],
        &["new.json:3:5"],
    );
    assert_bad_input(
        &[
            ("old.json", "[1, 2, 3]".into()),
            ("new.json", results_json(&new_run())),
        ],
        &["old.json", "new.json"],
        &["old.json", "not a results.json"],
    );
}

#[test]
fn another_schema_version_is_bad_input_named() {
    let mut v: serde_json::Value =
        serde_json::from_str(&results_json(&new_run())).expect("results JSON");
    v["schema_version"] = serde_json::json!(99);
    assert_bad_input(
        &[
            ("old.json", results_json(&old_run())),
            ("new.json", v.to_string()),
        ],
        &["old.json", "new.json"],
        &["new.json", "schema_version 99", "version 1"],
    );
}

#[test]
fn a_results_json_and_a_load_json_are_not_compared() {
    assert_bad_input(
        &[
            ("old.json", results_json(&old_run())),
            ("load.json", load_json(&regressed_load())),
        ],
        &["old.json", "load.json"],
        &["old.json is a results.json", "load.json is a load.json"],
    );
}

#[test]
fn a_member_of_the_wrong_form_is_bad_input_with_its_position() {
    let mut v: serde_json::Value =
        serde_json::from_str(&results_json(&old_run())).expect("results JSON");
    v["checks"][1]["verdict"] = serde_json::json!("MAYBE");
    let text = serde_json::to_string_pretty(&v).expect("JSON");
    let out = diff_in(
        &[("old.json", text), ("new.json", results_json(&new_run()))],
        &["old.json", "new.json"],
    );
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("old.json:"), "{err}");
    assert!(err.contains("MAYBE"), "{err}");
}

#[test]
fn a_check_listed_twice_is_bad_input_named() {
    let mut twice = new_run();
    twice.checks.push(check("BASE-01", Verdict::Fail, "again"));
    assert_bad_input(
        &[
            ("old.json", results_json(&old_run())),
            ("new.json", results_json(&twice)),
        ],
        &["old.json", "new.json"],
        &["new.json", "`BASE-01` appears more than once"],
    );
}

#[test]
fn a_report_directory_stands_for_the_report_in_it() {
    let dir = common::report_dir();
    for (name, run) in [("before", old_run()), ("after", new_run())] {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(sub.join("results.json"), results_json(&run)).expect("write");
    }
    let mut cmd = common::command();
    cmd.current_dir(dir.path())
        .args(["diff", "before", "after"]);
    let out = common::output_with_timeout(cmd, TIMEOUT);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("old: before/results.json"),
        "{}",
        stdout(&out)
    );
}
