//! The suite under hostile servers: each route of an in-process server misbehaves one way, and
//! the run must end on time, without a panic, with reports and a verdict that names the fault.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use xaa_conform::jose::Keyring;
use xaa_conform::report::model::RunResults;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;

fn keyring() -> Arc<Keyring> {
    static KEYS: OnceLock<Arc<Keyring>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(Keyring::ephemeral().expect("keys")))
        .clone()
}

/// Serves the hostile routes on loopback until the test's runtime ends.
async fn hostile_server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/html",
            post(|| async {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html>ok</html>",
                )
            }),
        )
        .route(
            "/badjson",
            post(|| async {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"access_token\": ",
                )
            }),
        )
        .route(
            "/number",
            post(|| async {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"access_token\": 12}",
                )
            }),
        )
        .route(
            "/big",
            post(|| async { (StatusCode::OK, "x".repeat(3 * 1024 * 1024)).into_response() }),
        )
        .route(
            "/redirect",
            post(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "/redirect")]).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A raw server that sends the headers at once, then one body byte a second, ten times:
/// longer than the client's timeout. It stops by itself.
async fn drip_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok(Ok((mut sock, _))) =
                tokio::time::timeout(Duration::from_secs(30), listener.accept()).await
            else {
                break;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n")
                    .await;
                for _ in 0..10 {
                    if sock.write_all(b" ").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    });
    addr
}

/// Runs `filter` against the route as the token endpoint, with a 1 s timeout.
async fn run_against(addr: SocketAddr, route: &str, filter: &str) -> (RunResults, Duration) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("target.yaml");
    std::fs::write(
        &path,
        format!(
            "token_endpoint: http://{addr}{route}\nissuer: http://{addr}\nclient: {{ id: c1, secret: s3cr3t }}\n\
             subject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\ntimeout: 1s\n"
        ),
    )
    .expect("write");
    let opts = RunOptions {
        target: Some(path),
        filter: Some(filter.into()),
        ..Default::default()
    };
    let started = Instant::now();
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("run");
    // The reports of such a run are written like any other.
    xaa_conform::report::write_reports(&results, dir.path()).expect("reports");
    (results, started.elapsed())
}

fn verdict(results: &RunResults, id: &str) -> (Verdict, String) {
    let c = results.checks.iter().find(|c| c.id == id).expect("check");
    (c.verdict, c.reason.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_formed_but_wrong_answers_are_judged() {
    let addr = hostile_server().await;
    for (route, why) in [
        ("/html", "not a JSON object"),
        ("/badjson", "not a JSON object"),
        ("/number", "access_token is not a string"),
        ("/redirect", "unexpected HTTP status 302"),
    ] {
        let (results, took) = run_against(addr, route, "BASE-01").await;
        let (v, reason) = verdict(&results, "BASE-01");
        assert_eq!(v, Verdict::Fail, "{route}: {reason}");
        assert!(reason.contains(why), "{route}: {reason}");
        assert!(took < Duration::from_secs(10), "{route} took {took:?}");
        // A negative check cannot judge without an accepted control: SKIP, never PASS.
        let (results, _) = run_against(addr, route, "JAG-AUD-02").await;
        let (v, reason) = verdict(&results, "JAG-AUD-02");
        assert_eq!(v, Verdict::Skip, "{route}: {reason}");
        assert!(
            reason.starts_with("baseline not accepted"),
            "{route}: {reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_usable_answer_is_error_within_the_timeout() {
    let hostile = hostile_server().await;
    let drip = drip_server().await;
    for (addr, route, why) in [(hostile, "/big", "cap"), (drip, "/drip", "timed out")] {
        let (results, took) = run_against(addr, route, "BASE-01").await;
        let (v, reason) = verdict(&results, "BASE-01");
        assert_eq!(v, Verdict::Error, "{route}: {reason}");
        assert!(reason.contains(why), "{route}: {reason}");
        assert!(took < Duration::from_secs(10), "{route} took {took:?}");
        assert_eq!(runner::exit_code(&results), 3);
    }
}
