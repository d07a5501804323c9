//! End-to-end: the whole suite against the embedded reference RAS, compliant and with each
//! defect, against a reference described by a target file, and against broken targets.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use xaa_conform::jose::Keyring;
use xaa_conform::reference::{self, Defect, Proof, ReferenceRas};
use xaa_conform::report::model::RunResults;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;

fn keyring() -> Arc<Keyring> {
    static KEYS: OnceLock<Arc<Keyring>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(Keyring::ephemeral().expect("keys")))
        .clone()
}

fn verdicts(r: &RunResults) -> BTreeMap<String, (Verdict, String)> {
    r.checks
        .iter()
        .map(|c| (c.id.clone(), (c.verdict, c.reason.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliant_reference_passes_every_check() {
    let results = runner::run_suite(&RunOptions::default(), Some(keyring()))
        .await
        .expect("run");
    let v = verdicts(&results);
    // Every catalogue row the built-in scenarios cover (those without a not-covered reason).
    for row in xaa_conform::catalogue::all()
        .iter()
        .filter(|r| r.not_covered.is_none())
    {
        assert!(v.contains_key(row.id), "{} missing from the run", row.id);
    }
    for (id, (verdict, reason)) in &v {
        assert!(
            matches!(verdict, Verdict::Pass | Verdict::Info),
            "{id} is {verdict}: {reason}"
        );
    }
    assert_eq!(runner::exit_code(&results), 0);
    // Every check made real HTTP exchanges, and negatives sent their control first.
    for c in &results.checks {
        assert!(!c.exchanges.is_empty(), "{} made no request", c.id);
        if c.reason.starts_with("rejected") {
            // The exchanges with the RAS; those with the fake IdP (a token exchange that
            // obtains the probe's or the control's ID-JAG) come before them.
            let roles: Vec<&str> = c
                .exchanges
                .iter()
                .map(|e| e.role.as_str())
                .filter(|r| !r.starts_with("idp-"))
                .collect();
            assert_eq!(roles[0], "control", "{}", c.id);
            // The probe is last, or (checks with `retry_after`) a retry right after it.
            assert!(
                roles.ends_with(&["probe"]) || roles.ends_with(&["probe", "retry"]),
                "{}: {roles:?}",
                c.id
            );
        }
        // A multi-case check ran each case as its own check: its exchanges are `case: role`;
        // a differential case's are control first, and every case's probe comes last (or
        // before the resource-API call of an `api:` step).
        if c.reason.starts_with("case `") {
            let mut cases: Vec<(&str, Vec<&str>)> = Vec::new();
            for e in &c.exchanges {
                let (case, role) = e.role.split_once(": ").expect("a case's exchange role");
                match cases.last_mut() {
                    Some((name, roles)) if *name == case => roles.push(role),
                    _ => cases.push((case, vec![role])),
                }
            }
            assert!(cases.len() > 1, "{}: {cases:?}", c.id);
            let sc = embedded_scenario(&c.id);
            for (case, roles) in &cases {
                // A negative at the resource API (RS-08) obtains its token, then sends the
                // API's positive control and its probe.
                if roles.ends_with(&["api-control", "api"]) {
                    continue;
                }
                let differential = sc
                    .cases
                    .iter()
                    .find(|k| k.name == *case)
                    .map(|k| sc.with_case(k))
                    .is_some_and(|s| s.expect.needs_control());
                if differential {
                    assert_eq!(roles[0], "control", "{} case {case}: {roles:?}", c.id);
                }
                assert!(
                    roles.ends_with(&["probe"])
                        || roles.ends_with(&["probe", "retry"])
                        || roles.ends_with(&["probe", "api"]),
                    "{} case {case}: {roles:?}",
                    c.id
                );
            }
        }
    }
    // BASE-01 got its ID-JAG the real way: sign-in, code exchange, token exchange.
    let base01 = results
        .checks
        .iter()
        .find(|c| c.id == "BASE-01")
        .expect("BASE-01");
    let roles: Vec<&str> = base01.exchanges.iter().map(|e| e.role.as_str()).collect();
    assert_eq!(
        roles,
        ["idp-authorize", "idp-token", "idp-token-exchange", "probe"]
    );
}

/// Each defect moves exactly its declared checks from their compliant verdict to the declared
/// ones; every check whose level is not INFO is proven by at least one defect; no defect
/// breaks more than three checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defect_matrix() {
    let keys = keyring();
    let compliant = runner::run_suite(&RunOptions::default(), Some(keys.clone()))
        .await
        .expect("run");
    let baseline = verdicts(&compliant);
    // Defects that show only under a profile (the replay-cache ones under mcp-ema, where an
    // ID-JAG is single use) run under it, against the compliant reference's verdicts there.
    let mut profile_baselines = BTreeMap::new();
    for p in Defect::ALL.iter().filter_map(|d| d.profile()) {
        if !profile_baselines.contains_key(p) {
            let opts = RunOptions {
                profile: Some(p.to_string()),
                ..Default::default()
            };
            let r = runner::run_suite(&opts, Some(keys.clone()))
                .await
                .expect("run");
            profile_baselines.insert(p, verdicts(&r));
        }
    }
    // A few runs at a time: each starts its own servers, and 2 cores shared by dozens of runs
    // would push single requests past the 10 s timeout.
    let slots = Arc::new(tokio::sync::Semaphore::new(12));
    let mut tasks = tokio::task::JoinSet::new();
    // Defects proven by `load` (their checks are load checks) have their own tests (tests/load.rs).
    for &d in Defect::ALL.iter().filter(|d| d.proof() == Proof::Run) {
        let keys = keys.clone();
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            let opts = RunOptions {
                defects: BTreeSet::from([d]),
                profile: d.profile().map(str::to_string),
                ..Default::default()
            };
            (d, runner::run_suite(&opts, Some(keys)).await.expect("run"))
        });
    }
    let mut proven: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (defect, results) = joined.expect("task");
        let baseline = match defect.profile() {
            Some(p) => &profile_baselines[p],
            None => &baseline,
        };
        let declared: BTreeMap<&str, Verdict> = defect.breaks().iter().copied().collect();
        assert!(
            !declared.is_empty() && declared.len() <= 3,
            "{defect} declares {} checks",
            declared.len()
        );
        for id in declared.keys() {
            assert!(
                baseline.contains_key(*id),
                "{defect} declares unknown check {id}"
            );
        }
        for c in &results.checks {
            let want = declared
                .get(c.id.as_str())
                .copied()
                .unwrap_or(baseline[&c.id].0);
            if c.verdict != want {
                failures.push(format!(
                    "{defect}: {} is {} ({}), expected {want}",
                    c.id, c.verdict, c.reason
                ));
            }
            if declared.contains_key(c.id.as_str()) && c.verdict == want {
                proven.insert(c.id.clone());
            }
        }
        let must_fail = declared.values().any(|v| *v == Verdict::Fail);
        let code = runner::exit_code(&results);
        if code != if must_fail { 1 } else { 0 } {
            failures.push(format!("{defect}: exit code {code}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let unproven: Vec<&String> = compliant
        .checks
        .iter()
        .filter(|c| {
            c.requirement.level != xaa_conform::spec::Level::Info && c.verdict != Verdict::Info
        })
        .map(|c| &c.id)
        .filter(|id| !proven.contains(*id))
        .collect();
    assert!(unproven.is_empty(), "checks no defect proves: {unproven:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_any_aud_fails_aud_02_with_the_reason() {
    let opts = RunOptions {
        defects: BTreeSet::from([Defect::AcceptAnyAud]),
        ..Default::default()
    };
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("run");
    let v = verdicts(&results);
    assert_eq!(
        v["JAG-AUD-02"],
        (
            Verdict::Fail,
            "aud https://other-ras.example/ was accepted: 200 with an access token".to_string()
        )
    );
}

/// The target-file lines of the reference's issuers with their own subject namespaces, its
/// own IdP and its cleartext address.
fn worlds_of(f: &xaa_conform::fixture::Fixture) -> String {
    let mt = f.multi_tenant.as_ref().expect("multi_tenant");
    let saml = f.saml_subjects.as_ref().expect("saml_subjects");
    let own = f.also_idp.as_ref().expect("also_idp");
    format!(
        "multi_tenant: {{ tenant: {}, other_tenant: {} }}\nsaml_subjects: {{ saml_issuer: \"{}\", nameid: \"{}\" }}\n\
         also_idp: {{ issuer: \"{}\", token_endpoint: \"{}\" }}\ntoken_endpoint_http: \"{}\"\n",
        mt.tenant,
        mt.other_tenant,
        saml.saml_issuer,
        saml.nameid,
        own.issuer,
        own.token_endpoint,
        f.token_endpoint_http
            .as_deref()
            .expect("token_endpoint_http"),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// The same scenarios run unchanged against a RAS described by a target file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_file_pointing_at_a_reference_passes() {
    let idp_bind = format!("127.0.0.1:{}", free_port());
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let (ras, f) = ReferenceRas::start("127.0.0.1:0", Default::default(), |base| {
        reference::embedded_fixture(base, &issuers, Duration::from_secs(5))
    })
    .await
    .expect("reference");
    let dir = tempfile::tempdir().expect("tmp");
    let c2 = f.client2.as_ref().expect("c2");
    let c4 = f.client4.as_ref().expect("c4");
    let target = write(
        dir.path(),
        "target.yaml",
        &(format!(
            "token_endpoint: {}\nissuer: {}\nclient: {{ id: {}, secret: \"{}\" }}\nclient2: {{ id: {}, secret: \"{}\" }}\n\
             client3: {{ id: agent-c3 }}\nclient4: {{ id: {}, secret: \"{}\" }}\n{}subject: u1\nsubject_b: u3\nwhoami: {}\nresource: {}\nresource2: {}\napi: {{ r1: {}, r2: {}, write: {{ method: POST, scope: s.write }} }}\nscope: \"s.read s.write\"\nidp: {{ bind: \"{idp_bind}\" }}\ntimeout: 5s\njwks_cache_ttl: 1s\n\
             dpop: supported\ndpop_required_resource: {}\n",
            f.token_endpoint,
            f.ras_issuer,
            f.client.id,
            f.client.secret.expose(),
            c2.id,
            c2.secret.expose(),
            c4.id,
            c4.secret.expose(),
            worlds_of(&f),
            f.whoami.as_deref().unwrap_or_default(),
            f.resource.as_deref().unwrap_or_default(),
            f.resource2.as_deref().unwrap_or_default(),
            f.api_r1.as_deref().unwrap_or_default(),
            f.api_r2.as_deref().unwrap_or_default(),
            f.dpop
                .as_ref()
                .and_then(|d| d.required_resource.as_deref())
                .unwrap_or_default(),
        ) + &f
            .rar
            .as_ref()
            .map(|r| {
                format!(
                    "authorization_details: {{ types: {}, example: {} }}\n",
                    serde_json::json!(r.types),
                    serde_json::Value::Object(r.example.clone())
                )
            })
            .unwrap_or_default()),
    );
    let opts = RunOptions {
        target: Some(target),
        ..Default::default()
    };
    let results = runner::run_suite(&opts, Some(keyring()))
        .await
        .expect("run");
    ras.stop().await;
    assert!(results.checks.len() >= 14);
    for c in &results.checks {
        assert!(
            matches!(c.verdict, Verdict::Pass | Verdict::Info),
            "{}: {} ({})",
            c.id,
            c.verdict,
            c.reason
        );
    }
    // No secret in the results.
    let json = serde_json::to_string(&results).expect("json");
    assert!(!json.contains(f.client.secret.expose()));
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xaa-conform"));
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn cli_run_with_a_defect_exits_1_and_writes_valid_reports() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = bin()
        .args([
            "run",
            "--reference-defect",
            "accept-any-aud",
            "--report-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("JAG-AUD-02") && stdout.contains("FAIL"),
        "{stdout}"
    );
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("results.json")).expect("results.json"),
    )
    .expect("json");
    let schema = xaa_conform::report::json::results_schema();
    assert!(
        jsonschema::is_valid(&schema, &results),
        "results.json does not match its schema"
    );
    let checks = results["checks"].as_array().expect("checks");
    assert!(
        checks
            .iter()
            .all(|c| c["id"].is_string() && c["verdict"].is_string() && c["reason"].is_string())
    );
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("JAG-AUD-02") && junit.contains("<failure"));
}

/// An unknown defect is exit 2 naming the nearest defects and where the list is (`list
/// --defects`), not every name on one line.
#[test]
fn cli_unknown_defect_names_the_nearest_and_the_list() {
    let out = bin()
        .args(["run", "--reference-defect", "nonsense"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown defect `nonsense` (`xaa-conform list --defects` lists them)"),
        "{err}"
    );
    let out = bin()
        .args(["run", "--reference-defect", "accept-typ-jwtt"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean `accept-typ-jwt`?"), "{err}");
}

#[test]
fn cli_bad_scenario_yaml_exits_2_with_its_position() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = write(
        dir.path(),
        "bad.yaml",
        "id: X-01\ntitle: t\nbogus: 1\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n",
    );
    let reports = dir.path().join("reports");
    let out = bin()
        .args(["run", "--scenarios"])
        .arg(dir.path())
        .arg("--report-dir")
        .arg(&reports)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:1", path.display())) && err.contains("bogus"),
        "{err}"
    );
    assert!(!reports.exists(), "nothing else may run on bad input");
}

#[test]
fn cli_no_scenarios_is_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = bin()
        .args(["run", "--scenarios"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scenarios found"));
}

#[test]
fn cli_bad_target_yaml_exits_2_with_its_position() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = write(
        dir.path(),
        "target.yaml",
        "token_endpoint: http://127.0.0.1:1/token\nissuer: [oops\n",
    );
    let out = bin()
        .args(["run", "--target"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
}

/// Errors found after parsing name the value's `file:line:column` and exit 2: an unset
/// `${VAR}`, a bad duration, a bad URL, a bad `idp.bind`; an unclosed `{` points where it
/// opened; `--scenarios` naming no folder says so.
#[test]
fn cli_bad_values_exit_2_naming_their_position() {
    let base = "token_endpoint: http://127.0.0.1:1/token\nissuer: http://127.0.0.1:1\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "client:\n  id: c1\n  secret: ${XAA_CONFORM_TEST_UNSET_VAR}\nsubject: u1\n",
            ":5:11: client.secret: environment variable XAA_CONFORM_TEST_UNSET_VAR is not set",
            "",
        ),
        (
            "client: { id: c1, secret: s }\nsubject: u1\ntimeout: soon\n",
            ":5:10: timeout: `soon`",
            "for example 10s",
        ),
        (
            "client: { id: c1, secret: s }\nsubject: u1\nidp: { bind: \"localhost\" }\n",
            ":5:14: idp.bind: `localhost` is not an ip:port socket address",
            "",
        ),
        (
            "client: { id: c1, secret: s }\nsubject: u1\nintrospection: { url: \"ftp://x/i\" }\n",
            ":5:23: introspection.url: `ftp://x/i` is a ftp URL, not http or https",
            "",
        ),
        (
            "client: { id: c1, secret: s, auth: client_secret_basic\nsubject: u1\n",
            ":3:9: this `{` opens a flow mapping that is never closed: add the `}`",
            "",
        ),
    ];
    for (i, (rest, at, also)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = write(dir.path(), "target.yaml", &format!("{base}{rest}"));
        let started = std::time::Instant::now();
        let out = bin()
            .args(["run", "--target"])
            .arg(&path)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(&format!("{}{at}", path.display())),
            "case {i}: {err}"
        );
        assert!(err.contains(also), "case {i}: {err}");
        assert!(!err.contains("panicked"), "case {i}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    let dir = tempfile::tempdir().expect("tmp");
    let out = bin()
        .args(["run", "--scenarios"])
        .arg(dir.path().join("missing"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing: no such directory"), "{err}");
}

fn target_at(dir: &std::path::Path, endpoint: &str, idp_bind: &str) -> std::path::PathBuf {
    // The issuer lives where the token endpoint does, so its metadata is as unreachable.
    let issuer = endpoint.trim_end_matches("/token");
    write(
        dir,
        "target.yaml",
        &format!(
            "token_endpoint: {endpoint}\nissuer: {issuer}\nclient: {{ id: c1, secret: s3cr3t-value }}\n\
             subject: u1\nidp: {{ bind: \"{idp_bind}\" }}\ntimeout: 1s\n"
        ),
    )
}

/// The run stopped at the preflight: its one result is ERROR for `why`, and every check is
/// SKIP "not run: preflight failed".
fn assert_unanswered(results: &RunResults, why: &str) {
    use xaa_conform::oracle::{NOT_RUN, PREFLIGHT_ID};
    let mut preflight = 0;
    for c in &results.checks {
        if c.id == PREFLIGHT_ID {
            preflight += 1;
            assert_eq!(c.verdict, Verdict::Error, "{}", c.reason);
            assert!(c.reason.contains(why), "{}", c.reason);
        } else {
            assert_eq!(c.verdict, Verdict::Skip, "{}: {}", c.id, c.reason);
            assert_eq!(c.reason, NOT_RUN, "{}", c.id);
        }
    }
    assert_eq!(preflight, 1, "one preflight result");
    assert!(results.checks.len() > 100, "every check is reported");
}

fn run_against(endpoint: &str) -> (Option<i32>, RunResults, Duration, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let target = target_at(dir.path(), endpoint, "127.0.0.1:0");
    let started = Instant::now();
    let out = bin()
        .args(["run", "--target"])
        .arg(&target)
        .arg("--report-dir")
        .arg(dir.path())
        .output()
        .expect("run");
    let elapsed = started.elapsed();
    let text =
        std::fs::read_to_string(dir.path().join("results.json")).expect("results.json written");
    let results: RunResults = serde_json::from_str(&text).expect("results");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stdout.contains("s3cr3t-value") && !text.contains("s3cr3t-value"),
        "secret leaked"
    );
    (out.status.code(), results, elapsed, stdout)
}

#[test]
fn closed_port_gives_error_and_exit_3() {
    let port = free_port();
    let (code, results, elapsed, _) = run_against(&format!("http://127.0.0.1:{port}/token"));
    assert_eq!(code, Some(3));
    assert_unanswered(&results, "connection");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[test]
fn silent_listener_times_out_with_error_and_exit_3() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    // Accepts and holds connections without answering, and stops by itself.
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            if held.len() > 1024 {
                break;
            }
        }
    });
    let (code, results, elapsed, _) = run_against(&format!("http://127.0.0.1:{port}/token"));
    assert_eq!(code, Some(3));
    assert_unanswered(&results, "no response head within 1 s");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    drop(holder);
}

#[test]
fn idp_port_in_use_exits_3_naming_the_address() {
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tmp");
    let target = target_at(dir.path(), "http://127.0.0.1:9/token", &addr);
    let out = bin()
        .args(["run", "--target"])
        .arg(&target)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&addr), "{err}");
    let _ = busy.local_addr().map(|_| std::io::stdout().flush());
}

#[test]
fn expected_failures_turn_known_fails_off_and_stale_entries_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let known = write(
        dir.path(),
        "known.yaml",
        "- id: JAG-AUD-02\n  reason: tenant aud check lands next release\n",
    );
    let out = bin()
        .args([
            "run",
            "--filter",
            "JAG-AUD-0[12]",
            "--reference-defect",
            "accept-any-aud",
            "--report-dir",
        ])
        .arg(dir.path())
        .arg("--expected-failures")
        .arg(&known)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("expected failure JAG-AUD-02"), "{stdout}");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    assert!(
        junit.contains("expected failure: tenant aud check") && !junit.contains("<failure"),
        "{junit}"
    );

    // Against the compliant reference the same entry is stale: exit 1.
    let out = bin()
        .args(["run", "--filter", "JAG-AUD-0[12]", "--report-dir"])
        .arg(dir.path())
        .arg("--expected-failures")
        .arg(&known)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("STALE expected failure JAG-AUD-02"));

    // An ID that is no check is bad input, with its position.
    let unknown = write(
        dir.path(),
        "unknown.yaml",
        "- id: JAG-NOPE-99\n  reason: x\n",
    );
    let out = bin()
        .args(["run", "--expected-failures"])
        .arg(&unknown)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:1:7", unknown.display())) && err.contains("JAG-NOPE-99"),
        "{err}"
    );
}

/// Under the MCP profile the reference enforces single use, and every check is met there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliant_reference_passes_under_every_profile() {
    for profile in xaa_conform::spec::PROFILES {
        let opts = RunOptions {
            profile: Some(profile.to_string()),
            ..Default::default()
        };
        let results = runner::run_suite(&opts, Some(keyring()))
            .await
            .expect("run");
        assert_eq!(results.profile, *profile);
        for c in &results.checks {
            assert!(
                matches!(c.verdict, Verdict::Pass | Verdict::Info),
                "{profile}: {} is {} ({})",
                c.id,
                c.verdict,
                c.reason
            );
        }
    }
}

/// The built-in scenario `id`.
fn embedded_scenario(id: &str) -> xaa_conform::scenario::Scenario {
    xaa_conform::scenario::embedded()
        .expect("the catalogue loads")
        .into_iter()
        .find(|l| l.scenario.id == id)
        .unwrap_or_else(|| panic!("{id}: no such scenario"))
        .scenario
}
