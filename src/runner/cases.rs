//! Multi-case scenarios (`cases:`): each case runs as its own execution of the check (its
//! own positive control and probe, fresh `jti`s), one after the other; the oracle combines
//! their judgements into the check's ([`oracle::combine_cases`]).

use std::time::Instant;

use super::RunContext;
use super::check;
use crate::oracle::{self, Judgement};
use crate::report::model::CheckResult;
use crate::scenario::Scenario;

/// Runs one scenario to its verdict: as it is when it has no cases, otherwise once per case
/// with the case applied. Every case's exchanges are kept, each role prefixed with the case's
/// name (`empty string: probe`); the token shown is the deciding case's.
pub async fn run(ctx: &RunContext, sc: &Scenario) -> CheckResult {
    if sc.cases.is_empty() {
        return check::run(ctx, sc).await;
    }
    let started = Instant::now();
    let mut results: Vec<(String, CheckResult)> = Vec::with_capacity(sc.cases.len());
    for case in &sc.cases {
        let r = check::run(ctx, &sc.with_case(case)).await;
        results.push((case.name.clone(), r));
    }
    let judgements: Vec<(String, Judgement)> = results
        .iter()
        .map(|(name, r)| {
            (
                name.clone(),
                Judgement {
                    verdict: r.verdict,
                    reason: r.reason.clone(),
                },
            )
        })
        .collect();
    let judgement = oracle::combine_cases(&judgements);
    let deciding = oracle::deciding_case(&judgements);
    let requirement = results
        .first()
        .map(|(_, r)| r.requirement.clone())
        .unwrap_or_else(|| sc.requirement.clone());
    let mut token = None;
    let mut exchanges = Vec::new();
    for (i, (name, r)) in results.into_iter().enumerate() {
        if deciding == Some(i) {
            token = r.token.map(|mut t| {
                t.mutation = format!("case `{name}`: {}", t.mutation);
                t
            });
        }
        exchanges.extend(r.exchanges.into_iter().map(|mut ex| {
            ex.role = format!("{name}: {}", ex.role);
            ex
        }));
    }
    CheckResult {
        id: sc.id.clone(),
        title: sc.title.clone(),
        requirement,
        tags: sc.tags.clone(),
        verdict: judgement.verdict,
        reason: judgement.reason,
        token,
        exchanges,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}
