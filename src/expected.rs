//! The expected-failures file (`--expected-failures FILE`): known FAILs, each with a reason,
//! that do not fail the run. An entry whose check no longer fails is stale, and fails the run
//! itself, so the file cannot rot.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::input::{self, InputError};
use crate::spec::Verdict;

/// Whether an expected failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedStatus {
    /// The check FAILed, as the file says: it does not fail the run.
    Expected,
    /// The check no longer FAILs: the entry is stale and fails the run.
    Stale,
    /// The check did not finish (Ctrl-C): the entry is neither met nor stale.
    Unfinished,
}

/// An entry of the expected-failures file and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExpectedFailure {
    /// The check ID.
    pub id: String,
    /// The reason the file gives.
    pub reason: String,
    /// Whether it failed as expected.
    pub status: ExpectedStatus,
}

/// One entry of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The check ID that is known to FAIL.
    pub id: String,
    /// Why it fails, and what is being done about it.
    pub reason: String,
}

/// Reads the file (a YAML list of `{ id, reason }`) and checks that every ID is a check of
/// this run.
pub fn read(path: &Path, known_ids: &[&str]) -> Result<Vec<Entry>, InputError> {
    let origin = path.display().to_string();
    let text = input::read_text(path)?;
    let entries: Vec<Entry> = input::parse_yaml(&origin, &text)?;
    for e in &entries {
        if !known_ids.contains(&e.id.as_str()) {
            let offset = text.find(&e.id).unwrap_or(0);
            return Err(InputError::at_offset(
                &origin,
                &text,
                offset,
                format!(
                    "{} is not a check of this run; see `xaa-conform list`",
                    e.id
                ),
            ));
        }
        if e.reason.trim().is_empty() {
            return Err(InputError::file(
                &origin,
                format!("{}: the reason must not be empty", e.id),
            ));
        }
    }
    Ok(entries)
}

/// What became of each entry, given the verdict of each check of the run by ID (`None`: the
/// check did not run) and which checks Ctrl-C kept from finishing: an entry whose check FAILed
/// is expected, one whose check did not finish is unfinished, any other is stale.
pub fn outcomes(
    entries: &[Entry],
    verdict_of: impl Fn(&str) -> Option<Verdict>,
    unfinished: impl Fn(&str) -> bool,
) -> Vec<ExpectedFailure> {
    entries
        .iter()
        .map(|e| ExpectedFailure {
            id: e.id.clone(),
            reason: e.reason.clone(),
            status: if verdict_of(&e.id) == Some(Verdict::Fail) {
                ExpectedStatus::Expected
            } else if unfinished(&e.id) {
                ExpectedStatus::Unfinished
            } else {
                ExpectedStatus::Stale
            },
        })
        .collect()
}
