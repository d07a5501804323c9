//! RFC 7662 introspection as the standard whoami (issue 9 §1): the target file's
//! `introspection` refused with exit 2 when it is wrong, the judge of introspection answers
//! (pure), and the checks that use it against the reference, whose `/introspect` answers.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};
use xaa_conform::oracle::{
    AcceptRules, Introspected, IntrospectionObservation, Outcome, Rules, WhoamiError,
    as_introspected, introspected_principal, judge_introspection, read_introspection,
};
use xaa_conform::reference::{self, ReferenceOptions, ReferenceRas, SecretsIn};
use xaa_conform::report::model::{CheckResult, Exchange, RecordedRequest, RecordedResponse};
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::{Level, Verdict};

use common::{free_port, keyring};

// ---------------------------------------------------------------- the target file

const MINIMAL: &str = "token_endpoint: https://ras.example/token\nissuer: https://ras.example\nclient: { id: c1, secret: s }\nsubject: u1\n";

/// Runs `run --target` on a target file made of MINIMAL and `extra`: exit code and stderr.
fn run_target(extra: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad-target.yaml");
    std::fs::write(&path, format!("{MINIMAL}{extra}")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .args(["run", "--target"])
        .arg(&path)
        .args(["--report-dir"])
        .arg(dir.path().join("reports"))
        .env_remove("XAA_NO_SUCH_SECRET")
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path.display().to_string(),
    )
}

#[test]
fn a_bad_introspection_field_is_refused_with_exit_2_naming_the_file_and_the_field() {
    for (extra, field) in [
        (
            "introspection: { url: \"not a url\" }\n",
            "introspection.url",
        ),
        (
            "introspection: { url: \"ftp://ras.example/introspect\" }\n",
            "introspection.url",
        ),
        (
            "introspection: { url: \"https://ras.example/introspect\", client: { id: rs, secret: \"${XAA_NO_SUCH_SECRET}\" } }\n",
            "introspection.client.secret",
        ),
        (
            "introspection: { url: \"https://ras.example/introspect\", client: { id: \"\", secret: x } }\n",
            "introspection.client.id",
        ),
        (
            "introspection: { url: \"https://ras.example/introspect\", secret: x }\n",
            "introspection",
        ),
        (
            "introspection: \"https://ras.example/introspect\"\n",
            "introspection",
        ),
    ] {
        let (code, stderr, path) = run_target(extra);
        assert_eq!(code, Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(&path), "{extra}: no file named: {stderr}");
        assert!(stderr.contains(field), "{extra}: no {field}: {stderr}");
    }
}

#[test]
fn a_good_introspection_field_is_read_with_its_client_or_c1() {
    let t = xaa_conform::target::TargetFile::parse(
        "t.yaml",
        &format!("{MINIMAL}introspection: {{ url: \"https://ras.example/introspect\" }}\n"),
    )
    .expect("parse");
    let f = t.to_fixture("t.yaml").expect("fixture");
    let i = f.introspection.expect("introspection");
    assert_eq!(i.url, "https://ras.example/introspect");
    assert_eq!(i.client.id, "c1");
    let t = xaa_conform::target::TargetFile::parse(
        "t.yaml",
        &format!(
            "{MINIMAL}introspection: {{ url: \"https://ras.example/introspect\", client: {{ id: rs, secret: x, auth: client_secret_post }} }}\n"
        ),
    )
    .expect("parse");
    let i = t
        .to_fixture("t.yaml")
        .expect("fixture")
        .introspection
        .expect("introspection");
    assert_eq!(i.client.id, "rs");
    assert_eq!(i.client.secret.expose(), "x");
}

// ---------------------------------------------------------------- the judge

fn answer(status: u16, body: &str) -> Exchange {
    Exchange {
        role: "introspection".into(),
        request: RecordedRequest {
            method: "POST".into(),
            url: "https://ras.example/introspect".into(),
            headers: Vec::new(),
            body: "token=x".into(),
        },
        response: Some(RecordedResponse::text(
            status,
            vec![("content-type".into(), "application/json".into())],
            body,
        )),
        error: None,
        elapsed_ms: 1.0,
        curl: String::new(),
    }
}

fn active(body: Value) -> Introspected {
    Introspected {
        active: body["active"] == json!(true),
        body: body.as_object().cloned().unwrap_or_default(),
    }
}

#[test]
fn introspection_answers_are_read_and_refusals_told_apart() {
    let a = read_introspection(&answer(200, r#"{"active":true,"sub":"U1"}"#)).expect("read");
    assert!(a.active);
    assert_eq!(a.principal().as_deref(), Some("U1"));
    let by_username =
        read_introspection(&answer(200, r#"{"active":true,"username":"alice"}"#)).expect("read");
    assert_eq!(by_username.principal().as_deref(), Some("alice"));
    assert_eq!(
        read_introspection(&answer(401, "{}")),
        Err(WhoamiError::IntrospectionRefused(401))
    );
    assert_eq!(
        read_introspection(&answer(403, "{}")),
        Err(WhoamiError::IntrospectionRefused(403))
    );
    assert_eq!(
        read_introspection(&answer(500, "{}")),
        Err(WhoamiError::IntrospectionStatus(500))
    );
    assert_eq!(
        read_introspection(&answer(200, "<html>")),
        Err(WhoamiError::IntrospectionNotJson)
    );
    assert_eq!(
        read_introspection(&answer(200, r#"{"active":"yes"}"#)),
        Err(WhoamiError::IntrospectionNoActive)
    );
    assert!(
        WhoamiError::IntrospectionRefused(401)
            .to_string()
            .contains("introspection.client")
    );
    assert_eq!(
        introspected_principal(Ok(active(json!({ "active": false })))),
        Err(WhoamiError::Inactive)
    );
    assert_eq!(
        introspected_principal(Ok(active(json!({ "active": true, "client_id": "c1" })))),
        Err(WhoamiError::IntrospectionNoPrincipal)
    );
}

fn accepted(scope: Option<&str>) -> Outcome {
    let mut body = Map::new();
    body.insert("access_token".into(), json!("at"));
    body.insert("token_type".into(), json!("Bearer"));
    if let Some(s) = scope {
        body.insert("scope".into(), json!(s));
    }
    Outcome::Accepted { body }
}

fn at_most(scope: &str) -> Rules {
    Rules::Accept(AcceptRules {
        scope_at_most: Some(scope.into()),
        ..AcceptRules::default()
    })
}

#[test]
fn the_scope_introspection_reports_wins_over_the_token_responses() {
    let rules = at_most("s.read");
    let probe = accepted(Some("s.read"));
    let carried = Ok(active(json!({ "active": true, "scope": "s.read s.write" })));
    let (token, note) = as_introspected(&rules, &probe, &carried);
    let Some(Outcome::Accepted { body }) = token else {
        panic!("no token view")
    };
    assert_eq!(body["scope"], "s.read s.write");
    let note = note.expect("note");
    assert!(note.contains("per introspection"), "{note}");
    assert!(note.contains("`s.read`"), "{note}");
    let j = xaa_conform::oracle::judge_positive(
        Level::Must,
        &AcceptRules {
            scope_at_most: Some("s.read".into()),
            ..AcceptRules::default()
        },
        &Outcome::Accepted { body },
        None,
        "x",
    );
    assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
    // The same scope: confirmed. No scope, or a failed introspection: the response stands.
    let same = Ok(active(json!({ "active": true, "scope": "s.read" })));
    let (_, note) = as_introspected(&rules, &probe, &same);
    assert!(note.expect("note").contains("confirms"));
    let silent = Ok(active(json!({ "active": true })));
    assert_eq!(as_introspected(&rules, &probe, &silent), (None, None));
    let (token, note) =
        as_introspected(&rules, &probe, &Err(WhoamiError::IntrospectionRefused(403)));
    assert!(token.is_none());
    assert!(note.expect("note").contains("judged on the token response"));
    // A response without the scope the rules require keeps its own fault.
    let required = Rules::Accept(AcceptRules {
        scope_required: true,
        scope_at_most: Some("s.read".into()),
        ..AcceptRules::default()
    });
    assert_eq!(
        as_introspected(&required, &accepted(None), &carried).0,
        None
    );
    let within = Rules::Accept(AcceptRules {
        scope_within: Some("s.read".into()),
        ..AcceptRules::default()
    });
    assert_eq!(as_introspected(&within, &accepted(None), &carried).0, None);
}

fn observation(issued: Value, unknown: Value) -> IntrospectionObservation {
    let Outcome::Accepted { body: mut response } = accepted(Some("s.read s.write")) else {
        unreachable!()
    };
    response.insert("resource".into(), json!("https://ras.example/api/r1"));
    IntrospectionObservation {
        issued: Ok(active(issued)),
        unknown: Ok(active(unknown)),
        response,
        client_id: "c1".into(),
        jag_scope: Some("s.read s.write".into()),
        resource: Some("https://ras.example/api/r1".into()),
    }
}

fn truthful() -> Value {
    json!({
        "active": true, "sub": "U1", "client_id": "c1", "scope": "s.read s.write",
        "aud": ["https://ras.example/api/r1"]
    })
}

#[test]
fn rs_12_judges_what_introspection_says_of_the_token() {
    let inactive = json!({ "active": false });
    let j = judge_introspection(Level::Must, &observation(truthful(), inactive.clone()));
    assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    assert!(j.reason.contains("principal U1"), "{}", j.reason);
    let with = |k: &str, v: Value| {
        let mut t = truthful();
        t[k] = v;
        t
    };
    for (issued, unknown, verdict, says) in [
        (
            with("client_id", json!("rs")),
            inactive.clone(),
            Verdict::Fail,
            "client_id is rs",
        ),
        (
            with("active", json!(false)),
            inactive.clone(),
            Verdict::Fail,
            "inactive",
        ),
        (
            with("scope", json!("s.read s.write admin")),
            inactive.clone(),
            Verdict::Fail,
            "beyond the ID-JAG",
        ),
        (
            with("scope", json!("s.read")),
            inactive.clone(),
            Verdict::Fail,
            "the token response says",
        ),
        (
            truthful(),
            json!({ "active": true }),
            Verdict::Fail,
            "never issued is reported active",
        ),
        (
            with("aud", json!("https://ras.example")),
            inactive.clone(),
            Verdict::Warn,
            "does not name the resource",
        ),
    ] {
        let j = judge_introspection(Level::Must, &observation(issued, unknown));
        assert_eq!(j.verdict, verdict, "{says}: {}", j.reason);
        assert!(j.reason.contains(says), "{says}: {}", j.reason);
    }
    // Members it may leave out (RFC 7662 §2.2: OPTIONAL) are no fault.
    let j = judge_introspection(
        Level::Must,
        &observation(json!({ "active": true }), inactive.clone()),
    );
    assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    // A refused caller is SKIP with the reason; no answer is ERROR.
    let mut seen = observation(truthful(), inactive);
    seen.issued = Err(WhoamiError::IntrospectionRefused(401));
    let j = judge_introspection(Level::Must, &seen);
    assert_eq!(j.verdict, Verdict::Skip, "{}", j.reason);
    assert!(
        j.reason.contains("refused the suite's client (401)"),
        "{}",
        j.reason
    );
    seen.issued = Err(WhoamiError::NoAnswer("reset".into()));
    assert_eq!(
        judge_introspection(Level::Must, &seen).verdict,
        Verdict::Error
    );
    seen.issued = Err(WhoamiError::IntrospectionNoActive);
    assert_eq!(
        judge_introspection(Level::Must, &seen).verdict,
        Verdict::Fail
    );
}

// ---------------------------------------------------------------- against the reference

/// The checks these tests look at: RS-11, RS-12, JAG-SUB-03 and JAG-SCP-02 (and the two
/// others the second glob matches).
const CHECKS: [&str; 2] = ["RS-1[12]", "JAG-S[UC][BP]-0[23]"];

/// Runs the checks matching each of `filters` against the default reference through its
/// printed target.yaml changed by `edit`.
async fn run(filters: &[&str], edit: impl FnOnce(String) -> String) -> Vec<CheckResult> {
    let idp_bind = format!("127.0.0.1:{}", free_port());
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let (ras, fixture) = ReferenceRas::start("127.0.0.1:0", ReferenceOptions::default(), |base| {
        reference::embedded_fixture(base, &issuers, Duration::from_secs(10))
    })
    .await
    .expect("reference");
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    let yaml = reference::target_yaml(&fixture, None, &idp_bind, SecretsIn::Inline, "test");
    std::fs::write(&target, edit(yaml)).expect("write target");
    let mut checks = Vec::new();
    for filter in filters {
        let opts = RunOptions {
            target: Some(target.clone()),
            filter: vec![(*filter).into()],
            ..Default::default()
        };
        let results = runner::run_suite(&opts, Some(keyring())).await;
        checks.extend(results.expect("run").checks);
    }
    ras.stop().await;
    checks
}

fn check<'a>(checks: &'a [CheckResult], id: &str) -> &'a CheckResult {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{id} not run"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_introspection_says_whom_a_token_represents_before_whoami() {
    let checks = run(&CHECKS, |y| y).await;
    for id in ["RS-11", "RS-12", "JAG-SUB-03", "JAG-SCP-02"] {
        let c = check(&checks, id);
        assert!(
            matches!(c.verdict, Verdict::Pass | Verdict::Info),
            "{id}: {} {}",
            c.verdict,
            c.reason
        );
        assert!(!c.exchanges.iter().any(|e| e.role == "whoami"), "{id}");
    }
    let rs11 = check(&checks, "RS-11");
    assert!(
        rs11.reason.starts_with("introspection: principal U1"),
        "{}",
        rs11.reason
    );
    let asked = rs11
        .exchanges
        .iter()
        .find(|e| e.role == "introspection")
        .expect("introspection");
    // C2 introspects, and neither its secret nor the access token is in the record.
    assert!(asked.curl.contains("-u 'agent-c2:'"), "{}", asked.curl);
    assert!(
        asked.request.body.contains("token=[REDACTED]"),
        "{}",
        asked.request.body
    );
    let scp = check(&checks, "JAG-SCP-02");
    assert!(
        scp.reason.contains("introspection confirms"),
        "{}",
        scp.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_introspection_endpoint_that_refuses_the_suites_client_is_skip_with_the_reason() {
    // C2 introspects with a wrong secret: 401.
    let checks = run(&CHECKS, |y| {
        y.lines()
            .map(|l| {
                if l.starts_with("introspection:") {
                    let url = l.split('"').nth(1).expect("url").to_string();
                    format!(
                        "introspection: {{ url: \"{url}\", client: {{ id: agent-c2, secret: wrong }} }}\n"
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    })
    .await;
    for id in ["RS-11", "RS-12", "JAG-SUB-03"] {
        let c = check(&checks, id);
        assert_eq!(c.verdict, Verdict::Skip, "{id}: {}", c.reason);
        assert!(
            c.reason.contains("refused the suite's client (401)"),
            "{id}: {}",
            c.reason
        );
    }
    // A check the token response can judge alone is judged so, and says why.
    let scp = check(&checks, "JAG-SCP-02");
    assert_eq!(scp.verdict, Verdict::Pass, "{}", scp.reason);
    assert!(
        scp.reason.contains("judged on the token response"),
        "{}",
        scp.reason
    );
}
