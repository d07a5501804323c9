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

/// The keys in `dir`, made by `keys generate`.
fn generate_keys(dir: &Path) {
    let out = common::run_with_timeout(
        ["keys", "generate", "--dir", dir.to_str().expect("utf-8")],
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// `idp serve` on HTTPS with its CA kept in `ca_dir` and its control token in `token`.
fn idp_serve(
    dir: &Path,
    name: &str,
    keys: &Path,
    ca_dir: &Path,
    idp: &str,
    control: &str,
    token: &Path,
) -> Served {
    let mut served = Served::start(
        dir,
        name,
        &[
            "idp",
            "serve",
            "--keys",
            keys.to_str().expect("utf-8"),
            "--bind",
            idp,
            "--idp-tls",
            "--idp-ca-out",
            dir.join(format!("{name}-ca.pem")).to_str().expect("utf-8"),
            "--idp-ca-dir",
            ca_dir.to_str().expect("utf-8"),
            "--control-bind",
            control,
            "--control-token-file",
            token.to_str().expect("utf-8"),
        ],
        &[],
    );
    let out = served.wait_for("for run --target", Duration::from_secs(60));
    assert!(out.contains("bearer token: "), "{out}");
    served
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// `reference serve` trusting the running IdP at `idp_url` (its CA in `ca`), printing a
/// target.yaml that names the IdP's control API; returns the server and the file.
fn reference_for(
    dir: &Path,
    name: &str,
    idp_url: &str,
    ca: &Path,
    control: &str,
    token: &Path,
    defect: Option<&str>,
) -> (Served, PathBuf) {
    let ras = addr();
    let mut args = vec![
        "reference".to_string(),
        "serve".into(),
        "--bind".into(),
        ras,
        "--idp-url".into(),
        idp_url.into(),
        "--idp-ca".into(),
        ca.display().to_string(),
        "--idp-control-url".into(),
        format!("http://{control}"),
        "--idp-control-token-file".into(),
        token.display().to_string(),
    ];
    if let Some(d) = defect {
        args.extend(["--defect".into(), d.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut served = Served::start(dir, name, &args, &SECRETS);
    let yaml = served.wait_for("idp:", Duration::from_secs(60));
    assert!(yaml.contains("control: { url: "), "{yaml}");
    let target = dir.join(format!("{name}.yaml"));
    std::fs::write(&target, &yaml).expect("write target");
    (served, target)
}

#[test]
fn run_uses_a_running_idp_through_its_control_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let keys = dir.join("keys");
    generate_keys(&keys);
    let (idp, control) = (addr(), addr());
    let ca_dir = dir.join("ca");
    let token = dir.join("control.token");

    // The CA is made on the first start and kept: a restarted IdP is trusted as before.
    let first = idp_serve(dir, "idp1", &keys, &ca_dir, &idp, &control, &token);
    let ca = std::fs::read_to_string(ca_dir.join("ca.pem")).expect("ca.pem");
    #[cfg(unix)]
    {
        assert_eq!(mode(&ca_dir.join("ca-key.pem")), 0o600);
        assert_eq!(mode(&token), 0o600);
    }
    drop(first);
    let _idp = idp_serve(dir, "idp2", &keys, &ca_dir, &idp, &control, &token);
    assert_eq!(
        std::fs::read_to_string(ca_dir.join("ca.pem")).expect("ca.pem"),
        ca,
        "the CA changed across starts"
    );

    let idp_url = format!("https://{idp}");
    let (_ras, target) = reference_for(
        dir,
        "reference",
        &idp_url,
        &ca_dir.join("ca.pem"),
        &control,
        &token,
        None,
    );
    let keys_arg = keys.to_str().expect("utf-8");
    // The checks that set IdP conditions (rotation, removal, JWKS faults, an enc key) and
    // watch its log, twice: the IdP outlives a run.
    for round in ["r1", "r2"] {
        let reports = dir.join(round);
        let (code, out, err) = run_target(
            &target,
            &reports,
            &["--keys", keys_arg, "--filter", "JAG-SIG-1*"],
        );
        assert_eq!(code, Some(0), "{round}: {out}\n{err}");
        let results = common::read_results(&reports);
        for id in ["JAG-SIG-13", "JAG-SIG-14", "JAG-SIG-16", "JAG-SIG-17"] {
            let c = results
                .checks
                .iter()
                .find(|c| c.id == id)
                .unwrap_or_else(|| panic!("{id} not run"));
            assert!(
                matches!(c.verdict, Verdict::Pass | Verdict::Info),
                "{round} {id}: {} {}",
                c.verdict,
                c.reason
            );
        }
        assert!(
            results.checks.iter().all(|c| c.verdict != Verdict::Skip),
            "{round}: a SKIP\n{out}"
        );
    }

    // The JWKS fault reaches the running IdP: a RAS that fails open on it is caught.
    let (_bad, bad_target) = reference_for(
        dir,
        "fail-open",
        &idp_url,
        &ca_dir.join("ca.pem"),
        &control,
        &token,
        Some("fail-open-on-jwks-error"),
    );
    let reports = dir.join("bad");
    let (code, out, err) = run_target(
        &bad_target,
        &reports,
        &["--keys", keys_arg, "--filter", "JAG-SIG-16"],
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    let results = common::read_results(&reports);
    let sig16 = results
        .checks
        .iter()
        .find(|c| c.id == "JAG-SIG-16")
        .expect("JAG-SIG-16");
    assert_eq!(sig16.verdict, Verdict::Fail, "{}", sig16.reason);

    // A wrong token is refused (401) and the run says so, exit 3.
    let wrong = dir.join("wrong.token");
    std::fs::write(&wrong, "not-the-token").expect("write");
    let yaml = std::fs::read_to_string(&target)
        .expect("target")
        .replace(&token.display().to_string(), &wrong.display().to_string());
    let wrong_target = dir.join("wrong.yaml");
    std::fs::write(&wrong_target, yaml).expect("write");
    let (code, out, err) = run_target(&wrong_target, &dir.join("wrong"), &["--keys", keys_arg]);
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(err.contains("refused the token (HTTP 401)"), "{err}");

    // Other keys than the running IdP's: the run says so before any check, exit 3.
    let other = dir.join("other-keys");
    generate_keys(&other);
    let (code, out, err) = run_target(
        &target,
        &dir.join("other"),
        &["--keys", other.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(3), "{out}\n{err}");
    assert!(err.contains("other keys"), "{err}");
}

#[test]
fn idp_control_in_the_target_file_is_checked_with_its_position() {
    use xaa_conform::target::TargetFile;
    let tmp = tempfile::tempdir().expect("tmp");
    let origin = tmp.path().join("target.yaml");
    let origin = origin.to_str().expect("utf-8");
    let file = |control: &str| {
        format!(
            "token_endpoint: http://127.0.0.1:1/token\nissuer: http://127.0.0.1:1\n\
             client: {{ id: c1, secret: s }}\nsubject: u1\nidp:\n  control:\n{control}"
        )
    };
    let error = |control: &str| {
        let t = TargetFile::parse(origin, &file(control)).expect("parses");
        t.idp_control(origin).expect_err("refused").to_string()
    };
    let e = error("    url: http://192.0.2.1:7401\n    token_file: t\n");
    assert!(e.contains(&format!("{origin}:7:")), "{e}");
    assert!(e.contains("not on loopback"), "{e}");
    let e = error("    url: http://127.0.0.1:7401\n    token_file: missing.token\n");
    assert!(e.contains(&format!("{origin}:8:")), "{e}");
    assert!(e.contains("missing.token"), "{e}");
    std::fs::write(tmp.path().join("t"), "secret-token\n").expect("write");
    let t = TargetFile::parse(
        origin,
        &file("    url: http://127.0.0.1:7401\n    token_file: t\n"),
    )
    .expect("parses");
    let (url, token) = t.idp_control(origin).expect("valid").expect("named");
    assert_eq!(url, "http://127.0.0.1:7401");
    assert_eq!(token.expose(), "secret-token");
    let unknown = TargetFile::parse(
        origin,
        &file("    url: http://127.0.0.1:7401\n    token_file: t\n    tokn: x\n"),
    );
    assert!(
        unknown.is_err(),
        "an unknown member of idp.control is refused"
    );
}

#[test]
fn idp_serve_refuses_a_control_api_off_loopback() {
    let out = common::run_with_timeout(
        [
            "idp",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--control-bind",
            "0.0.0.0:0",
        ],
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("loopback"), "{err}");
}
