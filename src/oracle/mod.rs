//! The judge: classifies recorded answers and turns observations into verdicts.
//!
//! Pure: it sees recorded exchanges and what procedures observed, never the network. Split by
//! concern: [`classify`] (what an answer was), [`refusal`] and [`acceptance`] rules,
//! [`metadata`], [`procedures`] (one judge per procedure), [`resource_api`], [`incomplete`]
//! (checks that stopped early), [`run`] (verdicts that span checks), [`findings`] (the form of
//! every answer of the run, judged once by the check that owns it), [`introspection`],
//! [`load`] (the load's classes and checks), [`fuzz`] (the fuzz step table) and the [`expect`]
//! model.
//! No other module builds a verdict.

pub mod acceptance;
pub mod cases;
pub mod classify;
pub mod cleartext;
pub mod dpop;
pub mod expect;
pub mod findings;
pub mod fuzz;
pub mod incomplete;
pub mod introspection;
pub mod jwt_access_token;
pub mod load;
pub mod metadata;
pub mod own_grant;
pub mod preflight;
pub mod procedures;
pub mod rar;
pub mod refusal;
pub mod resource_api;
pub mod run;
pub mod world;

use crate::protocol::RecordedResponse;
use crate::spec::{Level, Verdict};

pub use acceptance::{judge_either, judge_positive};
pub use cases::{combine_cases, deciding_case};
pub use classify::{Outcome, classify, classify_response, json_object, summarize};
pub use cleartext::judge_cleartext;
pub use expect::{
    AcceptRules, CleartextRecord, ConcurrentReplay, DistinctPrincipal, EitherRules, Expect,
    ExpectSyntax, FetchBudget, IntrospectRecord, KeyRemoval, Measure, MetadataRules, OneOrMany,
    OwnIdJag, Procedure, RecordRules, RejectRules, RejectSpec, Rules, Tolerance, WhoamiRecord,
};
pub use findings::{
    CheckAnswers, Finding, FormRules, Occurrence, OwnedVerdict, Owner, judge_findings,
};
pub use incomplete::{BuildError, Incomplete, Prerequisite, judge_incomplete, judge_unbuilt};
pub use introspection::{
    Introspected, IntrospectionObservation, TokenSource, as_introspected, introspected_principal,
    judge_introspection, judges_granted_scope, read_introspection, with_note,
};
pub use jwt_access_token::{
    JwtAccessTokenObservation, JwtAccessTokenRule, JwtAccessTokenRules, RasJwks,
    judge_jwt_access_token,
};
pub use metadata::{MetadataSource, is_metadata_document, judge_metadata, judge_metadata_at};
pub use own_grant::{OwnIdJagObservation, judge_own_id_jag};
pub use preflight::{
    NOT_RUN, PREFLIGHT_ID, Preflight, PreflightObservation, diagnose, judge_not_run_preflight,
    judge_preflight_stop, judge_refused_at_preflight, with_preflight_causes,
};
pub use procedures::{
    ConcurrentReplayObservation, DistinctPrincipalObservation, FetchBudgetObservation,
    KeyRemovalObservation, MeasureObservation, PRINCIPAL_MEMBERS, WhoamiError, WhoamiObservation,
    issuer_label, judge_concurrent_replay, judge_distinct_principal,
    judge_distinct_principal_observation, judge_fetch_budget, judge_key_removal, judge_measure,
    judge_token_record, judge_whoami, judge_whoami_record, read_whoami, whoami_principal,
};
pub use refusal::{judge_negative, judge_record, judge_reject};
pub use resource_api::{ApiRules, judge_api};
pub use run::{
    INTERRUPTED, SERVER_STOPPED, exit_code, exit_code_under, judge_dependency,
    judge_dependency_cycle, judge_forbidden_fetches, judge_idp_control_failed, judge_interrupted,
    judge_lost, judge_server_stopped, unanswered,
};
pub use world::{
    judge_api_token_refused, judge_declared_client, judge_own_control_refused, judge_provisioned,
    judge_weaker,
};

/// Judges the answer to a token request under its rule set: `probe` is the answer (with its
/// recorded `response`), `control` the positive control's (accepted, or a stand-in for an
/// accepted one where the check is not differential).
pub fn judge_answer(
    level: Level,
    rules: &Rules,
    control: &Outcome,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    match rules {
        Rules::Accept(r) => judge_positive(level, r, probe, response, what),
        Rules::Reject(spec) => judge_reject(level, spec, control, probe, response, what),
        Rules::Either(r) => judge_either(level, r, control, probe, response, what),
        Rules::Record(_) => judge_record(control, probe, what),
        // Judged from the metadata document, not from a token answer.
        Rules::Metadata(_) => judged(Verdict::Error, "this expectation has its own path"),
    }
}

/// A verdict with its one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    pub reason: String,
}

impl Judgement {
    /// True when the check passed (the runner goes on to a resource-API step only then).
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

fn judged(verdict: Verdict, reason: impl Into<String>) -> Judgement {
    Judgement {
        verdict,
        reason: reason.into(),
    }
}
