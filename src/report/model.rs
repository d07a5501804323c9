//! The results of a run, as written to `results.json` and read by every report.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::expected::{ExpectedFailure, ExpectedStatus};
pub use crate::oracle::findings::{Finding, Occurrence};
pub use crate::protocol::{Exchange, RecordedRequest, RecordedResponse};
use crate::spec::{Requirement, Verdict};

/// Version of the `results.json` layout; bumped on any incompatible change.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// A token the check sent, decoded for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SentToken {
    /// The compact JWS.
    pub token: String,
    /// Decoded header.
    pub header: Value,
    /// Decoded claims.
    pub claims: Value,
    /// What was changed from the valid ID-JAG.
    pub mutation: String,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckResult {
    /// Check ID, the requirement ID of requirements.md (e.g. `JAG-AUD-02`).
    pub id: String,
    /// What the check verifies.
    pub title: String,
    /// Level and source of the rule.
    pub requirement: Requirement,
    /// Tags from the scenario.
    pub tags: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// One line saying why.
    pub reason: String,
    /// The token under test, when there is one.
    pub token: Option<SentToken>,
    /// Every HTTP exchange the check made, in order.
    pub exchanges: Vec<Exchange>,
    /// Wall time of the check in milliseconds.
    pub elapsed_ms: f64,
    /// For a check that judges the form of every answer of the run (ERR-01, ERR-02, …):
    /// each deviation once, with its count and every exchange of the run that shows it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// For a FAIL or WARN: what the server most likely does wrong (the catalogue's hint, as
    /// report.html and the terminal's recap give it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// A FAIL listed in the expected-failures file (and not past its `until` day): it stays a
    /// FAIL, and does not fail the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
}

/// Counts of each verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// PASS count.
    pub pass: usize,
    /// FAIL count.
    pub fail: usize,
    /// WARN count.
    pub warn: usize,
    /// INFO count.
    pub info: usize,
    /// SKIP count.
    pub skip: usize,
    /// ERROR count.
    pub error: usize,
    /// How many of the `fail` FAILs are expected (listed in the expected-failures file):
    /// `fail - expected_fail` FAILs fail the run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_fail: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Counts the verdicts of `checks`.
    pub fn of(checks: &[CheckResult]) -> Self {
        let mut s = Summary::default();
        for c in checks {
            *match c.verdict {
                Verdict::Pass => &mut s.pass,
                Verdict::Fail => &mut s.fail,
                Verdict::Warn => &mut s.warn,
                Verdict::Info => &mut s.info,
                Verdict::Skip => &mut s.skip,
                Verdict::Error => &mut s.error,
            } += 1;
            if c.verdict == Verdict::Fail && c.expected {
                s.expected_fail += 1;
            }
        }
        s
    }
}

/// What was tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetInfo {
    /// `reference` for the embedded reference RAS, otherwise the target file path.
    pub kind: String,
    /// The RAS issuer identifier.
    pub issuer: String,
    /// The token endpoint URL.
    pub token_endpoint: String,
    /// Reference defects switched on, if any.
    pub defects: Vec<String>,
}

/// A whole run: the content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunResults {
    /// Layout version ([`RESULTS_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// `xaa-conform` version that produced the file.
    pub tool_version: String,
    /// The ID-JAG draft revision the checks follow.
    pub draft: String,
    /// The profile the expectations came from.
    pub profile: String,
    /// What was tested.
    pub target: TargetInfo,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the run in milliseconds.
    pub elapsed_ms: f64,
    /// Verdict counts.
    pub summary: Summary,
    /// Every check, in catalogue order.
    pub checks: Vec<CheckResult>,
    /// Entries of the expected-failures file, when one was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_failures: Vec<ExpectedFailure>,
    /// Whether Ctrl-C cut the run short: the checks it kept from finishing are SKIP
    /// "not run: interrupted (Ctrl-C)".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl CheckResult {
    /// Sets [`CheckResult::hint`] from the catalogue when the verdict is FAIL or WARN.
    pub fn with_hint(mut self) -> Self {
        self.hint = matches!(self.verdict, Verdict::Fail | Verdict::Warn)
            .then(|| crate::catalogue::hint(&self.id).map(str::to_string))
            .flatten();
        self
    }
}

impl RunResults {
    /// Records in [`RunResults::expected_failures`] which entries of the expected-failures
    /// file failed as expected on `today`, which expired, which are stale and which name
    /// checks this run does not report; marks the expected FAILs (`expected: true`) and
    /// counts them in the summary.
    pub fn apply_expected(
        &mut self,
        entries: &[crate::expected::Entry],
        today: crate::expected::Date,
    ) {
        let checks = &self.checks;
        let outcomes = crate::expected::outcomes(
            entries,
            today,
            |id| checks.iter().find(|c| c.id == id).map(|c| c.verdict),
            |id| {
                checks
                    .iter()
                    .any(|c| c.id == id && c.reason == crate::oracle::INTERRUPTED)
            },
        );
        for c in &mut self.checks {
            c.expected = outcomes
                .iter()
                .any(|e| e.id == c.id && e.status == ExpectedStatus::Expected);
        }
        self.summary = Summary::of(&self.checks);
        self.expected_failures = outcomes;
    }
}
