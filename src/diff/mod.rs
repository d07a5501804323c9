//! `xaa-conform diff OLD NEW`: what changed between two runs, for gating a release against a
//! baseline.
//!
//! Pure: [`parse`] reads the text of a `results.json` or a `load.json` (the kind is found from
//! the content), [`compare`] turns two parsed reports of the same kind into a typed [`Diff`]
//! ([`results`] for verdict changes per check, [`load`] for figures against a tolerance), and
//! [`render`] writes it as a table, JSON or GitHub-flavoured markdown. Reading the files and
//! printing are the command line's (`cli::diff`).

pub mod load;
pub mod render;
pub mod results;

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::load::report::{LOAD_SCHEMA_VERSION, LoadReport};
use crate::report::model::{RESULTS_SCHEMA_VERSION, RunResults};

pub use load::{LoadDiff, Tolerance};
pub use results::ResultsDiff;

/// Version of the `diff --format json` layout; bumped on any incompatible change.
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// Exit code of a results diff with a new FAIL or a new ERROR.
pub const EXIT_REGRESSED: u8 = 1;
/// Exit code of a load diff with a figure worse than the tolerance (like a breached threshold).
pub const EXIT_LOAD_REGRESSED: u8 = 4;
/// Exit code of bad input: a missing or unreadable file, not a report, mixed kinds.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Which report a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `results.json` of `xaa-conform run`.
    Results,
    /// `load.json` of `xaa-conform load`.
    Load,
}

impl Kind {
    /// The file name the kind is written under.
    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Results => "results.json",
            Kind::Load => "load.json",
        }
    }

    /// The layout version this tool reads for the kind.
    fn schema_version(self) -> u32 {
        match self {
            Kind::Results => RESULTS_SCHEMA_VERSION,
            Kind::Load => LOAD_SCHEMA_VERSION,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// A parsed report, of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A `results.json`.
    Results(Box<RunResults>),
    /// A `load.json`.
    Load(Box<LoadReport>),
}

impl Report {
    /// The kind of the report.
    pub fn kind(&self) -> Kind {
        match self {
            Report::Results(_) => Kind::Results,
            Report::Load(_) => Kind::Load,
        }
    }
}

/// One side of a diff: the report and the file it came from (named in the output and in
/// every error).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The file as given on the command line.
    pub origin: String,
    /// Its content.
    pub report: Report,
}

/// Why two files cannot be compared; each names the file at fault (exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {message}")]
    Read {
        /// The file.
        origin: String,
        /// The I/O error.
        message: String,
    },
    /// The file is not JSON, or not the report its content says it is.
    #[error("{origin}:{line}:{column}: {message}")]
    Json {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The JSON is neither a results.json nor a load.json.
    #[error(
        "{origin}: not a results.json (no `checks` with verdicts) nor a load.json \
         (no `histograms` or `latency_us`)"
    )]
    UnknownKind {
        /// The file.
        origin: String,
    },
    /// The report has another layout version than this tool reads.
    #[error(
        "{origin}: {kind} schema_version {found}, but this xaa-conform reads version {expected}; \
         compare reports written by the same layout version"
    )]
    SchemaVersion {
        /// The file.
        origin: String,
        /// Its kind.
        kind: Kind,
        /// Its version (`None`: no `schema_version` member).
        found: Version,
        /// The version this tool reads.
        expected: u32,
    },
    /// A check ID appears twice in one results.json.
    #[error("{origin}: check `{id}` appears more than once in `checks`")]
    DuplicateCheck {
        /// The file.
        origin: String,
        /// The repeated ID.
        id: String,
    },
    /// The two files are not of the same kind.
    #[error(
        "{old} is a {old_kind} but {new} is a {new_kind}: compare two results.json or two \
         load.json files"
    )]
    Mixed {
        /// The old file.
        old: String,
        /// Its kind.
        old_kind: Kind,
        /// The new file.
        new: String,
        /// Its kind.
        new_kind: Kind,
    },
}

/// A `schema_version` as found in a file, possibly absent or not a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub Option<String>);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => f.write_str(v),
            None => f.write_str("missing"),
        }
    }
}

/// `e` as a [`DiffError::Json`] of `origin`, with serde_json's position in front.
fn json_error(origin: &str, e: &serde_json::Error) -> DiffError {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    DiffError::Json {
        origin: origin.to_string(),
        line: e.line().max(1),
        column: e.column().max(1),
        message,
    }
}

/// The kind of a report from its content: a load.json has `histograms` or `latency_us`; a
/// results.json has `checks` whose entries carry a `verdict` (load.json has `checks` too, so
/// it is recognised first).
pub fn detect(value: &Value) -> Option<Kind> {
    let obj = value.as_object()?;
    if obj.contains_key("histograms") || obj.contains_key("latency_us") {
        return Some(Kind::Load);
    }
    let checks = obj.get("checks")?.as_array()?;
    let all_verdicts = checks
        .iter()
        .all(|c| c.as_object().is_some_and(|c| c.contains_key("verdict")));
    all_verdicts.then_some(Kind::Results)
}

/// Parses the text of a results.json or load.json read from `origin`: not JSON, neither kind,
/// another `schema_version`, or a member of the wrong form is an error naming the file (and
/// the position, when there is one).
pub fn parse(origin: &str, text: &str) -> Result<Input, DiffError> {
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
    let kind = detect(&value).ok_or_else(|| DiffError::UnknownKind {
        origin: origin.to_string(),
    })?;
    let found = value.get("schema_version");
    if found.and_then(Value::as_u64) != Some(u64::from(kind.schema_version())) {
        return Err(DiffError::SchemaVersion {
            origin: origin.to_string(),
            kind,
            found: Version(found.map(Value::to_string)),
            expected: kind.schema_version(),
        });
    }
    let report = match kind {
        Kind::Results => {
            let r: RunResults = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
            let mut seen = BTreeSet::new();
            if let Some(dup) = r.checks.iter().find(|c| !seen.insert(c.id.as_str())) {
                return Err(DiffError::DuplicateCheck {
                    origin: origin.to_string(),
                    id: dup.id.clone(),
                });
            }
            Report::Results(Box::new(r))
        }
        Kind::Load => Report::Load(Box::new(
            serde_json::from_str(text).map_err(|e| json_error(origin, &e))?,
        )),
    };
    Ok(Input {
        origin: origin.to_string(),
        report,
    })
}

/// What changed from one run to the next: the `diff --format json` document, tagged by
/// `kind` (`results` or `load`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Diff {
    /// Verdict changes between two results.json files.
    Results(ResultsDiff),
    /// Figure changes between two load.json files.
    Load(LoadDiff),
}

impl Diff {
    /// Whether something regressed: a new FAIL or ERROR, or a figure worse than the tolerance.
    pub fn regressed(&self) -> bool {
        match self {
            Diff::Results(d) => d.regressed,
            Diff::Load(d) => d.regressed,
        }
    }

    /// The exit code: 1 for a results regression, 4 for a load regression, else 0.
    pub fn exit_code(&self) -> u8 {
        match self {
            Diff::Results(d) => d.exit_code,
            Diff::Load(d) => d.exit_code,
        }
    }
}

/// Compares `old` with `new`; both must be of the same kind. `tolerance` applies to load
/// reports only.
pub fn compare(old: &Input, new: &Input, tolerance: Tolerance) -> Result<Diff, DiffError> {
    match (&old.report, &new.report) {
        (Report::Results(a), Report::Results(b)) => {
            Ok(Diff::Results(results::diff(&old.origin, a, &new.origin, b)))
        }
        (Report::Load(a), Report::Load(b)) => Ok(Diff::Load(load::diff(
            &old.origin,
            a,
            &new.origin,
            b,
            tolerance,
        ))),
        _ => Err(DiffError::Mixed {
            old: old.origin.clone(),
            old_kind: old.report.kind(),
            new: new.origin.clone(),
            new_kind: new.report.kind(),
        }),
    }
}

/// `v` with at most `digits` decimals, trailing zeros removed (and no `-0`): how the
/// table, the markdown and [`Tolerance`] write a figure.
pub(crate) use crate::load::figures::trim;

/// The JSON Schema (draft 2020-12, generated by schemars) of [`Diff`], i.e. of
/// `diff --format json` (`xaa-conform schema diff`).
pub fn diff_schema() -> Value {
    schemars::schema_for!(Diff).to_value()
}
