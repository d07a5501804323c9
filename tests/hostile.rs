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
use xaa_conform::oracle::{NOT_RUN, PREFLIGHT_ID};
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
        filter: vec![filter.into()],
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

/// The preflight's result of a run whose valid ID-JAG got no token response: the run stopped
/// there, and every check is SKIP "not run: preflight failed".
fn preflight(results: &RunResults) -> (Verdict, String) {
    for c in results.checks.iter().filter(|c| c.id != PREFLIGHT_ID) {
        assert_eq!(c.verdict, Verdict::Skip, "{}: {}", c.id, c.reason);
        assert_eq!(c.reason, NOT_RUN, "{}", c.id);
    }
    verdict(results, PREFLIGHT_ID)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_no_token_response_stop_at_the_preflight() {
    let addr = hostile_server().await;
    for (route, why) in [
        (
            "/html",
            "200 but the endpoint answered text/html: is this the token endpoint?",
        ),
        (
            "/badjson",
            "200 but the body is not a JSON object (invalid JSON: EOF while parsing a value at line 1 column 17)",
        ),
        ("/number", "access_token is not a string"),
        (
            "/redirect",
            "answered a redirect (302 to /redirect), never followed",
        ),
    ] {
        // A negative check cannot judge without an accepted control, and no check runs
        // when the valid ID-JAG gets no token response: the run stops at the preflight.
        for filter in ["BASE-01", "JAG-AUD-02"] {
            let (results, took) = run_against(addr, route, filter).await;
            let (v, reason) = preflight(&results);
            assert_eq!(v, Verdict::Error, "{route}: {reason}");
            assert!(reason.contains(why), "{route}: {reason}");
            assert!(took < Duration::from_secs(10), "{route} took {took:?}");
            assert_eq!(runner::exit_code(&results), 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_usable_answer_is_error_within_the_timeout() {
    let hostile = hostile_server().await;
    let drip = raw_server(RawFault::Drip).await;
    for (addr, route, why) in [
        (
            hostile,
            "/big",
            "HTTP 200, then the response body is over the 1024 KiB cap",
        ),
        (
            drip,
            "/drip",
            "HTTP 200, then the body still arriving after the 1 s total deadline (",
        ),
    ] {
        let (results, took) = run_against(addr, route, "BASE-01").await;
        let (v, reason) = preflight(&results);
        assert_eq!(v, Verdict::Error, "{route}: {reason}");
        assert!(reason.contains(why), "{route}: {reason}");
        assert!(took < Duration::from_secs(10), "{route} took {took:?}");
        assert_eq!(runner::exit_code(&results), 3);
    }
}

/// How a raw TCP server misbehaves after reading the request.
#[derive(Clone, Copy)]
enum RawFault {
    /// Starts a response, then resets the connection (RST).
    ResetMidResponse,
    /// Sends the status line and headers, then nothing.
    HeadersThenStall,
    /// Accepts and never answers.
    Silent,
    /// Sends the headers at once, then one body byte every 200 ms, ten times: longer than
    /// the client's timeout, but never quiet for long.
    Drip,
    /// Sends these bytes (a whole answer or part of one), then holds the connection.
    Send(&'static [u8]),
    /// Sends these bytes, then closes the connection.
    SendAndClose(&'static [u8]),
}

/// A raw server with one fault; it stops by itself after 30 s.
async fn raw_server(fault: RawFault) -> SocketAddr {
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
                let mut buf = [0u8; 8192];
                let _ = sock.read(&mut buf).await;
                match fault {
                    RawFault::ResetMidResponse => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"access_tok")
                            .await;
                        let _ = sock.set_zero_linger();
                        drop(sock);
                    }
                    RawFault::HeadersThenStall => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n")
                            .await;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    RawFault::Silent => tokio::time::sleep(Duration::from_secs(5)).await,
                    RawFault::Drip => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n")
                            .await;
                        for _ in 0..10 {
                            if sock.write_all(b" ").await.is_err() {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    RawFault::Send(bytes) => {
                        let _ = sock.write_all(bytes).await;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    RawFault::SendAndClose(bytes) => {
                        let _ = sock.write_all(bytes).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    addr
}

/// Serves a gzip bomb: 50 MB of zeros, gzip-compressed to about 50 KB, as the token response.
async fn gzip_bomb_server() -> SocketAddr {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..50 {
        gz.write_all(&zeros).expect("gzip");
    }
    let bomb = Arc::new(gz.finish().expect("gzip"));
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb must be small on the wire"
    );
    let app = Router::new().route(
        "/gzip",
        post(move || {
            let bomb = bomb.clone();
            async move {
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    bomb.as_ref().clone(),
                )
            }
        }),
    );
    serve_for_a_while(app).await
}

/// Serves `app` on loopback; the server stops by itself after 30 s.
async fn serve_for_a_while(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(30), axum::serve(listener, app)).await;
    });
    addr
}

/// An HTTPS server whose certificate no one trusts (self-signed, fresh); stops by itself.
async fn untrusted_tls_server() -> SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert.cert.pem().into_bytes(),
        cert.signing_key.serialize_pem().into_bytes(),
    )
    .await
    .expect("tls config");
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let addr = std_listener.local_addr().expect("addr");
    let app = Router::new().route("/token", post(|| async { "{}" }));
    let server = axum_server::from_tcp_rustls(std_listener, config).expect("tls server");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            server.serve(app.into_make_service()),
        )
        .await;
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_connections_are_error_naming_the_fault() {
    let reset = raw_server(RawFault::ResetMidResponse).await;
    let stall = raw_server(RawFault::HeadersThenStall).await;
    let silent = raw_server(RawFault::Silent).await;
    let gzip = gzip_bomb_server().await;
    for (addr, route, why) in [
        (reset, "/token", "reset"),
        (
            stall,
            "/token",
            "HTTP 200, then the body stalled: no byte for",
        ),
        (silent, "/token", "no response head within 1 s"),
        (gzip, "/gzip", "cap"),
    ] {
        let (results, took) = run_against(addr, route, "BASE-01").await;
        let (v, reason) = preflight(&results);
        assert_eq!(v, Verdict::Error, "{route}: {reason}");
        assert!(reason.contains(why), "{route} at {addr}: {reason}");
        assert!(took < Duration::from_secs(10), "{route} took {took:?}");
        assert_eq!(runner::exit_code(&results), 3);
    }
}

/// A token response whose body is not valid UTF-8 (a 0xFF inside the token, at byte 17).
const NOT_UTF8_TOKEN: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 45\r\n\r\n{\"access_token\":\"\xfftok\",\"token_type\":\"Bearer\"}";

/// A token response with a header value that is not valid UTF-8 (Latin-1 `é`).
const NOT_UTF8_HEADER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-note: caf\xe9\r\ncontent-length: 44\r\n\r\n{\"access_token\":\"tok\",\"token_type\":\"Bearer\"}";

/// Lossy decoding made a token of a body that is not UTF-8 (BASE-01 PASSed on it): now the
/// valid ID-JAG's answer is no token response, the run stops at the preflight with exit 3,
/// and the diagnosis gives the byte offset. A header value that is not UTF-8 is recorded
/// (escaped) but does not make a token response unusable: RFC 9110 §5.5 has it treated as
/// opaque data, so a compliant server with one Latin-1 header is still judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_answered_in_invalid_utf8_stops_at_the_preflight_naming_the_byte() {
    let body = raw_server(RawFault::Send(NOT_UTF8_TOKEN)).await;
    let why = "200 but the body is not valid UTF-8 at byte 17 (a token response is JSON, which is UTF-8: RFC 8259 §8.1)";
    let (results, took) = run_against(body, "/token", "BASE-01").await;
    let (v, reason) = preflight(&results);
    assert_eq!(v, Verdict::Error, "{reason}");
    assert!(
        reason.contains(&format!(
            "no token response from the token endpoint http://{body}/token: {why}"
        )),
        "{reason}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(runner::exit_code(&results), 3);
    // The recorded answer shows the bytes escaped and says where UTF-8 breaks.
    let r = results
        .checks
        .iter()
        .find(|c| c.id == PREFLIGHT_ID)
        .and_then(|c| c.exchanges.iter().find_map(|e| e.response.clone()))
        .expect("the recorded answer");
    assert_eq!(r.body_not_utf8_at, Some(17), "{r:?}");
    assert!(r.body.contains(r#""\xfftok""#), "{}", r.body);

    let header = raw_server(RawFault::SendAndClose(NOT_UTF8_HEADER)).await;
    let (results, _) = run_against(header, "/token", "BASE-01").await;
    assert!(
        results.checks.iter().all(|c| c.id != PREFLIGHT_ID),
        "a Latin-1 header does not stop the run: {:?}",
        results
            .checks
            .iter()
            .map(|c| (&c.id, &c.reason))
            .collect::<Vec<_>>()
    );
    let r = results
        .checks
        .iter()
        .flat_map(|c| c.exchanges.iter())
        .filter_map(|e| e.response.as_ref())
        .find(|r| !r.headers_not_utf8.is_empty())
        .expect("an answer with the Latin-1 header");
    assert_eq!(r.headers_not_utf8, vec![("x-note".to_string(), 3)], "{r:?}");
    assert!(r.headers.iter().any(|(_, v)| v == r"caf\xe9"), "{r:?}");
}

/// Accepts the valid ID-JAG (its `aud` is `http://{addr}`); answers any other with an RFC 6749
/// §5.2 `invalid_grant` whose description is Latin-1, so the body is not valid UTF-8.
async fn latin1_refusal_server() -> SocketAddr {
    use base64::Engine;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ours = format!("http://{addr}");
    let app = Router::new().route(
        "/token",
        post(move |form: axum::Form<Vec<(String, String)>>| {
            let ours = ours.clone();
            async move {
                let aud = form
                    .0
                    .iter()
                    .find(|(k, _)| k == "assertion")
                    .and_then(|(_, jwt)| jwt.split('.').nth(1))
                    .and_then(|p| {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(p)
                            .ok()
                    })
                    .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
                    .map(|c| c["aud"].clone());
                let valid = aud.as_ref().is_some_and(|a| {
                    a == &serde_json::Value::String(ours.clone())
                        || a.as_array()
                            .is_some_and(|l| l.len() == 1 && l[0] == ours.as_str())
                });
                if valid {
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        br#"{"access_token":"tok","token_type":"Bearer","expires_in":300}"#
                            .to_vec(),
                    )
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        [(header::CONTENT_TYPE, "application/json")],
                        b"{\"error\":\"invalid_grant\",\"error_description\":\"audience refus\xe9e\"}"
                            .to_vec(),
                    )
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(30), axum::serve(listener, app)).await;
    });
    addr
}

/// A probe answered in invalid UTF-8 is judged as an answer that is neither a token nor an
/// RFC 6749 §5.2 error (lossy decoding took it for `invalid_grant`): JAG-AUD-02 judges its
/// subject (no token: refused) and names the byte offset; the body is ERR-02's finding, which
/// FAILs the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_answered_in_invalid_utf8_is_judged_naming_the_byte() {
    let addr = latin1_refusal_server().await;
    // The glob selects exactly JAG-AUD-02 and ERR-02.
    let (results, took) = run_against(addr, "/token", "[EJ][AR][GR]-[A0]*2").await;
    assert_eq!(results.checks.len(), 2, "{:?}", results.checks);
    let (v, reason) = verdict(&results, "JAG-AUD-02");
    assert_eq!(v, Verdict::Pass, "{reason}");
    // `{"error":"invalid_grant","error_description":"audience refus` is 60 bytes.
    assert!(
        reason.contains("400 but the body is not valid UTF-8 at byte 60"),
        "{reason}"
    );
    let (v, reason) = verdict(&results, "ERR-02");
    assert_eq!(v, Verdict::Fail, "{reason}");
    assert!(reason.contains("not valid UTF-8"), "{reason}");
    assert!(reason.contains("JAG-AUD-02"), "{reason}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(runner::exit_code(&results), 1);
}

/// A listener whose accept queue is full: the kernel drops new SYNs, so a connect hangs.
fn full_listener() -> (
    SocketAddr,
    Vec<std::net::TcpStream>,
    tokio::net::TcpListener,
) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let fillers = (0..4)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
        })
        .collect();
    (addr, fillers, listener)
}

/// Timeouts say where they struck and give the limit: a silent server and one that stalls
/// inside its headers send no response head; one that stalls after its head and one that
/// drips its body are told apart at the total deadline; a connect that never completes
/// says so with the address. Each within the 1 s deadline (and the run on time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_say_where_they_struck() {
    let silent = raw_server(RawFault::Silent).await;
    let in_headers = raw_server(RawFault::Send(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-le",
    ))
    .await;
    let after_head = raw_server(RawFault::HeadersThenStall).await;
    let drip = raw_server(RawFault::Drip).await;
    let (full, _fillers, _listener) = full_listener();
    let cases = [
        (
            silent,
            "no answer from the token endpoint".to_string(),
            "no response head within 1 s".to_string(),
        ),
        (
            in_headers,
            "no answer from the token endpoint".to_string(),
            "no response head within 1 s".to_string(),
        ),
        (
            after_head,
            "no token response from the token endpoint".to_string(),
            "HTTP 200, then the body stalled: no byte for ".to_string(),
        ),
        (
            drip,
            "no token response from the token endpoint".to_string(),
            "HTTP 200, then the body still arriving after the 1 s total deadline (".to_string(),
        ),
        (
            full,
            "no answer from the token endpoint".to_string(),
            format!("connect to {full} timed out after 1 s"),
        ),
    ];
    for (addr, diagnosis, why) in cases {
        let (results, took) = run_against(addr, "/token", "BASE-01").await;
        let (v, reason) = preflight(&results);
        assert_eq!(v, Verdict::Error, "{addr}: {reason}");
        assert!(reason.contains(&diagnosis), "{addr}: {reason}");
        assert!(reason.contains(&why), "{addr}: {reason}");
        if why.contains("stalled") {
            assert!(
                reason.contains("(0 of 200 bytes) when the 1 s total deadline passed"),
                "{addr}: {reason}"
            );
        }
        assert!(!reason.contains("operation timed out"), "{addr}: {reason}");
        assert_eq!(runner::exit_code(&results), 3);
        assert!(took < Duration::from_secs(10), "{addr} took {took:?}");
        // The exchange itself kept the 1 s deadline.
        let ex = results
            .checks
            .iter()
            .find(|c| c.id == PREFLIGHT_ID)
            .and_then(|c| c.exchanges.first())
            .expect("the preflight's exchange");
        assert!(
            (900.0..2500.0).contains(&ex.elapsed_ms),
            "{addr}: {} ms",
            ex.elapsed_ms
        );
    }
}

/// Malformed framing is named in hyper's words: oversized headers, conflicting
/// `Content-Length`, bad chunking, a head cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_framing_is_named() {
    fn big_head() -> &'static [u8] {
        static HEAD: OnceLock<Vec<u8>> = OnceLock::new();
        HEAD.get_or_init(|| {
            let mut h = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n".to_vec();
            for i in 0..2000 {
                h.extend_from_slice(format!("x-filler-{i}: {}\r\n", "a".repeat(200)).as_bytes());
            }
            h.extend_from_slice(b"content-length: 2\r\n\r\n{}");
            h
        })
    }
    let oversized = raw_server(RawFault::Send(big_head())).await;
    let conflicting = raw_server(RawFault::Send(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\ncontent-length: 20\r\n\r\n{\"a\":1}",
    ))
    .await;
    let chunked = raw_server(RawFault::Send(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ))
    .await;
    let cut = raw_server(RawFault::SendAndClose(b"HTTP/1.1 200 OK\r\ncontent-ty")).await;
    let (results, _) = run_against(cut, "/token", "BASE-01").await;
    let (v, reason) = preflight(&results);
    assert_eq!(v, Verdict::Error, "{reason}");
    assert!(
        reason.contains("the server closed the connection before a complete response head"),
        "{reason}"
    );
    for (addr, why) in [
        (
            oversized,
            "no token response from the token endpoint http://{addr}/token: the response head is over the client's size limit (message head is too large)",
        ),
        (
            conflicting,
            "no token response from the token endpoint http://{addr}/token: the response head is malformed: invalid content-length parsed",
        ),
        (
            chunked,
            "no token response from the token endpoint http://{addr}/token: HTTP 200, then reading the body failed after 0 bytes: bad chunked encoding: ",
        ),
    ] {
        let why = why.replace("{addr}", &addr.to_string());
        let (results, took) = run_against(addr, "/token", "BASE-01").await;
        let (v, reason) = preflight(&results);
        assert_eq!(v, Verdict::Error, "{addr}: {reason}");
        assert!(reason.contains(&why), "{addr}: {reason}");
        assert!(!reason.contains("is the RAS running there?"), "{reason}");
        assert_eq!(runner::exit_code(&results), 3);
        assert!(took < Duration::from_secs(10), "{addr} took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_error_not_an_answer() {
    let addr = untrusted_tls_server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("target.yaml");
    std::fs::write(
        &path,
        format!(
            "token_endpoint: https://{addr}/token\nissuer: https://{addr}\nclient: {{ id: c1, secret: s3cr3t }}\n\
             subject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\ntimeout: 1s\n"
        ),
    )
    .expect("write");
    let opts = RunOptions {
        target: Some(path),
        filter: vec!["BASE-01".into()],
        ..Default::default()
    };
    let started = Instant::now();
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("run");
    let (v, reason) = preflight(&results);
    assert_eq!(v, Verdict::Error, "{reason}");
    assert!(reason.contains("invalid peer certificate"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The same faults on the load path: every request is counted as an error under its cause
/// (load.json `errors`, the terminal summary), the run ends on time (a 2 s schedule with a
/// 1 s timeout), and load.json is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_hostile_answers_as_errors_by_cause_and_ends_on_time() {
    let hostile = hostile_server().await;
    let reset = raw_server(RawFault::ResetMidResponse).await;
    let silent = raw_server(RawFault::Silent).await;
    let stall = raw_server(RawFault::HeadersThenStall).await;
    let gzip = gzip_bomb_server().await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    for (addr, route, cause, words) in [
        (
            reset,
            "/token",
            "connection_reset",
            "connection reset or closed early",
        ),
        (
            silent,
            "/token",
            "head_timeout",
            "no response head within the timeout",
        ),
        (
            stall,
            "/token",
            "body_timeout",
            "body not complete within the timeout",
        ),
        (
            refused,
            "/token",
            "connection_refused",
            "connection refused",
        ),
        // load does not ask for gzip nor inflate it: the compressed bytes alone are over
        // the cap.
        (gzip, "/gzip", "body_over_cap", "body over the size cap"),
        (hostile, "/html", "invalid_json", "body not JSON"),
        (hostile, "/number", "no_token", "200 without access_token"),
        (hostile, "/big", "body_over_cap", "body over the size cap"),
        (hostile, "/redirect", "redirect", "redirect (3xx)"),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("target.yaml");
        std::fs::write(
            &target,
            format!(
                "token_endpoint: http://{addr}{route}\nissuer: http://{addr}\nclient: {{ id: c1, secret: s3cr3t }}\n\
                 subject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\ntimeout: 1s\n"
            ),
        )
        .expect("write");
        let reports = dir.path().join("reports");
        let started = Instant::now();
        let (target2, reports2) = (target.clone(), reports.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
                .arg("load")
                .arg("--target")
                .arg(&target2)
                .args([
                    "--rate",
                    "10",
                    "--duration",
                    "2s",
                    "--timeout",
                    "1s",
                    "--race",
                    "0",
                    // The main phase's handling of hostile answers is the subject here; the
                    // preflight would stop at the first one (tests/load.rs tests that).
                    "--no-preflight",
                ])
                .arg("--report-dir")
                .arg(&reports2)
                .output()
        })
        .await
        .expect("join")
        .expect("run xaa-conform load");
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            took < Duration::from_secs(20),
            "{route}: took {took:?}\n{text}"
        );
        assert!(!text.contains("panicked"), "{route}: {text}");
        let report: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join("load.json"))
                .unwrap_or_else(|e| panic!("{route}: no load.json ({e}): {text}")),
        )
        .expect("load.json");
        let classes = &report["classes"];
        assert_eq!(classes["accepted"], 0, "{route}: {classes}");
        let errors = classes["error"].as_u64().unwrap_or(0);
        assert!(errors >= 15, "{route}: {classes}\n{text}");
        assert_eq!(
            report["errors"],
            serde_json::json!({ cause: errors }),
            "{route}: every error under its cause\n{text}"
        );
        assert!(
            text.contains(&format!("errors by cause: {words} {errors}")),
            "{route}: {text}"
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "{route}: a run of errors is not a pass"
        );
    }
}
