//! Reports of a run: terminal table, `results.json`, `junit.xml`, `report.html`.

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod terminal;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use model::RunResults;

/// File name of the JSON results inside a report directory.
pub const RESULTS_JSON: &str = "results.json";

/// File name of the JUnit XML report inside a report directory.
pub const JUNIT_XML: &str = "junit.xml";

/// Why the reports of a run could not be written; every variant names the path involved
/// so the user knows which file or directory to look at.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report directory could not be created.
    #[error("cannot create report directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A report file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// The results could not be serialized to JSON (not expected to happen for these types).
    #[error("cannot serialize results for {}: {source}", path.display())]
    Json {
        /// The file that was to be written.
        path: PathBuf,
        /// The serializer error.
        #[source]
        source: serde_json::Error,
    },
    /// The JUnit report could not be serialized (not expected to happen when writing to memory).
    #[error("cannot serialize JUnit report for {}: {source}", path.display())]
    Junit {
        /// The file that was to be written.
        path: PathBuf,
        /// The serializer error.
        #[source]
        source: quick_junit::SerializeError,
    },
}

/// Writes `results.json`, `junit.xml` and `report.html` for `results` into `dir`, creating
/// `dir` (and its parents) if needed, so one call leaves a complete report directory for CI
/// to pick up and for people to open.
///
/// Returns the paths written, in that order. Existing files of the same names are replaced.
pub fn write_reports(results: &RunResults, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;

    let json_path = dir.join(RESULTS_JSON);
    let mut json = json::try_to_json(results).map_err(|source| ReportError::Json {
        path: json_path.clone(),
        source,
    })?;
    json.push('\n');
    write_file(&json_path, &json)?;

    let junit_path = dir.join(JUNIT_XML);
    let xml = junit::try_to_junit(results).map_err(|source| ReportError::Junit {
        path: junit_path.clone(),
        source,
    })?;
    write_file(&junit_path, &xml)?;

    let html_path = dir.join(html::FILE_NAME);
    write_file(&html_path, &html::to_html(results))?;

    Ok(vec![json_path, junit_path, html_path])
}

/// Writes `contents` to `path`, mapping the error to [`ReportError::Write`].
pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), ReportError> {
    fs::write(path, contents).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}
