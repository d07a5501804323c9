//! Verdicts that span checks or the whole run: a check whose dependency did not pass, a
//! dependency cycle, a lost check, a fetch the server must not make during a check, and the
//! run's exit code.

use crate::expected::{ExpectedFailure, ExpectedStatus};
use crate::spec::{Level, Verdict};

use super::{Judgement, judged};

/// The verdict of a check whose dependency `dep` ended with `verdict` (and `why`), or `None`
/// when the dependency passed and the check may run. A dependency that got no answer leaves
/// this one unanswered too: ERROR; otherwise SKIP.
pub fn judge_dependency(dep: &str, verdict: Verdict, why: &str) -> Option<Judgement> {
    match verdict {
        Verdict::Pass => None,
        Verdict::Error => Some(judged(
            Verdict::Error,
            format!("{dep} got no answer ({why})"),
        )),
        _ => Some(judged(Verdict::Skip, format!("{dep} did not pass"))),
    }
}

/// The verdict of a check whose `depends_on` forms a cycle: SKIP.
pub fn judge_dependency_cycle() -> Judgement {
    judged(Verdict::Skip, "its depends_on forms a cycle")
}

/// The verdict of a check whose task was lost (it crashed): ERROR, never silently missing.
pub fn judge_lost() -> Judgement {
    judged(Verdict::Error, "the check did not complete")
}

/// A check's judgement after watching the IdP: `fetched` lists the requests (`GET /path`)
/// the server made to a party it must not fetch from during the check. A fetch is at least
/// as bad as `level` says, whatever the answer was; a SKIP or ERROR stays as it is.
pub fn judge_forbidden_fetches(
    judgement: Judgement,
    level: Level,
    fetched: &[String],
) -> Judgement {
    let judged_answer = matches!(
        judgement.verdict,
        Verdict::Pass | Verdict::Fail | Verdict::Warn | Verdict::Info
    );
    if !judged_answer || fetched.is_empty() {
        return judgement;
    }
    let v = level.violation();
    if judgement.verdict == Verdict::Pass || v == Verdict::Fail {
        let reason = format!(
            "the server fetched {} ({})",
            fetched.join(", "),
            judgement.reason
        );
        Judgement { verdict: v, reason }
    } else {
        judgement
    }
}

/// The exit code of a finished run (design.md) from its checks' verdicts and the
/// expected-failure entries: 3 when any check got no answer (ERROR), else 1 when any FAILed,
/// else 0. FAILs listed as expected do not count; a stale expected-failure entry counts as a
/// FAIL.
pub fn exit_code<'a>(
    checks: impl IntoIterator<Item = (&'a str, Verdict)>,
    expected_failures: &[ExpectedFailure],
) -> u8 {
    let expected = |id: &str| {
        expected_failures
            .iter()
            .any(|e| e.id == id && e.status == ExpectedStatus::Expected)
    };
    let stale = expected_failures
        .iter()
        .any(|e| e.status == ExpectedStatus::Stale);
    let verdicts: Vec<(&str, Verdict)> = checks.into_iter().collect();
    if verdicts.iter().any(|(_, v)| *v == Verdict::Error) {
        3
    } else if stale
        || verdicts
            .iter()
            .any(|(id, v)| *v == Verdict::Fail && !expected(id))
    {
        1
    } else {
        0
    }
}
