//! `xaa-conform diff OLD NEW`: compares two results.json or two load.json files (a release
//! against its baseline) and exits 1 on a new FAIL or ERROR, 4 on a load regression, 2 when
//! an input is unusable. The comparison and its output are [`crate::diff`]'s; this reads the
//! files and prints.

use std::fs;
use std::path::{Path, PathBuf};

use crate::diff::render::{self, Format};
use crate::diff::{self, DiffError, EXIT_BAD_INPUT, Input, Tolerance};

/// `xaa-conform diff` options.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// The baseline: a results.json or load.json (or a report directory holding one).
    old: PathBuf,
    /// The run to compare with it, of the same kind.
    new: PathBuf,
    /// Output: an 80-column table, the JSON document (`xaa-conform schema diff`), or a
    /// GitHub-flavoured markdown table.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// load.json only: how far a latency may rise, or a throughput or rate limit fall, as a
    /// percentage of the old figure before it is a regression.
    #[arg(long, default_value = "10%", value_name = "PERCENT")]
    tolerance: Tolerance,
}

/// The report file `path` names: the file itself, or in a directory its results.json or
/// load.json (when it holds exactly one of them).
fn report_file(path: &Path) -> Result<PathBuf, DiffError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let found: Vec<PathBuf> = [diff::Kind::Results, diff::Kind::Load]
        .iter()
        .map(|k| path.join(k.file_name()))
        .filter(|p| p.is_file())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(DiffError::Read {
            origin: path.display().to_string(),
            message: "a directory with no results.json or load.json in it".into(),
        }),
        _ => Err(DiffError::Read {
            origin: path.display().to_string(),
            message: "a directory with both results.json and load.json: name the file".into(),
        }),
    }
}

/// Reads and parses one side.
fn read(path: &Path) -> Result<Input, DiffError> {
    let file = report_file(path)?;
    let origin = file.display().to_string();
    let text = fs::read_to_string(&file).map_err(|e| DiffError::Read {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    diff::parse(&origin, &text)
}

/// Compares the two files and prints the result; returns the exit code.
pub fn main(args: DiffArgs) -> u8 {
    let compared = read(&args.old).and_then(|old| {
        let new = read(&args.new)?;
        diff::compare(&old, &new, args.tolerance)
    });
    match compared {
        Ok(d) => {
            out!("{}", render::render(&d, args.format));
            d.exit_code()
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}
