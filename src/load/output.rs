//! The load report directory: `load.json` and `load.html`, written together.
//!
//! Sits above [`super::report`] (the JSON) and [`super::html`] (the page), which know nothing
//! of each other or of files.

use std::fs;
use std::path::{Path, PathBuf};

use super::html;
use super::report::{LOAD_HTML, LOAD_JSON, LoadReport, to_json};
use crate::report::{ReportError, write_file};

/// Writes `load.json` and `load.html` for `report` into `dir`, creating `dir` (and its
/// parents) if needed; returns the paths written, in that order.
pub fn write_reports(report: &LoadReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let json_path = dir.join(LOAD_JSON);
    let json = to_json(report).map_err(|source| ReportError::Json {
        path: json_path.clone(),
        source,
    })?;
    write_file(&json_path, &json)?;
    let html_path = dir.join(LOAD_HTML);
    write_file(&html_path, &html::to_html(report))?;
    Ok(vec![json_path, html_path])
}
