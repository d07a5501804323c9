//! `xaa-conform fuzz` end to end: the compliant reference survives 2000 generated cases; each
//! fuzz-proven defect is found and shrunk to a one-step case; the saved case replays.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn fuzz(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .arg("fuzz")
        .arg("--report-dir")
        .arg(dir)
        .args(["--keys", "no-such-keys-dir"])
        .args(extra)
        .output()
        .expect("run xaa-conform");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

#[test]
fn compliant_reference_survives_2000_cases_and_the_seed_repeats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(dir.path(), &["--cases", "2000", "--seed", "1"]);
    assert_eq!(code, 0, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    assert_eq!(o["cases_run"], 2000, "{o}");
    assert!(o["minimal"].is_null(), "{o}");
    // Both kinds of case are common, so the property is exercised both ways.
    for kind in ["valid", "invalid"] {
        let n = o["by_expectation"][kind].as_u64().unwrap_or(0);
        assert!(n > 300, "only {n} {kind} cases: {o}");
    }
    // The same seed generates the same cases.
    let again = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(again.path(), &["--cases", "300", "--seed", "7"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = fuzz(dir.path(), &["--cases", "300", "--seed", "7"]);
    assert_eq!(code, 0, "{out}");
    let a = json(&again.path().join("fuzz.json"));
    let b = json(&dir.path().join("fuzz.json"));
    assert_eq!(a["by_expectation"], b["by_expectation"]);
}

/// Each defect is found, shrunk to a single step of the expected kind, saved, and replayed.
#[test]
fn defects_are_found_shrunk_and_replayed() {
    for (defect, step_kinds, violation) in [
        (
            "skip-signature-check",
            &["sign", "signature"][..],
            "an invalid request was accepted",
        ),
        (
            "ignore-exp",
            &["expired"][..],
            "an invalid request was accepted",
        ),
        (
            "panic-on-odd-claim-type",
            &["extra_claim", "duplicate_claim"][..],
            "answered 500",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out) = fuzz(
            dir.path(),
            &[
                "--cases",
                "2000",
                "--seed",
                "1",
                "--reference-defect",
                defect,
            ],
        );
        assert_eq!(code, 1, "{defect}: {out}");
        assert!(out.contains("minimal case"), "{defect}: {out}");
        let o = json(&dir.path().join("fuzz.json"));
        let steps = o["minimal"]["case"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(steps.len(), 1, "{defect}: not shrunk to one step: {o}");
        let kind = steps[0]["step"].as_str().unwrap_or_default();
        assert!(step_kinds.contains(&kind), "{defect}: minimal step {kind}");
        let why = o["minimal"]["violation"].as_str().unwrap_or_default();
        assert!(why.contains(violation), "{defect}: {why}");
        // The report shows the minimal case with its exchange and a curl reproduction.
        let results = json(&dir.path().join("results.json"));
        let check = results["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "FUZZ-1"))
            .cloned()
            .expect("FUZZ-1 in results.json");
        assert_eq!(check["verdict"], "FAIL");
        assert!(
            check["exchanges"][0]["curl"]
                .as_str()
                .unwrap_or_default()
                .contains("curl")
        );
        assert!(dir.path().join("report.html").exists());

        // The saved case is a regression corpus: it fails again with the defect, holds without.
        let saved = dir.path().join("fuzz-failures.json");
        let corpus = saved.to_str().expect("utf-8 path");
        let again = tempfile::tempdir().expect("tempdir");
        let (code, out) = fuzz(
            again.path(),
            &["--replay", corpus, "--reference-defect", defect],
        );
        assert_eq!(code, 1, "{defect} replay: {out}");
        let (code, out) = fuzz(again.path(), &["--replay", corpus]);
        assert_eq!(code, 0, "{defect} replay on the compliant reference: {out}");
    }
}

#[test]
fn bad_arguments_are_input_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(dir.path(), &["--cases", "0"]);
    assert_eq!(code, 2, "{out}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[{\"seed\": 1,\n \"case\": 3}]").expect("write");
    let (code, out) = fuzz(dir.path(), &["--replay", bad.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad.json:"), "{out}");
}
