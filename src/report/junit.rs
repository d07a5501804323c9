//! `junit.xml`: the run as a JUnit report, so CI systems show each check as a test case.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::{CheckResult, RunResults};
use crate::spec::Verdict;

/// Name of the report and of its single test suite.
pub const SUITE_NAME: &str = "xaa-conform";

/// `results` as JUnit XML: one suite `xaa-conform`, one test case per check.
///
/// PASS, WARN and INFO are successes (WARN and INFO carry the verdict and reason in
/// `system-out`); FAIL is a `failure`, ERROR an `error`, SKIP `skipped`, each with the reason
/// as message. Every test case has the properties `verdict` and `requirement`.
///
/// Serializing to memory cannot fail in practice; should it ever fail, the result is a
/// minimal JUnit document with one `error` test case saying so, rather than a panic. Use
/// [`try_to_junit`] to get the error instead.
pub fn to_junit(results: &RunResults) -> String {
    try_to_junit(results).unwrap_or_else(|_| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"{SUITE_NAME}\" tests=\"1\" failures=\"0\" errors=\"1\">\n\
             <testsuite name=\"{SUITE_NAME}\" tests=\"1\" disabled=\"0\" errors=\"1\" failures=\"0\">\n\
             <testcase name=\"junit-report\" classname=\"{SUITE_NAME}\">\
             <error message=\"error serializing JUnit report\"/></testcase>\n\
             </testsuite>\n</testsuites>\n"
        )
    })
}

/// Like [`to_junit`], but returns the serializer error instead of a fallback document.
pub fn try_to_junit(results: &RunResults) -> Result<String, quick_junit::SerializeError> {
    junit_report(results).to_string()
}

/// The [`quick_junit::Report`] behind [`to_junit`], for callers that want to adjust it.
pub fn junit_report(results: &RunResults) -> Report {
    let mut suite = TestSuite::new(SUITE_NAME);
    if let Some(time) = millis(results.elapsed_ms) {
        suite.set_time(time);
    }
    suite.add_properties([
        Property::new("tool_version", &results.tool_version),
        Property::new("draft", &results.draft),
        Property::new("profile", &results.profile),
        Property::new("target", &results.target.kind),
        Property::new("issuer", &results.target.issuer),
        Property::new("token_endpoint", &results.target.token_endpoint),
        Property::new("started_at", &results.started_at),
    ]);
    if !results.target.defects.is_empty() {
        suite.add_property(Property::new("defects", results.target.defects.join(",")));
    }
    suite.add_test_cases(results.checks.iter().map(|c| {
        let expected = results
            .expected_failures
            .iter()
            .find(|e| e.id == c.id && e.status == crate::report::model::ExpectedStatus::Expected);
        test_case(c, expected.map(|e| e.reason.as_str()))
    }));
    // A stale expected failure fails the run: it is a failed test case of its own.
    for stale in results
        .expected_failures
        .iter()
        .filter(|e| e.status == crate::report::model::ExpectedStatus::Stale)
    {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(format!(
                "{} is listed as an expected failure but did not fail",
                stale.id
            ))
            .set_type("STALE");
        let mut case = TestCase::new(format!("expected-failure:{}", stale.id), status);
        case.set_classname(SUITE_NAME);
        suite.add_test_case(case);
    }

    let mut report = Report::new(SUITE_NAME);
    if let Some(time) = millis(results.elapsed_ms) {
        report.set_time(time);
    }
    report.add_test_suite(suite);
    report
}

/// The test case of one check; a FAIL listed as expected is skipped with the file's reason.
fn test_case(check: &CheckResult, expected: Option<&str>) -> TestCase {
    let status = match check.verdict {
        Verdict::Pass | Verdict::Warn | Verdict::Info => TestCaseStatus::success(),
        Verdict::Fail if expected.is_some() => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(format!(
                    "expected failure: {}",
                    expected.unwrap_or_default()
                ))
                .set_type("EXPECTED-FAIL");
            status
        }
        Verdict::Fail => non_success(NonSuccessKind::Failure, check),
        Verdict::Error => non_success(NonSuccessKind::Error, check),
        Verdict::Skip => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(check.reason.as_str())
                .set_type(check.verdict.name());
            status
        }
    };

    let mut case = TestCase::new(check.id.as_str(), status);
    case.set_classname(check.tags.first().map_or(SUITE_NAME, String::as_str));
    if let Some(time) = millis(check.elapsed_ms) {
        case.set_time(time);
    }
    case.add_property(Property::new("verdict", check.verdict.name()));
    case.add_property(Property::new("requirement", requirement(check)));
    if matches!(check.verdict, Verdict::Warn | Verdict::Info) {
        case.set_system_out(format!(
            "{}: {}\n{}",
            check.verdict,
            check.reason,
            details(check)
        ));
    }
    case
}

/// A failure or error status carrying the reason as message and the details as text.
fn non_success(kind: NonSuccessKind, check: &CheckResult) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status
        .set_message(check.reason.as_str())
        .set_type(check.verdict.name())
        .set_description(details(check));
    status
}

/// `MUST ID-JAG-04 §4.4.1`: level and source of the rule.
fn requirement(check: &CheckResult) -> String {
    format!("{} {}", check.requirement.level, check.requirement.source)
}

/// Longest body excerpt per exchange in the JUnit text.
const BODY_EXCERPT: usize = 300;

/// Title, requirement, the likely cause, token mutation and the exchanges (with their status,
/// a body excerpt and curl commands) of a check, so a CI failure can be understood and
/// reproduced from the JUnit report alone.
fn details(check: &CheckResult) -> String {
    let mut out = format!("{}\nrequirement: {}\n", check.title, requirement(check));
    if let Some(hint) = &check.hint {
        let _ = writeln!(out, "likely cause: {hint}");
    }
    if let Some(token) = &check.token {
        let _ = writeln!(out, "mutation: {}", token.mutation);
    }
    for exchange in &check.exchanges {
        let outcome = match (&exchange.response, &exchange.error) {
            (Some(response), None) => response.status.to_string(),
            (Some(response), Some(error)) => format!("{} ({error})", response.status),
            (None, Some(error)) => format!("no response: {error}"),
            (None, None) => "no response".to_owned(),
        };
        let _ = writeln!(
            out,
            "{}: {} {} -> {} in {:.0} ms\n  {}",
            exchange.role,
            exchange.request.method,
            exchange.request.url,
            outcome,
            exchange.elapsed_ms,
            exchange.curl,
        );
        if let Some(body) = exchange.response.as_ref().map(|r| excerpt(&r.body))
            && !body.is_empty()
        {
            let _ = writeln!(out, "  body: {body}");
        }
    }
    out
}

/// The first [`BODY_EXCERPT`] characters of a body on one line (control characters as
/// spaces), with `…` when there was more.
fn excerpt(body: &str) -> String {
    let one: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one.trim();
    match one.char_indices().nth(BODY_EXCERPT) {
        Some((at, _)) => format!("{}…", &one[..at]),
        None => one.to_string(),
    }
}

/// Milliseconds as a [`Duration`], or `None` when negative, NaN or out of range.
fn millis(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}
