//! Refusal rules: differential negatives (the positive control is accepted, the probe must be
//! refused with the expected codes), rejections pinned to statuses and headers, and records
//! of behaviour after a control.

use crate::protocol::RecordedResponse;
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, header_problems, summarize};
use super::expect::RejectSpec;
use super::findings::{CODE, SHAPE, STATUS, owns_code};
use super::{Judgement, judged};

/// Judges a negative check: `probe` is the answer to the mutated request, `control` the answer
/// to the same request with the valid ID-JAG, sent first. `what` names the mutation.
///
/// The check judges its subject, the refusal: any HTTP answer without a token that is no 5xx
/// refuses. The form of that refusal (status, body, code) is judged once for the whole run by
/// the checks that own it ([`super::findings`]), except a code that is the check's own
/// subject (`invalid_client`, `invalid_scope`, `invalid_target`), which it judges here. A
/// 5xx is no refusal: the check's own violation (and ERR-07's finding).
pub fn judge_negative(
    level: Level,
    expected: &[String],
    control: &Outcome,
    probe: &Outcome,
    what: &str,
) -> Judgement {
    if let Some(unjudged) = control_gate(control) {
        return unjudged;
    }
    let off_code = if level.violation() == Verdict::Info {
        Verdict::Info
    } else {
        Verdict::Warn
    };
    match probe {
        Outcome::NoAnswer { reason } => judged(Verdict::Error, format!("no answer: {reason}")),
        Outcome::Accepted { .. } => judged(
            level.violation(),
            format!("{what} was accepted: 200 with an access token"),
        ),
        Outcome::Rejected { error, .. } if expected.is_empty() || expected.contains(error) => {
            judged(Verdict::Pass, format!("rejected: {}", summarize(probe)))
        }
        Outcome::Rejected { .. } if owns_code(expected) => judged(
            off_code,
            format!(
                "{what} was rejected with {}, expected {}",
                summarize(probe),
                expected.join(" or ")
            ),
        ),
        Outcome::Rejected { .. } => judged(
            Verdict::Pass,
            format!(
                "refused: {} (the code is {CODE}'s finding)",
                summarize(probe)
            ),
        ),
        Outcome::Other { status, why } if (500..=599).contains(status) => {
            judged(level.violation(), format!("{what}: {why}"))
        }
        Outcome::Other { status, why } => {
            let owner = if (400..=499).contains(status) {
                format!("the body is {SHAPE}'s finding")
            } else {
                format!("the status is {STATUS}'s finding")
            };
            judged(Verdict::Pass, format!("refused, no token: {why} ({owner})"))
        }
    }
}

/// Judges a negative check whose rejection may be pinned to statuses and headers.
pub fn judge_reject(
    level: Level,
    spec: &RejectSpec,
    control: &Outcome,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    let codes = spec.codes();
    let statuses = spec.statuses();
    let status_of = |o: &Outcome| match o {
        Outcome::Rejected { status, .. } | Outcome::Other { status, .. } => Some(*status),
        _ => None,
    };
    let expected_statuses = || {
        statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let j = if codes.is_empty() {
        // Any refusal with an allowed status: the status is the check's subject, and any
        // body goes with it.
        match (control, probe) {
            (Outcome::Accepted { .. }, p)
                if status_of(p).is_some_and(|s| statuses.contains(&s)) =>
            {
                judged(Verdict::Pass, format!("refused: {}", summarize(p)))
            }
            (Outcome::Accepted { .. }, Outcome::Other { status, why })
                if !(500..600).contains(status) =>
            {
                judged(
                    level.violation(),
                    format!("{what}: {why}, expected HTTP {}", expected_statuses()),
                )
            }
            (Outcome::Accepted { .. }, Outcome::Rejected { .. }) => judged(
                if level.violation() == Verdict::Info {
                    Verdict::Info
                } else {
                    Verdict::Warn
                },
                format!(
                    "{what} was rejected with {}, expected HTTP {}",
                    summarize(probe),
                    expected_statuses()
                ),
            ),
            _ => judge_negative(level, &[], control, probe, what),
        }
    } else {
        // The pinned statuses are the check's own subject (Basic's 401, RFC 6749 §5.2).
        let j = judge_negative(level, &codes, control, probe, what);
        match status_of(probe) {
            Some(s)
                if j.verdict == Verdict::Pass && !statuses.is_empty() && !statuses.contains(&s) =>
            {
                judged(
                    level.violation(),
                    format!("rejected with HTTP {s}, expected {}", expected_statuses()),
                )
            }
            _ => j,
        }
    };
    if j.verdict != Verdict::Pass {
        return j;
    }
    let mut problems = header_problems(&spec.headers(), response);
    let body = response.map(|r| r.body.as_str()).unwrap_or_default();
    for text in spec.body_excludes() {
        if !text.is_empty() && body.contains(&text) {
            let shown: String = text.chars().take(40).collect();
            problems.push(format!("the error body repeats `{shown}…`"));
        }
    }
    if problems.is_empty() {
        j
    } else {
        judged(
            level.violation(),
            format!("rejected, but {}", problems.join("; ")),
        )
    }
}

/// Records behaviour (INFO) after a differential control; no answer is still ERROR.
pub fn judge_record(control: &Outcome, probe: &Outcome, what: &str) -> Judgement {
    if let Some(unjudged) = control_gate(control) {
        return unjudged;
    }
    match probe {
        Outcome::NoAnswer { reason } => judged(Verdict::Error, format!("no answer: {reason}")),
        Outcome::Accepted { .. } => judged(
            Verdict::Info,
            format!("{what}: accepted (200 with an access token)"),
        ),
        other => judged(Verdict::Info, format!("{what}: {}", summarize(other))),
    }
}

/// A differential check judges only after its positive control was accepted: a control that
/// got no answer is ERROR, one that was refused (or answered otherwise) SKIP; `None` when the
/// control was accepted and the probe may be judged.
fn control_gate(control: &Outcome) -> Option<Judgement> {
    match control {
        Outcome::Accepted { .. } => None,
        Outcome::NoAnswer { reason } => Some(judged(
            Verdict::Error,
            format!("positive control got no answer: {reason}"),
        )),
        other => Some(judged(
            Verdict::Skip,
            format!("baseline not accepted: {}", summarize(other)),
        )),
    }
}
