//! Refusal rules: differential negatives (the positive control is accepted, the probe must be
//! refused with the expected codes), rejections pinned to statuses and headers, and records
//! of behaviour after a control.

use crate::protocol::RecordedResponse;
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, header_problems, summarize};
use super::expect::RejectSpec;
use super::{Judgement, judged};

/// The status RFC 6749 §5.2 prescribes for an error code: 400, or 401 for `invalid_client`.
fn status_fits(error: &str, status: u16) -> bool {
    status == 400 || (error == "invalid_client" && status == 401)
}

/// Judges a negative check: `probe` is the answer to the mutated request, `control` the answer
/// to the same request with the valid ID-JAG, sent first. `what` names the mutation.
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
        Outcome::Rejected { status, error, .. } if expected.iter().any(|e| e == error) => {
            if status_fits(error, *status) {
                judged(Verdict::Pass, format!("rejected: {}", summarize(probe)))
            } else {
                judged(
                    off_code,
                    format!(
                        "rejected with {error} but HTTP {status}; RFC 6749 §5.2 prescribes 400"
                    ),
                )
            }
        }
        Outcome::Rejected { .. } => judged(
            off_code,
            format!(
                "{what} was rejected with {}, expected {}",
                summarize(probe),
                expected.join(" or ")
            ),
        ),
        Outcome::Other { why, .. } => judged(level.violation(), format!("{what}: {why}")),
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
    let j = if codes.is_empty() {
        // Any refusal with an allowed status.
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
                    format!(
                        "{what}: {why}, expected HTTP {}",
                        statuses
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                )
            }
            _ => judge_negative(level, &[], control, probe, what),
        }
    } else {
        let coded = matches!(probe, Outcome::Rejected { error, .. } if codes.contains(error));
        let j = match probe {
            Outcome::Rejected { status, .. }
                if coded && !statuses.is_empty() && statuses.contains(status) =>
            {
                judge_negative(
                    level,
                    &codes,
                    control,
                    &Outcome::Rejected {
                        status: 400,
                        error: codes[0].clone(),
                        description: None,
                    },
                    what,
                )
                .with_reason(format!("rejected: {}", summarize(probe)))
            }
            _ => judge_negative(level, &codes, control, probe, what),
        };
        let j = if coded
            && matches!(j.verdict, Verdict::Warn | Verdict::Info)
            && !statuses.is_empty()
        {
            judged(level.violation(), j.reason)
        } else {
            j
        };
        match status_of(probe) {
            Some(s)
                if j.verdict == Verdict::Pass && !statuses.is_empty() && !statuses.contains(&s) =>
            {
                judged(
                    level.violation(),
                    format!(
                        "rejected with HTTP {s}, expected {}",
                        statuses
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
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
