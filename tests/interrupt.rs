//! Ctrl-C loses nothing: SIGINT sent to `load` in its main phase and in its rate-limit search,
//! and to `run` in the middle of its checks, stops it within a second, no request is started
//! after the signal (the test's own token endpoint counts them), the reports are written and
//! say the run was interrupted, and the exit code is 130.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A token endpoint that issues a token to any request and notes when each arrived.
async fn counting_endpoint() -> (
    String,
    Arc<Mutex<Vec<Instant>>>,
    tokio::task::JoinHandle<()>,
) {
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = arrivals.clone();
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                if let Ok(mut a) = seen.lock() {
                    a.push(Instant::now());
                }
                (
                    [("cache-control", "no-store")],
                    axum::Json(serde_json::json!({
                        "access_token": "2YotnFZFEjr1zCsicMWpAA",
                        "token_type": "Bearer",
                        "expires_in": 300
                    })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), arrivals, task)
}

/// Starts `xaa-conform COMMAND` against `base` with `args`, sends SIGINT after `after` and
/// once `ready` holds (`n` requests arrived at the test's endpoint, so that a slow start on a
/// busy machine still gets the signal in the phase meant), and returns the exit code, the
/// output, load.json, load.html, when the signal went and how long the process took after it.
async fn interrupt(
    command: &str,
    base: &str,
    args: &[&str],
    after: Duration,
    ready: Option<(&Mutex<Vec<Instant>>, usize)>,
) -> (Option<i32>, String, Value, String, Instant, Duration) {
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        format!(
            "token_endpoint: {base}/token\nissuer: {base}\nclient: {{ id: c1, secret: s3cr3t }}\n\
             subject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\ntimeout: 2s\n"
        ),
    )
    .expect("write target");
    let reports = dir.path().join("reports");
    let mut cmd = common::command();
    cmd.arg(command);
    // No base: the embedded reference.
    if !base.is_empty() {
        cmd.arg("--target").arg(&target);
    }
    cmd.args(args)
        .arg("--report-dir")
        .arg(&reports)
        .arg("--keys")
        .arg(dir.path().join("no-keys"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn xaa-conform load");
    let pid = child.id().to_string();
    tokio::time::sleep(after).await;
    if let Some((arrivals, n)) = ready {
        let give_up = Instant::now() + Duration::from_secs(60);
        while arrivals.lock().map(|a| a.len()).unwrap_or(n) < n && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let signalled = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(sent.success(), "kill -INT {pid}");
    let out = tokio::task::spawn_blocking(move || {
        common::output_with_timeout_of_child(child, Duration::from_secs(20))
    })
    .await
    .expect("join");
    let took = signalled.elapsed();
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (json_name, html_name) = match command {
        "load" => ("load.json", "load.html"),
        "fuzz" => ("fuzz.json", "report.html"),
        _ => ("results.json", "report.html"),
    };
    let json = std::fs::read_to_string(reports.join(json_name))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let html = std::fs::read_to_string(reports.join(html_name)).unwrap_or_default();
    (out.status.code(), text, json, html, signalled, took)
}

/// Requests that arrived more than `grace` after `at` (a request already on the wire when the
/// signal came may land just after it).
fn started_after(arrivals: &Mutex<Vec<Instant>>, at: Instant, grace: Duration) -> usize {
    arrivals
        .lock()
        .map(|a| a.iter().filter(|t| **t > at + grace).count())
        .unwrap_or(usize::MAX)
}

/// What every interrupted command must show: exit 130 within 5 s of the signal, its JSON report
/// and its HTML page marked interrupted, and (with the test's endpoint) no request after it.
fn assert_stopped(
    stopped: &(Option<i32>, String, Value, String, Instant, Duration),
    arrivals: Option<&Mutex<Vec<Instant>>>,
) {
    let (code, out, json, html, at, took) = stopped;
    assert_eq!(*code, Some(130), "{out}");
    assert!(
        *took < Duration::from_secs(5),
        "took {took:?} after the signal: {out}"
    );
    assert_eq!(json["interrupted"], true, "{out}");
    assert!(html.contains("Interrupted (Ctrl-C)"), "{out}");
    if let Some(arrivals) = arrivals {
        let late = started_after(arrivals, *at, Duration::from_millis(300));
        assert_eq!(late, 0, "{late} requests arrived after the signal: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_the_main_load_stops_it_and_writes_the_reports() {
    let (base, arrivals, server) = counting_endpoint().await;
    let stopped = interrupt(
        "load",
        &base,
        &[
            "--rate",
            "40",
            "--duration",
            "30s",
            "--race",
            "0",
            "--lane-rate",
            "2",
        ],
        Duration::from_secs(6),
        Some((arrivals.as_ref(), 60)),
    )
    .await;
    server.abort();
    assert_stopped(&stopped, Some(&arrivals));
    let (_, out, report, ..) = &stopped;
    assert!(
        report["classes"]["accepted"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_the_limit_search_stops_it_and_writes_the_reports() {
    let (base, arrivals, server) = counting_endpoint().await;
    // A 1 s load, then a ladder of 5 s steps: the signal falls in the search.
    let stopped = interrupt(
        "load",
        &base,
        &[
            "--rate",
            "20",
            "--duration",
            "1s",
            "--race",
            "0",
            "--lane-rate",
            "0",
            "--find-limit",
            "--step",
            "5s",
        ],
        Duration::from_secs(5),
        Some((arrivals.as_ref(), 30)),
    )
    .await;
    server.abort();
    assert_stopped(&stopped, Some(&arrivals));
    let (_, out, report, ..) = &stopped;
    let limit = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "LOAD-01"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(limit["verdict"], "SKIP", "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_a_run_writes_what_finished_and_exits_130() {
    let (base, arrivals, server) = counting_endpoint().await;
    // Paced at 20 requests per second, the catalogue takes far longer than 4 s: the signal
    // comes in the middle of the checks.
    let stopped = interrupt(
        "run",
        &base,
        &["--max-rate", "20/s"],
        Duration::from_secs(4),
        Some((arrivals.as_ref(), 10)),
    )
    .await;
    server.abort();
    assert_stopped(&stopped, Some(&arrivals));
    let (_, out, results, ..) = &stopped;
    let checks = results["checks"].as_array().cloned().unwrap_or_default();
    let not_run = checks
        .iter()
        .filter(|c| c["reason"] == "not run: interrupted (Ctrl-C)")
        .count();
    assert!(not_run > 0, "{out}");
    assert!(
        not_run < checks.len(),
        "no check finished before the signal: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_in_fuzz_writes_what_finished_and_exits_130() {
    let stopped = interrupt(
        "fuzz",
        "",
        &["--cases", "100000", "--seed", "1"],
        Duration::from_secs(4),
        None,
    )
    .await;
    assert_stopped(&stopped, None);
    let (_, out, fuzz, ..) = &stopped;
    assert!(fuzz["cases_run"].as_u64().unwrap_or(0) > 0, "{out}");
}
