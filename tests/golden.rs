//! Golden files for the reports: `xaa-conform run --filter` on a small fixed selection of
//! checks against the embedded reference RAS, compliant and with a defect; results.json and
//! junit.xml, normalised by [`common::normalise`], must equal the files in `tests/golden/`.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test golden`, then review the diff.

mod common;

use std::ffi::OsString;
use std::time::Duration;

/// Longest a golden run may take (a few seconds on a quiet machine).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `xaa-conform run ARGS` with in-memory keys, checks the exit code, and compares both
/// reports with `tests/golden/NAME.results.json` and `NAME.junit.xml`.
fn golden_run(name: &str, args: &[&str], exit_code: i32) {
    let dir = common::report_dir();
    let keys = dir.path().join("no-keys");
    let reports = dir.path().join("reports");
    let mut all: Vec<OsString> = vec!["run".into()];
    all.extend(args.iter().map(OsString::from));
    all.extend(["--keys".into(), keys.into_os_string()]);
    all.extend(["--report-dir".into(), reports.clone().into_os_string()]);
    let out = common::run_with_timeout(&all, RUN_TIMEOUT);
    assert_eq!(
        out.status.code(),
        Some(exit_code),
        "{name}: stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The run wrote results the model reads back.
    let results = common::read_results(&reports);
    assert!(!results.checks.is_empty(), "{name}: no checks");
    for file in ["results.json", "junit.xml"] {
        let path = reports.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        common::assert_golden(&format!("{name}.{file}"), &common::normalise(&text));
    }
}

#[test]
fn baseline_checks_on_the_compliant_reference() {
    golden_run("base-compliant", &["--filter", "BASE-0*"], 0);
}

#[test]
fn audience_checks_on_the_compliant_reference() {
    golden_run("aud-compliant", &["--filter", "JAG-AUD-*"], 0);
}

#[test]
fn audience_checks_on_a_reference_that_accepts_any_aud() {
    golden_run(
        "aud-accept-any-aud",
        &[
            "--filter",
            "JAG-AUD-*",
            "--reference-defect",
            "accept-any-aud",
        ],
        1,
    );
}

/// What varies per run becomes a placeholder; what the goldens pin does not.
#[test]
fn the_normaliser_replaces_only_what_varies() {
    let volatile = [
        ("\"elapsed_ms\": 80.305394,", "\"elapsed_ms\": [ms],"),
        ("time=\"0.080\"", "time=\"[s]\""),
        ("-&gt; 200 in 16 ms", "-&gt; 200 in [n] ms"),
        (
            "http://127.0.0.1:45269/token",
            "http://127.0.0.1:[port]/token",
        ),
        (
            "audience=http%3A%2F%2F127.0.0.1%3A45269",
            "audience=http%3A%2F%2F127.0.0.1%3A[port]",
        ),
        (
            "\"started_at\": \"2026-12-01T09:16:46Z\"",
            "\"started_at\": \"[timestamp]\"",
        ),
        ("\"Tue, 01 Dec 2026 09:16:48 GMT\"", "\"[http-date]\""),
        ("code=2ddd1d8a-8755-4b62-8449-156ce19c57a7&", "code=[uuid]&"),
        ("\"iat\": 1796116608,", "\"iat\": [unix],"),
        (
            "no key I9OPnWyOxKxsrHUwELqa63xHdRPvlTOGLs1HXNr9GdE for this issuer",
            "no key [b64] for this issuer",
        ),
        (
            "assertion=eyJhbGciOi.eyJpc3Mi.MoLftG0W5B07-UmG'",
            "assertion=[jwt]'",
        ),
        ("assertion=eyJhbGciOi.eyJpc3Mi.'", "assertion=[jwt]'"),
    ];
    for (input, expected) in volatile {
        assert_eq!(common::normalise(input), expected, "{input}");
    }
    let version = format!("\"tool_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        common::normalise(&version),
        "\"tool_version\": \"[version]\""
    );
    // Verdicts, reasons, levels, sources, IDs and fixed values stay as they are.
    let pinned = [
        "\"verdict\": \"PASS\"",
        "\"verdict\": \"FAIL\"",
        "<property name=\"verdict\" value=\"SKIP\"/>",
        "\"reason\": \"rejected: 400 invalid_grant (aud does not name this authorization server)\"",
        "\"reason\": \"aud https://other-ras.example/ was accepted: 200 with an access token\"",
        "\"level\": \"MUST\"",
        "\"level\": \"SHOULD\"",
        "\"source\": \"ID-JAG-04 §4.4.1; RFC 7523 §3 item 3\"",
        "<testcase name=\"JAG-AUD-02\" classname=\"claims\"",
        "\"draft\": \"draft-ietf-oauth-identity-assertion-authz-grant-04\"",
        "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
        "\"status\": 400,",
        "\"exp\": \"not a number\"",
        "[\"content-length\", \"0\"]",
        "XAA_CLIENT_SECRET",
    ];
    for text in pinned {
        assert_eq!(common::normalise(text), text);
    }
}

/// Runs `xaa-conform run ARGS` at `columns` (COLUMNS) with its output piped, as CI does;
/// returns stdout and stderr with the report folder and what varies per run normalised.
fn terminal_run(args: &[&str], columns: usize, exit_code: i32) -> (String, String) {
    let dir = common::report_dir();
    let reports = dir.path().join("reports");
    let mut cmd = common::command();
    cmd.arg("run")
        .args(args)
        .arg("--keys")
        .arg(dir.path().join("no-keys"))
        .arg("--report-dir")
        .arg(&reports)
        .env("COLUMNS", columns.to_string());
    let out = common::output_with_timeout(cmd, RUN_TIMEOUT);
    let clean = |b: &[u8]| {
        let text = String::from_utf8_lossy(b).replace(&reports.display().to_string(), "[reports]");
        common::normalise(&text)
    };
    let (stdout, stderr) = (clean(&out.stdout), clean(&out.stderr));
    assert_eq!(out.status.code(), Some(exit_code), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The terminal output of a passing and of a failing run, at 80 and 120 columns: every line
/// fits, and the text is pinned.
#[test]
fn terminal_output_at_80_and_120_columns() {
    for (name, args, code) in [
        ("aud-compliant", &["--filter", "JAG-AUD-*"][..], 0),
        (
            "aud-accept-any-aud",
            &[
                "--filter",
                "JAG-AUD-*",
                "--reference-defect",
                "accept-any-aud",
            ][..],
            1,
        ),
    ] {
        for columns in [80, 120] {
            let (stdout, _) = terminal_run(args, columns, code);
            for line in stdout.lines() {
                // Placeholders may be wider or narrower than what they replace.
                assert!(
                    line.chars().count() <= columns + 8,
                    "{name} at {columns}: {line}"
                );
            }
            common::assert_golden(&format!("{name}.terminal-{columns}.txt"), &stdout);
        }
    }
}

/// With stderr no terminal, a line per check as it finishes (`[n/N] ID VERDICT reason`), each
/// check once; the lines, in ID order, are pinned (the order they finish in varies).
#[test]
fn the_non_terminal_stream_has_a_line_per_check() {
    let (stdout, stderr) = terminal_run(
        &[
            "--filter",
            "JAG-AUD-*",
            "--reference-defect",
            "accept-any-aud",
        ],
        100,
        1,
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    let total = lines.len();
    assert!(total >= 5, "{stderr}");
    let mut by_id: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let prefix = format!("[{:>w$}/{total}] ", i + 1, w = total.to_string().len());
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("line {i} is not {prefix}…: {line}\n{stderr}"));
        by_id.push(rest.to_string());
    }
    by_id.sort();
    let ids: Vec<&str> = by_id.iter().filter_map(|l| l.split(' ').next()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "each check once: {stderr}");
    assert!(stdout.contains("what failed:"), "{stdout}");
    common::assert_golden("aud-accept-any-aud.stream.txt", &(by_id.join("\n") + "\n"));
}

/// `--report-markdown FILE` writes the job summary, and with `GITHUB_STEP_SUMMARY` set the
/// same text is appended to that file (what was there stays); the text is pinned.
#[test]
fn the_markdown_summary_and_the_github_job_summary() {
    let dir = common::report_dir();
    let reports = dir.path().join("reports");
    let markdown = dir.path().join("summary.md");
    let step = dir.path().join("step-summary.md");
    std::fs::write(&step, "earlier step\n").expect("write");
    let mut cmd = common::command();
    cmd.args([
        "run",
        "--filter",
        "JAG-AUD-*",
        "--reference-defect",
        "accept-any-aud",
    ])
    .arg("--keys")
    .arg(dir.path().join("no-keys"))
    .arg("--report-dir")
    .arg(&reports)
    .arg("--report-markdown")
    .arg(&markdown)
    .env("GITHUB_STEP_SUMMARY", &step);
    let out = common::output_with_timeout(cmd, RUN_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = std::fs::read_to_string(&markdown).expect("summary.md");
    let step_text = std::fs::read_to_string(&step).expect("step summary");
    assert_eq!(step_text, format!("earlier step\n{text}\n"));
    let shown = common::normalise(&text.replace(&reports.display().to_string(), "[reports]"));
    common::assert_golden("aud-accept-any-aud.summary.md", &shown);
}

/// In a CI log a long wait is not silence: the heartbeat names the check, what it waits for
/// and the time left (here the reference's 1 s JWKS cache, the heartbeat every 300 ms).
#[test]
fn the_heartbeat_names_a_long_wait() {
    let dir = common::report_dir();
    let mut cmd = common::command();
    cmd.args(["run", "--filter", "JAG-SIG-14"])
        .arg("--keys")
        .arg(dir.path().join("no-keys"))
        .arg("--report-dir")
        .arg(dir.path().join("reports"))
        .env("XAA_HEARTBEAT", "300ms");
    let out = common::output_with_timeout(cmd, RUN_TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.lines().any(|l| l
            .starts_with("… JAG-SIG-14: waiting for the RAS's 1s JWKS cache, ")
            && l.ends_with(" left")),
        "{stderr}"
    );
    assert!(stderr.contains("[1/1] JAG-SIG-14  PASS"), "{stderr}");
}
