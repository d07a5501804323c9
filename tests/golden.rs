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
