//! The target's world in the checks (issue 9 §1): the algorithm of the positive controls and
//! of the algorithm checks, client2's own control, the generated stand-in for client2, JIT
//! provisioning as a target policy, the target's resource-API write, and the resource-API
//! checks whose token could not be obtained. Each runs a few checks against a compliant
//! reference variant through the target.yaml a user would write (edited where the test says).

mod common;

use std::time::Duration;

use xaa_conform::reference::{self, ReferenceOptions, ReferenceRas, ReferenceVariant, SecretsIn};
use xaa_conform::report::model::{CheckResult, RunResults};
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;

use common::{free_port, keyring};

/// Runs the checks matching `filter` (and, with `scenarios`, from that folder) against the
/// reference `variant`, through its printed target.yaml changed by `edit`.
async fn run(
    variant: Option<ReferenceVariant>,
    filter: &str,
    scenarios: Option<&std::path::Path>,
    edit: impl FnOnce(String) -> String,
) -> RunResults {
    let idp_bind = format!("127.0.0.1:{}", free_port());
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let options = ReferenceOptions {
        variant,
        ..Default::default()
    };
    let (ras, fixture) = ReferenceRas::start("127.0.0.1:0", options, |base| {
        reference::embedded_fixture(base, &issuers, Duration::from_secs(10))
    })
    .await
    .expect("reference");
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    let yaml = reference::target_yaml(&fixture, variant, &idp_bind, SecretsIn::Inline, "test");
    std::fs::write(&target, edit(yaml)).expect("write target");
    let opts = RunOptions {
        target: Some(target),
        filter: vec![filter.into()],
        scenarios: scenarios.map(std::path::Path::to_path_buf),
        ..Default::default()
    };
    let results = runner::run_suite(&opts, Some(keyring())).await;
    ras.stop().await;
    results.expect("run")
}

fn check<'a>(results: &'a RunResults, id: &str) -> &'a CheckResult {
    results
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{id} not run"))
}

/// The `alg` of every ID-JAG the check sent to the RAS's token endpoint.
fn sent_algs(c: &CheckResult) -> Vec<String> {
    c.exchanges
        .iter()
        .filter(|e| !e.role.starts_with("idp-") && e.role != "api" && e.role != "whoami")
        .filter_map(|e| {
            let body = &e.request.body;
            let jag = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("assertion="))?;
            let (header, _) = xaa_conform::jose::jws::decode_for_display(jag);
            header
                .get("alg")
                .and_then(|a| a.as_str())
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_es256_only_target_gets_es256_positive_controls_and_probes() {
    let r = run(
        Some(ReferenceVariant::Es256Only),
        "JAG-AUD-0[12]",
        None,
        |y| y,
    )
    .await;
    for id in ["JAG-AUD-01", "JAG-AUD-02"] {
        let c = check(&r, id);
        assert_eq!(c.verdict, Verdict::Pass, "{id}: {}", c.reason);
        let algs = sent_algs(c);
        assert!(!algs.is_empty(), "{id} sent no ID-JAG");
        assert!(algs.iter().all(|a| a == "ES256"), "{id}: {algs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_algorithm_the_target_does_not_accept_is_skip_without_sending() {
    let r = run(
        Some(ReferenceVariant::Rs256Only),
        "JAG-SIG-0[78]",
        None,
        |y| y,
    )
    .await;
    for id in ["JAG-SIG-07", "JAG-SIG-08"] {
        let c = check(&r, id);
        assert_eq!(c.verdict, Verdict::Skip, "{id}: {}", c.reason);
        assert!(
            c.reason.contains("ES256 ID-JAGs are not accepted"),
            "{id}: {}",
            c.reason
        );
        assert!(c.exchanges.is_empty(), "{id} sent {:?}", c.exchanges.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_algorithm_check_whose_own_control_is_refused_is_skip_with_the_answer() {
    // The target file claims ES256 too, the server takes RS256 only: the check's own ES256
    // control is refused, and the check is SKIP with that answer, not a verdict on the probe.
    let r = run(Some(ReferenceVariant::Rs256Only), "JAG-SIG-07", None, |y| {
        y.replace("accepted_algs: [RS256]", "accepted_algs: [RS256, ES256]")
    })
    .await;
    let c = check(&r, "JAG-SIG-07");
    assert_eq!(c.verdict, Verdict::Skip, "{}", c.reason);
    assert!(
        c.reason.starts_with("ES256 ID-JAGs are not accepted: 4"),
        "{}",
        c.reason
    );
    assert_eq!(sent_algs(c), ["ES256"], "only the control is sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_algorithm_mutations_sign_as_they_say() {
    let r = run(
        Some(ReferenceVariant::Es256Only),
        "JAG-SIG-0[16]",
        None,
        |y| y,
    )
    .await;
    let none = check(&r, "JAG-SIG-01");
    assert_eq!(none.verdict, Verdict::Pass, "{}", none.reason);
    assert_eq!(sent_algs(none), ["ES256", "none"]);
    let pss = check(&r, "JAG-SIG-06");
    assert_eq!(pss.verdict, Verdict::Pass, "{}", pss.reason);
    assert_eq!(sent_algs(pss), ["ES256", "PS256"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client2s_checks_are_skip_when_its_own_control_is_refused() {
    // A wrong client2 secret in the target file: client2's own control is refused, so
    // CAUTH-01 is SKIP with that answer, never FAIL.
    let r = run(None, "CAUTH-01", None, |y| {
        let mut out = String::new();
        for line in y.lines() {
            if line.starts_with("client2:") {
                let id = line.split(',').next().unwrap_or_default();
                out.push_str(&format!("{id}, secret: \"not-client2s-secret\" }}\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    })
    .await;
    let c = check(&r, "CAUTH-01");
    assert_eq!(c.verdict, Verdict::Skip, "{}", c.reason);
    assert!(
        c.reason.contains("client2") && c.reason.contains("client_secret_post"),
        "{}",
        c.reason
    );
    assert!(c.reason.contains("invalid_client"), "{}", c.reason);
    assert_eq!(c.exchanges.len(), 1, "only client2's control is sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_client2_a_generated_client_id_stands_in_and_the_reason_says_weaker() {
    let r = run(
        Some(ReferenceVariant::SingleClient),
        "CAUTH-0[16]",
        None,
        |y| y,
    )
    .await;
    let c = check(&r, "CAUTH-06");
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    assert!(c.reason.contains("weaker"), "{}", c.reason);
    let cauth01 = check(&r, "CAUTH-01");
    assert_eq!(cauth01.verdict, Verdict::Skip, "{}", cauth01.reason);
    let r = run(
        Some(ReferenceVariant::SingleClient),
        "JAG-CID-01",
        None,
        |y| y,
    )
    .await;
    let c = check(&r, "JAG-CID-01");
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    assert!(c.reason.contains("generated client id"), "{}", c.reason);
    // With client2 declared, its id is used and nothing is said.
    let r = run(None, "JAG-CID-01", None, |y| y).await;
    let c = check(&r, "JAG-CID-01");
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    assert!(!c.reason.contains("weaker"), "{}", c.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_provisioning_makes_the_unknown_subject_a_record_naming_the_principal() {
    let r = run(
        Some(ReferenceVariant::JitProvisioning),
        "JAG-SUB-02",
        None,
        |y| y,
    )
    .await;
    let c = check(&r, "JAG-SUB-02");
    assert_eq!(c.verdict, Verdict::Info, "{}", c.reason);
    assert!(c.reason.contains("jit_provisioning"), "{}", c.reason);
    assert!(c.reason.contains("principal made"), "{}", c.reason);
    // The declared introspection names it (it comes before the declared whoami).
    assert!(c.exchanges.iter().any(|e| e.role == "introspection"));
    assert!(!c.exchanges.iter().any(|e| e.role == "whoami"));
    assert!(c.reason.contains("introspection names"), "{}", c.reason);
    let without = |field: &'static str| {
        move |y: String| -> String {
            y.lines()
                .filter(|l| !l.starts_with(field))
                .map(|l| format!("{l}\n"))
                .collect()
        }
    };
    // Without it, the declared whoami names it, before the metadata's introspection.
    let r = run(
        Some(ReferenceVariant::JitProvisioning),
        "JAG-SUB-02",
        None,
        without("introspection:"),
    )
    .await;
    let c = check(&r, "JAG-SUB-02");
    assert_eq!(c.verdict, Verdict::Info, "{}", c.reason);
    assert!(c.reason.contains("whoami names"), "{}", c.reason);
    assert!(c.exchanges.iter().any(|e| e.role == "whoami"));
    // Without either, the metadata's introspection_endpoint, called as C1.
    let r = run(
        Some(ReferenceVariant::JitProvisioning),
        "JAG-SUB-02",
        None,
        |y| without("whoami:")(without("introspection:")(y)),
    )
    .await;
    let c = check(&r, "JAG-SUB-02");
    assert_eq!(c.verdict, Verdict::Info, "{}", c.reason);
    assert!(c.reason.contains("introspection names"), "{}", c.reason);
    let asked = c
        .exchanges
        .iter()
        .find(|e| e.role == "introspection")
        .expect("introspection");
    assert!(asked.curl.contains("-u 'agent-c1:'"), "{}", asked.curl);
    // Without the declaration the check is unchanged: the provisioning server FAILs it.
    let r = run(
        Some(ReferenceVariant::JitProvisioning),
        "JAG-SUB-02",
        None,
        |y| y.replace("jit_provisioning: true\n", ""),
    )
    .await;
    assert_eq!(check(&r, "JAG-SUB-02").verdict, Verdict::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_check_sends_the_targets_write_and_is_skip_without_it() {
    let r = run(None, "RS-06", None, |y| y).await;
    let c = check(&r, "RS-06");
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    let api: Vec<&str> = c
        .exchanges
        .iter()
        .filter(|e| e.role == "api")
        .map(|e| e.request.method.as_str())
        .collect();
    assert_eq!(api, ["POST"], "api.write's method");
    let r = run(None, "RS-06", None, |y| {
        let mut out = String::new();
        for line in y.lines() {
            match line.find(", write:") {
                Some(i) if line.starts_with("api:") => {
                    out.push_str(&format!("{} }}\n", &line[..i]))
                }
                _ => out.push_str(&format!("{line}\n")),
            }
        }
        out
    })
    .await;
    let c = check(&r, "RS-06");
    assert_eq!(c.verdict, Verdict::Skip, "{}", c.reason);
    assert!(c.reason.contains("api.write"), "{}", c.reason);
}

#[test]
fn the_write_method_names_are_read() {
    use xaa_conform::protocol::HttpMethod;
    for (name, m) in [
        ("PUT", HttpMethod::Put),
        ("patch", HttpMethod::Patch),
        ("DELETE", HttpMethod::Delete),
        ("POST", HttpMethod::Post),
    ] {
        assert_eq!(HttpMethod::from_name(name), Some(m));
    }
    assert_eq!(HttpMethod::from_name("BREW"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_api_check_whose_token_is_refused_is_skip() {
    // RS-01's form with an ID-JAG the RAS refuses (another audience): no token, so the API
    // cannot be called; SKIP with the answer, not FAIL.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("RS-X1.yaml"),
        "version: 2\nid: RS-X1\ntitle: t\nrequirement: { level: MUST, source: s }\n\
         jag:\n  claims: { aud: \"${attacker.url}\" }\nexpect:\n  accept: {}\napi: { status: 200 }\n",
    )
    .expect("write scenario");
    let r = run(None, "RS-X1", Some(dir.path()), |y| y).await;
    let c = check(&r, "RS-X1");
    assert_eq!(c.verdict, Verdict::Skip, "{}", c.reason);
    assert!(
        c.reason.contains("the access token could not be obtained"),
        "{}",
        c.reason
    );
    assert!(c.exchanges.iter().all(|e| e.role != "api"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_idps_token_exchange_signs_with_the_targets_default_algorithm() {
    // BASE-01 obtains its ID-JAG from the fake IdP's RFC 8693 token exchange.
    let r = run(Some(ReferenceVariant::Es256Only), "BASE-01", None, |y| y).await;
    let c = check(&r, "BASE-01");
    assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
    let sent = c.token.as_ref().expect("the ID-JAG sent");
    assert_eq!(sent.header["alg"], "ES256", "{}", sent.mutation);
}

#[test]
fn load_signs_with_the_targets_default_algorithm_unless_told() {
    use xaa_conform::cli::load::{Alg, load_alg};
    use xaa_conform::jose::KeyAlg;
    let issuers = xaa_conform::fixture::issuer_urls("http://127.0.0.1:7400");
    let mut f = reference::embedded_fixture("http://127.0.0.1:1", &issuers, Duration::from_secs(1));
    assert_eq!(load_alg(None, &f), KeyAlg::RS256);
    f.accepted_algs = vec![KeyAlg::ES256];
    assert_eq!(load_alg(None, &f), KeyAlg::ES256);
    assert_eq!(load_alg(Some(Alg::Rs256), &f), KeyAlg::RS256);
}

/// `authorization_details` in the target file: its example's `type` must be one of its
/// `types` (a mistake is exit-2 input naming the line and column); declared, the RAR
/// placeholders come from it, never from the reference.
#[test]
fn authorization_details_are_the_targets_and_checked_where_written() {
    use xaa_conform::target::TargetFile;
    let head = "token_endpoint: http://127.0.0.1:1/token\nissuer: http://127.0.0.1:1/\n\
                client: { id: a, secret: b }\nsubject: u1\n";
    let bad = format!(
        "{head}authorization_details:\n  types: [todo_access]\n  example: {{ type: other, actions: [read] }}\n"
    );
    let err = TargetFile::parse("t.yaml", &bad)
        .expect("parses")
        .to_fixture("t.yaml")
        .expect_err("a type it does not declare");
    let shown = err.to_string();
    assert!(shown.contains("t.yaml:7:"), "{shown}");
    assert!(shown.contains("authorization_details.example"), "{shown}");
    let good = format!(
        "{head}authorization_details: {{ types: [todo_access], example: {{ type: todo_access, actions: [read] }} }}\n"
    );
    let f = TargetFile::parse("t.yaml", &good)
        .expect("parses")
        .to_fixture("t.yaml")
        .expect("valid");
    assert_eq!(
        f.placeholder_value("rar.type").as_deref(),
        Ok("todo_access")
    );
    assert_eq!(
        f.substitute("${rar.details}").as_deref(),
        Ok(r#"[{"type":"todo_access","actions":["read"]}]"#)
    );
    let none = TargetFile::parse("t.yaml", head)
        .expect("parses")
        .to_fixture("t.yaml")
        .expect("valid");
    let why = none
        .placeholder_value("rar.type")
        .expect_err("not declared");
    assert!(why.0.contains("`authorization_details`"), "{why}");
}

/// `access_token_format` decides whether the RFC 9068 checks apply: declared `jwt` they
/// judge; absent, a token typed at+jwt is judged as one; against opaque tokens, or declared
/// `opaque`, they are SKIP naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_token_format_decides_whether_the_jwt_checks_apply() {
    let ids = ["RESP-07", "RESP-08", "RS-07"];
    let filter = "RESP-0[78],RS-07";
    let judged = run(None, filter, None, |y| y).await;
    let detected = run(None, filter, None, |y| {
        y.replace("access_token_format: jwt\n", "")
    })
    .await;
    let declared_opaque = run(None, filter, None, |y| {
        y.replace("access_token_format: jwt", "access_token_format: opaque")
    })
    .await;
    let opaque = run(
        Some(ReferenceVariant::OpaqueAccessTokens),
        filter,
        None,
        |y| y.replace("access_token_format: opaque\n", ""),
    )
    .await;
    for id in ids {
        for r in [&judged, &detected] {
            let c = check(r, id);
            assert_eq!(c.verdict, Verdict::Pass, "{id}: {}", c.reason);
        }
        for r in [&declared_opaque, &opaque] {
            let c = check(r, id);
            assert_eq!(c.verdict, Verdict::Skip, "{id}: {}", c.reason);
            assert!(
                c.reason.contains("access_token_format"),
                "{id}: {}",
                c.reason
            );
        }
    }
}

/// A target that declares no `dpop` gets the DPoP checks SKIP with a reason naming the key,
/// even when the server behind it supports DPoP (the reference); JAG-CNF-01 still runs, its
/// control the valid unbound ID-JAG and no proof sent. Declared, the same checks PASS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dpop_checks_are_skip_naming_the_key_the_target_does_not_declare() {
    let without = |y: String| {
        y.lines()
            .filter(|l| !l.starts_with("dpop"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let results = run(None, "[DJR]*", None, without).await;
    for id in [
        "DPOP-01", "DPOP-04", "DPOP-06", "DPOP-07", "RS-08", "RESP-02",
    ] {
        let c = check(&results, id);
        assert_eq!(c.verdict, Verdict::Skip, "{id}: {}", c.reason);
        assert!(c.reason.contains("`dpop"), "{id}: {}", c.reason);
    }
    let cnf = check(&results, "JAG-CNF-01");
    assert_eq!(cnf.verdict, Verdict::Pass, "{}", cnf.reason);
    assert!(
        cnf.exchanges
            .iter()
            .all(|e| !e.request.headers.iter().any(|(k, _)| k == "dpop")),
        "no DPoP proof is sent to a target without dpop"
    );
    let declared = run(None, "[DJR]*", None, |y| y).await;
    for id in [
        "DPOP-01",
        "DPOP-04",
        "DPOP-06",
        "DPOP-07",
        "RS-08",
        "RESP-02",
        "JAG-CNF-01",
    ] {
        let c = check(&declared, id);
        assert_eq!(c.verdict, Verdict::Pass, "{id}: {}", c.reason);
    }
}
