//! The expected-failures file (`--expected-failures FILE`): known FAILs, each with a reason,
//! that do not fail the run. An entry whose check no longer fails is stale, and fails the run
//! itself, so the file cannot rot.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::input::{self, InputError};
use crate::report::model::{ExpectedFailure, ExpectedStatus, RunResults};
use crate::spec::Verdict;

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

/// Records in `results` which entries are expected FAILs and which are stale.
pub fn apply(results: &mut RunResults, entries: &[Entry]) {
    results.expected_failures = entries
        .iter()
        .map(|e| {
            let verdict = results
                .checks
                .iter()
                .find(|c| c.id == e.id)
                .map(|c| c.verdict);
            ExpectedFailure {
                id: e.id.clone(),
                reason: e.reason.clone(),
                status: if verdict == Some(Verdict::Fail) {
                    ExpectedStatus::Expected
                } else {
                    ExpectedStatus::Stale
                },
            }
        })
        .collect();
}
