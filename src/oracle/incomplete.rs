//! Checks that could not be conducted to the end: a request that could not be built, a
//! prerequisite the target or the run lacks, a positive control that was not accepted. The
//! runner reports which it was; the oracle says what that means (SKIP or ERROR).

use crate::spec::{Level, Verdict};

use super::classify::Outcome;
use super::refusal::judge_negative;
use super::{Judgement, judged};

/// Why a request (its placeholders, its client authentication, its ID-JAG) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The target lacks what the check needs (a second client, a placeholder's value): SKIP
    /// with the reason.
    #[error("{0}")]
    NotApplicable(String),
    /// The suite itself failed (a key that cannot sign, a scenario that does not convert):
    /// ERROR, never a SKIP.
    #[error("{0}")]
    Internal(String),
}

/// What a procedure needs from the target or the run, and did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    /// The fake IdP's request log (to count JWKS fetches).
    IdpLog,
    /// The fake IdP of this run, whose keys the procedure changes.
    OwnIdp,
    /// The target's JWKS cache time (`jwks_cache_ttl` in the target file).
    JwksCacheTtl,
    /// The target's whoami endpoint or introspection (`whoami`, `introspection` in the
    /// target file, or the metadata's `introspection_endpoint`).
    Whoami,
    /// RFC 7662 introspection (`introspection` in the target file, or the metadata's
    /// `introspection_endpoint`).
    Introspection,
    /// The target's resource API (`api.r1` in the target file).
    ResourceApi,
}

impl Prerequisite {
    /// The SKIP reason when it is missing.
    fn missing(self) -> &'static str {
        match self {
            Prerequisite::IdpLog => "not applicable: no IdP request log",
            Prerequisite::OwnIdp => "not applicable: the fake IdP is not this run's",
            Prerequisite::JwksCacheTtl => {
                "not applicable to this target: its JWKS cache time is unknown (set jwks_cache_ttl in the target file)"
            }
            Prerequisite::Whoami => {
                "not applicable to this target: no whoami endpoint (whoami in the target file) and no introspection (introspection in the target file, or introspection_endpoint in its metadata)"
            }
            Prerequisite::Introspection => {
                "not applicable to this target: no introspection endpoint (introspection in the target file, or introspection_endpoint in its metadata)"
            }
            Prerequisite::ResourceApi => "not applicable to this target: no resource API (api.r1)",
        }
    }
}

/// Where a check stopped before its observation was complete.
#[derive(Debug, Clone, PartialEq)]
pub enum Incomplete {
    /// The target or the run lacks a prerequisite.
    Missing(Prerequisite),
    /// A request could not be built.
    Unbuilt(BuildError),
    /// The positive control (or the baseline request) was not accepted: its outcome.
    ControlNotAccepted(Outcome),
    /// A request the procedure needed got no usable answer: why.
    NoAnswer(String),
}

impl From<BuildError> for Incomplete {
    fn from(e: BuildError) -> Self {
        Incomplete::Unbuilt(e)
    }
}

/// The verdict of a request that could not be built: SKIP for what the target lacks, ERROR
/// for the suite's own failures.
pub fn judge_unbuilt(e: &BuildError) -> Judgement {
    match e {
        BuildError::NotApplicable(why) => judged(
            Verdict::Skip,
            format!("not applicable to this target: {why}"),
        ),
        BuildError::Internal(why) => judged(Verdict::Error, why.clone()),
    }
}

/// The verdict of a check that stopped early: SKIP for a missing prerequisite or a refused
/// baseline, ERROR for no answer or an internal failure.
pub fn judge_incomplete(level: Level, stop: &Incomplete) -> Judgement {
    match stop {
        Incomplete::Missing(p) => judged(Verdict::Skip, p.missing()),
        Incomplete::Unbuilt(e) => judge_unbuilt(e),
        Incomplete::ControlNotAccepted(o) => judge_negative(level, &[], o, o, ""),
        Incomplete::NoAnswer(reason) => judged(Verdict::Error, format!("no answer: {reason}")),
    }
}
