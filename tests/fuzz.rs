//! `xaa-conform fuzz` end to end: the compliant reference gives no FAIL under the generic and
//! mcp-ema profiles; every reference defect that breaks a header, claim or signature check is
//! found (or listed below with why fuzz cannot reach it); findings are collected up to
//! `--max-findings`; `--without` leaves a single step out; a refused control is exit 3; the
//! saved cases replay.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use xaa_conform::reference::Defect;
use xaa_conform::spec::Verdict;

fn command(dir: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xaa-conform"));
    c.arg("fuzz")
        .arg("--report-dir")
        .arg(dir)
        .args(["--keys", "no-such-keys-dir"])
        .args(extra);
    c
}

fn text(out: &Output) -> (i32, String) {
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn fuzz(dir: &Path, extra: &[&str]) -> (i32, String) {
    text(&command(dir, extra).output().expect("run xaa-conform"))
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("json")
}

fn findings(o: &Value) -> Vec<Value> {
    o["findings"].as_array().cloned().unwrap_or_default()
}

/// A finding's keys without their verdict (`FAIL JAG-AUD-03` → `JAG-AUD-03`).
fn keys(f: &Value) -> Vec<String> {
    f["keys"]
        .as_array()
        .map(|k| {
            k.iter()
                .filter_map(|k| k.as_str())
                .map(|k| k.split_once(' ').map_or(k, |(_, key)| key).to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compliant_reference_gives_no_fail_under_generic_and_mcp_ema_and_the_seed_repeats() {
    for profile in ["id-jag-04", "mcp-ema"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, out) = fuzz(
            dir.path(),
            &["--cases", "2000", "--seed", "1", "--profile", profile],
        );
        assert_eq!(code, 0, "{profile}: {out}");
        let o = json(&dir.path().join("fuzz.json"));
        assert_eq!(o["cases_run"], 2000, "{o}");
        let fails: Vec<Value> = findings(&o)
            .into_iter()
            .filter(|f| f["minimal"]["finding"]["verdict"] == "FAIL")
            .collect();
        assert!(fails.is_empty(), "{profile}: {fails:#?}");
        assert!(findings(&o).is_empty(), "{profile}: {o}");
        // Every class is common, so the property is exercised every way.
        for (class, at_least) in [
            ("valid", 300),
            ("invalid", 300),
            ("either", 100),
            ("should_refuse", 30),
        ] {
            let n = o["by_class"][class].as_u64().unwrap_or(0);
            assert!(n >= at_least, "{profile}: only {n} {class} cases: {o}");
        }
        let results = json(&dir.path().join("results.json"));
        assert_eq!(results["checks"][0]["id"], "FUZZ", "{results}");
        assert_eq!(results["checks"][0]["verdict"], "PASS", "{results}");
    }
    // The same seed generates the same cases.
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    for dir in [&a, &b] {
        let (code, out) = fuzz(dir.path(), &["--cases", "300", "--seed", "7"]);
        assert_eq!(code, 0, "{out}");
    }
    let (a, b) = (
        json(&a.path().join("fuzz.json")),
        json(&b.path().join("fuzz.json")),
    );
    assert_eq!(a["by_class"], b["by_class"]);
}

/// The defects of the header, signature and claim checks (and the acceptance checks of the
/// ID-JAG's form: BASE-08, -09, -10) that fuzz cannot reach, with why. Every other defect of
/// those families must be found.
const NOT_FUZZED: &[(&str, &str)] = &[
    (
        "kidless-tries-every-issuer",
        "needs kid removed and ISS_B's key together, a pair no single step makes",
    ),
    (
        "unknown-kid-tries-all-keys",
        "a kid no key has is JAG-HDR-12's (either answer) in the table; the defect shows only with the issuer's own key under an unknown kid, which JAG-SIG-15 judges",
    ),
    (
        "no-refetch-on-unknown-kid",
        "needs the IdP to rotate its keys (a condition fuzz never sets)",
    ),
    (
        "never-evict-removed-keys",
        "needs the IdP to remove a key (a condition fuzz never sets)",
    ),
    (
        "fail-open-on-jwks-error",
        "needs the JWKS to fail (a condition fuzz never sets)",
    ),
    (
        "ignore-key-use",
        "needs the IdP to publish an encryption key (a condition fuzz never sets)",
    ),
    (
        "user-lookup-ignores-issuer",
        "needs ISS_B's user and the whoami endpoint to see whom the token names",
    ),
    ("single-use-jti", "needs the same ID-JAG sent twice"),
    (
        "replay-cache-ignores-issuer",
        "needs two ID-JAGs sharing a jti, under mcp-ema",
    ),
    (
        "expired-as-401",
        "the status code of a refusal is ERR-01's, which `run` judges; fuzz takes any 4xx as a refusal",
    ),
    (
        "resource-param-overrides",
        "the resource request parameter and the resource API are `run`'s",
    ),
    (
        "unrestricted-access-tokens",
        "needs the resource API to try the token at R2",
    ),
    (
        "accept-weak-rsa-keys",
        "needs the IdP to publish its 1024-bit RSA key (a condition fuzz never sets)",
    ),
    (
        "accept-jws-json-serialization",
        "needs the assertion in the JWS JSON serialization, which no fuzz step writes",
    ),
    (
        "user-lookup-ignores-tenant",
        "needs an ID-JAG of the multi-tenant issuer, which fuzz never signs as",
    ),
    (
        "saml-nameid-alone",
        "needs an ID-JAG of the SAML NameID issuer, which fuzz never signs as",
    ),
    (
        "saml-subject-falls-back-to-sub",
        "needs an ID-JAG of the SAML NameID issuer, which fuzz never signs as",
    ),
    (
        "trust-own-id-jags",
        "needs an ID-JAG issued by the RAS's own IdP, which only a token exchange there gets",
    ),
    (
        "aud-any-idp-audience",
        "needs an aud the fake IdP issues ID-JAGs for (a second RAS), which no fuzz step writes",
    ),
];

/// Checks whose defects fuzz sees as a 5xx (ERR-07) rather than under the check's own ID.
const SEEN_AS_5XX: &[&str] = &[
    "server-error-on-bad-header",
    "server-error-on-numeric-kid",
    "server-error-on-array-payload",
    "panic-on-odd-claim-type",
    "server-error-on-numeric-iss",
    "server-error-on-object-jti",
    // In scope for JAG-HDR-13 (a JSON-serialized assertion is no JWT either); fuzz reaches it
    // by an assertion of the wrong number of segments.
    "server-error-on-malformed-assertion",
];

fn in_scope(d: Defect) -> bool {
    d.breaks().iter().any(|(check, verdict)| {
        *verdict != Verdict::Skip
            && ([
                "JAG-HDR-", "JAG-SIG-", "JAG-ISS-", "JAG-AUD-", "JAG-SUB-", "JAG-CID-",
            ]
            .iter()
            .chain(["JAG-JTI-", "JAG-TIME-", "JAG-RES-", "JAG-DUP-", "JAG-JSON-"].iter())
            .any(|p| check.starts_with(p))
                || ["BASE-08", "BASE-09", "BASE-10"].contains(check))
    })
}

/// Each defect is found within `--cases 2000 --seed 1`, several defects switched on in one run
/// (a run collects every distinct finding): one of the run's findings names one of the
/// defect's checks at that check's verdict (a 5xx, ERR-07 FAIL, for the server-error
/// defects). Nine runs of five or six defects take a third of the time of one run per defect.
#[test]
fn every_header_claim_and_signature_defect_is_found() {
    for (name, _) in NOT_FUZZED.iter() {
        assert!(
            Defect::ALL.iter().any(|d| d.name() == *name),
            "{name} is no defect"
        );
    }
    let defects: Vec<Defect> = Defect::ALL
        .iter()
        .copied()
        .filter(|d| in_scope(*d) && !NOT_FUZZED.iter().any(|(n, _)| *n == d.name()))
        .collect();
    assert!(defects.len() >= 45, "{defects:?}");
    const GROUPS: usize = 9;
    let groups: Vec<Vec<Defect>> = (0..GROUPS)
        .map(|g| defects.iter().copied().skip(g).step_by(GROUPS).collect())
        .collect();
    let started = std::time::Instant::now();
    let mut problems = Vec::new();
    // Three runs at a time: each is mostly waiting on loopback.
    for batch in groups.chunks(3) {
        let runs: Vec<(&Vec<Defect>, tempfile::TempDir, std::process::Child)> = batch
            .iter()
            .map(|group| {
                let dir = tempfile::tempdir().expect("tempdir");
                let mut args = vec!["--cases", "2000", "--seed", "1", "--max-findings", "30"];
                for d in group {
                    args.extend(["--reference-defect", d.name()]);
                }
                let child = command(dir.path(), &args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn xaa-conform");
                (group, dir, child)
            })
            .collect();
        for (group, dir, child) in runs {
            let (code, out) = text(&child.wait_with_output().expect("wait"));
            let o = json(&dir.path().join("fuzz.json"));
            let found: Vec<(String, Vec<String>, usize)> = findings(&o)
                .iter()
                .map(|f| {
                    (
                        f["minimal"]["finding"]["verdict"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        keys(f),
                        f["minimal"]["case"]["steps"].as_array().map_or(0, Vec::len),
                    )
                })
                .collect();
            for d in group {
                let hit = found.iter().find(|(verdict, keys, _)| {
                    if SEEN_AS_5XX.contains(&d.name()) {
                        verdict == "FAIL" && keys.iter().any(|k| k.starts_with("ERR-07<"))
                    } else {
                        d.breaks()
                            .iter()
                            .any(|(c, v)| v.name() == verdict && keys.iter().any(|k| k == c))
                    }
                });
                match hit {
                    None => problems.push(format!(
                        "{}: not found; the run's findings: {found:?}",
                        d.name()
                    )),
                    // Shrunk to a step or two.
                    Some((_, _, steps)) if *steps == 0 || *steps > 2 => problems.push(format!(
                        "{}: minimal case of {steps} steps: {found:?}",
                        d.name()
                    )),
                    Some(_) => {}
                }
            }
            let fails = found.iter().any(|(v, _, _)| v == "FAIL");
            if code != i32::from(fails) {
                problems.push(format!("exit {code} with findings {found:?}: {out}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    eprintln!(
        "{} defects in {GROUPS} runs, found in {:.1} s",
        defects.len(),
        started.elapsed().as_secs_f64()
    );
}

/// A WARN-only defect is a WARN finding and exits 0: the level of the rule decides.
#[test]
fn a_should_only_defect_warns_and_passes_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(
        dir.path(),
        &[
            "--cases",
            "2000",
            "--seed",
            "1",
            "--reference-defect",
            "jti-optional",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    let f = findings(&o);
    assert_eq!(f.len(), 1, "{o}");
    assert_eq!(keys(&f[0]), vec!["JAG-JTI-02".to_string()]);
    assert_eq!(f[0]["minimal"]["finding"]["verdict"], "WARN");
    // Under mcp-ema a jti is required: the same server FAILs.
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(
        dir.path(),
        &[
            "--cases",
            "2000",
            "--seed",
            "1",
            "--profile",
            "mcp-ema",
            "--reference-defect",
            "jti-optional",
        ],
    );
    assert_eq!(code, 1, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    assert!(
        findings(&o)
            .iter()
            .any(|f| keys(f) == vec!["JAG-JTI-02".to_string()]
                && f["minimal"]["finding"]["verdict"] == "FAIL"),
        "{o}"
    );
}

/// Fuzz keeps going after a finding, one finding per root cause, each shrunk and reported,
/// and stops at --max-findings.
#[test]
fn findings_are_collected_up_to_max_findings() {
    let three = [
        "--reference-defect",
        "typ-optional",
        "--reference-defect",
        "ignore-exp",
        "--reference-defect",
        "aud-array-any",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--cases", "2000", "--seed", "1"];
    args.extend(three);
    let (code, out) = fuzz(dir.path(), &args);
    assert_eq!(code, 1, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    let found: Vec<Vec<String>> = findings(&o).iter().map(keys).collect();
    for row in ["JAG-HDR-01", "JAG-TIME-02", "JAG-AUD-03"] {
        let n = found.iter().filter(|k| k.iter().any(|k| k == row)).count();
        assert_eq!(n, 1, "{row} found {n} times: {found:?}");
    }
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(o["stopped_for_findings"], false);
    // Every finding is in results.json (and so in the HTML), after the run's summary.
    let results = json(&dir.path().join("results.json"));
    let ids: Vec<&str> = results["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], "FUZZ", "{ids:?}");
    for id in ["JAG-HDR-01@fuzz", "JAG-TIME-02@fuzz", "JAG-AUD-03@fuzz"] {
        let c = results["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("{id} in {ids:?}"));
        assert_eq!(c["verdict"], "FAIL", "{c}");
        assert!(
            c["exchanges"][0]["curl"]
                .as_str()
                .unwrap_or_default()
                .contains("curl")
        );
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    for id in ["JAG-HDR-01@fuzz", "JAG-TIME-02@fuzz", "JAG-AUD-03@fuzz"] {
        assert!(html.contains(id), "{id} not in the HTML");
    }

    // --max-findings 2 stops at two.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--cases", "2000", "--seed", "1", "--max-findings", "2"];
    args.extend(three);
    let (code, out) = fuzz(dir.path(), &args);
    assert_eq!(code, 1, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    assert_eq!(findings(&o).len(), 2, "{o}");
    assert_eq!(o["stopped_for_findings"], true, "{o}");
    assert!(o["cases_run"].as_u64().unwrap_or(0) < 2000, "{o}");
}

/// `--without claim:sub` leaves out every step on `sub` (and no other): a server that takes
/// a missing sub shows nothing then, while its other defect is still found.
#[test]
fn without_a_single_step() {
    let base = [
        "--cases",
        "2000",
        "--seed",
        "1",
        "--reference-defect",
        "sub-optional",
        "--reference-defect",
        "ignore-nbf",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(dir.path(), &base);
    assert_eq!(code, 1, "{out}");
    let all: Vec<Vec<String>> = findings(&json(&dir.path().join("fuzz.json")))
        .iter()
        .map(keys)
        .collect();
    assert!(
        all.iter().any(|k| k.contains(&"JAG-SUB-01".to_string())),
        "{all:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = base.to_vec();
    args.extend(["--without", "claim:sub"]);
    let (code, out) = fuzz(dir.path(), &args);
    assert_eq!(code, 1, "{out}");
    let o = json(&dir.path().join("fuzz.json"));
    let without: Vec<Vec<String>> = findings(&o).iter().map(keys).collect();
    assert_eq!(without, vec![vec!["JAG-TIME-06".to_string()]], "{o}");
    for f in findings(&o) {
        for trial in [&f["original"], &f["minimal"]] {
            let text = trial["case"].to_string();
            assert!(!text.contains("\"claim\":\"sub\""), "{text}");
            assert!(!text.contains("\"name\":\"sub\""), "{text}");
        }
    }
    // Kinds still work, and a misspelt value is an input error.
    let (code, out) = fuzz(
        dir.path(),
        &["--cases", "50", "--seed", "1", "--without", "extra_header"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = fuzz(dir.path(), &["--without", "claim:nope"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("did you mean"), "{out}");
}

/// A target file for a RAS at `endpoint` with `issuer`, C1 and the fake IdP at `idp_bind`.
fn target_file(
    dir: &Path,
    endpoint: &str,
    issuer: &str,
    client: (&str, &str),
    idp_bind: &str,
) -> String {
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
    path.to_str().expect("utf-8").to_string()
}

fn assert_stopped_at_control(dir: &Path, code: i32, out: &str, why: &str) {
    assert_eq!(code, 3, "{out}");
    let results = json(&dir.join("results.json"));
    let checks = results["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "{results}");
    assert_eq!(checks[0]["id"], "PREFLIGHT");
    assert_eq!(checks[0]["verdict"], "ERROR");
    let reason = checks[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("preflight failed"), "{reason}");
    assert!(reason.contains(why), "{reason}");
    assert!(!dir.join("fuzz.json").exists());
}

/// A control the server does not accept is the preflight's diagnosis (exit 3), never a FAIL:
/// a dead endpoint, and a reached, configured RAS that refuses the valid ID-JAG (a wrong
/// issuer in the target file), which `run` would report as BASE-01 FAIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_control_is_the_preflights_diagnosis() {
    use xaa_conform::reference::{self, ReferenceRas};
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let target = target_file(
        dir.path(),
        &format!("{dead}/token"),
        &dead,
        ("c1", "s"),
        "127.0.0.1:0",
    );
    let (code, out) = fuzz(dir.path(), &["--cases", "50", "--target", &target]);
    assert_stopped_at_control(dir.path(), code, &out, "no answer from the token endpoint");

    let hold = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bind = hold.local_addr().expect("addr").to_string();
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{bind}"));
    let (ras, f) = ReferenceRas::start("127.0.0.1:0", Default::default(), |base| {
        reference::embedded_fixture(base, &issuers, std::time::Duration::from_secs(5))
    })
    .await
    .expect("reference");
    drop(hold);
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = format!("{}/tenant-2", f.ras_issuer);
    let target = target_file(
        dir.path(),
        &f.token_endpoint,
        &wrong,
        (&f.client.id, f.client.secret.expose()),
        &bind,
    );
    let report = dir.path().to_path_buf();
    let (code, out) =
        tokio::task::spawn_blocking(move || fuzz(&report, &["--cases", "50", "--target", &target]))
            .await
            .expect("fuzz");
    ras.stop().await;
    assert_stopped_at_control(dir.path(), code, &out, "the valid ID-JAG was refused");
    assert!(out.contains("likely causes"), "{out}");
}

/// The saved cases are a regression corpus: they fail again with the defect, hold without.
#[test]
fn saved_cases_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(
        dir.path(),
        &[
            "--cases",
            "2000",
            "--seed",
            "1",
            "--reference-defect",
            "skip-signature-check",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("minimal case"), "{out}");
    let saved = dir.path().join("fuzz-failures.json");
    let corpus = saved.to_str().expect("utf-8 path");
    let again = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(
        again.path(),
        &[
            "--replay",
            corpus,
            "--reference-defect",
            "skip-signature-check",
        ],
    );
    assert_eq!(code, 1, "replay: {out}");
    let (code, out) = fuzz(again.path(), &["--replay", corpus]);
    assert_eq!(code, 0, "replay on the compliant reference: {out}");
}

#[test]
fn bad_arguments_are_input_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out) = fuzz(dir.path(), &["--cases", "0"]);
    assert_eq!(code, 2, "{out}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[{\"seed\": 1,\n \"case\": 3}]").expect("write");
    let (code, out) = fuzz(dir.path(), &["--replay", bad.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad.json:"), "{out}");
}
