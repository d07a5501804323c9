//! Verdicts are built in the oracle alone: code under `src/runner/`, `src/load/`, `src/fuzz/`
//! and `src/cli/` gathers observations and has `xaa_conform::oracle` judge them. This test reads
//! the sources and fails where a verdict is written outside the oracle.

use std::collections::BTreeMap;
use std::path::Path;

/// The verdict constructors.
const VERDICTS: &[&str] = &[
    "Verdict::Pass",
    "Verdict::Fail",
    "Verdict::Warn",
    "Verdict::Info",
    "Verdict::Skip",
    "Verdict::Error",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `Verdict::…` constructors written in each file under `dir`, and `.violation()` calls
/// (a level turned into a verdict); a file's unit tests (from `#[cfg(test)]` on) do not
/// count: their fixtures build verdicts to feed the code under test.
fn uses(dir: &str) -> BTreeMap<String, (usize, usize)> {
    let mut files = Vec::new();
    rust_files(Path::new(dir), &mut files);
    assert!(!files.is_empty(), "no sources under {dir}");
    files
        .into_iter()
        .map(|path| {
            let whole = std::fs::read_to_string(&path).unwrap_or_default();
            let text = whole.split("#[cfg(test)]").next().unwrap_or_default();
            let verdicts = VERDICTS.iter().map(|v| text.matches(v).count()).sum();
            let violations = text.matches(".violation()").count();
            let name = path.to_string_lossy().replace('\\', "/");
            (name, (verdicts, violations))
        })
        .collect()
}

/// The files under `dir` that build a verdict, with their counts.
fn builders(dir: &str) -> Vec<String> {
    uses(dir)
        .into_iter()
        .filter(|(_, (verdicts, violations))| verdicts + violations > 0)
        .map(|(file, (verdicts, violations))| {
            format!("{file}: {verdicts} Verdict:: uses, {violations} .violation() calls")
        })
        .collect()
}

#[test]
fn the_runner_builds_no_verdict() {
    let found = builders("src/runner");
    assert!(
        found.is_empty(),
        "the runner conducts, the oracle judges: move these into src/oracle/: {found:?}"
    );
}

/// `load` and `fuzz` (their phases and their command lines) gather observations; the
/// oracle's `load` and `fuzz` modules judge them.
#[test]
fn load_fuzz_and_the_command_line_build_no_verdict() {
    let found: Vec<String> = ["src/load", "src/fuzz", "src/cli"]
        .into_iter()
        .flat_map(builders)
        .collect();
    assert!(
        found.is_empty(),
        "load and fuzz measure, the oracle judges: move these into src/oracle/: {found:?}"
    );
}
