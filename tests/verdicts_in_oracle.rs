//! Verdicts are built in the oracle alone: code under `src/runner/`, `src/load/` and
//! `src/fuzz/` gathers observations and has `xaa_conform::oracle` judge them. This test reads
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

/// Uses that remain, per file. Load and fuzz judge through the oracle: next step. Lower a
/// number (or drop the row) when uses go; never raise one or add a row.
const ALLOWED: &[(&str, usize)] = &[
    ("src/cli/load.rs", 3),
    ("src/load/html.rs", 4),
    ("src/load/lane.rs", 10),
    ("src/load/limit.rs", 3),
    ("src/load/race.rs", 10),
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
/// (a level turned into a verdict).
fn uses(dir: &str) -> BTreeMap<String, (usize, usize)> {
    let mut files = Vec::new();
    rust_files(Path::new(dir), &mut files);
    assert!(!files.is_empty(), "no sources under {dir}");
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let verdicts = VERDICTS.iter().map(|v| text.matches(v).count()).sum();
            let violations = text.matches(".violation()").count();
            let name = path.to_string_lossy().replace('\\', "/");
            (name, (verdicts, violations))
        })
        .collect()
}

#[test]
fn the_runner_builds_no_verdict() {
    let found: Vec<String> = uses("src/runner")
        .into_iter()
        .filter(|(_, (verdicts, violations))| verdicts + violations > 0)
        .map(|(file, (verdicts, violations))| {
            format!("{file}: {verdicts} Verdict:: uses, {violations} .violation() calls")
        })
        .collect();
    assert!(
        found.is_empty(),
        "the runner conducts, the oracle judges: move these into src/oracle/: {found:?}"
    );
}

#[test]
fn load_and_fuzz_build_no_verdict_beyond_their_allowance() {
    let allowed: BTreeMap<&str, usize> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for dir in ["src/load", "src/fuzz", "src/cli"] {
        for (file, (count, _)) in uses(dir) {
            let allowance = allowed.get(file.as_str()).copied().unwrap_or(0);
            if count > allowance {
                problems.push(format!(
                    "{file}: {count} Verdict:: uses, {allowance} allowed: judge in the oracle"
                ));
            } else if count < allowance {
                problems.push(format!(
                    "{file}: {count} Verdict:: uses, {allowance} allowed: lower its allowance \
                     in tests/verdicts_in_oracle.rs to {count}"
                ));
            }
        }
    }
    for (file, _) in ALLOWED {
        if !Path::new(file).exists() {
            problems.push(format!("{file} is gone: drop its allowance"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
