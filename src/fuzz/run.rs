//! Running generated cases against a server: the property, proptest's runner and shrinking,
//! and the replay of saved cases.
//!
//! The property: the server never issues a token for an invalid ID-JAG request, never answers
//! 5xx or fails to answer, and issues one for every valid request. proptest drives the cases
//! (seeded, so the same seed gives the same cases) and shrinks a violation to the smallest
//! step list that still violates it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

use super::model::{Case, Expected, case_strategy};
use crate::jose::mint;
use crate::oracle::{self, Outcome};
use crate::pace;
use crate::report::model::{Exchange, SentToken};
use crate::runner::RunContext;
use crate::runner::request::{redact_issued_tokens, token_request_for};

/// How a fuzz run is bounded and seeded.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Cases to generate.
    pub cases: u32,
    /// The seed: the same seed generates the same cases.
    pub seed: u64,
    /// Stop generating new cases after this long (shrinking a found violation still finishes).
    pub time_limit: Duration,
    /// At most this many steps per case.
    pub max_steps: usize,
    /// At most this many shrinking attempts.
    pub max_shrink_iters: u32,
    /// Step kinds never generated.
    pub without: Vec<String>,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            cases: 256,
            seed: 0,
            time_limit: Duration::from_secs(300),
            max_steps: 4,
            max_shrink_iters: 512,
            without: Vec::new(),
        }
    }
}

/// One case sent, and what came of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// The case.
    pub case: Case,
    /// What the model expected.
    pub expected: Expected,
    /// The ID-JAG sent (decoded for reports), when one was minted.
    pub token: Option<SentToken>,
    /// The token request and the answer.
    pub exchange: Option<Exchange>,
    /// `None` when the server behaved; otherwise what it did wrong.
    pub violation: Option<String>,
}

/// What a fuzz run found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FuzzOutcome {
    /// The seed used.
    pub seed: u64,
    /// Cases generated and sent (shrinking attempts not counted).
    pub cases_run: u32,
    /// Cases by expectation: valid, invalid, either.
    pub by_expectation: std::collections::BTreeMap<String, u32>,
    /// Requests sent while shrinking.
    pub shrink_requests: u32,
    /// True when the time limit ended generation before `cases` were run.
    pub stopped_for_time: bool,
    /// The violation as first found, when there was one.
    pub original: Option<Trial>,
    /// The minimal violating case after shrinking.
    pub minimal: Option<Trial>,
    /// Wall time.
    pub elapsed_ms: f64,
}

/// Judges one answer against the model's expectation; `Err` names the violation.
pub fn judge(expected: Expected, outcome: &Outcome) -> Result<(), String> {
    match outcome {
        Outcome::NoAnswer { reason } => Err(format!("no usable answer: {reason}")),
        Outcome::Other { status, why } if *status >= 500 => {
            Err(format!("answered {status}: {why}"))
        }
        Outcome::Accepted { .. } => match expected {
            Expected::Invalid => Err("an invalid request was accepted: a token was issued".into()),
            Expected::Valid | Expected::Either => Ok(()),
        },
        Outcome::Rejected { status, error, .. } => match expected {
            Expected::Valid => Err(format!("a valid request was refused: {status} {error}")),
            Expected::Invalid | Expected::Either => Ok(()),
        },
        Outcome::Other { status, why } => match (expected, *status) {
            (Expected::Invalid | Expected::Either, 400..=499) => Ok(()),
            (Expected::Valid, _) => Err(format!("a valid request was not granted: {why}")),
            _ => Err(why.clone()),
        },
    }
}

/// Why a case could not be sent at all (not a server fault).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotApplicable(pub String);

/// Mints and sends one case and judges the answer.
pub async fn try_case(ctx: &RunContext, case: &Case) -> Result<Trial, NotApplicable> {
    let expected = case.expected();
    let mut applied = case.apply();
    for s in applied.jag.strings_mut() {
        *s = ctx.fixture.substitute(s).map_err(NotApplicable)?;
    }
    // A 429 is the client's to wait out and retry (the one 429 policy of `crate::pace`); a
    // rate limit that persists is no answer, never a finding.
    let minted = mint::mint(
        &ctx.keyring,
        &ctx.fixture.baseline(),
        &applied.jag,
        mint::unix_now(),
    )
    .map_err(|e| NotApplicable(e.to_string()))?;
    let request = token_request_for(ctx, &applied.request, &minted.token, None)
        .map_err(|e| NotApplicable(e.to_string()))?;
    let mut exchange = ctx
        .http
        .token_request("probe", &ctx.fixture.token_endpoint, &request)
        .await;
    if let Some(e) = exchange
        .error
        .as_deref()
        .filter(|e| pace::is_rate_limited(e))
    {
        return Err(NotApplicable(e.to_string()));
    }
    let outcome = oracle::classify(&exchange);
    // Issued tokens are live credentials: never in reports.
    redact_issued_tokens(std::slice::from_mut(&mut exchange));
    let violation = judge(expected, &outcome).err();
    Ok(Trial {
        case: case.clone(),
        expected,
        token: Some(SentToken {
            token: minted.token,
            header: minted.header,
            claims: minted.claims,
            mutation: case.describe(),
        }),
        exchange: Some(exchange),
        violation,
    })
}

/// Runs generated cases until `opts.cases`, the time limit, or a violation (then shrinks it).
/// Blocking: call it from a blocking thread inside a Tokio runtime (`spawn_blocking`).
pub fn fuzz_blocking(
    ctx: &RunContext,
    runtime: &tokio::runtime::Handle,
    opts: &FuzzOptions,
) -> FuzzOutcome {
    let started = Instant::now();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let config = Config {
        cases: opts.cases,
        max_shrink_iters: opts.max_shrink_iters,
        failure_persistence: None,
        max_global_rejects: opts.cases.saturating_mul(4).max(1024),
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));

    struct Tally {
        generated: u32,
        shrinking: u32,
        by_expectation: std::collections::BTreeMap<String, u32>,
        first: Option<Trial>,
        last_failing: Option<Trial>,
        stopped_for_time: bool,
    }
    let tally = Mutex::new(Tally {
        generated: 0,
        shrinking: 0,
        by_expectation: Default::default(),
        first: None,
        last_failing: None,
        stopped_for_time: false,
    });

    let result = runner.run(&case_strategy(opts.max_steps, &opts.without), |case| {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        let shrinking = t.first.is_some();
        if !shrinking && started.elapsed() > opts.time_limit {
            t.stopped_for_time = true;
            return Ok(());
        }
        drop(t);
        let trial = runtime
            .block_on(try_case(ctx, &case))
            .map_err(|e| TestCaseError::reject(e.0))?;
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        if shrinking {
            t.shrinking += 1;
        } else {
            t.generated += 1;
            let key = match trial.expected {
                Expected::Valid => "valid",
                Expected::Invalid => "invalid",
                Expected::Either => "either",
            };
            *t.by_expectation.entry(key.into()).or_insert(0) += 1;
        }
        match &trial.violation {
            None => Ok(()),
            Some(why) => {
                let why = why.clone();
                if t.first.is_none() {
                    t.first = Some(trial.clone());
                }
                t.last_failing = Some(trial);
                Err(TestCaseError::fail(why))
            }
        }
    });
    let t = tally.into_inner().unwrap_or_else(|p| p.into_inner());
    // proptest reports the minimal failing input; our last failing trial is that input's
    // exchange unless shrinking ended on a passing attempt, so re-match it by case.
    let minimal = match result {
        Err(TestError::Fail(_, case)) => match &t.last_failing {
            Some(trial) if trial.case == case => Some(trial.clone()),
            _ => runtime
                .block_on(try_case(ctx, &case))
                .ok()
                .map(|mut trial| {
                    if trial.violation.is_none() {
                        trial.violation = Some(
                            "violated while shrinking, but not when sent again (flaky server)"
                                .into(),
                        );
                    }
                    trial
                }),
        },
        _ => None,
    };
    FuzzOutcome {
        seed: opts.seed,
        cases_run: t.generated,
        by_expectation: t.by_expectation,
        shrink_requests: t.shrinking,
        stopped_for_time: t.stopped_for_time,
        original: t.first,
        minimal,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Sends saved cases again, in order: the regression corpus.
pub async fn replay(ctx: &RunContext, cases: &[Case]) -> Vec<Result<Trial, NotApplicable>> {
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push(try_case(ctx, case).await);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn rejected() -> Outcome {
        Outcome::Rejected {
            status: 400,
            error: "invalid_grant".into(),
            description: None,
        }
    }

    #[test]
    fn the_property_in_every_corner() {
        let accepted = Outcome::Accepted { body: Map::new() };
        let five = Outcome::Other {
            status: 500,
            why: "500".into(),
        };
        let silent = Outcome::NoAnswer {
            reason: "timed out".into(),
        };
        assert!(judge(Expected::Valid, &accepted).is_ok());
        assert!(judge(Expected::Valid, &rejected()).is_err());
        assert!(judge(Expected::Invalid, &rejected()).is_ok());
        assert!(judge(Expected::Invalid, &accepted).is_err());
        assert!(judge(Expected::Either, &accepted).is_ok());
        assert!(judge(Expected::Either, &rejected()).is_ok());
        for e in [Expected::Valid, Expected::Invalid, Expected::Either] {
            assert!(judge(e, &five).is_err());
            assert!(judge(e, &silent).is_err());
        }
    }
}
