//! Procedures: the runner conducts them (bursts, searches, key removals, races, whoami calls)
//! and reports what it observed; one judge function per procedure turns the observation into
//! a verdict. Where a procedure stops early, [`super::Incomplete`] says why.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::jose::IssuerRole;
use crate::protocol::Exchange;
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, json_object, summarize};
use super::expect::{ConcurrentReplay, DistinctPrincipal, FetchBudget, Tolerance};
use super::refusal::judge_negative;
use super::{Judgement, judged};

// ---------------------------------------------------------------- fetch budget

/// What a fetch-budget burst observed, once its control was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchBudgetObservation {
    /// ID-JAGs sent under unknown `kid`s.
    pub sends: u32,
    /// How many of them were accepted.
    pub accepted: u32,
    /// JWKS fetches at the trusted issuer while they were sent.
    pub fetches: usize,
    /// How long the sends took.
    pub took: Duration,
}

/// LOAD-05: no ID-JAG under an unknown `kid` may be accepted (FAIL), and they may cause at
/// most the budget's fetches, plus one per whole second the sends took (a cache that expires
/// while the probe runs may refetch once a second; a fetch per request still breaks it).
pub fn judge_fetch_budget(
    level: Level,
    budget: &FetchBudget,
    seen: &FetchBudgetObservation,
) -> Judgement {
    let FetchBudgetObservation {
        sends,
        accepted,
        fetches,
        took,
    } = seen;
    let allowed = budget.max_fetches as usize + took.as_secs() as usize;
    let figure = format!(
        "{sends} ID-JAGs under unknown kids caused {fetches} JWKS fetches in {:.1} s",
        took.as_secs_f64()
    );
    if *accepted > 0 {
        judged(
            Verdict::Fail,
            format!("{accepted} of {sends} ID-JAGs under unknown kids were accepted"),
        )
    } else if *fetches > allowed {
        judged(
            level.violation(),
            format!("{figure} (at most {allowed} expected)"),
        )
    } else {
        judged(Verdict::Pass, figure)
    }
}

// ---------------------------------------------------------------- tolerance search

/// What a tolerance search found, once the zero offset was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasureObservation {
    /// Even the search bound (seconds) was accepted.
    NoLimit {
        /// The search bound in seconds.
        bound_secs: i64,
    },
    /// The largest offset accepted and the smallest refused, with the requests the search took.
    Limit {
        /// The largest accepted offset in seconds (negative for an `exp` still ahead).
        accepted_secs: i64,
        /// The smallest refused offset in seconds (one more than `accepted_secs`).
        refused_secs: i64,
        /// Requests sent, the two bounds included.
        requests: u32,
    },
}

/// Records a tolerance (INFO): the largest accepted offset, or that the bound was accepted.
pub fn judge_measure(tolerance: Tolerance, seen: &MeasureObservation) -> Judgement {
    match *seen {
        MeasureObservation::NoLimit { bound_secs } => {
            let bound = humantime::format_duration(Duration::from_secs(bound_secs.unsigned_abs()));
            let what = match tolerance {
                Tolerance::ExpSkew => "an ID-JAG expired",
                Tolerance::NbfSkew => "an ID-JAG not valid for another",
                Tolerance::MaxLifetime => "a lifetime of",
                Tolerance::MaxIatAge => "an iat as old as",
            };
            judged(
                Verdict::Info,
                format!("accepts {what} {bound}, the search bound: no limit found"),
            )
        }
        MeasureObservation::Limit {
            accepted_secs,
            refused_secs,
            requests,
        } => {
            let reason = match tolerance {
                // The leeway is the smallest lateness refused: an exp of now is already
                // expired (RFC 7519 §4.1.4), so a server without leeway measures 0 s.
                Tolerance::ExpSkew => {
                    let accepted = if accepted_secs < 0 {
                        format!("accepts one {} s before its exp", -accepted_secs)
                    } else {
                        format!("accepts one {accepted_secs} s after it")
                    };
                    format!(
                        "leeway on exp: {refused_secs} s (refuses an ID-JAG {refused_secs} s \
                         after its exp, {accepted}; measured in {requests} requests)"
                    )
                }
                Tolerance::NbfSkew => format!(
                    "accepts an ID-JAG before its nbf by up to {accepted_secs} s \
                     (measured in {requests} requests)"
                ),
                Tolerance::MaxLifetime => format!(
                    "accepts a lifetime (exp − now) of up to {accepted_secs} s \
                     (measured in {requests} requests)"
                ),
                Tolerance::MaxIatAge => format!(
                    "accepts an iat as old as {accepted_secs} s (measured in {requests} requests)"
                ),
            };
            judged(Verdict::Info, reason)
        }
    }
}

// ---------------------------------------------------------------- key removal

/// What a key removal observed, once its control was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRemovalObservation {
    /// The server's JWKS cache time (from the target file).
    pub ttl: Duration,
    /// The time allowed beyond it.
    pub margin: Duration,
    /// When the first refusal came (after the removal) and what it was.
    pub refused: Option<(Duration, Outcome)>,
    /// Time since the removal when the probing ended.
    pub probed_for: Duration,
    /// Probes sent after the removal.
    pub sent: u32,
    /// True when the server accepted the restored key again.
    pub recovered: bool,
    /// How long the recovery was given.
    pub recovery_window: Duration,
}

/// JAG-SIG-14: an ID-JAG signed with the removed key must be refused within the cache time
/// plus the margin; a server that does not take the restored key back is remarked on.
pub fn judge_key_removal(level: Level, seen: &KeyRemovalObservation) -> Judgement {
    let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    let ttl = seen.ttl;
    let judgement = match &seen.refused {
        Some((after, refusal)) => {
            let within = if *after < ttl {
                " (within the cache time: the server refetched)"
            } else {
                ""
            };
            judged(
                Verdict::Pass,
                format!(
                    "an ID-JAG signed with the removed key was refused {} after the removal{within} \
                     ({}; JWKS cache time {}); measured over {} requests",
                    secs(*after),
                    summarize(refusal),
                    secs(ttl),
                    seen.sent
                ),
            )
        }
        None => judged(
            level.violation(),
            format!(
                "an ID-JAG signed with the removed key was still accepted {} after the removal \
                 (JWKS cache time {}, margin {})",
                secs(seen.probed_for),
                secs(ttl),
                secs(seen.margin)
            ),
        ),
    };
    if seen.recovered {
        judgement
    } else {
        Judgement {
            reason: format!(
                "{}; the server did not accept the restored key again within {}",
                judgement.reason,
                secs(seen.recovery_window)
            ),
            ..judgement
        }
    }
}

// ---------------------------------------------------------------- concurrent replay

/// What a burst of the very same ID-JAG got back.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcurrentReplayObservation {
    /// Requests sent at once.
    pub sends: u32,
    /// The answers, in sending order (a lost task leaves one out).
    pub outcomes: Vec<Outcome>,
    /// Before the race, one fresh ID-JAG sent twice in a row: the first use (the race's
    /// positive control) and the second.
    pub sequential: Option<(Outcome, Outcome)>,
}

/// LOAD-02, judged as `load` judges its replay race ([`super::load::judge_race`]): single use
/// is required where the scenario says so (`single_use`, the mcp-ema profile); otherwise more
/// than one token breaks the rule only when the server refuses a sequential second use. An
/// answer missing from the race is ERROR unless a breach is already proven.
pub fn judge_concurrent_replay(
    level: Level,
    spec: ConcurrentReplay,
    seen: &ConcurrentReplayObservation,
) -> Judgement {
    use super::load::{Class, RaceObservation, class_of_outcome, judge_race};
    let mut classes = [0u64; 4];
    for o in &seen.outcomes {
        classes[class_of_outcome(o) as usize] += 1;
    }
    let (control_accepted, sequential_refused) = match &seen.sequential {
        Some((first, second)) => {
            let first_ok = matches!(first, Outcome::Accepted { .. });
            (
                first_ok,
                first_ok && matches!(second, Outcome::Rejected { .. }),
            )
        }
        None => (classes[Class::Accepted as usize] > 0, false),
    };
    let race = RaceObservation {
        control_accepted,
        sequential_refused,
        fired: seen.sends as usize,
        classes,
    };
    let j = judge_race(level, spec.single_use, &race);
    let unanswered = seen
        .outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::NoAnswer { .. }))
        .count();
    if unanswered > 0 && j.verdict != Verdict::Fail {
        let why = seen
            .outcomes
            .iter()
            .find_map(|o| match o {
                Outcome::NoAnswer { reason } => Some(reason.as_str()),
                _ => None,
            })
            .unwrap_or_default();
        return judged(
            Verdict::Error,
            format!(
                "no answer: {why} ({unanswered} of {} got none; {})",
                seen.sends, j.reason
            ),
        );
    }
    if !control_accepted && let Some((first, _)) = &seen.sequential {
        return judged(
            Verdict::Skip,
            format!("baseline not accepted: {}", summarize(first)),
        );
    }
    j
}

// ---------------------------------------------------------------- whoami

/// The members of a whoami answer that name the principal, in the order they are looked for
/// (RFC 7662 §2.2 names `sub` and `username`).
pub const PRINCIPAL_MEMBERS: &[&str] = &["sub", "username", "user", "user_id", "id"];

/// The principal a whoami answer names: the member at `pointer` (a JSON pointer, RFC 6901,
/// from the target's `whoami.principal`) or else the first of [`PRINCIPAL_MEMBERS`], when it
/// holds a non-empty string or a number. When the answer names an issuer (`iss`, or
/// `issuer`), the principal is that user of that issuer (`u1 of https://idp/a`): accounts of
/// two issuers with the same `sub` are two principals.
pub fn whoami_principal(body: &Map<String, Value>, pointer: Option<&str>) -> Option<String> {
    let scalar = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let user = match pointer {
        Some(pointer) => scalar(Value::Object(body.clone()).pointer(pointer)),
        None => PRINCIPAL_MEMBERS.iter().find_map(|m| scalar(body.get(*m))),
    }?;
    match ["iss", "issuer"].iter().find_map(|m| scalar(body.get(*m))) {
        Some(issuer) => Some(format!("{user} of {issuer}")),
        None => Some(user),
    }
}

/// Why a whoami call names no principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhoamiError {
    /// No HTTP answer at all.
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// An answer other than 200.
    #[error("the whoami endpoint answered {0}")]
    Status(u16),
    /// A 200 whose body is not a JSON object.
    #[error("the whoami endpoint answered 200 without a JSON object")]
    NotJson,
    /// A JSON object without any of [`PRINCIPAL_MEMBERS`].
    #[error("the whoami answer names no principal (none of {})", PRINCIPAL_MEMBERS.join(", "))]
    NoPrincipal,
    /// A JSON object without a string or number at the declared pointer.
    #[error("the whoami answer has no principal at {0} (whoami.principal in the target file)")]
    NoPrincipalAt(String),
    /// The introspection endpoint refused the suite's client (401 or 403).
    #[error(
        "the introspection endpoint refused the suite's client ({0}): name a client allowed to introspect in introspection.client of the target file"
    )]
    IntrospectionRefused(u16),
    /// The introspection endpoint answered another status than 200.
    #[error("the introspection endpoint answered {0}")]
    IntrospectionStatus(u16),
    /// A 200 from the introspection endpoint whose body is not a JSON object.
    #[error("the introspection endpoint answered 200 without a JSON object")]
    IntrospectionNotJson,
    /// An introspection answer without a boolean `active` (RFC 7662 §2.2: REQUIRED).
    #[error("the introspection answer has no boolean active (RFC 7662 §2.2)")]
    IntrospectionNoActive,
    /// Introspection says the token is not active.
    #[error("introspection says the token is not active")]
    Inactive,
    /// An active introspection answer without `sub` or `username`.
    #[error("the introspection answer names no principal (neither sub nor username)")]
    IntrospectionNoPrincipal,
}

/// What a whoami call gave: the principal (read as [`whoami_principal`] says, at `pointer`
/// when the target names one) and the whole answer, or why there is none.
pub fn read_whoami(
    ex: &Exchange,
    pointer: Option<&str>,
) -> Result<(String, Map<String, Value>), WhoamiError> {
    let Some(resp) = &ex.response else {
        return Err(WhoamiError::NoAnswer(
            ex.error.clone().unwrap_or_else(|| "no response".into()),
        ));
    };
    if resp.status != 200 {
        return Err(WhoamiError::Status(resp.status));
    }
    let Some(body) = json_object(&resp.body) else {
        return Err(WhoamiError::NotJson);
    };
    match (whoami_principal(&body, pointer), pointer) {
        (Some(p), _) => Ok((p, body)),
        (None, Some(pointer)) => Err(WhoamiError::NoPrincipalAt(pointer.into())),
        (None, None) => Err(WhoamiError::NoPrincipal),
    }
}

/// What a whoami record observed once its token was issued.
#[derive(Debug, Clone, PartialEq)]
pub struct WhoamiObservation {
    /// The whoami answer read.
    pub answer: Result<(String, Map<String, Value>), WhoamiError>,
    /// The client the token was requested for (C1).
    pub client_id: String,
    /// The ID-JAG's `scope`, if any.
    pub jag_scope: Option<String>,
}

/// RS-11: records the whoami answer (INFO); no answer at all is ERROR, an unreadable one INFO.
pub fn judge_whoami_record(seen: &WhoamiObservation) -> Judgement {
    judge_token_record(super::TokenSource::Whoami, seen)
}

/// RS-11 from whichever source says whom the token represents (whoami or introspection):
/// the answer recorded (INFO); no answer at all is ERROR; an introspection endpoint that
/// refuses the suite's client (401/403) is SKIP with the reason; another unreadable answer
/// is INFO.
pub fn judge_token_record(source: super::TokenSource, seen: &WhoamiObservation) -> Judgement {
    let label = source.label();
    match &seen.answer {
        Ok((principal, body)) => judge_record_from(
            label,
            principal,
            body,
            &seen.client_id,
            seen.jag_scope.as_deref(),
        ),
        Err(e @ WhoamiError::NoAnswer(_)) => judged(Verdict::Error, format!("{label}: {e}")),
        Err(e @ WhoamiError::IntrospectionRefused(_)) => {
            judged(Verdict::Skip, format!("not applicable to this target: {e}"))
        }
        Err(e) => judged(Verdict::Info, format!("{label}: {e}")),
    }
}

/// Records a whoami answer (INFO): principal, `client_id`, `scope`, and where they differ
/// from the expected client and the ID-JAG's scope.
pub fn judge_whoami(
    principal: &str,
    body: &Map<String, Value>,
    client_id: &str,
    jag_scope: Option<&str>,
) -> Judgement {
    judge_record_from("whoami", principal, body, client_id, jag_scope)
}

/// [`judge_whoami`] for an answer of the source `label` (`whoami`, `introspection`), which
/// also names the token's `aud` when it gives one.
fn judge_record_from(
    label: &str,
    principal: &str,
    body: &Map<String, Value>,
    client_id: &str,
    jag_scope: Option<&str>,
) -> Judgement {
    let shown = |k: &str| match body.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "not given".into(),
    };
    let client = ["client_id", "azp"]
        .iter()
        .find(|k| body.contains_key(**k))
        .map_or_else(|| "not given".to_string(), |k| shown(k));
    let scope = ["scope", "scp"]
        .iter()
        .find(|k| body.contains_key(**k))
        .map_or_else(|| "not given".to_string(), |k| shown(k));
    let mut remarks = Vec::new();
    if client != "not given" && client != client_id {
        remarks.push(format!("the client is not C1 ({client_id})"));
    }
    if let (Some(allowed), Some(Value::String(g))) = (jag_scope, body.get("scope")) {
        let allowed = super::acceptance::scopes(allowed);
        let extra: Vec<&str> = super::acceptance::scopes(g)
            .into_iter()
            .filter(|x| !allowed.contains(x))
            .collect();
        if !extra.is_empty() {
            remarks.push(format!("scope {} is beyond the ID-JAG's", extra.join(" ")));
        }
    }
    let tail = if remarks.is_empty() {
        String::new()
    } else {
        format!("; {}", remarks.join("; "))
    };
    let aud = match body.get("aud") {
        Some(Value::String(a)) => format!(", aud {a}"),
        Some(Value::Array(a)) => format!(
            ", aud {}",
            a.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        _ => String::new(),
    };
    judged(
        Verdict::Info,
        format!("{label}: principal {principal}, client_id {client}, scope {scope}{aud}{tail}"),
    )
}

// ---------------------------------------------------------------- distinct principal

/// What a distinct-principal check observed, once its control was accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum DistinctPrincipalObservation {
    /// The control's whoami answer named no principal: the probe was not sent.
    ControlUnknown(WhoamiError),
    /// The probe was sent.
    Probed {
        /// The control's principal (`None`: the target has no whoami endpoint).
        control_principal: Option<String>,
        /// The probe's answer.
        probe: Outcome,
        /// The probe token's principal, when it was accepted and there is a whoami endpoint.
        probe_principal: Option<Result<String, WhoamiError>>,
    },
}

/// How reasons name an issuer.
pub fn issuer_label(role: IssuerRole) -> &'static str {
    match role {
        IssuerRole::Trusted => "ISS_A",
        IssuerRole::TrustedB => "ISS_B",
        IssuerRole::Untrusted => "ISS_X",
        IssuerRole::Attacker => "the attacker",
        IssuerRole::MultiTenant => "ISS_MT",
        IssuerRole::SamlSubjects => "ISS_SAML",
    }
}

/// How reasons name the party of an ID-JAG: its issuer, and its tenant when `claims` name
/// one (`ISS_MT tenant acme`).
fn party_label(role: IssuerRole, claims: &Map<String, Value>) -> String {
    match claims.get("tenant").and_then(Value::as_str) {
        Some(t) => format!("{} tenant {t}", issuer_label(role)),
        None => issuer_label(role).to_string(),
    }
}

/// JAG-SUB-03 and JAG-SUB-04 from their observation: a control whose principal is unknown is
/// ERROR (no answer) or SKIP; otherwise [`judge_distinct_principal`] naming the probe's party
/// (its issuer and `probe_claims`' tenant) and the control's.
pub fn judge_distinct_principal_observation(
    level: Level,
    rules: &DistinctPrincipal,
    probe_issuer: IssuerRole,
    probe_claims: &Map<String, Value>,
    seen: &DistinctPrincipalObservation,
    what: &str,
) -> Judgement {
    let mut control_claims = probe_claims.clone();
    control_claims.extend(rules.control_claims.clone());
    let probe_party = party_label(probe_issuer, probe_claims);
    let control_party = party_label(
        rules.control_issuer.unwrap_or(probe_issuer),
        &control_claims,
    );
    match seen {
        DistinctPrincipalObservation::ControlUnknown(e @ WhoamiError::NoAnswer(_)) => {
            judged(Verdict::Error, format!("whoami: {e}"))
        }
        DistinctPrincipalObservation::ControlUnknown(e) => judged(
            Verdict::Skip,
            format!("the positive control's principal is unknown: {e}"),
        ),
        DistinctPrincipalObservation::Probed {
            control_principal,
            probe,
            probe_principal,
        } => judge_distinct_principal(
            level,
            &rules.reject.to_vec(),
            (&probe_party, &control_party),
            control_principal.as_deref(),
            probe,
            probe_principal.clone(),
            what,
        ),
    }
}

/// Judges the probe of a [`DistinctPrincipal`] check once the control was accepted for
/// `control_principal`: a refusal with the codes is PASS (another code is WARN); an
/// acceptance is PASS when the whoami answer names another principal, a violation when it
/// names the control's; `probe_principal` is the probe token's whoami result (`None` when
/// the target has no whoami endpoint). `issuers` names the probe's and the control's issuers
/// (e.g. `ISS_A`, `ISS_B`).
pub fn judge_distinct_principal(
    level: Level,
    codes: &[String],
    issuers: (&str, &str),
    control_principal: Option<&str>,
    probe: &Outcome,
    probe_principal: Option<Result<String, WhoamiError>>,
    what: &str,
) -> Judgement {
    let (probe_iss, control_iss) = issuers;
    let accepted = Outcome::Accepted { body: Map::new() };
    match probe {
        Outcome::Accepted { .. } => {}
        _ => return judge_negative(level, codes, &accepted, probe, what),
    }
    let (Some(control), Some(found)) = (control_principal, probe_principal) else {
        return judged(
            Verdict::Skip,
            format!(
                "not applicable to this target: {what} was accepted, and without a whoami \
                 endpoint or introspection (whoami, introspection in the target file) the suite \
                 cannot tell whose token it is"
            ),
        );
    };
    match found {
        Err(e) => judged(
            Verdict::Skip,
            format!("{what} was accepted, but its principal is unknown: {e}"),
        ),
        Ok(p) if p == control => judged(
            level.violation(),
            format!(
                "{what} from {probe_iss} was accepted for principal {p}, the user {control_iss}'s \
                 token got: {probe_iss}'s sub was mapped to {control_iss}'s user"
            ),
        ),
        Ok(p) => judged(
            Verdict::Pass,
            format!(
                "{what} from {probe_iss} was accepted for principal {p}, an account distinct \
                 from {control_iss}'s user {control} (a distinct user, e.g. provisioned just in time)"
            ),
        ),
    }
}
