//! Verdict changes between two `results.json` files, per check ID.
//!
//! Each check whose verdict differs (or that exists on one side only) gets one
//! [`ChangeKind`], by the first rule that applies to it:
//!
//! 1. `new_fail`: FAIL now, not FAIL before (a check added that FAILs included): a regression;
//! 2. `new_error`: ERROR now, not ERROR before (a check added with ERROR included): a regression;
//! 3. `gone`: in the old run only;
//! 4. `added`: in the new run only (PASS, WARN, INFO or SKIP);
//! 5. `fixed`: FAIL or ERROR before, PASS or INFO now;
//! 6. `new_warn`: WARN now, another verdict before;
//! 7. `other`: any other change (PASS→SKIP, SKIP→PASS, FAIL→SKIP, …).
//!
//! A SKIP is not a fix: a FAIL that became SKIP did not run, and is `other`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DIFF_SCHEMA_VERSION, EXIT_REGRESSED};
use crate::report::model::{CheckResult, ExpectedStatus, RunResults, Summary};
use crate::spec::Verdict;

/// How one check's verdict changed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// FAIL now, not before (or a new check that FAILs): a regression.
    NewFail,
    /// ERROR now, not before (or a new check with ERROR): a regression.
    NewError,
    /// FAIL or ERROR before, PASS or INFO now.
    Fixed,
    /// WARN now, another verdict before.
    NewWarn,
    /// Any other verdict change.
    Other,
    /// A check of the new run only (not FAIL nor ERROR).
    Added,
    /// A check of the old run only.
    Gone,
}

impl ChangeKind {
    /// Every kind, in report order.
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::NewFail,
        ChangeKind::NewError,
        ChangeKind::Fixed,
        ChangeKind::NewWarn,
        ChangeKind::Other,
        ChangeKind::Added,
        ChangeKind::Gone,
    ];

    /// The words the table and markdown use.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::NewFail => "new FAIL",
            ChangeKind::NewError => "new ERROR",
            ChangeKind::Fixed => "fixed",
            ChangeKind::NewWarn => "new WARN",
            ChangeKind::Other => "other",
            ChangeKind::Added => "added",
            ChangeKind::Gone => "gone",
        }
    }

    /// Whether the change fails the gate (exit 1): a new FAIL or a new ERROR.
    pub fn is_regression(self) -> bool {
        matches!(self, ChangeKind::NewFail | ChangeKind::NewError)
    }

    /// The kind of a check that was `old` (`None`: not in the old run) and is `new` (`None`:
    /// not in the new run); `None` when nothing changed.
    pub fn of(old: Option<Verdict>, new: Option<Verdict>) -> Option<ChangeKind> {
        use Verdict::*;
        if old == new {
            return None;
        }
        Some(match (old, new) {
            (_, Some(Fail)) => ChangeKind::NewFail,
            (_, Some(Error)) => ChangeKind::NewError,
            (_, None) => ChangeKind::Gone,
            (None, Some(_)) => ChangeKind::Added,
            (Some(Fail | Error), Some(Pass | Info)) => ChangeKind::Fixed,
            (Some(_), Some(Warn)) => ChangeKind::NewWarn,
            (Some(_), Some(_)) => ChangeKind::Other,
        })
    }
}

/// One check whose verdict changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The check ID.
    pub id: String,
    /// The check's title (from the new run, or the old one for a check gone).
    pub title: String,
    /// How the verdict changed.
    pub change: ChangeKind,
    /// The verdict in the old run (`null`: the check is new).
    pub old: Option<Verdict>,
    /// The verdict in the new run (`null`: the check is gone).
    pub new: Option<Verdict>,
    /// Why the check has its verdict now (the old run's reason for a check gone).
    pub reason: String,
    /// Whether the new run's expected-failures file lists this FAIL as known. A known new
    /// FAIL still counts as a regression: the baseline did not fail it.
    #[serde(default)]
    pub known_failure: bool,
}

/// Counts of each kind of change, and of the checks whose verdict stayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeCounts {
    /// New FAILs.
    pub new_fail: usize,
    /// New ERRORs.
    pub new_error: usize,
    /// Fixed.
    pub fixed: usize,
    /// Newly WARN.
    pub new_warn: usize,
    /// Other verdict changes.
    pub other: usize,
    /// Checks added.
    pub added: usize,
    /// Checks gone.
    pub gone: usize,
    /// Checks of both runs with the same verdict.
    pub unchanged: usize,
}

impl ChangeCounts {
    /// The count of `kind`.
    pub fn get(&self, kind: ChangeKind) -> usize {
        match kind {
            ChangeKind::NewFail => self.new_fail,
            ChangeKind::NewError => self.new_error,
            ChangeKind::Fixed => self.fixed,
            ChangeKind::NewWarn => self.new_warn,
            ChangeKind::Other => self.other,
            ChangeKind::Added => self.added,
            ChangeKind::Gone => self.gone,
        }
    }

    fn bump(&mut self, kind: ChangeKind) {
        *match kind {
            ChangeKind::NewFail => &mut self.new_fail,
            ChangeKind::NewError => &mut self.new_error,
            ChangeKind::Fixed => &mut self.fixed,
            ChangeKind::NewWarn => &mut self.new_warn,
            ChangeKind::Other => &mut self.other,
            ChangeKind::Added => &mut self.added,
            ChangeKind::Gone => &mut self.gone,
        } += 1;
    }
}

/// What a results diff says about one of its two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSide {
    /// The file, as given on the command line.
    pub file: String,
    /// The xaa-conform version that wrote it.
    pub tool_version: String,
    /// The expectation profile of the run.
    pub profile: String,
    /// Start time of the run, RFC 3339 UTC.
    pub started_at: String,
    /// What was tested (`reference`, or the target file).
    pub target: String,
    /// Checks in the run.
    pub checks: usize,
    /// The run's verdict counts.
    pub summary: Summary,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
}

impl RunSide {
    fn of(file: &str, r: &RunResults) -> RunSide {
        RunSide {
            file: file.to_string(),
            tool_version: r.tool_version.clone(),
            profile: r.profile.clone(),
            started_at: r.started_at.clone(),
            target: r.target.kind.clone(),
            checks: r.checks.len(),
            summary: r.summary.clone(),
            interrupted: r.interrupted,
        }
    }
}

/// The verdict changes between two results.json files (`"kind": "results"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResultsDiff {
    /// Layout version of this document ([`DIFF_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The baseline run.
    pub old: RunSide,
    /// The run compared with it.
    pub new: RunSide,
    /// Whether a check newly FAILs or newly has ERROR.
    pub regressed: bool,
    /// The exit code of `diff`: 1 when regressed, else 0.
    pub exit_code: u8,
    /// How many checks changed in each way.
    pub counts: ChangeCounts,
    /// Every check whose verdict changed, grouped by kind in the order of [`ChangeKind`],
    /// within a kind in the new run's order (checks gone in the old run's order).
    pub changes: Vec<Change>,
    /// What a reader should know about the comparison (different profiles or targets, an
    /// interrupted run).
    pub notes: Vec<String>,
}

/// The verdict changes from `old` (read from `old_file`) to `new`.
pub fn diff(old_file: &str, old: &RunResults, new_file: &str, new: &RunResults) -> ResultsDiff {
    let before: BTreeMap<&str, &CheckResult> =
        old.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let after: BTreeMap<&str, &CheckResult> =
        new.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let known = |id: &str| {
        new.expected_failures
            .iter()
            .any(|e| e.id == id && e.status == ExpectedStatus::Expected)
    };
    let mut counts = ChangeCounts::default();
    let mut changes = Vec::new();
    for c in &new.checks {
        let was = before.get(c.id.as_str()).map(|o| o.verdict);
        match ChangeKind::of(was, Some(c.verdict)) {
            Some(kind) => changes.push(Change {
                id: c.id.clone(),
                title: c.title.clone(),
                change: kind,
                old: was,
                new: Some(c.verdict),
                reason: c.reason.clone(),
                known_failure: c.verdict == Verdict::Fail && known(&c.id),
            }),
            None => counts.unchanged += 1,
        }
    }
    for c in old
        .checks
        .iter()
        .filter(|c| !after.contains_key(c.id.as_str()))
    {
        changes.push(Change {
            id: c.id.clone(),
            title: c.title.clone(),
            change: ChangeKind::Gone,
            old: Some(c.verdict),
            new: None,
            reason: c.reason.clone(),
            known_failure: false,
        });
    }
    // Stable: the order within a kind is kept.
    changes.sort_by_key(|c| c.change);
    for c in &changes {
        counts.bump(c.change);
    }
    let regressed = changes.iter().any(|c| c.change.is_regression());
    ResultsDiff {
        schema_version: DIFF_SCHEMA_VERSION,
        old: RunSide::of(old_file, old),
        new: RunSide::of(new_file, new),
        regressed,
        exit_code: if regressed { EXIT_REGRESSED } else { 0 },
        counts,
        notes: notes(old_file, old, new_file, new, &changes),
        changes,
    }
}

/// What makes the two runs less comparable than they look.
fn notes(
    old_file: &str,
    old: &RunResults,
    new_file: &str,
    new: &RunResults,
    changes: &[Change],
) -> Vec<String> {
    let mut notes = Vec::new();
    let known: Vec<&str> = changes
        .iter()
        .filter(|c| c.change == ChangeKind::NewFail && c.known_failure)
        .map(|c| c.id.as_str())
        .collect();
    if !known.is_empty() {
        notes.push(format!(
            "{new_file} lists {} among its expected failures; a new FAIL counts against the \
             baseline all the same",
            known.join(", ")
        ));
    }
    if old.profile != new.profile {
        notes.push(format!(
            "the runs use different profiles ({} before, {} after)",
            old.profile, new.profile
        ));
    }
    if old.target.kind != new.target.kind || old.target.token_endpoint != new.target.token_endpoint
    {
        notes.push(format!(
            "the runs tested different targets ({} before, {} after)",
            old.target.kind, new.target.kind
        ));
    }
    for (file, r) in [(old_file, old), (new_file, new)] {
        if r.interrupted {
            notes.push(format!(
                "{file}: the run was interrupted (Ctrl-C); its unfinished checks are SKIP"
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn each_change_gets_the_first_rule_that_applies() {
        let cases = [
            (Some(Pass), Some(Fail), Some(ChangeKind::NewFail)),
            (Some(Error), Some(Fail), Some(ChangeKind::NewFail)),
            (None, Some(Fail), Some(ChangeKind::NewFail)),
            (Some(Fail), Some(Error), Some(ChangeKind::NewError)),
            (None, Some(Error), Some(ChangeKind::NewError)),
            (Some(Fail), Some(Pass), Some(ChangeKind::Fixed)),
            (Some(Error), Some(Info), Some(ChangeKind::Fixed)),
            (Some(Fail), Some(Warn), Some(ChangeKind::NewWarn)),
            (Some(Pass), Some(Warn), Some(ChangeKind::NewWarn)),
            (Some(Fail), Some(Skip), Some(ChangeKind::Other)),
            (Some(Pass), Some(Skip), Some(ChangeKind::Other)),
            (None, Some(Warn), Some(ChangeKind::Added)),
            (Some(Fail), None, Some(ChangeKind::Gone)),
            (Some(Pass), Some(Pass), None),
            (Some(Fail), Some(Fail), None),
        ];
        for (old, new, want) in cases {
            assert_eq!(ChangeKind::of(old, new), want, "{old:?} → {new:?}");
        }
    }
}
