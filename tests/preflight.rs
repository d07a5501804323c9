//! Setup mistakes are diagnosed by the preflight, never reported as non-conformance: against a
//! real reference RAS described by a target file, an IdP the RAS does not trust, a wrong client
//! secret, a dead endpoint and an endpoint that answers no token response each stop the run
//! (exit 3) with one diagnosis and every check SKIP "not run: preflight failed"; a wrong issuer
//! in the target file is a reached, configured server refusing the valid ID-JAG: BASE-01 FAILs
//! with the likely causes.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use xaa_conform::fixture::Fixture;
use xaa_conform::jose::Keyring;
use xaa_conform::oracle::{NOT_RUN, PREFLIGHT_ID};
use xaa_conform::reference::{self, ReferenceRas};
use xaa_conform::report::model::RunResults;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;

fn keyring() -> Arc<Keyring> {
    static KEYS: OnceLock<Arc<Keyring>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(Keyring::ephemeral().expect("keys")))
        .clone()
}

/// A loopback port held until the returned listener drops, so that no server started
/// meanwhile (the reference binds port 0) can take it.
fn held_port() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = l.local_addr().expect("addr").to_string();
    (l, addr)
}

/// A reference RAS that trusts the fake IdP at `trusted_idp` (its issuers' base URL).
async fn reference_trusting(trusted_idp: &str) -> (ReferenceRas, Fixture) {
    let issuers = xaa_conform::fixture::issuer_urls(trusted_idp);
    ReferenceRas::start("127.0.0.1:0", Default::default(), |base| {
        reference::embedded_fixture(base, &issuers, Duration::from_secs(5))
    })
    .await
    .expect("reference")
}

/// Runs `filter` against a target file with these values.
async fn run(
    dir: &std::path::Path,
    endpoint: &str,
    issuer: &str,
    client: (&str, &str),
    idp_bind: &str,
    filter: Option<&str>,
) -> (RunResults, Duration) {
    let path = dir.join("target.yaml");
    std::fs::write(
        &path,
        format!(
            "token_endpoint: {endpoint}\nissuer: {issuer}\nclient: {{ id: {}, secret: \"{}\" }}\n\
             subject: u1\nscope: \"s.read s.write\"\nidp: {{ bind: \"{idp_bind}\" }}\ntimeout: 2s\n",
            client.0, client.1
        ),
    )
    .expect("write target");
    let opts = RunOptions {
        target: Some(path),
        filter: filter.map(str::to_string).into_iter().collect(),
        ..Default::default()
    };
    let started = Instant::now();
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("the run happens");
    xaa_conform::report::write_reports(&results, dir).expect("reports are written");
    (results, started.elapsed())
}

/// The run stopped at the preflight: one ERROR naming `why`, every check SKIP, exit 3.
fn assert_stopped(results: &RunResults, why: &str) -> String {
    let pre = results
        .checks
        .iter()
        .find(|c| c.id == PREFLIGHT_ID)
        .unwrap_or_else(|| panic!("a preflight result: {:?}", results.summary));
    assert_eq!(pre.verdict, Verdict::Error, "{}", pre.reason);
    assert!(pre.reason.contains(why), "{}", pre.reason);
    assert!(!pre.exchanges.is_empty() || why.contains("mint"));
    let others: Vec<_> = results
        .checks
        .iter()
        .filter(|c| c.id != PREFLIGHT_ID)
        .collect();
    assert!(
        others.len() > 100,
        "every check is reported: {}",
        others.len()
    );
    for c in others {
        assert_eq!(c.verdict, Verdict::Skip, "{}: {}", c.id, c.reason);
        assert_eq!(c.reason, NOT_RUN, "{}", c.id);
    }
    assert_eq!(runner::exit_code(results), 3);
    pre.reason.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_the_ras_does_not_trust_is_diagnosed() {
    // The RAS trusts an IdP on one port; the run's fake IdP listens on another.
    let (trusted_hold, trusted) = held_port();
    let (ras, f) = reference_trusting(&format!("http://{trusted}")).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (hold, bind) = held_port();
    drop((hold, trusted_hold));
    let (results, took) = run(
        dir.path(),
        &f.token_endpoint,
        &f.ras_issuer,
        (&f.client.id, f.client.secret.expose()),
        &bind,
        None,
    )
    .await;
    ras.stop().await;
    let reason = assert_stopped(&results, "never contacted the fake IdP");
    assert!(
        reason.contains(&format!("trust issuer `http://{bind}/idp-a`")),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("http://{bind}/idp-a/jwks")),
        "{reason}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(dir.path().join("report.html").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_diagnosed() {
    let (hold, bind) = held_port();
    let (ras, f) = reference_trusting(&format!("http://{bind}")).await;
    drop(hold);
    let dir = tempfile::tempdir().expect("tmp");
    let (results, _) = run(
        dir.path(),
        &f.token_endpoint,
        &f.ras_issuer,
        (&f.client.id, "not-the-secret"),
        &bind,
        None,
    )
    .await;
    ras.stop().await;
    let reason = assert_stopped(&results, "refused the client credentials");
    assert!(
        reason.contains(&format!("client `{}`", f.client.id)),
        "{reason}"
    );
    assert!(
        !reason.contains("not-the-secret"),
        "no secret in reports: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_ends_at_the_preflight() {
    let dir = tempfile::tempdir().expect("tmp");
    let (hold, addr) = held_port();
    drop(hold);
    let port = addr.rsplit(':').next().unwrap_or_default().to_string();
    let (results, took) = run(
        dir.path(),
        &format!("http://127.0.0.1:{port}/token"),
        &format!("http://127.0.0.1:{port}"),
        ("c1", "s3cr3t"),
        "127.0.0.1:0",
        None,
    )
    .await;
    assert_stopped(&results, "no answer from the token endpoint");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_issuer_in_the_target_fails_base_01_with_the_likely_causes() {
    let (hold, bind) = held_port();
    let (ras, f) = reference_trusting(&format!("http://{bind}")).await;
    drop(hold);
    let dir = tempfile::tempdir().expect("tmp");
    let wrong = format!("{}/tenant-2", f.ras_issuer);
    let (results, _) = run(
        dir.path(),
        &f.token_endpoint,
        &wrong,
        (&f.client.id, f.client.secret.expose()),
        &bind,
        Some("BASE-0*"),
    )
    .await;
    ras.stop().await;
    assert!(
        results.checks.iter().all(|c| c.id != PREFLIGHT_ID),
        "the run went on"
    );
    let base = results
        .checks
        .iter()
        .find(|c| c.id == "BASE-01")
        .expect("BASE-01");
    assert_eq!(base.verdict, Verdict::Fail, "{}", base.reason);
    assert!(base.reason.contains("likely causes"), "{}", base.reason);
    assert!(base.reason.contains(&wrong), "{}", base.reason);
    for c in &results.checks {
        assert!(
            c.id == "BASE-01" || c.verdict != Verdict::Fail,
            "only BASE-01 may FAIL on a setup mistake: {} {}",
            c.id,
            c.reason
        );
    }
    assert_eq!(runner::exit_code(&results), 1);
}

/// An HTTPS token endpoint on loopback whose certificate is self-signed (a private CA of its
/// own), answering every request with a token; it stops by itself after 30 s. Returns its
/// address and the certificate (PEM).
async fn private_ca_token_endpoint() -> (std::net::SocketAddr, String) {
    use axum::routing::post;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    let pem = cert.cert.pem();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        pem.clone().into_bytes(),
        cert.signing_key.serialize_pem().into_bytes(),
    )
    .await
    .expect("tls config");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/token",
        post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"access_token":"opaque","token_type":"Bearer","expires_in":300}"#,
            )
        }),
    );
    let server = axum_server::from_tcp_rustls(listener, config).expect("tls server");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            server.serve(app.into_make_service()),
        )
        .await;
    });
    (addr, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_file_trusts_a_ras_on_a_private_ca() {
    let (addr, pem) = private_ca_token_endpoint().await;
    let dir = tempfile::tempdir().expect("tmp");
    let endpoint = format!("https://{addr}/token");
    let issuer = format!("https://{addr}");
    // Without the CA the client refuses the handshake: the preflight says so.
    let (results, _) = run(
        dir.path(),
        &endpoint,
        &issuer,
        ("c1", "s"),
        "127.0.0.1:0",
        None,
    )
    .await;
    assert_stopped(&results, "invalid peer certificate");
    // With it (relative to the target file), the preflight's valid ID-JAG is answered.
    std::fs::write(dir.path().join("ras-ca.pem"), &pem).expect("write CA");
    let path = dir.path().join("target.yaml");
    std::fs::write(
        &path,
        format!(
            "token_endpoint: {endpoint}\nissuer: {issuer}\nclient: {{ id: c1, secret: s }}\n\
             subject: u1\nidp: {{ bind: \"127.0.0.1:0\" }}\ntimeout: 2s\nca_file: ras-ca.pem\n"
        ),
    )
    .expect("write target");
    let opts = RunOptions {
        target: Some(path),
        filter: vec!["BASE-04".into()],
        ..Default::default()
    };
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("run");
    assert!(
        results.checks.iter().all(|c| c.id != PREFLIGHT_ID),
        "{:?}",
        results.checks
    );
    let base = &results.checks[0];
    assert_eq!(base.id, "BASE-04");
    assert!(
        base.exchanges.iter().all(|e| e.response.is_some()),
        "every exchange was answered over TLS: {:?}",
        base.exchanges
    );
}

#[test]
fn a_ca_file_without_a_certificate_is_bad_input() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").expect("write");
    let path = dir.path().join("target.yaml");
    std::fs::write(
        &path,
        "token_endpoint: https://127.0.0.1:9/token\nissuer: https://127.0.0.1:9\nclient: { id: c1, secret: s }\nsubject: u1\nca_file: empty.pem\n",
    )
    .expect("write target");
    let file = xaa_conform::target::TargetFile::read(&path).expect("parses");
    let err = file
        .to_fixture(&path.display().to_string())
        .expect_err("no certificate");
    assert!(
        err.to_string().contains("holds no PEM CERTIFICATE"),
        "{err}"
    );
}

/// A token endpoint that answers `answers` requests with a token (each on its own connection,
/// `Connection: close`) and then stops listening, as a server that dies mid-run.
async fn dying_token_endpoint(answers: usize) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let body = r#"{"access_token":"opaque-token-value","token_type":"Bearer"}"#;
        for _ in 0..answers {
            let Ok(Ok((mut stream, _))) =
                tokio::time::timeout(Duration::from_secs(10), listener.accept()).await
            else {
                return;
            };
            let mut buf = vec![0u8; 16 * 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        // The listener drops here: every later connection is refused.
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_mid_run_ends_the_run_quickly() {
    let addr = dying_token_endpoint(1).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (results, took) = run(
        dir.path(),
        &format!("http://{addr}/token"),
        &format!("http://{addr}"),
        ("c1", "s"),
        "127.0.0.1:0",
        None,
    )
    .await;
    assert!(
        results.checks.iter().all(|c| c.id != PREFLIGHT_ID),
        "the preflight passed"
    );
    let stopped = results
        .checks
        .iter()
        .filter(|c| c.reason == xaa_conform::oracle::SERVER_STOPPED)
        .count();
    let errors = results
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Error)
        .count();
    assert!(stopped > 80, "most checks were not run: {stopped}");
    assert!(
        (xaa_conform::runner::STOP_AFTER_UNANSWERED
            ..=xaa_conform::runner::STOP_AFTER_UNANSWERED + 8)
            .contains(&errors),
        "the run stopped after five checks without an answer (and those in flight): {errors}"
    );
    assert_eq!(runner::exit_code(&results), 3);
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn whoami_takes_a_url_or_an_object_naming_the_principal_and_jwks_refetch_interval_is_read() {
    use xaa_conform::target::TargetFile;
    let base = "token_endpoint: https://127.0.0.1:9/token\nissuer: https://127.0.0.1:9\nclient: { id: c1, secret: s }\nsubject: u1\n";
    let fixture = |extra: &str| {
        TargetFile::parse("t.yaml", &format!("{base}{extra}")).and_then(|f| f.to_fixture("t.yaml"))
    };
    let plain = fixture("whoami: https://127.0.0.1:9/me\n").expect("the URL form");
    assert_eq!(plain.whoami.as_deref(), Some("https://127.0.0.1:9/me"));
    assert_eq!(plain.whoami_principal, None);
    assert_eq!(plain.jwks_refetch_interval, None);
    let object = fixture(
        "whoami: { url: \"https://127.0.0.1:9/me\", principal: /userId }\njwks_refetch_interval: 5s\n",
    )
    .expect("the object form");
    assert_eq!(object.whoami.as_deref(), Some("https://127.0.0.1:9/me"));
    assert_eq!(object.whoami_principal.as_deref(), Some("/userId"));
    assert_eq!(
        object.jwks_refetch_interval,
        Some(std::time::Duration::from_secs(5))
    );
    // A retry waits past the refetch limit; without one, what the scenario says.
    let declared = Some(std::time::Duration::from_millis(1200));
    assert_eq!(
        object.retry_wait(declared),
        Some(std::time::Duration::from_secs(6))
    );
    assert_eq!(plain.retry_wait(declared), declared);
    let bad = fixture("whoami: { url: \"https://127.0.0.1:9/me\", principal: userId }\n")
        .expect_err("no pointer");
    assert!(bad.to_string().contains("write `/userId`"), "{bad}");
    assert!(fixture("jwks_refetch_interval: soon\n").is_err());
}
