//! Verdicts that span checks or the whole run: a check whose dependency did not pass, a
//! dependency cycle, a lost check, a fetch the server must not make during a check, and the
//! run's exit code.

use crate::expected::{ExpectedFailure, ExpectedStatus};
use crate::spec::{FailOn, Level, Verdict};

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

/// The verdict of a check whose IdP condition could not be set, or whose IdP request log
/// could not be read, through a running IdP's control API: ERROR, since what the check
/// watched or changed is unknown.
pub fn judge_idp_control_failed(why: &str) -> Judgement {
    judged(
        Verdict::Error,
        format!("the fake IdP's control API failed: {why}"),
    )
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

/// The reason of every check not run after the server stopped answering.
pub const SERVER_STOPPED: &str = "not run: the server stopped answering";

/// Whether a check with this verdict got no answer (ERROR is kept for no usable answer).
pub fn unanswered(verdict: Verdict) -> bool {
    verdict == Verdict::Error
}

/// The judgement of a check not run because the server stopped answering: SKIP.
pub fn judge_server_stopped() -> Judgement {
    judged(Verdict::Skip, SERVER_STOPPED)
}

/// The reason of every check that Ctrl-C kept from finishing.
pub const INTERRUPTED: &str = "not run: interrupted (Ctrl-C)";

/// A check that Ctrl-C kept from starting or finishing: SKIP, not run.
pub fn judge_interrupted() -> Judgement {
    judged(Verdict::Skip, INTERRUPTED)
}

/// The exit code of a finished run (design.md) from its checks' verdicts and the
/// expected-failure entries, in the contract's order: 130 when Ctrl-C cut it short; 3 when the
/// run could not judge (it stopped at the preflight, or the server stopped answering); else 1
/// when a check FAILed (FAILs listed as expected do not count; a stale expected-failure entry
/// does); else 3 for isolated ERRORs in an otherwise judged run; else 0. An ERROR never hides
/// a FAIL. This is [`exit_code_under`] with `--fail-on fail`.
pub fn exit_code<'a>(
    checks: impl IntoIterator<Item = (&'a str, Verdict, &'a str)>,
    expected_failures: &[ExpectedFailure],
) -> u8 {
    exit_code_under(checks, expected_failures, FailOn::Fail)
}

/// [`exit_code`] under a `--fail-on` rule: with [`FailOn::Warn`] a WARN is exit 1 as a FAIL
/// is, in the same place of the order (after 130 and a run that could not judge, before
/// isolated ERRORs).
pub fn exit_code_under<'a>(
    checks: impl IntoIterator<Item = (&'a str, Verdict, &'a str)>,
    expected_failures: &[ExpectedFailure],
    fail_on: FailOn,
) -> u8 {
    let expected = |id: &str| {
        expected_failures
            .iter()
            .any(|e| e.id == id && e.status == ExpectedStatus::Expected)
    };
    let stale = expected_failures
        .iter()
        .any(|e| e.status == ExpectedStatus::Stale);
    let checks: Vec<(&str, Verdict, &str)> = checks.into_iter().collect();
    let could_not_judge = checks.iter().any(|(id, v, why)| {
        (*id == super::PREFLIGHT_ID && *v == Verdict::Error) || *why == SERVER_STOPPED
    });
    let verdicts: Vec<(&str, Verdict)> = checks.iter().map(|(id, v, _)| (*id, *v)).collect();
    let failed = stale
        || verdicts
            .iter()
            .any(|(id, v)| fail_on.fails(*v) && !(*v == Verdict::Fail && expected(id)));
    if checks.iter().any(|(_, _, why)| *why == INTERRUPTED) {
        crate::spec::EXIT_INTERRUPTED
    } else if could_not_judge {
        3
    } else if failed {
        1
    } else if verdicts.iter().any(|(_, v)| *v == Verdict::Error) {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract_order() {
        use Verdict::{Error, Fail, Pass, Skip};
        let none: &[ExpectedFailure] = &[];
        assert_eq!(exit_code([("A", Pass, ""), ("B", Skip, "")], none), 0);
        assert_eq!(
            exit_code([("A", Fail, ""), ("B", Error, "")], none),
            1,
            "an ERROR hides no FAIL"
        );
        assert_eq!(exit_code([("A", Pass, ""), ("B", Error, "")], none), 3);
        assert_eq!(
            exit_code(
                [(super::super::PREFLIGHT_ID, Error, ""), ("A", Skip, "")],
                none
            ),
            3
        );
        let expected = [ExpectedFailure {
            id: "A".into(),
            reason: "known".into(),
            until: None,
            status: ExpectedStatus::Expected,
        }];
        assert_eq!(exit_code([("A", Fail, "")], &expected), 0);
        let stale = [ExpectedFailure {
            id: "A".into(),
            reason: "known".into(),
            until: None,
            status: ExpectedStatus::Stale,
        }];
        assert_eq!(exit_code([("A", Pass, ""), ("B", Error, "")], &stale), 1);
        assert_eq!(
            exit_code([("A", Fail, ""), ("B", Skip, SERVER_STOPPED)], none),
            3,
            "a server that stopped answering could not be judged"
        );
    }

    #[test]
    fn fail_on_warn_makes_a_warn_exit_1_in_the_place_of_a_fail() {
        use Verdict::{Error, Fail, Pass, Skip, Warn};
        let none: &[ExpectedFailure] = &[];
        let under = |checks: &[(&'static str, Verdict, &'static str)], rule| {
            exit_code_under(checks.iter().copied(), none, rule)
        };
        assert_eq!(under(&[("A", Warn, "")], FailOn::Fail), 0);
        assert_eq!(under(&[("A", Warn, "")], FailOn::Warn), 1);
        assert_eq!(under(&[("A", Pass, "")], FailOn::Warn), 0);
        assert_eq!(
            under(&[("A", Warn, ""), ("B", Error, "")], FailOn::Warn),
            1,
            "a WARN ranks as a FAIL, above isolated ERRORs"
        );
        assert_eq!(
            under(&[("A", Warn, ""), ("B", Skip, INTERRUPTED)], FailOn::Warn),
            130
        );
        assert_eq!(
            under(
                &[(super::super::PREFLIGHT_ID, Error, ""), ("A", Warn, "")],
                FailOn::Warn
            ),
            3
        );
        let expected = [ExpectedFailure {
            id: "A".into(),
            reason: "known".into(),
            until: None,
            status: ExpectedStatus::Expected,
        }];
        assert_eq!(
            exit_code_under([("A", Fail, "")], &expected, FailOn::Warn),
            0,
            "an expected FAIL fails no run, whatever --fail-on says"
        );
    }
}
