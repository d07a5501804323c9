//! The same behaviour gets the same verdict from `run` and from `load` under one profile:
//! for every check that both commands judge (the conformance lane's probes and the invalid
//! kinds of mixed traffic, reported by `load` as `ID@load`), against a reference that allows
//! a second use of an ID-JAG and one that enforces single use, under the generic and the MCP
//! profile. The load is short and slow (a quiet server), so a server that behaves the same
//! alone and under load must get the same verdict from both.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{command, free_port, output_with_timeout};
use serde_json::Value;
use xaa_conform::fixture::Fixture;
use xaa_conform::reference::{self, ReferenceOptions, ReferenceRas, ReferenceVariant, SecretsIn};

/// `(run's verdict, load's verdict)` per load check ID.
type Verdicts = BTreeMap<&'static str, (String, String)>;
/// Both commands' reasons per load check ID.
type Reasons = BTreeMap<&'static str, String>;

/// The checks `load` judges that `run` judges too: `(run's ID, load's ID)`.
const BOTH: &[(&str, &str)] = &[
    ("JAG-JTI-01", "JAG-JTI-01@load"),
    ("JAG-AUD-02", "JAG-AUD-02@load"),
    ("JAG-TIME-02", "JAG-TIME-02@load"),
    ("JAG-SIG-03", "JAG-SIG-03@load"),
    ("LOAD-02", "LOAD-02"),
];

/// Starts the reference (as `variant`, if any), trusting the fake IdP at `idp_bind`.
async fn start(variant: Option<ReferenceVariant>, idp_bind: &str) -> (ReferenceRas, Fixture) {
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let options = ReferenceOptions {
        variant,
        ..Default::default()
    };
    ReferenceRas::start("127.0.0.1:0", options, |base| {
        reference::embedded_fixture(base, &issuers, Duration::from_secs(10))
    })
    .await
    .expect("reference")
}

/// Runs the binary with `args` and a deadline; returns the exit code and its output.
fn xaa(args: &[&str]) -> (i32, String) {
    let mut cmd = command();
    cmd.args(args);
    let out = output_with_timeout(cmd, Duration::from_secs(120));
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn json(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// `run`'s verdict of each check of [`BOTH`] and `load`'s of its counterpart, against the
/// server described by `target` under `profile`.
/// Also the reasons of both, for the messages.
fn verdicts(dir: &Path, target: &Path, profile: &str) -> (Verdicts, Reasons) {
    // One key set for every command: the RAS caches the fake issuers' JWKS.
    let keys = dir.join("keys");
    let (target, keys) = (
        target.to_str().expect("utf-8"),
        keys.to_str().expect("utf-8"),
    );
    let (code, text) = xaa(&["keys", "generate", "--dir", keys]);
    assert_eq!(code, 0, "{text}");
    let mut out = BTreeMap::new();
    let mut reasons = BTreeMap::new();
    for (run_id, load_id) in BOTH {
        let report = dir.join(format!("run-{run_id}"));
        let (_, text) = xaa(&[
            "run",
            "--target",
            target,
            "--profile",
            profile,
            "--keys",
            keys,
            "--filter",
            run_id,
            "--report-dir",
            report.to_str().expect("utf-8"),
        ]);
        let results = json(&report.join("results.json"));
        let check = results["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == *run_id))
            .unwrap_or_else(|| panic!("{run_id} not in results.json: {text}"));
        let verdict = check["verdict"].as_str().unwrap_or("").to_string();
        let preflight = results["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "PREFLIGHT"))
            .map(|c| format!(" (preflight: {})", c["reason"]))
            .unwrap_or_default();
        reasons.insert(*load_id, format!("run: {}{preflight}", check["reason"]));
        out.insert(*load_id, (verdict, String::new()));
    }
    let report = dir.join("load");
    let (_, text) = xaa(&[
        "load",
        "--target",
        target,
        "--profile",
        profile,
        "--keys",
        keys,
        "--rate",
        "10",
        "--duration",
        "3s",
        "--lane-rate",
        "6",
        "--race",
        "10",
        "--invalid-share",
        "0.3",
        "--report-dir",
        report.to_str().expect("utf-8"),
    ]);
    let load = json(&report.join("load.json"));
    for (_, load_id) in BOTH {
        let check = load["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == *load_id))
            .unwrap_or_else(|| panic!("{load_id} not in load.json: {text}"));
        let verdict = check["verdict"].as_str().unwrap_or("").to_string();
        if let Some(e) = out.get_mut(load_id) {
            e.1 = verdict;
        }
        if let Some(r) = reasons.get_mut(load_id) {
            r.push_str(&format!("; load: {}", check["reason"]));
        }
    }
    (out, reasons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_load_give_the_same_verdicts() {
    let mut problems = Vec::new();
    for variant in [None, Some(ReferenceVariant::SingleUseJti)] {
        for profile in ["id-jag-04", "mcp-ema"] {
            let idp_bind = format!("127.0.0.1:{}", free_port());
            let (ras, fixture) = start(variant, &idp_bind).await;
            let dir = tempfile::tempdir().expect("tmp");
            let target = dir.path().join("target.yaml");
            let yaml = reference::target_yaml(&fixture, variant, &idp_bind, SecretsIn::Inline, "");
            std::fs::write(&target, yaml).expect("write target");
            let (dir_path, target_path) = (dir.path().to_path_buf(), target.clone());
            let p = profile.to_string();
            let (got, reasons) =
                tokio::task::spawn_blocking(move || verdicts(&dir_path, &target_path, &p))
                    .await
                    .expect("verdicts");
            ras.stop().await;
            let server = variant.map_or("reference", |v| v.name());
            for (id, (run, load)) in &got {
                if run != load {
                    problems.push(format!(
                        "{server} under {profile}: run gives {run}, load gives {id} {load} ({})",
                        reasons.get(id).cloned().unwrap_or_default()
                    ));
                }
            }
            // The comparison means something: the single-use server's refused re-submission
            // is a WARN under the generic profile in both.
            if variant.is_some() && profile == "id-jag-04" {
                assert_eq!(
                    got.get("JAG-JTI-01@load").map(|v| v.0.as_str()),
                    Some("WARN"),
                    "{got:?}"
                );
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
