//! `keys generate` keeps existing key files unless told to replace them and names the `kid`s
//! it wrote; a run without key files says once that its keys are new, one with them says
//! nothing about keys.

mod common;

use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn generate(dir: &Path, force: bool) -> std::process::Output {
    let mut args = vec!["keys", "generate", "--dir", dir.to_str().expect("utf-8")];
    if force {
        args.push("--force");
    }
    common::run_with_timeout(args, LIMIT)
}

#[test]
fn generate_refuses_to_overwrite_without_force_and_prints_kids() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("keys");
    let first = generate(&dir, false);
    let out = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "{out}");
    let trusted = std::fs::read(dir.join("idp-a-rs256.pem")).expect("written");
    assert!(out.contains("idp-a-rs256.pem (mode 0600) kid "), "{out}");
    // Six issuers' pairs, C3's key, the next pair, the enc key and the weak key.
    assert_eq!(out.matches(" kid ").count(), 17, "{out}");

    let again = generate(&dir, false);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("idp-a-rs256.pem"), "{err}");
    assert!(err.contains("client-c3-es256.pem"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("idp-a-rs256.pem")).expect("kept"),
        trusted,
        "the refused generate changed a key"
    );

    let forced = generate(&dir, true);
    assert_eq!(forced.status.code(), Some(0));
    assert_ne!(
        std::fs::read(dir.join("idp-a-rs256.pem")).expect("replaced"),
        trusted
    );
}

fn run_base(keys: &Path, reports: &Path) -> (Option<i32>, String) {
    let out = common::run_with_timeout(
        [
            "run",
            "--filter",
            "BASE-01",
            "--keys",
            keys.to_str().expect("utf-8"),
            "--report-dir",
            reports.to_str().expect("utf-8"),
        ],
        LIMIT,
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_run_without_key_files_says_once_its_keys_are_new() {
    let tmp = tempfile::tempdir().expect("tmp");
    let keys = tmp.path().join("keys");
    let (code, err) = run_base(&keys, &tmp.path().join("r1"));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches("new for this run").count(), 1, "{err}");
    assert!(err.contains("idp-a RS256 "), "{err}");
    assert!(err.contains("keys generate"), "{err}");

    assert_eq!(generate(&keys, false).status.code(), Some(0));
    let (code, err) = run_base(&keys, &tmp.path().join("r2"));
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("new for this run"), "{err}");
}
