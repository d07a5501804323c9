//! The servers a user starts by hand, run against as a user would: `reference serve` prints a
//! target.yaml on which `run --target` runs the whole catalogue without a SKIP.
//!
//! Every server is a child process on loopback ports, killed when its guard drops (also when
//! an assertion fails), and every wait is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use xaa_conform::spec::Verdict;

/// A child process that is killed and reaped when dropped.
struct Served {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `xaa-conform ARGS…` with its output in files under `dir`.
    fn start(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Served {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let mut cmd = common::command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn");
        Served {
            child,
            stdout,
            stderr,
        }
    }

    /// Its stdout once it holds `marker`, within `limit`; panics with its stderr otherwise.
    fn wait_for(&mut self, marker: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if text.contains(marker) {
                // The rest of the block is written in the same breath; let it land.
                std::thread::sleep(Duration::from_millis(200));
                return std::fs::read_to_string(&self.stdout).unwrap_or_default();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server ended ({status}) before printing `{marker}`: {}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `{marker}` within {limit:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const SECRETS: [(&str, &str); 2] = [
    ("XAA_CLIENT_SECRET", "c1-secret"),
    ("XAA_CLIENT2_SECRET", "c2:+% secret"),
];

fn addr() -> String {
    format!("127.0.0.1:{}", common::free_port())
}

/// `run --target FILE EXTRA…` with the client secrets set; exit code, stdout and stderr.
fn run_target(target: &Path, reports: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = common::command();
    cmd.args([
        "run",
        "--target",
        target.to_str().expect("utf-8"),
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ])
    .args(extra);
    for (k, v) in SECRETS {
        cmd.env(k, v);
    }
    let out = common::output_with_timeout(cmd, Duration::from_secs(300));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn reference_serve_prints_a_target_file_that_runs_without_a_skip() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (ras, idp) = (addr(), addr());
    let mut served = Served::start(
        tmp.path(),
        "reference",
        &["reference", "serve", "--bind", &ras, "--idp-bind", &idp],
        &SECRETS,
    );
    let yaml = served.wait_for("idp:", Duration::from_secs(60));
    for key in ["client3:", "api:", "introspection:", "client2:", "whoami:"] {
        assert!(yaml.contains(key), "no {key} in\n{yaml}");
    }
    let target = tmp.path().join("target.yaml");
    std::fs::write(&target, &yaml).expect("write target");
    let reports = tmp.path().join("reports");
    let keys = tmp.path().join("keys");
    let keys = keys.to_str().expect("utf-8");
    let (code, out, err) = run_target(&target, &reports, &["--keys", keys]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let results = common::read_results(&reports);
    let skipped: Vec<&str> = results
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Skip)
        .map(|c| c.id.as_str())
        .collect();
    assert!(skipped.is_empty(), "SKIP: {skipped:?}\n{out}");
    assert!(results.checks.len() > 100, "{}", results.checks.len());
}
