//! The cost of classing one answer under load (`oracle::load::Class::of`), which every load
//! request pays, set against what a request costs the generator.
//!
//! `cargo bench --bench classify` measures, with criterion, the class of a token response, of
//! an RFC 6749 §5.2 error, of an HTML page and of a 429, and prints each as a share of the
//! per-request budget at 7 000 requests per second (143 µs: about plain goose's rate on this
//! machine, `cargo bench --bench generator`). The goal: the class costs the generator under 5 %
//! of that budget.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use xaa_conform::oracle::load::Class;

/// The answers classed, as a load sees them: status and body.
const ANSWERS: &[(&str, u16, &[u8])] = &[
    (
        "token",
        200,
        br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"scope":"todos.read","resource":"https://api.example/todos"}"#,
    ),
    (
        "refusal",
        400,
        br#"{"error":"invalid_grant","error_description":"the ID-JAG has expired"}"#,
    ),
    (
        "html",
        200,
        b"<!DOCTYPE html><html><head><title>Login</title></head><body>Sign in</body></html>",
    ),
    ("rate_limited", 429, b"Too Many Requests"),
];

/// The per-request budget of a generator at 7 000 requests per second.
const BUDGET: Duration = Duration::from_nanos(1_000_000_000 / 7_000);

fn per_call(status: u16, body: &[u8]) -> Duration {
    let n = 200_000u32;
    let started = Instant::now();
    for _ in 0..n {
        black_box(Class::of(black_box(Some(status)), black_box(body)));
    }
    started.elapsed() / n
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for (name, status, body) in ANSWERS {
        c.bench_function(&format!("class_of/{name}"), |b| {
            b.iter(|| Class::of(black_box(Some(*status)), black_box(body)))
        });
    }
    c.final_summary();
    println!("\nanswer          ns per class   share of a 143 µs request budget");
    let mut worst = 0.0f64;
    for (name, status, body) in ANSWERS {
        let t = per_call(*status, body);
        let share = t.as_secs_f64() / BUDGET.as_secs_f64() * 100.0;
        worst = worst.max(share);
        println!("{name:<15} {:>12} {share:>10.3} %", t.as_nanos());
    }
    println!(
        "goal: under 5 % of the budget: {}",
        if worst < 5.0 { "met" } else { "NOT met" }
    );
}
