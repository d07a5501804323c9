//! The composite GitHub Action (`action.yml`): its `run:` steps, run here as GitHub runs them
//! (bash, `-eo pipefail`, the step's `env:` with `${{ … }}` filled in, `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files) with the built binary on PATH, against the embedded
//! reference. The install step (`cargo install`) and the upload (`uses:`) are GitHub's part
//! and left out.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// The action file, parsed.
fn action() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text = std::fs::read_to_string(&path).expect("action.yml");
    serde_saphyr::from_str(&text).expect("action.yml is YAML")
}

/// `text` with `${{ inputs.NAME }}` and `${{ steps.ID.outputs.NAME }}` filled in; any other
/// expression is left for the assertion below to catch.
fn fill(
    text: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, String>,
) -> String {
    let mut out = text.to_string();
    for (k, v) in inputs {
        out = out.replace(&format!("${{{{ inputs.{k} }}}}"), v);
    }
    for (k, v) in outputs {
        out = out.replace(&format!("${{{{ steps.{k} }}}}"), v);
    }
    out
}

/// Runs the action's shell steps with `given` inputs in `dir`; returns the exit code of each
/// step run, the job summary and the run step's outputs.
fn run_action(dir: &Path, given: &[(&str, &str)]) -> (Vec<(String, i32)>, String, String) {
    let action = action();
    let mut inputs: BTreeMap<String, String> = BTreeMap::new();
    for (name, spec) in action["inputs"].as_object().expect("inputs") {
        inputs.insert(
            name.clone(),
            spec["default"].as_str().unwrap_or_default().to_string(),
        );
    }
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "the action has no input {k}");
        inputs.insert((*k).to_string(), (*v).to_string());
    }
    inputs.insert(
        "github.action_path".into(),
        env!("CARGO_MANIFEST_DIR").into(),
    );
    let summary = dir.join("summary.md");
    let bin_dir = common::bin_path()
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    let mut codes = Vec::new();
    let mut run_outputs = String::new();
    for step in action["runs"]["steps"].as_array().expect("steps") {
        let name = step["name"].as_str().unwrap_or_default().to_string();
        if step.get("uses").is_some() || name == "Install xaa-conform" {
            continue;
        }
        assert_eq!(step["shell"], "bash", "{name}");
        let output_file = dir.join(format!("output-{}", codes.len()));
        std::fs::write(&output_file, "").expect("GITHUB_OUTPUT");
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
            .arg(step["run"].as_str().expect("run"))
            .current_dir(dir)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary);
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            let value = fill(v.as_str().unwrap_or_default(), &inputs, &outputs);
            assert!(!value.contains("${{"), "{name}: {k} left as {value}");
            cmd.env(k, value);
        }
        let out = common::output_with_timeout(cmd, Duration::from_secs(300));
        codes.push((name.clone(), out.status.code().unwrap_or(-1)));
        let written = std::fs::read_to_string(&output_file).unwrap_or_default();
        if let Some(id) = step["id"].as_str() {
            for line in written.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    outputs.insert(format!("{id}.outputs.{k}"), v.to_string());
                }
            }
            run_outputs.push_str(&written);
        }
    }
    let summary = std::fs::read_to_string(&summary).unwrap_or_default();
    (codes, summary, run_outputs)
}

#[test]
fn the_action_runs_the_catalogue_and_writes_the_job_summary_and_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let (codes, summary, outputs) = run_action(
        dir.path(),
        &[("filter", "JAG-AUD-*,BASE-01"), ("report-dir", "out")],
    );
    let names: Vec<&str> = codes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Run the catalogue", "Fail the job on a failing run"]
    );
    assert!(codes.iter().all(|(_, c)| *c == 0), "{codes:?}\n{summary}");
    assert_eq!(outputs.trim(), "exit-code=0");
    assert!(
        summary.starts_with("## xaa-conform: 9 checks: 9 PASS"),
        "{summary}"
    );
    assert!(summary.contains("| **all** | 9 |"), "{summary}");
    for file in ["results.json", "junit.xml", "report.html"] {
        assert!(dir.path().join("out").join(file).is_file(), "{file}");
    }
}

#[test]
fn a_failing_run_fails_the_job_after_its_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    // A filter that selects nothing is bad input: exit 2, and the last step fails with it.
    let (codes, _, outputs) = run_action(dir.path(), &[("filter", "NO-SUCH-CHECK-*")]);
    assert_eq!(outputs.trim(), "exit-code=2");
    assert_eq!(codes[0].1, 0, "the run step itself goes on: {codes:?}");
    assert_eq!(codes[1].1, 2, "{codes:?}");
}
