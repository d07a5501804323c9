//! The fake IdP over HTTPS: a whole run against the compliant reference with the IdP on TLS,
//! the CA certificate file it writes, and certificate verification left on (loopback only).

use std::sync::Arc;
use std::time::Duration;

use xaa_conform::fixture::Secret;
use xaa_conform::idp::{AppRegistration, FakeIdp};
use xaa_conform::jose::{IssuerRole, Keyring};
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;
use xaa_conform::tls::IdpTls;

fn app() -> AppRegistration {
    AppRegistration {
        client_id: "requesting-app".into(),
        secret: Secret::random(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_the_idp_on_tls_passes_and_writes_the_ca() {
    let dir = tempfile::tempdir().expect("tmp");
    let ca_path = dir.path().join("out").join("idp-ca.pem");
    let opts = RunOptions {
        idp_tls_ca: Some(ca_path.clone()),
        ..Default::default()
    };
    let keys = Arc::new(Keyring::ephemeral().expect("keys"));
    let results = tokio::time::timeout(
        Duration::from_secs(120),
        runner::run_suite(&opts, Some(keys)),
    )
    .await
    .expect("the run ends in time")
    .expect("run");
    for c in &results.checks {
        assert!(
            matches!(c.verdict, Verdict::Pass | Verdict::Info),
            "{}: {} ({})",
            c.id,
            c.verdict,
            c.reason
        );
    }
    assert_eq!(runner::exit_code(&results), 0);
    // The requesting app really talked to the IdP over https.
    let base01 = results
        .checks
        .iter()
        .find(|c| c.id == "BASE-01")
        .expect("BASE-01");
    let idp_urls: Vec<&str> = base01
        .exchanges
        .iter()
        .filter(|e| e.role.starts_with("idp-"))
        .map(|e| e.request.url.as_str())
        .collect();
    assert_eq!(idp_urls.len(), 3, "{idp_urls:?}");
    assert!(
        idp_urls.iter().all(|u| u.starts_with("https://127.0.0.1:")),
        "{idp_urls:?}"
    );
    // The CA file is one PEM certificate and nothing else (no key).
    let text = std::fs::read_to_string(&ca_path).expect("CA file written");
    assert!(!text.contains("PRIVATE KEY"));
    let blocks = pem::parse_many(text.as_bytes()).expect("PEM");
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].tag(), "CERTIFICATE");
    assert!(blocks[0].contents().len() > 100);
    // And it parses as a certificate: reqwest (rustls) accepts it as a trust anchor.
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(text.as_bytes()).expect("certificate")])
        .build()
        .expect("a client trusting the CA");
}

/// A client that trusts the generated CA fetches the JWKS over https; one that does not is
/// refused the handshake: verification is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idp_certificate_verifies_against_the_ca_only() {
    let tls = IdpTls::generate(&[]).expect("tls");
    let other = IdpTls::generate(&[]).expect("another CA");
    let keys = Arc::new(Keyring::ephemeral().expect("keys"));
    let idp = FakeIdp::start_with_tls("127.0.0.1:0", None, keys, app(), Some(&tls))
        .await
        .expect("idp");
    let jwks = idp.jwks_uri(IssuerRole::Trusted);
    assert!(jwks.starts_with("https://127.0.0.1:"), "{jwks}");
    let client = |ca: &IdpTls| {
        reqwest::Client::builder()
            .tls_certs_only([ca.reqwest_root().expect("root")])
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client")
    };
    let ok = client(&tls).get(&jwks).send().await.expect("https fetch");
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.expect("json");
    assert_eq!(body["keys"].as_array().map(Vec::len), Some(2));
    // The same names under "localhost" verify too.
    let by_name = jwks.replace("127.0.0.1", "localhost");
    assert_eq!(
        client(&tls)
            .get(&by_name)
            .send()
            .await
            .expect("https fetch by name")
            .status(),
        200
    );
    assert!(
        client(&other).get(&jwks).send().await.is_err(),
        "a client that does not trust the CA must be refused"
    );
    idp.stop().await;
}
