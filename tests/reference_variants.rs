//! The whole catalogue against every compliant variant of the reference RAS (issue 9 §4):
//! each variant is started with the target.yaml `reference serve --variant NAME` prints, and
//! the verdict of every check is compared with `tests/variants/NAME.yaml`, which lists the
//! verdicts other than PASS and INFO, each with the reason the variant's choice explains it.
//!
//! A variant is compliant, so every entry there is either a real consequence of its choice
//! (a SKIP for what it does not offer) or a false verdict of the suite, marked "false FAIL:
//! the suite assumes …": the files document the gap and tighten as the suite learns the
//! target's world. `UPDATE_VARIANTS=1 cargo test --test reference_variants` rewrites them
//! from a run, keeping the reasons of entries whose verdict is unchanged and marking new ones
//! `TODO`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xaa_conform::fixture::Fixture;
use xaa_conform::reference::{self, ReferenceOptions, ReferenceRas, ReferenceVariant, SecretsIn};
use xaa_conform::report::model::RunResults;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::spec::Verdict;

/// Variants run at the same time (each starts a reference and a fake IdP).
const CONCURRENT_VARIANTS: usize = 4;

use common::{free_port, keyring};

fn expected_path(v: ReferenceVariant) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/variants")
        .join(format!("{}.yaml", v.name()))
}

/// One listed verdict and why the variant gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    verdict: String,
    why: String,
}

/// The verdicts a run gave other than PASS and INFO: check ID to (verdict, reason).
type Observed = BTreeMap<String, (String, String)>;

fn read_expected(v: ReferenceVariant) -> BTreeMap<String, Entry> {
    let path = expected_path(v);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_VARIANTS=1 writes it)", path.display()));
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.starts_with('#'))
    {
        return BTreeMap::new();
    }
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Rewrites the expected file of `v` from `observed`, keeping the reason of every entry whose
/// verdict did not change.
fn write_expected(v: ReferenceVariant, observed: &Observed, old: &BTreeMap<String, Entry>) {
    let mut text = format!(
        "# Verdicts other than PASS and INFO of the catalogue against the reference variant\n\
         # `{}`: {}.\n\
         # Each entry: the verdict, and why the variant's choice gives it. tests/reference_variants.rs\n\
         # compares a run with this file; `UPDATE_VARIANTS=1 cargo test --test reference_variants`\n\
         # rewrites it, keeping the reasons of unchanged entries and marking new ones TODO.\n",
        v.name(),
        v.description()
    );
    if v == ReferenceVariant::RateLimit5 {
        text.push_str(
            "# Its target.yaml declares max_rate: 5/s, so the suite paces every request under it\n\
             # and no check meets a 429.\n",
        );
    }
    if observed.is_empty() {
        text.push_str("# (none: every check is PASS or INFO)\n");
    }
    for (id, (verdict, reason)) in observed {
        let why = match old.get(id) {
            Some(e) if e.verdict == *verdict && !e.why.starts_with("TODO") => e.why.clone(),
            _ => format!("TODO explain ({reason})"),
        };
        text.push_str(&format!(
            "{id}: {{ verdict: {verdict}, why: {} }}\n",
            quoted(&why)
        ));
    }
    let path = expected_path(v);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
}

/// Starts the reference as `v`, trusting the fake IdP's issuers at `idp_bind`.
async fn start_variant(v: ReferenceVariant, idp_bind: &str) -> (ReferenceRas, Fixture) {
    let issuers = xaa_conform::fixture::issuer_urls(&format!("http://{idp_bind}"));
    let options = ReferenceOptions {
        variant: Some(v),
        ..Default::default()
    };
    ReferenceRas::start("127.0.0.1:0", options, |base| {
        reference::embedded_fixture(base, &issuers, runner_timeout())
    })
    .await
    .expect("reference")
}

/// Starts `v` and its fake IdP, runs the catalogue against it through the target.yaml a user
/// would write, and stops both.
async fn run_variant(v: ReferenceVariant) -> (RunResults, Duration) {
    let idp_bind = format!("127.0.0.1:{}", free_port());
    let (ras, fixture) = start_variant(v, &idp_bind).await;
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("target.yaml");
    let header = format!("target.yaml for the reference variant {}", v.name());
    let yaml = reference::target_yaml(&fixture, Some(v), &idp_bind, SecretsIn::Inline, &header);
    std::fs::write(&target, yaml).expect("write target");
    let opts = RunOptions {
        target: Some(target),
        ..Default::default()
    };
    let started = Instant::now();
    let results = runner::run_suite(&opts, Some(keyring())).await;
    let took = started.elapsed();
    ras.stop().await;
    (results.expect("run"), took)
}

fn runner_timeout() -> Duration {
    Duration::from_secs(10)
}

/// The checks of a run that are neither PASS nor INFO, with verdict and reason.
fn observed(results: &RunResults) -> Observed {
    results
        .checks
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass | Verdict::Info))
        .map(|c| (c.id.clone(), (c.verdict.to_string(), c.reason.clone())))
        .collect()
}

/// Runs `variants` (a few at a time) and compares each with its expected file, or rewrites
/// the files under `UPDATE_VARIANTS=1`.
async fn check_variants(variants: &[ReferenceVariant]) {
    let update = std::env::var_os("UPDATE_VARIANTS").is_some_and(|v| v != "0");
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_VARIANTS));
    let mut tasks = tokio::task::JoinSet::new();
    for &v in variants {
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            let (results, took) = run_variant(v).await;
            (v, results, took)
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (v, results, took) = joined.expect("task");
        let got = observed(&results);
        let summary = &results.summary;
        // Every variant is a compliant server: no FAIL, no ERROR, exit 0, whatever its choice.
        if summary.fail > 0 || summary.error > 0 {
            problems.push(format!(
                "{}: {} FAIL and {} ERROR on a compliant server",
                v.name(),
                summary.fail,
                summary.error
            ));
        }
        if xaa_conform::runner::exit_code(&results) != 0 {
            problems.push(format!("{}: the run does not exit 0", v.name()));
        }
        eprintln!(
            "{}: {} checks in {:.1} s: {} PASS, {} FAIL, {} WARN, {} INFO, {} SKIP, {} ERROR",
            v.name(),
            results.checks.len(),
            took.as_secs_f64(),
            summary.pass,
            summary.fail,
            summary.warn,
            summary.info,
            summary.skip,
            summary.error
        );
        if update {
            let old = if expected_path(v).exists() {
                read_expected(v)
            } else {
                BTreeMap::new()
            };
            write_expected(v, &got, &old);
            continue;
        }
        let want = read_expected(v);
        for (id, e) in &want {
            if e.why.trim().is_empty() || e.why.starts_with("TODO") {
                problems.push(format!("{}: {id}: no reason given", v.name()));
            }
            match got.get(id) {
                Some((verdict, _)) if *verdict == e.verdict => {}
                Some((verdict, reason)) => problems.push(format!(
                    "{}: {id} is {verdict}, expected {} ({reason})",
                    v.name(),
                    e.verdict
                )),
                None => problems.push(format!(
                    "{}: {id} is PASS or INFO now, expected {}",
                    v.name(),
                    e.verdict
                )),
            }
        }
        for (id, (verdict, reason)) in &got {
            if !want.contains_key(id) {
                problems.push(format!(
                    "{}: {id} is {verdict}, not listed ({reason})",
                    v.name()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "verdicts differ from tests/variants/ (UPDATE_VARIANTS=1 cargo test --test reference_variants rewrites the files):\n{}",
        problems.join("\n")
    );
}

/// Every variant but the rate-limited one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variant_gives_its_expected_verdicts() {
    let variants: Vec<ReferenceVariant> = ReferenceVariant::ALL
        .into_iter()
        .filter(|v| *v != ReferenceVariant::RateLimit5)
        .collect();
    check_variants(&variants).await;
}

/// The 5/s variant, paced under its declared `max_rate` (the slowest: every request waits
/// its slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_variant_gives_its_expected_verdicts() {
    check_variants(&[ReferenceVariant::RateLimit5]).await;
}

/// The target.yaml printed for a variant parses as a target file and describes the
/// variant's world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_target_files_parse_and_name_the_variant_world() {
    for v in ReferenceVariant::ALL {
        let (ras, fixture) = start_variant(v, "127.0.0.1:7400").await;
        let yaml = reference::target_yaml(
            &fixture,
            Some(v),
            "127.0.0.1:7400",
            SecretsIn::Environment,
            "test",
        );
        ras.stop().await;
        let file = xaa_conform::target::TargetFile::parse(v.name(), &yaml)
            .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", v.name()));
        assert_eq!(file.issuer, fixture.ras_issuer, "{}", v.name());
        assert_eq!(
            file.client.secret,
            format!("${{{}}}", runner::CLIENT_SECRET_ENV),
            "{}",
            v.name()
        );
        assert_eq!(file.scope, fixture.scope, "{}", v.name());
        assert_eq!(
            file.client2.is_some(),
            fixture.client2.is_some(),
            "{}",
            v.name()
        );
        assert!(yaml.contains(v.description()), "{}", v.name());
        for pending in v.pending_fields() {
            assert!(
                yaml.contains(&format!("# {pending}")),
                "{}: {pending}",
                v.name()
            );
        }
    }
}
