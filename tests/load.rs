//! `xaa-conform load` end to end, on loopback with short bounded runs: classes against the
//! embedded reference, mixed traffic, the rate limit found within tolerance with Retry-After,
//! the `rate-limit-off` defect caught, a breached threshold exiting 4, a closed port giving
//! error-class counts on time, and a stopped engine returning its partial figures.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use xaa_conform::fixture::{ClientAuthMethod, Secret};
use xaa_conform::jose::{Baseline, IssuerRole, KeyAlg, Keyring};
use xaa_conform::load::engine::{self, EngineConfig};
use xaa_conform::load::jag::{JagFactory, TokenForm};
use xaa_conform::load::schedule::Schedule;
use xaa_conform::load::stats::Class;

/// Runs the binary's `load` with `args` (plus `--report-dir dir`); returns the exit code,
/// stdout and the parsed load.json (Null when none was written).
fn load(dir: &Path, args: &[&str]) -> (i32, String, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .arg("load")
        .args(args)
        .arg("--report-dir")
        .arg(dir)
        .arg("--keys")
        .arg(dir.join("no-keys"))
        .output()
        .expect("run xaa-conform");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = std::fs::read_to_string(dir.join("load.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        format!("{stdout}\n--- stderr ---\n{stderr}"),
        json,
    )
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or(&Value::Null)
}

/// A short run against the embedded reference: every valid request accepted, exactly the
/// planned share of invalid ones refused, none accepted (LOAD-07 PASS), both reports written.
#[test]
fn short_run_classes_requests_against_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, r) = load(
        dir.path(),
        &[
            "--rate",
            "40",
            "--duration",
            "2s",
            "--invalid-share",
            "20%",
            "--race",
            "0",
            "--lane-rate",
            "0",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["generator"]["planned"], 80, "{out}");
    assert_eq!(r["generator"]["sent"], 80, "{out}");
    assert_eq!(r["classes"]["accepted"], 64, "{out}");
    assert_eq!(r["classes"]["rejected"], 16, "{out}");
    assert_eq!(r["classes"]["error"], 0, "{out}");
    assert!(
        r["latency_us"]["p50"].as_u64().is_some_and(|v| v > 0),
        "{out}"
    );
    assert!(r["latency_us"]["p99"].as_u64().is_some(), "{out}");
    assert_eq!(check(&r, "LOAD-07")["verdict"], "PASS", "{out}");
    assert!(dir.path().join("load.html").is_file());
    assert!(out.contains("accepted latency: p50"), "{out}");
}

/// With a reference rate limit of 20/s, --find-limit reports 20 ± 15 %, the 429s carry
/// Retry-After, waiting it out works, the limit recovers and is keyed on the client.
#[test]
fn find_limit_reports_the_reference_limit_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, r) = load(
        dir.path(),
        &[
            "--reference-rate-limit",
            "20",
            "--rate",
            "40",
            "--duration",
            "1s",
            "--find-limit",
            "--step",
            "2s",
            "--hold",
            "2s",
            "--race",
            "0",
            "--lane-rate",
            "0",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let rl = &r["rate_limit"];
    let measured = rl["measured_rps"].as_f64().unwrap_or(0.0);
    assert!(
        (17.0..=23.0).contains(&measured),
        "measured {measured}: {out}"
    );
    assert!(rl["retry_after_seen"].as_u64().unwrap_or(0) > 0, "{out}");
    assert_eq!(rl["retry_after_missing"], 0, "{out}");
    assert_eq!(rl["retry_after_honoured"], true, "{out}");
    assert_eq!(rl["recovered"], true, "{out}");
    assert_eq!(rl["key"], "client", "{out}");
    assert!(
        rl["statuses_above_limit"]["429"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    assert_eq!(check(&r, "LOAD-01")["verdict"], "PASS", "{out}");
    // The main phase at twice the limit saw 429s, classed apart from the accepted ones.
    assert!(
        r["classes"]["rate_limited"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    assert_eq!(r["classes"]["error"], 0, "{out}");
}

/// `rate-limit-off` makes the reference ignore its limit. Under the auth0 profile, which
/// names a 5/s limit, LOAD-01 is a WARN (a SHOULD); under the id-jag-04 profile a server without
/// a limit is INFO "no limit found". Neither fails the run.
#[test]
fn rate_limit_off_warns_under_auth0_only() {
    for (profile, verdict) in [("auth0", "WARN"), ("id-jag-04", "INFO")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out, r) = load(
            dir.path(),
            &[
                "--reference-rate-limit",
                "20",
                "--reference-defect",
                "rate-limit-off",
                "--profile",
                profile,
                "--rate",
                "40",
                "--duration",
                "1s",
                "--find-limit",
                "--step",
                "1s",
                "--race",
                "0",
                "--lane-rate",
                "0",
            ],
        );
        assert_eq!(code, 0, "{profile}: {out}");
        let c = check(&r, "LOAD-01");
        assert_eq!(c["verdict"], verdict, "{profile}: {out}");
        assert_eq!(c["level"], "SHOULD", "{profile}: {out}");
        let reason = c["reason"].as_str().unwrap_or("");
        assert!(reason.contains("no 429 up to 40"), "{profile}: {out}");
        if profile == "auth0" {
            assert!(reason.contains("names a limit of 5/s"), "{out}");
        } else {
            assert!(reason.starts_with("no limit found up to 40/s"), "{out}");
        }
        assert_eq!(r["classes"]["rate_limited"], 0, "{out}");
    }
}

/// A breached threshold exits 4 and says which and by how much; under mcp-ema the replay
/// race and the lane's replay probe hold (single use).
#[test]
fn breached_threshold_exits_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, r) = load(
        dir.path(),
        &[
            "--rate",
            "20",
            "--duration",
            "2s",
            "--lane-rate",
            "5",
            "--threshold",
            "p99<1us",
            "--threshold",
            "error_rate<1%",
            "--profile",
            "mcp-ema",
            "--race",
            "8",
        ],
    );
    assert_eq!(code, 4, "{out}");
    let t = r["thresholds"].as_array().expect("thresholds");
    assert_eq!(t.len(), 2, "{out}");
    assert_eq!(t[0]["passed"], false, "{out}");
    assert_eq!(t[1]["passed"], true, "{out}");
    assert!(out.contains("p99<1us") && out.contains("BREACHED"), "{out}");
    // Single use: no load request may collide with a probe's jti.
    assert_eq!(r["classes"]["accepted"], 40, "{out}");
    assert_eq!(r["classes"]["rejected"], 0, "{out}");
    assert_eq!(check(&r, "LOAD-02")["verdict"], "PASS", "{out}");
    assert_eq!(check(&r, "JAG-JTI-01@load")["verdict"], "PASS", "{out}");
}

/// Nothing listens: the preflight says so before any load, the run ends on time, exit 3,
/// and load.json names the diagnosis.
#[test]
fn closed_port_gives_errors_and_ends_on_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "token_endpoint: http://127.0.0.1:{port}/token\nissuer: http://127.0.0.1:{port}\n\
             client: {{ id: c1, secret: \"s\" }}\nsubject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\n"
        ),
    )
    .expect("write target");
    let started = Instant::now();
    let (code, out, r) = load(
        dir.path(),
        &[
            "--target",
            target.to_str().expect("utf-8"),
            "--rate",
            "30",
            "--duration",
            "2s",
            "--timeout",
            "2s",
        ],
    );
    let took = started.elapsed();
    // The preflight finds nothing listening: no load is sent, the reports say why.
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("preflight"), "{out}");
    assert_eq!(r["generator"]["sent"], 0, "{out}");
    let p = check(&r, "PREFLIGHT");
    assert_eq!(p["verdict"], "ERROR", "{out}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {out}");
}

/// The engine against a minimal endpoint: a stop mid-run (what Ctrl-C does) returns the
/// partial figures promptly, counted as cancelled rather than dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_engine_returns_partial_figures() {
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|| async {
            axum::Json(serde_json::json!({"access_token": "t", "token_type": "Bearer"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let keys = Arc::new(Keyring::ephemeral().expect("keys"));
    let base = Baseline {
        issuers: xaa_conform::fixture::issuer_urls("http://127.0.0.1:9"),
        audience: format!("http://{addr}"),
        subject: "u1".into(),
        client_id: "c1".into(),
        resource: None,
        scope: None,
        lifetime_secs: 300,
        client_secret: String::new(),
    };
    let jags =
        JagFactory::new(keys, &base, IssuerRole::Trusted, KeyAlg::ES256, "t-").expect("factory");
    let stop = Arc::new(AtomicBool::new(false));
    let cfg = EngineConfig {
        token_endpoint: format!("http://{addr}/token"),
        schedule: Schedule::constant(50.0, Duration::from_secs(10), Duration::ZERO)
            .expect("schedule"),
        users: 8,
        timeout: Duration::from_secs(2),
        jags: Arc::new(jags),
        form: TokenForm::new("c1", &Secret::new("s"), ClientAuthMethod::ClientSecretBasic),
        reuse_assertion: false,
        invalid_share: 0.0,
        stop: stop.clone(),
        on_tick: None,
    };
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let started = Instant::now();
    let outcome = engine::run(cfg).await.expect("engine");
    let took = started.elapsed();
    let _ = stopper.await;
    server.abort();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(outcome.interrupted);
    let g = &outcome.generator;
    assert_eq!(g.planned, 500);
    assert!((40..=80).contains(&g.sent), "{g:?}");
    assert_eq!(g.dropped, 0, "{g:?}");
    assert_eq!(g.sent + g.cancelled, 500, "{g:?}");
    assert_eq!(outcome.stats.count(Class::Accepted), g.sent, "{outcome:?}");
    assert_eq!(outcome.goose_requests, g.sent);
}

/// A valid ID-JAG that the RAS refuses (here: a wrong client secret) is the preflight's
/// diagnosis, before any load (exit 3); with `--no-preflight` the load runs, and a load in
/// which not one valid ID-JAG got a token still exits 3, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_without_one_token_is_exit_3() {
    use xaa_conform::reference::{self, ReferenceOptions, ReferenceRas, SecretsIn};
    let idp_bind = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("127.0.0.1:{}", l.local_addr().expect("addr").port())
    };
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let (ras, mut fixture) =
        ReferenceRas::start("127.0.0.1:0", ReferenceOptions::default(), |base| {
            reference::embedded_fixture(base, &issuers, Duration::from_secs(10))
        })
        .await
        .expect("reference");
    fixture.client.secret = xaa_conform::fixture::Secret::new("not-the-secret");
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    let yaml = reference::target_yaml(&fixture, None, &idp_bind, SecretsIn::Inline, "");
    std::fs::write(&target, yaml).expect("write target");
    let target = target.to_str().expect("utf-8").to_string();
    let base = dir.path().to_path_buf();
    let (preflight, no_preflight) = tokio::task::spawn_blocking(move || {
        let args = |extra: &'static [&'static str]| {
            let mut a = vec![
                "--target",
                &target,
                "--rate",
                "10",
                "--duration",
                "3s",
                "--race",
                "0",
                "--lane-rate",
                "0",
            ];
            a.extend_from_slice(extra);
            a.into_iter().map(str::to_string).collect::<Vec<_>>()
        };
        let run = |name: &str, extra| {
            let d = base.join(name);
            let a = args(extra);
            load(&d, &a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        (run("with", &[]), run("without", &["--no-preflight"]))
    })
    .await
    .expect("join");
    ras.stop().await;
    let (code, out, r) = preflight;
    assert_eq!(code, 3, "{out}");
    assert_eq!(r["generator"]["sent"], 0, "{out}");
    assert!(out.contains("invalid_client"), "{out}");
    let (code, out, r) = no_preflight;
    assert_eq!(code, 3, "{out}");
    assert_eq!(r["classes"]["accepted"], 0, "{out}");
    assert!(r["classes"]["rejected"].as_u64().unwrap_or(0) >= 5, "{out}");
    assert!(out.contains("no valid ID-JAG got a token"), "{out}");
}

/// A load in which every answer is a 429 exits 3, and reports the Retry-After values seen
/// (load.json and the diagnosis), naming the absurd ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_429_load_reports_its_retry_after_values_and_exits_3() {
    use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
    use axum::response::IntoResponse;
    use std::sync::atomic::AtomicU64;
    let count = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let n = count.fetch_add(1, Ordering::Relaxed);
            async move {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(serde_json::json!({ "error": "slow_down" })),
                )
                    .into_response();
                let value = match n % 3 {
                    0 => Some("1"),
                    1 => Some("soon"),
                    _ => None,
                };
                if let Some(v) = value {
                    resp.headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from_static(v));
                }
                resp
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(30), axum::serve(listener, app)).await;
    });
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "token_endpoint: http://{addr}/token\nissuer: http://{addr}\n\
             client: {{ id: c1, secret: s3cr3t }}\nsubject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\n"
        ),
    )
    .expect("write");
    let target = target.to_str().expect("utf-8").to_string();
    let reports = dir.path().join("reports");
    let (code, out, r) = tokio::task::spawn_blocking(move || {
        load(
            &reports,
            &[
                "--target",
                &target,
                "--rate",
                "15",
                "--duration",
                "2s",
                "--timeout",
                "1s",
                "--race",
                "0",
                "--lane-rate",
                "0",
                "--no-preflight",
            ],
        )
    })
    .await
    .expect("join");
    assert_eq!(code, 3, "{out}");
    assert_eq!(r["classes"]["rate_limited"], 30, "{out}");
    let rl = &r["rate_limit"];
    assert_eq!(
        rl["retry_after_values"],
        serde_json::json!({ "1": 10, "soon": 10 }),
        "{out}"
    );
    assert_eq!(
        rl["retry_after_absurd"],
        serde_json::json!({ "soon": "neither delta-seconds nor an HTTP date" }),
        "{out}"
    );
    assert!(
        out.contains(
            "every answer was 429 (Retry-After `1` on 10, `soon` on 10 (absurd: neither \
             delta-seconds nor an HTTP date), none on 10)"
        ),
        "{out}"
    );
    assert!(out.contains("absurd Retry-After values: `soon`"), "{out}");
}
