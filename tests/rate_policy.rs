//! The client's one 429 policy and its pace, against a real loopback server: a 429 is waited
//! out (its `Retry-After`, 1 s when absent) and retried at most three times, then the exchange
//! has no usable answer and its error names the 429s; `max_rate` spaces request starts, except
//! to the unpaced prefix (the fake IdP).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use xaa_conform::client::HttpClient;

/// Answers the first `limited` requests of each route with 429 (`retry_after` as the header,
/// when given), then 200 with a token; counts every request.
async fn server(
    limited: usize,
    retry_after: Option<&'static str>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let handler = move || {
        let seen = seen.clone();
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            if n < limited {
                let mut r: Response =
                    (StatusCode::TOO_MANY_REQUESTS, "{\"error\":\"slow_down\"}").into_response();
                if let Some(v) = retry_after {
                    r.headers_mut()
                        .insert("retry-after", v.parse().expect("header value"));
                }
                r
            } else {
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    "{\"access_token\":\"t\",\"token_type\":\"Bearer\"}",
                )
                    .into_response()
            }
        }
    };
    let app = Router::new()
        .route("/token", post(handler.clone()))
        .route("/idp/token", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, count)
}

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(5)).expect("client")
}

#[tokio::test]
async fn a_429_is_retried_and_the_answer_after_it_judged() {
    let (addr, count) = server(2, Some("0")).await;
    let ex = client()
        .post_form("probe", &format!("http://{addr}/token"), &[], None)
        .await;
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(200), "{ex:?}");
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn four_429s_are_no_answer_naming_the_rate_limit() {
    let (addr, count) = server(usize::MAX, Some("0")).await;
    let ex = client()
        .post_form("probe", &format!("http://{addr}/token"), &[], None)
        .await;
    assert!(ex.response.is_none(), "{ex:?}");
    let error = ex.error.unwrap_or_default();
    assert!(error.starts_with("rate-limited: 429 on 4 tries"), "{error}");
    assert!(error.contains("Retry-After `0`"), "{error}");
    assert!(error.contains("max_rate"), "{error}");
    assert_eq!(count.load(Ordering::SeqCst), 4, "one try and three retries");
}

#[tokio::test]
async fn without_retries_a_429_is_the_answer() {
    let (addr, count) = server(usize::MAX, Some("0")).await;
    let ex = client()
        .with_429_retries(0)
        .post_form("probe", &format!("http://{addr}/token"), &[], None)
        .await;
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(429), "{ex:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_429_without_retry_after_waits_one_second() {
    let (addr, _) = server(1, None).await;
    let started = Instant::now();
    let ex = client()
        .post_form("probe", &format!("http://{addr}/token"), &[], None)
        .await;
    let took = started.elapsed();
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(200), "{ex:?}");
    assert!(
        (Duration::from_millis(950)..Duration::from_secs(3)).contains(&took),
        "{took:?}"
    );
}

#[tokio::test]
async fn max_rate_spaces_request_starts_but_not_to_the_unpaced_prefix() {
    let (addr, count) = server(0, None).await;
    let base = format!("http://{addr}");
    let http = client().paced(Some(10.0), Some(format!("{base}/idp")));
    // Six requests at 10/s: the first at once, the sixth 0.5 s later.
    let started = Instant::now();
    let sends: Vec<_> = (0..6)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{base}/token"));
            tokio::spawn(async move { http.post_form("probe", &url, &[], None).await })
        })
        .collect();
    for send in sends {
        let ex = send.await.expect("task");
        assert_eq!(ex.response.map(|r| r.status), Some(200));
    }
    let paced = started.elapsed();
    assert!(
        (Duration::from_millis(480)..Duration::from_secs(3)).contains(&paced),
        "{paced:?}"
    );
    // The fake IdP's own requests are not held back.
    let started = Instant::now();
    for _ in 0..6 {
        http.post_form("idp", &format!("{base}/idp/token"), &[], None)
            .await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 12);
}
