//! Secrets stay secret: a run with recognisable client secrets and key files writes none of
//! them, in any encoding, to stdout, stderr (with debug logging) or any report. And the same
//! run repeated gives the same verdicts.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use base64::Engine;
use xaa_conform::fixture::Secret;
use xaa_conform::reference::{self, ReferenceRas};

const C1_SECRET: &str = "c1-SECRET-7f3a9e1d5b2c";
const C2_SECRET: &str = "c2-SECRET-+%:x-42aa";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Every text whose appearance in an output is a leak.
fn forbidden(keys_dir: &Path) -> Vec<String> {
    let mut out = vec![C1_SECRET.to_string(), C2_SECRET.to_string()];
    for (id, secret) in [("agent-c1", C1_SECRET), ("agent-c2", C2_SECRET)] {
        let form = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        out.push(form(secret));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form(id),
            form(secret)
        ));
        out.push(basic);
    }
    // Every line of every private key file (PEM bodies are base64 lines).
    for entry in std::fs::read_dir(keys_dir).expect("keys") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("key file");
        out.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_string),
        );
    }
    out
}

fn scan(label: &str, text: &str, forbidden: &[String]) {
    for f in forbidden {
        assert!(
            !text.contains(f.as_str()),
            "{label} contains a secret ({}…)",
            &f[..f.len().min(12)]
        );
    }
    // No private JWK member ("d" of RSA or EC keys) anywhere.
    assert!(
        !text.contains("\"d\":"),
        "{label} contains a private JWK member"
    );
}

fn verdicts(report_dir: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(report_dir.join("results.json")).expect("results");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["verdict"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_and_runs_repeat() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dir.path().join("keys");
    let status = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .args(["keys", "generate", "--dir"])
        .arg(&keys)
        .status()
        .expect("keys");
    assert!(status.success());

    let idp_bind = format!("127.0.0.1:{}", free_port());
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let (ras, f) = ReferenceRas::start("127.0.0.1:0", Default::default(), |base| {
        let mut f = reference::embedded_fixture(base, &issuers, std::time::Duration::from_secs(5));
        f.client.secret = Secret::new(C1_SECRET);
        if let Some(c2) = f.client2.as_mut() {
            c2.secret = Secret::new(C2_SECRET);
        }
        f
    })
    .await
    .expect("reference");
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "token_endpoint: {}\nissuer: {}\nclient: {{ id: agent-c1, secret: \"${{XAA_TEST_C1}}\" }}\n\
             client2: {{ id: agent-c2, secret: \"${{XAA_TEST_C2}}\" }}\nclient3: {{ id: agent-c3 }}\nsubject: u1\n\
             resource: {}\nresource2: {}\napi: {{ r1: {}, r2: {} }}\nscope: \"s.read s.write\"\n\
             idp: {{ bind: \"{idp_bind}\" }}\ntimeout: 5s\n",
            f.token_endpoint,
            f.ras_issuer,
            f.resource.as_deref().unwrap_or_default(),
            f.resource2.as_deref().unwrap_or_default(),
            f.api_r1.as_deref().unwrap_or_default(),
            f.api_r2.as_deref().unwrap_or_default(),
        ),
    )
    .expect("target");
    let forbidden = forbidden(&keys);

    let mut runs = Vec::new();
    for i in 0..3 {
        let reports = dir.path().join(format!("reports-{i}"));
        let out = tokio::task::spawn_blocking({
            let (target, keys, reports) = (target.clone(), keys.clone(), reports.clone());
            move || {
                Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
                    .env("XAA_TEST_C1", C1_SECRET)
                    .env("XAA_TEST_C2", C2_SECRET)
                    .env("XAA_LOG", "debug")
                    .env("NO_COLOR", "1")
                    .args(["run", "--target"])
                    .arg(&target)
                    .arg("--keys")
                    .arg(&keys)
                    .arg("--report-dir")
                    .arg(&reports)
                    .output()
                    .expect("run")
            }
        })
        .await
        .expect("join");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        scan("stdout", &String::from_utf8_lossy(&out.stdout), &forbidden);
        scan("stderr", &String::from_utf8_lossy(&out.stderr), &forbidden);
        for entry in std::fs::read_dir(&reports).expect("reports") {
            let path = entry.expect("entry").path();
            scan(
                &path.display().to_string(),
                &std::fs::read_to_string(&path).expect("report"),
                &forbidden,
            );
        }
        runs.push(verdicts(&reports));
    }
    ras.stop().await;
    // Repeatability: the same verdict for every check, every time.
    assert!(
        runs.windows(2).all(|w| w[0] == w[1]),
        "verdicts differ between runs"
    );
    assert!(runs[0].len() >= 120);
}
