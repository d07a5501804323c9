//! Output to a closed pipe (`xaa-conform run | head -1`) ends quietly: no panic, the exit code
//! of the run itself, and the reports are still written. (`load` is not here yet: goose prints
//! its "N users launched" lines to stdout itself, and panics on a closed pipe.)

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
