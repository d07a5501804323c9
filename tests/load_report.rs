//! Load reports end to end: shard reports written by separate processes merge into exactly
//! the report of the union of their samples; bad merge inputs are clear errors; `load.json`
//! matches its JSON Schema; `load.html` is self-contained; the lean load minter makes the
//! same ID-JAG as the conformance minter.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use xaa_conform::jose::jws::b64_decode;
use xaa_conform::jose::mint::mint;
use xaa_conform::jose::{Baseline, IssuerRole, JagMutation, KeyAlg, Keyring};
use xaa_conform::load::jag::{JagFactory, JagKind};
use xaa_conform::load::merge::{self, MergeArgs, MergeError};
use xaa_conform::load::output::write_reports;
use xaa_conform::load::report::{
    GeneratorHealth, LOAD_HTML, LOAD_JSON, LoadConfigReport, LoadReport, RateLimitReport,
    load_report_schema,
};
use xaa_conform::load::shard::Shard;
use xaa_conform::load::stats::{Class, LoadStats, Sample};
use xaa_conform::load::threshold;

/// Samples of the whole test: 6,000 requests over 12 s with a deterministic spread of
/// classes and latencies (a long tail included); request `g` belongs to shard `g % N`.
const SAMPLES: u64 = 6_000;
const ELAPSED: Duration = Duration::from_secs(12);

fn sample(g: u64) -> Sample {
    // A small LCG hash: deterministic, well spread.
    let h = g
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        >> 33;
    let class = match h % 100 {
        0..=84 => Class::Accepted,
        85..=92 => Class::RateLimited,
        93..=97 => Class::Rejected,
        _ => Class::Error,
    };
    let latency_us = match h % 1000 {
        0..=979 => 500 + h % 20_000,
        980..=998 => 50_000 + h % 200_000,
        _ => 2_000_000 + h % 1_000_000,
    };
    Sample {
        class,
        intended_at: Duration::from_micros(g * ELAPSED.as_micros() as u64 / SAMPLES),
        latency: Duration::from_micros(latency_us),
    }
}

fn config(shard: Option<Shard>) -> LoadConfigReport {
    LoadConfigReport {
        token_endpoint: "http://127.0.0.1:9/token".into(),
        profile: "id-jag-04".into(),
        rate_plan: "500/s".into(),
        duration_s: 12.0,
        users: 8,
        alg: "ES256".into(),
        shard: shard.map(|s| s.to_string()),
        ..Default::default()
    }
}

/// The report one shard would write: its samples, its share of the rate-limit findings.
fn shard_report(shard: Shard) -> LoadReport {
    let mut stats = LoadStats::new();
    let mut sent = 0;
    for g in (0..SAMPLES).filter(|g| g % u64::from(shard.count) == u64::from(shard.index)) {
        stats.record(&sample(g));
        sent += 1;
    }
    let mut r = LoadReport::from_stats(
        config(Some(shard)),
        &stats,
        ELAPSED,
        GeneratorHealth {
            planned: sent,
            sent,
            valid: true,
            ..Default::default()
        },
    )
    .expect("report");
    r.rate_limit = Some(RateLimitReport {
        measured_rps: 100.0,
        retry_after_seen: 3,
        ..Default::default()
    });
    r.apply_thresholds(&threshold::parse_all(&["p99<100ms", "error_rate<5%"]).expect("exprs"));
    r
}

fn union_report() -> LoadReport {
    let mut stats = LoadStats::new();
    for g in 0..SAMPLES {
        stats.record(&sample(g));
    }
    LoadReport::from_stats(config(None), &stats, ELAPSED, GeneratorHealth::default())
        .expect("report")
}

/// Every figure derived from the histograms is identical, and so are the histograms.
fn assert_same_figures(merged: &LoadReport, union: &LoadReport) {
    assert_eq!(merged.classes, union.classes);
    assert_eq!(merged.latency_us, union.latency_us);
    assert_eq!(merged.latency_by_class, union.latency_by_class);
    assert_eq!(merged.achieved_rps, union.achieved_rps);
    assert_eq!(merged.accepted_rps, union.accepted_rps);
    assert_eq!(merged.error_rate, union.error_rate);
    assert_eq!(merged.rejected_rate, union.rejected_rate);
    assert_eq!(merged.rate_limited_rate, union.rate_limited_rate);
    assert_eq!(merged.histograms, union.histograms);
    let a = merged.stats().expect("merged histograms");
    let b = union.stats().expect("union histograms");
    for class in Class::ALL {
        assert_eq!(a.histogram(class), b.histogram(class), "{class:?}");
    }
    assert_eq!(a.timeline().len(), b.timeline().len());
    for (x, y) in a.timeline().iter().zip(b.timeline()) {
        assert_eq!(x.counts, y.counts);
        assert_eq!(x.accepted, y.accepted);
    }
}

#[test]
fn merged_saved_reports_equal_the_report_of_all_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 4;
    let mut paths = Vec::new();
    for index in 0..n {
        let shard_dir = dir.path().join(format!("shard-{index}"));
        let written = write_reports(&shard_report(Shard { index, count: n }), &shard_dir)
            .expect("write shard");
        paths.push(written[0].clone());
    }
    let merged = merge::merge_files(&paths, false).expect("merge");
    let union = union_report();
    assert_same_figures(&merged, &union);
    assert_eq!(merged.classes.total(), SAMPLES);
    // The tail is really there: p99.9 lies in the 2–3 s band of the samples.
    let p999 = merged.latency_us.p999.unwrap_or(0);
    assert!((50_000..3_100_000).contains(&p999), "{p999}");
    // Summed side figures and re-judged thresholds.
    assert_eq!(merged.generator.sent, SAMPLES);
    assert_eq!(
        merged
            .rate_limit
            .as_ref()
            .map(|r| (r.measured_rps, r.retry_after_seen)),
        Some((400.0, 12))
    );
    assert_eq!(merged.merged_from.len(), 4);
    let exprs: Vec<&str> = merged.thresholds.iter().map(|t| t.expr.as_str()).collect();
    assert_eq!(exprs, ["p99<100ms", "error_rate<5%"]);
    let again = {
        let mut u = union.clone();
        u.apply_thresholds(&threshold::parse_all(&exprs).expect("exprs"));
        u.thresholds
    };
    assert_eq!(merged.thresholds, again);
}

/// Not a test of its own: one shard process of `merge_of_separate_shard_processes`, run by
/// it as a child (`--ignored --exact`) with `XAA_TEST_SHARD` and `XAA_TEST_SHARD_DIR` set.
#[test]
#[ignore = "a child process of merge_of_separate_shard_processes"]
fn shard_worker_process() {
    let shard =
        Shard::parse(&std::env::var("XAA_TEST_SHARD").expect("XAA_TEST_SHARD")).expect("shard");
    let dir = PathBuf::from(std::env::var("XAA_TEST_SHARD_DIR").expect("XAA_TEST_SHARD_DIR"));
    let written = write_reports(&shard_report(shard), &dir).expect("write");
    assert!(written.iter().all(|p| p.is_file()));
}

#[test]
fn merge_of_separate_shard_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let n = 3u32;
    let children: Vec<_> = (0..n)
        .map(|i| {
            let out = dir.path().join(format!("shard-{i}"));
            let child = Command::new(&exe)
                .args(["--ignored", "--exact", "shard_worker_process", "--quiet"])
                .env("XAA_TEST_SHARD", format!("{i}/{n}"))
                .env("XAA_TEST_SHARD_DIR", &out)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn shard process");
            (child, out)
        })
        .collect();
    let mut dirs = Vec::new();
    for (mut child, out) in children {
        assert!(
            child.wait().expect("wait").success(),
            "shard process failed"
        );
        dirs.push(out);
    }
    // Directories are accepted as inputs (their load.json is read).
    let args = MergeArgs {
        inputs: dirs,
        report_dir: dir.path().join("merged"),
        thresholds: vec!["p50<1s".into()],
        allow_partial: false,
    };
    let (merged, written) = merge::merge_and_write(&args).expect("merge");
    assert_same_figures(&merged, &union_report());
    assert_eq!(written.len(), 2);
    assert_eq!(
        merged.thresholds.len(),
        1,
        "given thresholds replace the shards'"
    );
    assert!(merged.thresholds[0].passed);
    // The written merged report reads back identical.
    let back = merge::read_report(&written[0]).expect("read back");
    assert_eq!(back, merged);
    assert_eq!(merge::run(&args), 0);
    let breached = MergeArgs {
        thresholds: vec!["p99.9<1ms".into()],
        ..args.clone()
    };
    assert_eq!(merge::run(&breached), 4);
    let bad_expr = MergeArgs {
        thresholds: vec!["p98<1ms".into()],
        ..args
    };
    assert_eq!(merge::run(&bad_expr), 2);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn bad_merge_inputs_are_clear_errors_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write_reports(&shard_report(Shard { index: 0, count: 2 }), dir.path())
        .expect("write")[0]
        .clone();

    let missing = dir.path().join("nope.json");
    let e = merge::merge_files(&[good.clone(), missing.clone()], true).unwrap_err();
    assert!(matches!(e, MergeError::Read { .. }), "{e}");
    assert!(e.to_string().contains("nope.json: cannot read"), "{e}");
    assert_eq!(e.exit_code(), 2);

    let broken = write(
        dir.path(),
        "broken.json",
        "{\n  \"schema_version\": 1,\n  \"classes\": [,\n}",
    );
    let e = merge::merge_files(&[good.clone(), broken], true).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("broken.json:3:"), "{text}");
    assert!(matches!(e, MergeError::Json { line: 3, .. }), "{e:?}");
    assert_eq!(e.exit_code(), 2);

    let text = std::fs::read_to_string(&good).expect("read");
    let v2 = write(
        dir.path(),
        "v2.json",
        &text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1),
    );
    let e = merge::merge_files(&[good.clone(), v2], true).unwrap_err();
    assert!(e.to_string().contains("schema_version 2"), "{e}");
    assert_eq!(e.exit_code(), 2);

    let no_version = write(dir.path(), "other.json", "{\"checks\": []}");
    let e = merge::merge_files(&[no_version], true).unwrap_err();
    assert!(
        e.to_string().contains("other.json:1:1: not a load report"),
        "{e}"
    );

    // A valid JSON value of the wrong shape still has a position.
    let wrong = write(
        dir.path(),
        "wrong.json",
        &text.replacen("\"elapsed_s\": 12.0", "\"elapsed_s\": \"soon\"", 1),
    );
    let e = merge::merge_files(&[wrong], true).unwrap_err();
    assert!(matches!(e, MergeError::Json { .. }), "{e:?}");
    assert!(e.to_string().contains("wrong.json:"), "{e}");

    let e = merge::merge_files(&[good], false).unwrap_err();
    assert!(e.to_string().contains("shard 1/2 missing"), "{e}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn load_json_matches_its_schema_and_has_the_members_scripts_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written = write_reports(&shard_report(Shard::SINGLE), &dir.path().join("a/b"))
        .expect("write into a new directory");
    assert_eq!(
        written,
        [
            dir.path().join("a/b").join(LOAD_JSON),
            dir.path().join("a/b").join(LOAD_HTML)
        ]
    );
    let text = std::fs::read_to_string(&written[0]).expect("load.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let schema = load_report_schema();
    let validator = jsonschema::validator_for(&schema).expect("the load schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(doc["schema_version"], 1);
    for class in ["accepted", "rate_limited", "rejected", "error"] {
        assert!(doc["classes"][class].is_u64(), "classes.{class}");
    }
    assert!(doc["latency_us"]["p50"].is_u64());
    assert!(doc["latency_us"]["p99"].is_u64());
    assert_eq!(doc["rate_limit"]["measured_rps"], 100.0);
    assert!(doc["histograms"]["classes"]["accepted"].is_string());
}

#[test]
fn load_html_is_self_contained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let merged = {
        let reports: Vec<(PathBuf, LoadReport)> = (0..2)
            .map(|index| {
                (
                    PathBuf::from(format!("<shard-{index}>.json")),
                    shard_report(Shard { index, count: 2 }),
                )
            })
            .collect();
        merge::merge_reports(&reports, false).expect("merge")
    };
    let written = write_reports(&merged, dir.path()).expect("write");
    let html = std::fs::read_to_string(&written[1]).expect("load.html");
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!lower.contains(bad), "{bad}");
    }
    assert_eq!(lower.matches("<svg").count(), 3);
    assert!(
        html.contains("&lt;shard-0&gt;.json"),
        "file names are escaped"
    );
    assert!(html.contains(&format!(">{}<", merged.classes.accepted)));
    assert!(html.contains("Latency over time"));
    assert!(html.contains("Latency by percentile"));
    assert!(html.contains("Merged from"));
}

fn decode(token: &str) -> (serde_json::Value, serde_json::Value) {
    let part = |i: usize| -> serde_json::Value {
        let seg = token
            .split('.')
            .nth(i)
            .and_then(b64_decode)
            .expect("base64url");
        serde_json::from_slice(&seg).expect("JSON")
    };
    (part(0), part(1))
}

/// The lean load path (header and fixed claims serialized once) and the conformance minter
/// make the same ID-JAG: same header, same claims, fresh `jti`, same `iat`/`exp`.
#[test]
fn lean_load_minting_yields_the_claims_of_mint() {
    let keyring = Arc::new(Keyring::ephemeral().expect("keys"));
    let base = Baseline {
        issuers: xaa_conform::fixture::issuer_urls("http://127.0.0.1:7400"),
        audience: "http://127.0.0.1:7500/".into(),
        subject: "bob@tables.fake".into(),
        client_id: "agent0".into(),
        resource: Some("http://127.0.0.1:7500/api/todos".into()),
        scope: Some("todos.read".into()),
        lifetime_secs: 300,
        client_secret: "unused".into(),
    };
    for alg in [KeyAlg::RS256, KeyAlg::ES256] {
        let factory = JagFactory::new(keyring.clone(), &base, IssuerRole::Trusted, alg, "s1of4-")
            .expect("factory");
        let lean = factory.mint(JagKind::Valid, 17, 1_800_000_000, None);
        let full = mint(
            &keyring,
            &base,
            &JagMutation {
                alg: Some(alg),
                ..JagMutation::default()
            },
            1_800_000_000,
        )
        .expect("mint");
        let (lean_header, mut lean_claims) = decode(&lean);
        let (full_header, mut full_claims) = decode(&full.token);
        assert_eq!(lean_header, full_header, "{alg:?}");
        assert_eq!(lean_claims["jti"], "s1of4-17");
        assert_ne!(lean_claims["jti"], full_claims["jti"]);
        for c in [&mut lean_claims, &mut full_claims] {
            c.as_object_mut().expect("object").remove("jti");
        }
        assert_eq!(lean_claims, full_claims, "{alg:?}");
    }
}

/// `xaa-conform load merge` as a user runs it: exit 0 with a summary, 4 on a breached
/// threshold, 2 on a missing input.
#[test]
fn load_merge_command_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = Vec::new();
    for index in 0..2 {
        let d = dir.path().join(format!("shard-{index}"));
        write_reports(&shard_report(Shard { index, count: 2 }), &d).expect("write");
        inputs.push(d);
    }
    let merged = dir.path().join("merged");
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xaa-conform"));
        cmd.args(["load", "merge"])
            .args(&inputs)
            .arg("--report-dir")
            .arg(&merged)
            .args(extra);
        cmd.output().expect("run xaa-conform")
    };
    let ok = run(&["--threshold", "p50<1s"]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains(&format!("{SAMPLES} requests")), "{stdout}");
    assert!(merged.join(LOAD_JSON).is_file() && merged.join(LOAD_HTML).is_file());

    let breached = run(&["--threshold", "p99<1ms"]);
    assert_eq!(breached.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&breached.stdout).contains("BREACHED"));

    let missing = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .args(["load", "merge"])
        .arg(dir.path().join("shard-0"))
        .arg(dir.path().join("shard-9"))
        .output()
        .expect("run xaa-conform");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("shard-9"));
}
