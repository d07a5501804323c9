//! Output to a closed pipe (`xaa-conform run | head -1`, `schema`, `load`) ends quietly: no
//! panic, the exit code of the run itself, and the reports are still written.

mod common;

use std::process::Stdio;
use std::time::Duration;

/// Runs `xaa-conform ARGS` with its stdout a pipe whose reading end is closed at once; returns
/// the exit code and stderr.
fn with_stdout_closed(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = common::command();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    drop(child.stdout.take());
    let out = common::output_with_timeout_of_child(child, Duration::from_secs(120));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn schema_to_a_closed_pipe_ends_quietly() {
    let (code, err) = with_stdout_closed(&["schema"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn run_to_a_closed_pipe_still_writes_its_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let reports = dir.path().join("run");
    let keys = dir.path().join("keys");
    let (code, err) = with_stdout_closed(&[
        "run",
        "--filter",
        "BASE-01",
        "--keys",
        keys.to_str().expect("utf-8"),
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(reports.join("results.json").is_file(), "{err}");
}

#[test]
fn load_to_a_closed_pipe_still_writes_its_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let reports = dir.path().join("load");
    let keys = dir.path().join("keys");
    let (code, err) = with_stdout_closed(&[
        "load",
        "--rate",
        "10",
        "--duration",
        "1s",
        "--race",
        "0",
        "--lane-rate",
        "0",
        "--keys",
        keys.to_str().expect("utf-8"),
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(reports.join("load.json").is_file(), "{err}");
    assert!(reports.join("load.html").is_file(), "{err}");
}

/// goose's own "N users launched." never reaches stdout: the summary is all there is.
#[test]
fn load_stdout_is_the_summary_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = common::command()
        .args(["load", "--rate", "10", "--duration", "1s", "--race", "0"])
        .args(["--lane-rate", "0", "--keys"])
        .arg(dir.path().join("keys"))
        .arg("--report-dir")
        .arg(dir.path().join("load"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("users launched"), "{stdout}");
    assert!(stdout.starts_with("load: 10 requests"), "{stdout}");
}
