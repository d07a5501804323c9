//! Minting cost of a fresh ID-JAG against the raw signing rate of the same key.
//!
//! `cargo bench --bench mint` runs criterion over four ways to get a token, for RS256 and
//! ES256, then prints a side-by-side table from interleaved rounds in the same process (so
//! a noisy machine shifts both sides alike):
//!
//! - `raw`: `SigningKey::sign` of a message the size of a token's signing input (the floor);
//! - `load`: `load::jag::JagFactory::mint`, what every load request does (header and fixed
//!   claims serialized once, fresh `jti`, `iat`, `exp`);
//! - `sign_jwt`: `jose::mint::sign_jwt` over `Baseline::jag_claims` (fresh `jti`, `iat`,
//!   `exp`), serializing header and claims per token;
//! - `mint`: `jose::mint::mint` with no mutation, the conformance path (the same token).
//!
//! The target is `load` at ≥ 90% of `raw`: minting overhead under 10%.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput};
use xaa_conform::jose::mint::{ID_JAG_TYP, mint, sign_jwt};
use xaa_conform::jose::{Baseline, IssuerRole, JagMutation, KeyAlg, Keyring};
use xaa_conform::load::jag::{JagFactory, JagKind};

fn baseline() -> Baseline {
    Baseline {
        issuers: xaa_conform::fixture::issuer_urls("http://127.0.0.1:7400"),
        audience: "http://127.0.0.1:7500/".into(),
        subject: "bob@tables.fake".into(),
        client_id: "agent0".into(),
        resource: Some("http://127.0.0.1:7500/api/todos".into()),
        scope: Some("todos.read".into()),
        lifetime_secs: 300,
        client_secret: "unused".into(),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The four token makers of one algorithm, ready to call.
struct Makers {
    alg: KeyAlg,
    keyring: Arc<Keyring>,
    base: Baseline,
    factory: JagFactory,
    /// A message as long as a token's signing input.
    raw_msg: Vec<u8>,
}

impl Makers {
    fn new(keyring: &Arc<Keyring>, alg: KeyAlg) -> Makers {
        let base = baseline();
        let factory = JagFactory::new(keyring.clone(), &base, IssuerRole::Trusted, alg, "bench-")
            .unwrap_or_else(|e| panic!("factory: {e}"));
        let sample = factory.mint(JagKind::Valid, 1, now(), None);
        let input_len = sample.rfind('.').unwrap_or(sample.len());
        Makers {
            alg,
            keyring: keyring.clone(),
            base,
            factory,
            raw_msg: vec![b'a'; input_len],
        }
    }

    fn raw(&self) -> usize {
        let key = self.keyring.issuer(IssuerRole::Trusted).get(self.alg);
        key.sign(black_box(&self.raw_msg)).len()
    }

    fn load(&self, n: u64) -> usize {
        self.factory.mint(JagKind::Valid, n, now(), None).len()
    }

    fn sign_jwt(&self) -> usize {
        let key = self.keyring.issuer(IssuerRole::Trusted).get(self.alg);
        let claims = self
            .base
            .jag_claims(IssuerRole::Trusted, now())
            .unwrap_or_default();
        sign_jwt(key, Some(ID_JAG_TYP), &claims)
            .map(|t| t.len())
            .unwrap_or(0)
    }

    fn mint(&self) -> usize {
        let m = JagMutation {
            alg: Some(self.alg),
            ..JagMutation::default()
        };
        mint(&self.keyring, &self.base, &m, now())
            .map(|t| t.token.len())
            .unwrap_or(0)
    }
}

/// Tokens per second of `f` over about `budget`.
fn rate(budget: Duration, mut f: impl FnMut(u64) -> usize) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            black_box(f(n));
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Interleaved rounds of every maker, each round measuring raw signing right next to the
/// others; the medians of the rates and of the per-round ratios to raw are printed (paired
/// ratios cancel most of the noise of a shared machine).
fn compare(m: &Makers) {
    let budget = Duration::from_millis(200);
    let rounds = 15;
    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut ratios: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        let raw_before = rate(budget, |_| m.raw());
        let mut r = [0f64; 3];
        // Rotate the order so no maker always runs right after the same one.
        for k in 0..3 {
            let which = (k + round) % 3;
            r[which] = match which {
                0 => rate(budget, |n| m.load(n)),
                1 => rate(budget, |_| m.sign_jwt()),
                _ => rate(budget, |_| m.mint()),
            };
        }
        let raw_after = rate(budget, |_| m.raw());
        let raw = (raw_before + raw_after) / 2.0;
        rates[0].push(raw);
        for k in 0..3 {
            rates[k + 1].push(r[k]);
            ratios[k].push(r[k] / raw);
        }
    }
    let [raw, load, sign, full] = rates.map(median);
    let [r_load, r_sign, r_full] = ratios.map(median);
    println!(
        "{:<6} raw sign           {:>9.0}/s ({:>6.1} µs)",
        m.alg.name(),
        raw,
        1e6 / raw
    );
    for (name, v, ratio) in [
        ("load (JagFactory)", load, r_load),
        ("sign_jwt", sign, r_sign),
        ("mint()", full, r_full),
    ] {
        println!(
            "       {name:<18} {:>9.0}/s ({:>6.1} µs)  {:>5.1}% of raw (overhead {:>4.1}%){}",
            v,
            1e6 / v,
            100.0 * ratio,
            100.0 * (1.0 - ratio),
            if ratio >= 0.9 { "" } else { "  < 90% target" }
        );
    }
}

fn benches(c: &mut Criterion, makers: &[Makers]) {
    for m in makers {
        let mut g = c.benchmark_group(format!("mint/{}", m.alg.name()));
        g.throughput(Throughput::Elements(1));
        g.bench_function("raw_sign", |b| b.iter(|| m.raw()));
        let mut n = 0u64;
        g.bench_function("load_factory", |b| {
            b.iter(|| {
                n += 1;
                m.load(n)
            })
        });
        g.bench_function("sign_jwt", |b| b.iter(|| m.sign_jwt()));
        g.bench_function("mint", |b| b.iter(|| m.mint()));
        g.finish();
    }
}

fn main() {
    let keyring = Arc::new(Keyring::ephemeral().unwrap_or_else(|e| panic!("keys: {e}")));
    let makers = [
        Makers::new(&keyring, KeyAlg::RS256),
        Makers::new(&keyring, KeyAlg::ES256),
    ];
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c, &makers);
    c.final_summary();
    println!("\nmint rate vs raw signing, same key, same run (medians of 15 interleaved rounds):");
    for m in &makers {
        compare(m);
    }
}
