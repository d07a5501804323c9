//! Multi-case checks: one verdict from the verdicts of a scenario's cases (`cases:`), each of
//! which ran as its own execution of the check.

use crate::spec::Verdict;

use super::{Judgement, judged};

/// How much a case's verdict weighs in the check's: the highest decides. A FAIL is a proven
/// breach whatever else happened; a case that got no answer (ERROR) comes next, since the
/// check is then incomplete and the run must say so (exit 3) rather than let a WARN stand for
/// it; then WARN, then SKIP (a case could not be judged); INFO (a recorded observation the
/// reader should see) before PASS, which says nothing more.
fn weight(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 5,
        Verdict::Error => 4,
        Verdict::Warn => 3,
        Verdict::Skip => 2,
        Verdict::Info => 1,
        Verdict::Pass => 0,
    }
}

/// Whether verdict `a` weighs more than `b` when one verdict must stand for several (see
/// [`combine_cases`]).
pub fn outweighs(a: Verdict, b: Verdict) -> bool {
    weight(a) > weight(b)
}

/// The index of the case whose verdict is the check's (see [`combine_cases`]); `None` when
/// there is no case.
pub fn deciding_case(cases: &[(String, Judgement)]) -> Option<usize> {
    cases
        .iter()
        .enumerate()
        .rev()
        .max_by_key(|(_, (_, j))| weight(j.verdict))
        .map(|(i, _)| i)
}

/// The judgement of a check from its cases' judgements, `(case name, judgement)` in the
/// scenario's order: the verdict of the worst case (FAIL over ERROR over WARN over SKIP over
/// INFO over PASS; among equals the first), and a reason that names that case
/// (``case `empty string`: …``) and sums up the others. No case at all is an ERROR.
pub fn combine_cases(cases: &[(String, Judgement)]) -> Judgement {
    let Some(deciding) = deciding_case(cases) else {
        return judged(Verdict::Error, "the check has no case to run");
    };
    let (name, j) = &cases[deciding];
    let mut reason = format!("case `{name}`: {}", j.reason);
    let others: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != deciding)
        .map(|(_, (n, o))| format!("`{n}` {}", o.verdict))
        .collect();
    if !others.is_empty() {
        reason.push_str(&format!(" (other cases: {})", others.join(", ")));
    }
    judged(j.verdict, reason)
}
