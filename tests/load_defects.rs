//! The reference defects that show only under load (their `Defect::proof()` is `Load`, so the
//! `run` matrix of tests/e2e.rs skips them), each proven here by `xaa-conform load` on
//! loopback, in short bounded runs: the defect moves its declared check, the compliant
//! reference under the same load gets PASS (or INFO), and `run` with every one of them on
//! sees nothing. The tests take turns (one lock): each measures latency, and two loads at
//! once on a shared 2-core machine would measure each other.

mod common;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use xaa_conform::reference::{Defect, Proof};
use xaa_conform::spec::Verdict;

/// One test at a time (a failed one leaves the lock usable).
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `load ARGS…` against the embedded reference with `defect` on (when given); returns
/// the exit code, the output (for messages) and the parsed load.json.
fn load(dir: &Path, defect: Option<&str>, args: &[&str]) -> (i32, String, Value) {
    let mut cmd = common::command();
    cmd.arg("load")
        .args(args)
        .args(["--race", "0"])
        .arg("--report-dir")
        .arg(dir)
        .arg("--keys")
        .arg(dir.join("no-keys"));
    if let Some(d) = defect {
        cmd.args(["--reference-defect", d]);
    }
    let out = common::output_with_timeout(cmd, Duration::from_secs(120));
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(dir.join("load.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), text, json)
}

/// The verdict and reason of check `id` in a load.json.
fn check(report: &Value, id: &str) -> (String, String) {
    let c = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or(&Value::Null);
    (
        c["verdict"].as_str().unwrap_or("missing").to_string(),
        c["reason"].as_str().unwrap_or("").to_string(),
    )
}

/// The verdict `defect` declares for `id`.
fn declared(defect: &str, id: &str) -> String {
    let d: Defect = defect.parse().expect("defect");
    assert_eq!(d.proof(), Proof::Load, "{defect}");
    d.breaks()
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("{defect} declares no {id}"))
}

/// LOAD-06: while the trusted issuer's JWKS answers after 6 s (past the reference's 5 s fetch
/// timeout), ID-JAGs under unpublished kids are refused and valid ones keep being served by the
/// compliant reference (PASS); `jwks-timeout-fails-open` issues tokens for them (FAIL), and
/// `jwks-fetch-blocks-all` refuses them but stops serving valid ones (WARN).
#[test]
fn a_slow_jwks_load_06() {
    let _turn = turn();
    let args = [
        "--rate",
        "40",
        "--duration",
        "1s",
        "--jwks-stall",
        "3s",
        "--lane-rate",
        "0",
        "--timeout",
        "8s",
    ];
    for defect in [
        None,
        Some("jwks-timeout-fails-open"),
        Some("jwks-fetch-blocks-all"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out, r) = load(dir.path(), defect, &args);
        let (verdict, reason) = check(&r, "LOAD-06");
        let want = defect.map_or("PASS".to_string(), |d| declared(d, "LOAD-06"));
        assert_eq!(verdict, want, "{defect:?}: {reason}\n{out}");
        assert_eq!(
            code,
            if want == "FAIL" { 1 } else { 0 },
            "{defect:?}: {out}"
        );
        match defect {
            None => {
                assert!(
                    reason.contains("0 of 30 ID-JAGs under unpublished kids got a token"),
                    "{reason}"
                );
                assert!(
                    reason.contains("fails closed and keeps serving"),
                    "{reason}"
                );
            }
            Some("jwks-timeout-fails-open") => {
                assert!(reason.contains("fail open"), "{reason}")
            }
            Some(_) => assert!(reason.contains("stops serving"), "{reason}"),
        }
        assert!(
            r["rate_limited_by_phase"]["slow JWKS"].is_u64(),
            "{defect:?}: {out}"
        );
    }
}

/// LOAD-08 and LOAD-04: after seconds at 60/s the `exp-skipped-when-busy` reference issues
/// tokens for the lane's expired ID-JAGs, which it refused on a quiet server (FAIL, "passes
/// alone but not under load"); the compliant reference refuses them all (PASS), and its
/// latency stays flat at that steady rate (LOAD-04 INFO).
#[test]
fn the_exp_boundary_under_sustained_load_load_08() {
    let _turn = turn();
    let args = ["--rate", "60", "--duration", "8s", "--lane-rate", "6"];
    for defect in [None, Some("exp-skipped-when-busy")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out, r) = load(dir.path(), defect, &args);
        let (verdict, reason) = check(&r, "LOAD-08");
        let want = defect.map_or("PASS".to_string(), |d| declared(d, "LOAD-08"));
        assert_eq!(verdict, want, "{defect:?}: {reason}\n{out}");
        assert_eq!(
            code,
            if want == "FAIL" { 1 } else { 0 },
            "{defect:?}: {out}"
        );
        if defect.is_some() {
            assert!(
                reason.starts_with("passes alone but not under load"),
                "{reason}"
            );
        } else {
            let (trend, why) = check(&r, "LOAD-04");
            assert_eq!(trend, "INFO", "{why}\n{out}");
            assert!(why.contains("flat"), "{why}");
        }
        // The other lane probes are not moved.
        assert_eq!(check(&r, "JAG-AUD-02@load").0, "PASS", "{defect:?}: {out}");
    }
}

/// LOAD-07: with 30 % invalid ID-JAGs, `bad-signature-global-lock` makes the valid ones wait
/// behind each bad signature (median far above the valid-only calibration's: WARN); the
/// compliant reference serves them as fast as without invalid ones (PASS).
#[test]
fn invalid_requests_slowing_valid_ones_load_07() {
    let _turn = turn();
    let args = [
        "--rate",
        "40",
        "--duration",
        "3s",
        "--invalid-share",
        "30%",
        "--lane-rate",
        "0",
    ];
    for defect in [None, Some("bad-signature-global-lock")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out, r) = load(dir.path(), defect, &args);
        let (verdict, reason) = check(&r, "LOAD-07");
        let want = defect.map_or("PASS".to_string(), |d| declared(d, "LOAD-07"));
        assert_eq!(verdict, want, "{defect:?}: {reason}\n{out}");
        assert_eq!(code, 0, "{defect:?}: {out}");
        assert!(
            reason.contains("with valid ones only at the same rate"),
            "{reason}"
        );
        // Every invalid ID-JAG is still refused.
        for id in ["JAG-TIME-02@load", "JAG-AUD-02@load", "JAG-SIG-03@load"] {
            assert_eq!(check(&r, id).0, "PASS", "{defect:?} {id}: {out}");
        }
    }
}

/// `run`, whose checks send one request at a time (a few at once), sees none of the load
/// defects: with all of them on, every check is PASS or INFO, as against the compliant
/// reference.
#[test]
fn run_does_not_see_the_load_defects() {
    let _turn = turn();
    let dir = common::report_dir();
    let mut args: Vec<String> = vec![
        "run".into(),
        "--report-dir".into(),
        dir.path().display().to_string(),
        "--keys".into(),
        dir.path().join("no-keys").display().to_string(),
    ];
    let load_defects: Vec<Defect> = Defect::ALL
        .iter()
        .copied()
        .filter(|d| d.proof() == Proof::Load)
        .collect();
    assert!(load_defects.len() >= 5, "{load_defects:?}");
    for d in &load_defects {
        args.push("--reference-defect".into());
        args.push(d.name().into());
    }
    let out = common::run_with_timeout(&args, Duration::from_secs(300));
    let results = common::read_results(dir.path());
    let moved: Vec<String> = results
        .checks
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass | Verdict::Info))
        .map(|c| format!("{} {}: {}", c.id, c.verdict, c.reason))
        .collect();
    assert!(moved.is_empty(), "{}", moved.join("\n"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
