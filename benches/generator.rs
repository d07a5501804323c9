//! Generator throughput, measured side by side in one process against one minimal loopback
//! token endpoint (axum, a fixed 200 JSON token), 16 users or connections each:
//!
//! - plain goose posting a fixed body (and reading the answer);
//! - our engine with `--reuse-assertion` (one ID-JAG: pacing, HDR recording, classes);
//! - our engine with a fresh ES256 ID-JAG per request, and with RS256;
//! - `wrk` posting the same fixed body, when it is on PATH (Debian package `wrk`).
//!
//! The engine runs open-model at a rate far above what the machine can send, so every user
//! sends back to back and the figure is its ceiling. Goals (dependencies.md §7), as ratios
//! within this run: fresh ES256 ≥ 0.7 × plain goose; reuse ≥ 0.95 × plain goose.
//!
//! Rows run in three interleaved rounds and each figure is the row's median, so a noisy
//! machine shifts them alike. `cargo bench --bench generator` (about 40 s;
//! `GENERATOR_BENCH_SECS` changes the 2 s per row and round).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::*;
use xaa_conform::fixture::{ClientAuthMethod, Secret};
use xaa_conform::jose::{Baseline, IssuerRole, KeyAlg, Keyring};
use xaa_conform::load::engine::{self, EngineConfig};
use xaa_conform::load::jag::{JagFactory, JagKind, TokenForm};
use xaa_conform::load::schedule::Schedule;

const USERS: usize = 16;
/// Rounds of all rows; each row's figure is its median.
const ROUNDS: usize = 3;

fn secs() -> u64 {
    std::env::var("GENERATOR_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        .clamp(1, 60)
}

async fn endpoint() -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let app = axum::Router::new().route(
        "/token",
        axum::routing::post(|| async {
            (
                [("cache-control", "no-store")],
                axum::Json(serde_json::json!({
                    "access_token": "2YotnFZFEjr1zCsicMWpAA",
                    "token_type": "Bearer",
                    "expires_in": 3600
                })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("addr: {e}"))?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}"), task))
}

fn factory(keys: &Arc<Keyring>, alg: KeyAlg) -> Result<JagFactory, String> {
    let base = Baseline {
        issuers: xaa_conform::fixture::issuer_urls("http://127.0.0.1:7400"),
        audience: "http://127.0.0.1:7500".into(),
        subject: "bob@tables.fake".into(),
        client_id: "agent0".into(),
        resource: Some("http://127.0.0.1:7500/api/r1".into()),
        scope: Some("s.read s.write".into()),
        lifetime_secs: 300,
        client_secret: String::new(),
    };
    JagFactory::new(keys.clone(), &base, IssuerRole::Trusted, alg, "bench-")
        .map_err(|e| e.to_string())
}

/// Plain goose: every transaction posts the same body and reads the answer.
async fn plain_goose(base: &str, body: String, auth: Option<String>) -> Result<f64, String> {
    let body = Arc::new(body);
    let auth = Arc::new(auth);
    let post: TransactionFunction = Arc::new(move |user| {
        let (body, auth) = (body.clone(), auth.clone());
        Box::pin(async move {
            let mut rb = user
                .get_request_builder(&GooseMethod::Post, "/token")?
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.as_str().to_string());
            if let Some(a) = auth.as_deref() {
                rb = rb.header("authorization", a);
            }
            let req = GooseRequest::builder()
                .method(GooseMethod::Post)
                .path("/token")
                .set_request_builder(rb)
                .build();
            let goose = user.request(req).await?;
            if let Ok(resp) = goose.response {
                let _ = resp.bytes().await;
            }
            Ok(())
        })
    });
    let mut config = GooseConfiguration::default();
    config.host = Some(base.to_string());
    config.users = Some(USERS);
    config.increase_rate = Some("1000".into());
    config.run_time = Some(format!("{}s", secs()));
    config.no_telnet = true;
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_reset_metrics = true;
    let started = Instant::now();
    let metrics = GooseAttack::initialize_with_config(config)
        .map_err(|e| format!("{e:?}"))?
        .register_scenario(scenario!("Plain").register_transaction(Transaction::new(post)))
        .execute()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let took = started.elapsed().as_secs_f64();
    let n: usize = metrics
        .requests
        .values()
        .map(|r| r.success_count + r.fail_count)
        .sum();
    Ok(n as f64 / took)
}

/// Our engine at a rate it cannot reach: its ceiling.
async fn ours(base: &str, jags: JagFactory, reuse: bool) -> Result<f64, String> {
    let d = Duration::from_secs(secs());
    let cfg = EngineConfig {
        token_endpoint: format!("{base}/token"),
        schedule: Schedule::constant(500_000.0, d, Duration::ZERO).map_err(|e| e.to_string())?,
        users: USERS,
        timeout: Duration::from_secs(5),
        jags: Arc::new(jags),
        form: TokenForm::new(
            "agent0",
            &Secret::new("bench-secret"),
            ClientAuthMethod::ClientSecretBasic,
        ),
        reuse_assertion: reuse,
        invalid_share: 0.0,
        stop: Arc::new(AtomicBool::new(false)),
        on_tick: None,
    };
    let outcome = engine::run(cfg).await.map_err(|e| e.to_string())?;
    let accepted = outcome
        .stats
        .count(xaa_conform::load::stats::Class::Accepted);
    if accepted != outcome.generator.sent {
        return Err(format!(
            "{} sent but {accepted} accepted",
            outcome.generator.sent
        ));
    }
    // Users send until the schedule's end plus the drop grace, then drop the rest.
    let window = (d + engine::DROP_GRACE).as_secs_f64();
    Ok(outcome.generator.sent as f64 / window.min(outcome.elapsed.as_secs_f64()))
}

fn wrk(base: &str, body: &str, auth: Option<&str>) -> Option<Result<f64, String>> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("wrk").is_file()))
        .unwrap_or(false);
    if !found {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("xaa-bench-wrk-{}", std::process::id()));
    let run = || -> Result<f64, String> {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let script = dir.join("post.lua");
        let mut lua = format!(
            "wrk.method = \"POST\"\nwrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n"
        );
        if let Some(a) = auth {
            lua.push_str(&format!("wrk.headers[\"Authorization\"] = {a:?}\n"));
        }
        std::fs::write(&script, lua).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{USERS}"),
                &format!("-d{}s", secs()),
                "-s",
            ])
            .arg(&script)
            .arg(format!("{base}/token"))
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))
    };
    let r = run();
    let _ = std::fs::remove_dir_all(&dir);
    Some(r)
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return;
        }
    };
    rt.block_on(async {
        if let Err(e) = bench().await {
            eprintln!("generator bench failed: {e}");
        }
    });
}

async fn bench() -> Result<(), String> {
    let keys = Arc::new(Keyring::ephemeral().map_err(|e| e.to_string())?);
    let (base, server) = endpoint().await?;
    let es = factory(&keys, KeyAlg::ES256)?;
    let form = TokenForm::new(
        "agent0",
        &Secret::new("bench-secret"),
        ClientAuthMethod::ClientSecretBasic,
    );
    let fixed = form.body(&es.mint(JagKind::Valid, 0, 2_000_000_000, None));
    let auth = form.authorization().map(str::to_string);
    println!(
        "generator bench: {USERS} users/connections, {ROUNDS} interleaved rounds of {} s per row (median), endpoint {base}",
        secs()
    );

    // Interleaved rounds, so a noisy machine shifts every row alike; the median per row.
    let names = [
        "plain goose, fixed body",
        "engine --reuse-assertion",
        "engine, fresh ES256 ID-JAG",
        "engine, fresh RS256 ID-JAG",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..ROUNDS {
        samples[0].push(plain_goose(&base, fixed.clone(), auth.clone()).await?);
        samples[1].push(ours(&base, factory(&keys, KeyAlg::ES256)?, true).await?);
        samples[2].push(ours(&base, factory(&keys, KeyAlg::ES256)?, false).await?);
        samples[3].push(ours(&base, factory(&keys, KeyAlg::RS256)?, false).await?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let rows: Vec<(&str, f64)> = names
        .iter()
        .zip(samples.iter_mut())
        .map(|(n, v)| (*n, median(v)))
        .collect();
    let plain = rows[0].1.max(1.0);
    let wrk_row = tokio::task::block_in_place(|| wrk(&base, &fixed, auth.as_deref()));
    server.abort();

    println!(
        "{:<30} {:>12} {:>14}",
        "generator", "req/s", "× plain goose"
    );
    for (name, rps) in &rows {
        println!("{name:<30} {rps:>12.0} {:>14.2}", rps / plain);
    }
    match wrk_row {
        Some(Ok(rps)) => println!(
            "{:<30} {rps:>12.0} {:>14.2}",
            "wrk (fixed body)",
            rps / plain
        ),
        Some(Err(e)) => println!("wrk: failed: {e}"),
        None => println!("wrk: not on PATH, skipped (Debian package `wrk`)"),
    }
    let ratio = |name: &str| {
        rows.iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, r)| r / plain)
    };
    let reuse = ratio("engine --reuse-assertion");
    let fresh = ratio("engine, fresh ES256 ID-JAG");
    println!(
        "goals: reuse ≥ 0.95 × plain goose: {:.2} {}; fresh ES256 ≥ 0.70 × plain goose: {:.2} {}",
        reuse,
        if reuse >= 0.95 { "met" } else { "NOT met" },
        fresh,
        if fresh >= 0.70 { "met" } else { "NOT met" }
    );
    Ok(())
}
