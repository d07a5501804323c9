//! Selecting checks (`--filter`, `--tag`, `--exclude`), expected failures under a selection
//! (ignored entries, unknown IDs, `until` dates, `expected: true` and the counts) and
//! `--fail-on warn` on `run` and `fuzz`. Every run is filtered to a check or a few and takes
//! about a second against the embedded reference.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use xaa_conform::expected::Date;
use xaa_conform::reference::Defect;
use xaa_conform::report::model::ExpectedStatus;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::scenario::{self, Selection};

/// How long one short run may take before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one command left: its exit code, stdout, stderr and report folder.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    dir: tempfile::TempDir,
}

impl Ran {
    /// results.json of the run, as JSON.
    fn json(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("results.json"))
            .unwrap_or_else(|e| panic!("results.json: {e}\n{}", self.stdout));
        serde_json::from_str(&text).expect("results.json is JSON")
    }

    /// The IDs of the checks in results.json.
    fn ids(&self) -> BTreeSet<String> {
        common::read_results(self.dir.path())
            .checks
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }
}

/// Runs `xaa-conform SUBCOMMAND ARGS… --report-dir … --keys …` with `today` as the day of
/// `until:` dates (none: the variable unset).
fn xaa(args: &[&str], today: Option<&str>) -> Ran {
    let dir = common::report_dir();
    let mut cmd = common::command();
    cmd.env_remove("XAA_CONFORM_TODAY");
    if let Some(day) = today {
        cmd.env("XAA_CONFORM_TODAY", day);
    }
    cmd.args(args)
        .arg("--report-dir")
        .arg(dir.path())
        .arg("--keys")
        .arg(dir.path().join("no-keys"));
    let out = common::output_with_timeout(cmd, RUN_TIMEOUT);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    }
}

/// `xaa-conform run ARGS…`.
fn run(args: &[&str]) -> Ran {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    xaa(&all, None)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// The IDs a selection keeps of the compiled-in catalogue (the checks it runs).
fn selected(sel: Selection) -> BTreeSet<String> {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    scenario::select(all, &sel)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenarios
        .iter()
        .map(|s| s.scenario.id.clone())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- selection

/// `--filter` is repeatable, each value a comma list; a comma inside `[...]` belongs to the
/// glob; IDs match ignoring case; a check is selected when any pattern matches.
#[test]
fn filter_is_repeatable_takes_comma_lists_and_ignores_case() {
    let got = selected(Selection {
        filter: strings(&["jag-aud-0[1,2], BASE-03", "base-04"]),
        ..Default::default()
    });
    assert_eq!(
        got,
        set(&["JAG-AUD-01", "JAG-AUD-02", "BASE-03", "BASE-04"])
    );

    // The same through the command line.
    let ran = run(&["--filter", "jag-aud-01", "--filter", "BASE-03,base-04"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.ids(), set(&["JAG-AUD-01", "BASE-03", "BASE-04"]));
}

/// `--tag` selects by the scenarios' tags (ignoring case, repeatable, comma lists); with
/// `--filter` too, a check must match both.
#[test]
fn tag_selects_by_scenario_tags_and_with_a_filter_both_must_match() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let tagged = |tag: &str| -> BTreeSet<String> {
        all.iter()
            .filter(|s| s.scenario.tags.iter().any(|t| t == tag))
            .map(|s| s.scenario.id.clone())
            .collect()
    };
    let aud = tagged("aud");
    assert!(aud.len() > 2, "{aud:?}");
    assert_eq!(
        selected(Selection {
            tags: strings(&["AUD"]),
            ..Default::default()
        }),
        aud
    );
    let either: BTreeSet<String> = tagged("aud").union(&tagged("crit")).cloned().collect();
    assert_eq!(
        selected(Selection {
            tags: strings(&["aud,crit"]),
            ..Default::default()
        }),
        either
    );
    assert_eq!(
        selected(Selection {
            tags: strings(&["aud"]),
            filter: strings(&["JAG-AUD-0[12]", "BASE-01"]),
            ..Default::default()
        }),
        set(&["JAG-AUD-01", "JAG-AUD-02"]),
        "BASE-01 matches the filter but has no `aud` tag"
    );

    // Through the command line, a tag and a filter that share no check: exit 2, naming both.
    let ran = run(&["--tag", "crit", "--filter", "JAG-AUD-*"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("`JAG-AUD-*`") && ran.stderr.contains("`crit`"),
        "{}",
        ran.stderr
    );
}

/// `--exclude` leaves checks out of the report, but a dependency that a selected check needs
/// still runs: BASE-02 and BASE-05 depend on BASE-01, and PASS (they would be SKIP had it
/// not run), while BASE-01 is not reported.
#[test]
fn exclude_drops_checks_from_the_report_but_a_needed_dependency_still_runs() {
    let ran = run(&["--filter", "BASE-0[125]", "--exclude", "base-01"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let results = common::read_results(ran.dir.path());
    let verdicts: Vec<(String, String)> = results
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.verdict.name().to_string()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("BASE-02".to_string(), "PASS".to_string()),
            ("BASE-05".to_string(), "PASS".to_string())
        ],
        "{}",
        ran.stdout
    );
    assert_eq!(results.summary.pass, 2);
    assert!(ran.stdout.contains("2 checks: 2 PASS"), "{}", ran.stdout);

    let sel = scenario::select(
        scenario::embedded().unwrap_or_else(|e| panic!("{e}")),
        &Selection {
            filter: strings(&["BASE-0[125]"]),
            exclude: strings(&["BASE-01"]),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sel.scenarios.len(), 3, "BASE-01 runs");
    assert!(!sel.reports("BASE-01") && sel.reports("BASE-02"));
}

/// A selection that leaves nothing is bad input (exit 2), and the message names the patterns.
#[test]
fn a_selection_that_leaves_nothing_is_exit_2_naming_the_patterns() {
    let ran = run(&["--filter", "NOPE-*,ALSO-NOT", "--filter", "x-[a,b]"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    for p in ["`NOPE-*`", "`ALSO-NOT`", "`x-[a,b]`"] {
        assert!(ran.stderr.contains(p), "{p}: {}", ran.stderr);
    }

    let ran = run(&["--filter", "BASE-01", "--exclude", "base-*"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--exclude `base-*` leaves no check of --filter `BASE-01`"),
        "{}",
        ran.stderr
    );

    let ran = run(&["--tag", "no-such-tag"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("`no-such-tag`"), "{}", ran.stderr);
}

// ---------------------------------------------------------------- expected failures

/// One file for every subset: with `--filter`, entries for catalogue checks the run leaves
/// out are ignored with one note; the listed FAIL stays a FAIL with `expected: true` in
/// results.json (valid under its schema), the table marks it and the summaries count it
/// apart.
#[test]
fn expected_failures_with_a_filter_ignore_other_entries_and_count_the_expected_apart() {
    let files = tempfile::tempdir().expect("tmp");
    let known = write(
        files.path(),
        "known.yaml",
        "- id: JAG-AUD-02\n  reason: tenant aud check lands next release\n\
         - id: JAG-AUD-03\n  reason: arrays\n\
         - id: BASE-05\n  reason: refresh tokens\n\
         - id: JAG-TIME-09\n  reason: clock skew\n",
    );
    let ran = run(&[
        "--filter",
        "JAG-AUD-0[12]",
        "--reference-defect",
        "accept-any-aud",
        "--expected-failures",
        &known.display().to_string(),
    ]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let note = "expected failures: 3 entries for checks not in this run ignored";
    assert_eq!(ran.stdout.matches(note).count(), 1, "{}", ran.stdout);
    // The check's line reads `FAIL   (expected) …`, and so does the recap.
    assert!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("JAG-AUD-02") && l.contains("FAIL   (expected) aud")),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("JAG-AUD-02 FAIL (expected) (MUST"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("2 checks: 1 PASS, 1 FAIL (1 expected), 0 WARN"),
        "{}",
        ran.stdout
    );

    let json = ran.json();
    let check = |id: &str| {
        json["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(check("JAG-AUD-02")["verdict"], "FAIL");
    assert_eq!(check("JAG-AUD-02")["expected"], true);
    assert!(
        check("JAG-AUD-01").get("expected").is_none(),
        "the field is left out when false"
    );
    assert_eq!(json["summary"]["fail"], 1);
    assert_eq!(json["summary"]["expected_fail"], 1);
    let statuses: Vec<(String, String)> = json["expected_failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap_or("").to_string(),
                        e["status"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        statuses,
        vec![
            ("JAG-AUD-02".into(), "expected".into()),
            ("JAG-AUD-03".into(), "ignored".into()),
            ("BASE-05".into(), "ignored".into()),
            ("JAG-TIME-09".into(), "ignored".into()),
        ]
    );

    let schema = xaa_conform::report::json::results_schema();
    assert!(
        schema
            .pointer("/$defs/CheckResult/properties/expected")
            .is_some(),
        "{schema}"
    );
    let validator = jsonschema::validator_for(&schema).expect("the results schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// An ID that is no check of the catalogue at all is bad input (exit 2) whatever the
/// selection, named at its `file:line:column` with the nearest check IDs; so is a bad `until`.
#[test]
fn an_unknown_id_is_exit_2_at_its_position_with_the_nearest_ids() {
    let files = tempfile::tempdir().expect("tmp");
    let unknown = write(
        files.path(),
        "unknown.yaml",
        "- id: JAG-AUD-02\n  reason: known\n- id: JAG-AUD-2\n  reason: a typo\n",
    );
    let ran = run(&[
        "--filter",
        "BASE-01",
        "--expected-failures",
        &unknown.display().to_string(),
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("{}:3:7", unknown.display()))
            && ran
                .stderr
                .contains("JAG-AUD-2 is not a check of the catalogue")
            && ran.stderr.contains("nearest: JAG-AUD-02"),
        "{}",
        ran.stderr
    );

    let bad_until = write(
        files.path(),
        "until.yaml",
        "- id: JAG-AUD-02\n  reason: known\n  until: 2027-02-30\n",
    );
    let ran = run(&[
        "--filter",
        "BASE-01",
        "--expected-failures",
        &bad_until.display().to_string(),
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("{}:3:10", bad_until.display()))
            && ran.stderr.contains("until"),
        "{}",
        ran.stderr
    );
}

/// `until: 2027-03-31` excuses the FAIL through that day (XAA_CONFORM_TODAY sets the day);
/// the day after, the run says it expired and the FAIL counts (exit 1, no `expected`).
#[test]
fn until_excuses_a_fail_through_its_day_and_then_the_fail_counts() {
    let files = tempfile::tempdir().expect("tmp");
    let known = write(
        files.path(),
        "known.yaml",
        "- id: JAG-AUD-02\n  reason: tenant aud check lands next release\n  until: 2027-03-31\n",
    );
    let known = known.display().to_string();
    let args = [
        "run",
        "--filter",
        "JAG-AUD-02",
        "--reference-defect",
        "accept-any-aud",
        "--expected-failures",
        &known,
    ];

    let before = xaa(&args, Some("2027-03-31"));
    assert_eq!(before.code, Some(0), "{}{}", before.stdout, before.stderr);
    assert!(
        before.stdout.contains("expected failure JAG-AUD-02"),
        "{}",
        before.stdout
    );
    assert_eq!(before.json()["checks"][0]["expected"], true);
    assert_eq!(before.json()["expected_failures"][0]["until"], "2027-03-31");

    let after = xaa(&args, Some("2027-04-01"));
    assert_eq!(after.code, Some(1), "{}{}", after.stdout, after.stderr);
    assert!(
        after
            .stdout
            .contains("EXPIRED expected failure JAG-AUD-02: its until date 2027-03-31 has passed"),
        "{}",
        after.stdout
    );
    assert!(!after.stdout.contains("(expected)"), "{}", after.stdout);
    let json = after.json();
    assert_eq!(json["expected_failures"][0]["status"], "expired");
    assert!(json["checks"][0].get("expected").is_none(), "{json}");
    assert!(json["summary"].get("expected_fail").is_none(), "{json}");
    let junit = std::fs::read_to_string(after.dir.path().join("junit.xml")).expect("junit");
    assert!(junit.contains("<failure"), "{junit}");

    // A day that is no date is bad input.
    let bad = xaa(&args, Some("April 1st"));
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    assert!(bad.stderr.contains("XAA_CONFORM_TODAY"), "{}", bad.stderr);
}

/// The library's clock is `RunOptions.today`: the same entry, judged on a day after its
/// `until`, is expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_options_today_sets_the_day_until_is_compared_with() {
    let files = tempfile::tempdir().expect("tmp");
    let known = write(
        files.path(),
        "known.yaml",
        "- id: JAG-AUD-02\n  reason: known\n  until: \"2027-03-31\"\n",
    );
    let day = |d: &str| d.parse::<Date>().expect("date");
    for (today, status, code) in [
        ("2027-03-30", ExpectedStatus::Expected, 0),
        ("2028-01-01", ExpectedStatus::Expired, 1),
    ] {
        let opts = RunOptions {
            filter: vec!["JAG-AUD-02".into()],
            defects: [Defect::AcceptAnyAud].into_iter().collect(),
            expected_failures: Some(known.clone()),
            keys_dir: None,
            today: Some(day(today)),
            ..Default::default()
        };
        let results = runner::run_suite(&opts, Some(common::keyring()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(results.expected_failures[0].status, status, "{today}");
        assert_eq!(runner::exit_code(&results), code, "{today}");
        assert_eq!(
            results.summary.expected_fail,
            usize::from(status == ExpectedStatus::Expected)
        );
    }
}

// ---------------------------------------------------------------- --fail-on

/// A SHOULD-only defect (a refresh token issued) is a WARN: the run passes, unless
/// `--fail-on warn`, which makes it exit 1.
#[test]
fn fail_on_warn_fails_a_run_with_a_should_only_defect() {
    let args = [
        "--filter",
        "BASE-05",
        "--reference-defect",
        "issue-refresh-token",
    ];
    let ran = run(&args);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let results = common::read_results(ran.dir.path());
    let base05 = results.checks.iter().find(|c| c.id == "BASE-05");
    assert_eq!(
        base05.map(|c| c.verdict.name()),
        Some("WARN"),
        "{}",
        ran.stdout
    );
    assert_eq!(results.summary.fail, 0);

    let mut strict = args.to_vec();
    strict.extend(["--fail-on", "warn"]);
    let ran = run(&strict);
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);

    let mut default = args.to_vec();
    default.extend(["--fail-on", "fail"]);
    assert_eq!(run(&default).code, Some(0));

    let ran = run(&["--filter", "BASE-01", "--fail-on", "info"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("fail, warn"), "{}", ran.stderr);
}

/// `fuzz` takes `--fail-on` too (it shares the exit rule with `run` and `load`): a WARN
/// finding passes the run by default and fails it under `--fail-on warn`.
#[test]
fn fail_on_warn_fails_a_fuzz_run_with_a_warn_finding() {
    let args = [
        "fuzz",
        "--cases",
        "300",
        "--seed",
        "1",
        "--reference-defect",
        "jti-optional",
    ];
    let ran = xaa(&args, None);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let warned = ran.json()["checks"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["verdict"] == "WARN"));
    assert!(warned, "{}", ran.stdout);

    let mut strict = args.to_vec();
    strict.extend(["--fail-on", "warn"]);
    let ran = xaa(&strict, None);
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
}
