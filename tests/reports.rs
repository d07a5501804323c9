//! Report writers: `results.json` (schema, round trip), `junit.xml`, the report directory,
//! the terminal table and the summary line.

use serde_json::json;
use xaa_conform::report::model::{
    CheckResult, Exchange, Finding, Occurrence, RESULTS_SCHEMA_VERSION, RecordedRequest,
    RecordedResponse, RunResults, SentToken, Summary, TargetInfo,
};
use xaa_conform::report::{json as report_json, junit, terminal, write_reports};
use xaa_conform::spec::{DRAFT, Level, Requirement, Verdict};

const RAS: &str = "https://ras.example";

fn exchange(role: &str, status: Option<u16>, error: Option<&str>) -> Exchange {
    Exchange {
        role: role.to_owned(),
        request: RecordedRequest {
            method: "POST".to_owned(),
            url: format!("{RAS}/token"),
            headers: vec![
                (
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("authorization".to_owned(), "Basic [redacted]".to_owned()),
            ],
            body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=[redacted]"
                .to_owned(),
        },
        response: status.map(|status| RecordedResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: if status == 200 {
                r#"{"access_token":"[redacted]","token_type":"Bearer","expires_in":300}"#.to_owned()
            } else {
                r#"{"error":"invalid_grant"}"#.to_owned()
            },
            body_not_utf8_at: None,
            headers_not_utf8: vec![],
        }),
        error: error.map(str::to_owned),
        elapsed_ms: 12.5,
        curl: format!(
            "curl -sS -X POST '{RAS}/token' -u \"$XAA_CLIENT_ID:$XAA_CLIENT_SECRET\" --data-urlencode \"assertion=$XAA_ASSERTION\""
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    id: &str,
    title: &str,
    level: Level,
    source: &str,
    tags: &[&str],
    verdict: Verdict,
    reason: &str,
    exchanges: Vec<Exchange>,
) -> CheckResult {
    CheckResult {
        id: id.to_owned(),
        title: title.to_owned(),
        requirement: Requirement {
            level,
            source: source.to_owned(),
        },
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        verdict,
        reason: reason.to_owned(),
        token: None,
        exchanges,
        elapsed_ms: 25.0,
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

fn sample() -> RunResults {
    let mut aud = check(
        "JAG-AUD-02",
        "An ID-JAG whose aud is another RAS is rejected",
        Level::Must,
        "ID-JAG-04 §4.4.1",
        &["aud"],
        Verdict::Fail,
        "aud https://other-ras.example/ was accepted: 200 with an access token",
        vec![
            exchange("control", Some(200), None),
            exchange("probe", Some(200), None),
        ],
    );
    aud.token = Some(SentToken {
        token: "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL290aGVyLXJhcy5leGFtcGxlLyJ9.c2ln"
            .to_owned(),
        header: json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": "idp-1"}),
        claims: json!({"iss": "https://idp.example", "aud": "https://other-ras.example/", "sub": "alice"}),
        mutation: "aud set to https://other-ras.example/".to_owned(),
    });

    let checks = vec![
        check(
            "JAG-TYP-01",
            "An ID-JAG with typ oauth-id-jag+jwt is accepted",
            Level::Must,
            "ID-JAG-04 §3",
            &["typ", "positive"],
            Verdict::Pass,
            "200 with an access token",
            vec![exchange("probe", Some(200), None)],
        ),
        aud,
        check(
            "JAG-EXP-03",
            "An ID-JAG with a long lifetime is rejected",
            Level::Should,
            "ID-JAG-04 §3; RFC 7523 §3 item 4",
            &[],
            Verdict::Warn,
            "exp 24 h after iat was accepted:\n200 with an access token",
            vec![exchange("probe", Some(200), None)],
        ),
        check(
            "JAG-SCOPE-05",
            "Scope in the ID-JAG narrows the access token",
            Level::May,
            "ID-JAG-04 §4.3",
            &["scope"],
            Verdict::Info,
            "the access token scope was \"read\"",
            vec![exchange("probe", Some(200), None)],
        ),
        check(
            "JAG-DPOP-01",
            "A DPoP-bound ID-JAG requires a DPoP proof",
            Level::Must,
            "ID-JAG-04 §7",
            &["dpop"],
            Verdict::Skip,
            "the target does not advertise DPoP",
            vec![],
        ),
        check(
            "JAG-SIG-04",
            "An ID-JAG signed with an unknown key is rejected",
            Level::Must,
            "RFC 7523 §3 item 9",
            &["sig"],
            Verdict::Error,
            "no answer: connection refused",
            vec![exchange("probe", None, Some("connection refused"))],
        ),
    ];
    RunResults {
        schema_version: RESULTS_SCHEMA_VERSION,
        tool_version: "0.1.0".to_owned(),
        draft: DRAFT.to_owned(),
        profile: "id-jag-04".to_owned(),
        target: TargetInfo {
            kind: "reference".to_owned(),
            issuer: RAS.to_owned(),
            token_endpoint: format!("{RAS}/token"),
            defects: vec!["accept-any-aud".to_owned()],
        },
        started_at: "2025-11-22T00:00:00Z".to_owned(),
        elapsed_ms: 1234.0,
        summary: Summary::of(&checks),
        checks,
        expected_failures: Vec::new(),
        interrupted: false,
    }
}

#[test]
fn json_validates_against_schema_and_round_trips() {
    let results = sample();
    let text = report_json::to_json(&results);
    assert!(text.contains('\n'), "pretty JSON spans lines");

    let instance: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let schema = report_json::results_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");

    let back: RunResults = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, results);
}

#[test]
fn schema_rejects_a_wrong_verdict() {
    let mut instance = serde_json::to_value(sample()).expect("serializes");
    instance["checks"][0]["verdict"] = json!("MAYBE");
    let validator = jsonschema::validator_for(&report_json::results_schema()).expect("compiles");
    assert!(!validator.is_valid(&instance));
}

#[test]
fn junit_has_one_testcase_per_check_and_counts() {
    let results = sample();
    let xml = junit::to_junit(&results);

    assert_eq!(xml.matches("<testcase ").count(), results.checks.len());
    for check in &results.checks {
        assert!(
            xml.contains(&format!("name=\"{}\"", check.id)),
            "{} missing",
            check.id
        );
    }
    assert_eq!(xml.matches("<failure").count(), 1);
    assert_eq!(xml.matches("<error").count(), 1);
    assert_eq!(xml.matches("<skipped").count(), 1);
    assert!(xml.contains(
        "message=\"aud https://other-ras.example/ was accepted: 200 with an access token\""
    ));

    let suite_line = xml
        .lines()
        .find(|l| l.trim_start().starts_with("<testsuite "))
        .expect("a testsuite element");
    for attr in [
        "name=\"xaa-conform\"",
        "tests=\"6\"",
        "failures=\"1\"",
        "errors=\"1\"",
        "skipped=\"1\"",
    ] {
        assert!(suite_line.contains(attr), "{attr} not in {suite_line}");
    }

    // classname is the first tag, or the suite name without tags.
    assert!(xml.contains("name=\"JAG-AUD-02\" classname=\"aud\""));
    assert!(xml.contains("name=\"JAG-EXP-03\" classname=\"xaa-conform\""));
    // WARN and INFO are successes that carry the verdict.
    assert!(xml.contains("<property name=\"verdict\" value=\"WARN\""));
    assert!(xml.contains("<property name=\"verdict\" value=\"INFO\""));
    assert!(xml.contains("WARN: exp 24 h after iat was accepted"));
    assert!(xml.contains("INFO: the access token scope was"));
}

#[test]
fn write_reports_writes_both_files() {
    let results = sample();
    let tmp = tempfile::TempDir::new().expect("temp dir");
    let dir = tmp.path().join("reports").join("run-1");

    let written = write_reports(&results, &dir).expect("reports written");
    assert_eq!(
        written,
        vec![
            dir.join("results.json"),
            dir.join("junit.xml"),
            dir.join("report.html")
        ]
    );

    let json_text = std::fs::read_to_string(&written[0]).expect("results.json");
    let back: RunResults = serde_json::from_str(&json_text).expect("results.json parses");
    assert_eq!(back, results);
    let xml = std::fs::read_to_string(&written[1]).expect("junit.xml");
    assert!(xml.contains("<testsuite name=\"xaa-conform\""));
}

#[test]
fn write_reports_error_names_the_path() {
    let tmp = tempfile::TempDir::new().expect("temp dir");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("file");

    let err = write_reports(&sample(), &file).expect_err("a file is not a directory");
    let message = err.to_string();
    assert!(message.contains("not-a-dir"), "{message}");
}

/// The screen of a test: `detail` at `width` columns, report.html at `reports/report.html`.
fn screen(detail: terminal::Detail, width: usize, color: bool) -> terminal::Screen {
    terminal::Screen {
        width,
        color,
        detail,
        report_html: Some("reports/report.html".into()),
    }
}

#[test]
fn verbose_lists_every_check_and_verdict_within_the_width() {
    let results = sample();
    for width in [80, 120] {
        let plain = terminal::render(&results, &screen(terminal::Detail::Verbose, width, false));
        for check in &results.checks {
            assert!(plain.contains(&check.id), "{} missing:\n{plain}", check.id);
        }
        for verdict in Verdict::ALL {
            assert!(
                plain.contains(verdict.name()),
                "{verdict} missing:\n{plain}"
            );
        }
        assert!(plain.contains("(MUST ID-JAG-04 §4.4.1)"), "{plain}");
        assert!(!plain.contains('\u{1b}'), "no ANSI escapes without colour");
        // The reason's newline does not start a line of its own.
        assert!(plain.contains("accepted: 200"), "{plain}");
        for line in plain.lines() {
            assert!(line.chars().count() <= width, "too wide at {width}: {line}");
        }
    }
}

#[test]
fn by_default_only_what_needs_attention_is_listed_then_the_recap() {
    let results = sample();
    let plain = terminal::render(&results, &screen(terminal::Detail::Normal, 80, false));
    let listed: Vec<&str> = plain
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let attention: Vec<&str> = results
        .checks
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass | Verdict::Info))
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(listed, attention, "{plain}");
    // The summary wraps at 80 columns; joined, it is the summary line.
    assert!(
        plain
            .replace('\n', " ")
            .contains(&terminal::summary(&results)),
        "{plain}"
    );
    let recap = plain.split("what failed:").nth(1).expect("a recap");
    assert!(
        recap.contains("JAG-AUD-02 FAIL (MUST ID-JAG-04 §4.4.1)"),
        "{plain}"
    );
    assert!(recap.contains("likely cause: "), "{plain}");
    assert!(
        recap.contains("evidence: reports/report.html#check-JAG-AUD-02"),
        "{plain}"
    );
    for line in plain.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
    let quiet = terminal::render(&results, &screen(terminal::Detail::Quiet, 80, false));
    assert_eq!(quiet, terminal::summary(&results));
}

/// `text` without ANSI CSI sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colour_changes_no_layout() {
    let results = sample();
    let plain = terminal::render(&results, &screen(terminal::Detail::Verbose, 80, false));
    let coloured = terminal::render(&results, &screen(terminal::Detail::Verbose, 80, true));
    assert!(coloured.contains("\u{1b}[32mPASS"));
    assert!(coloured.contains("\u{1b}[31mFAIL"));
    assert!(coloured.contains("\u{1b}[35mERROR"));
    assert_eq!(strip_ansi(&coloured), plain);
}

#[test]
fn long_values_stay_within_the_width() {
    let mut results = sample();
    results.checks[1].reason = "word ".repeat(100);
    results.checks[1].title = "x".repeat(300);
    results.checks[1].id = "Y".repeat(40);
    for detail in [terminal::Detail::Normal, terminal::Detail::Verbose] {
        let plain = strip_ansi(&terminal::render(&results, &screen(detail, 80, true)));
        for line in plain.lines() {
            assert!(line.chars().count() <= 80, "{detail:?}: {line}");
        }
    }
}

#[test]
fn summary_counts_every_verdict() {
    let results = sample();
    assert_eq!(
        terminal::summary(&results),
        "6 checks: 1 PASS, 1 FAIL, 1 WARN, 1 INFO, 1 SKIP, 1 ERROR in 1.23 s (profile id-jag-04, target reference)"
    );
}

/// A run whose owning check found one deviation in many checks.
fn with_findings() -> RunResults {
    let mut results = sample();
    let mut owner = check(
        "ERR-01",
        "every refusal of the run uses the HTTP status RFC 6749 §5.2 prescribes",
        Level::Must,
        "RFC 6749 §5.2",
        &["response"],
        Verdict::Warn,
        "51 of 99 refusals of the run: HTTP 401 for invalid_grant",
        vec![exchange("probe", Some(401), None)],
    );
    owner.findings = vec![Finding {
        verdict: Verdict::Warn,
        what: "HTTP 401 for invalid_grant (RFC 6749 §5.2: 400)".into(),
        count: 51,
        occurrences: (0..51)
            .map(|i| Occurrence {
                check: format!("JAG-AUD-{i:02}"),
                exchange: 1,
                role: "probe".into(),
            })
            .collect(),
    }];
    results.checks.push(owner);
    results.summary = Summary::of(&results.checks);
    results
}

#[test]
fn findings_validate_round_trip_and_show_once_with_their_count() {
    let results = with_findings();
    let text = report_json::to_json(&results);
    let instance: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let validator = jsonschema::validator_for(&report_json::results_schema()).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    assert_eq!(instance["checks"][6]["findings"][0]["count"], json!(51));
    assert!(
        instance["checks"][0].get("findings").is_none(),
        "a check without findings has no member"
    );
    let back: RunResults = serde_json::from_str(&text).expect("deserializes");
    assert_eq!(back, results);

    let normal =
        |r: &RunResults, color| terminal::render(r, &screen(terminal::Detail::Normal, 80, color));
    let plain = normal(&results, false);
    assert_eq!(
        plain
            .matches("HTTP 401 for invalid_grant (RFC 6749 §5.2: 400)")
            .count(),
        1,
        "{plain}"
    );
    assert!(plain.contains("ERR-01 WARN ×51"), "{plain}");
    assert!(plain.contains("and 45 more"), "{plain}");
    assert_eq!(strip_ansi(&normal(&results, true)), plain);
    for line in plain.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    assert!(
        !normal(&sample(), false).contains("findings ("),
        "no findings block without findings"
    );

    let html = xaa_conform::report::html::to_html(&results);
    assert!(html.contains("<h3>Findings</h3>"));
    assert!(html.contains("&times;51"));
    assert!(
        html.contains("href=\"#check-JAG-AUD-02-ex-2\""),
        "occurrences link to their exchange"
    );
}

#[test]
fn schema_rejects_a_finding_without_its_count() {
    let mut instance = serde_json::to_value(with_findings()).expect("serializes");
    instance["checks"][6]["findings"][0]
        .as_object_mut()
        .expect("object")
        .remove("count");
    let validator = jsonschema::validator_for(&report_json::results_schema()).expect("compiles");
    assert!(!validator.is_valid(&instance));
}

/// Many SKIPs for one reason (a preflight stop) are one line by default, each with `-v`.
#[test]
fn many_skips_for_one_reason_are_one_line() {
    let mut results = sample();
    for i in 0..5 {
        let mut c = results.checks[0].clone();
        c.id = format!("BASE-{i:02}");
        c.verdict = Verdict::Skip;
        c.reason = "not run: preflight failed".into();
        results.checks.push(c);
    }
    let normal = terminal::render(&results, &screen(terminal::Detail::Normal, 80, false));
    let grouped: Vec<&str> = normal
        .lines()
        .filter(|l| l.contains("not run: preflight failed"))
        .collect();
    assert_eq!(grouped.len(), 1, "{normal}");
    assert!(
        grouped[0].starts_with("5 checks")
            && grouped[0].contains("SKIP   not run: preflight failed (BASE-00, BASE-01"),
        "{normal}"
    );
    let verbose = terminal::render(&results, &screen(terminal::Detail::Verbose, 80, false));
    assert_eq!(
        verbose.matches("not run: preflight failed").count(),
        5,
        "{verbose}"
    );
}
