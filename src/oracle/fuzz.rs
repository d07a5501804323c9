//! The fuzz judge: which catalogue requirements each generated step breaks, how a case is
//! classed from the levels of those requirements under the profile, and the verdict of an
//! answer to a case.
//!
//! [`STEPS`] is the one table: a step's label (named by `crate::fuzz::model`) to the rows of
//! `src/catalogue/requirements.yaml` a request with that change breaks, or the rows under which
//! it must still be accepted. A case breaking a MUST must be refused (a token is FAIL); one
//! breaking only SHOULDs should be (a token is WARN); one breaking only MAYs, or whose change
//! the spec leaves open, may get either answer; one breaking nothing must get a token. Levels
//! come from the catalogue under the profile ([`level_of`]), with the departures the built-in
//! scenarios make ([`DEPARTURES`]) and the target's world (JIT provisioning). Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::classify::{Outcome, summarize};
use super::preflight::{Preflight, judge_preflight_stop};
use super::{Judgement, judged};
use crate::catalogue;
use crate::spec::{Level, Verdict};

/// What a step does to the valid request, by the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The request breaks these rows: it must be refused at their level.
    Breaks(&'static [&'static str]),
    /// The request stays valid; refusing it breaks these rows (the ones that say it must be
    /// accepted).
    Keeps(&'static [&'static str]),
    /// The spec allows a token or a refusal (only no 5xx and an answer are owed).
    Open,
}

/// One row of the fuzz table.
#[derive(Debug, Clone, Copy)]
pub struct StepRow {
    /// The step's label, e.g. `aud.array_many`.
    pub label: &'static str,
    /// What it does to the request.
    pub effect: Effect,
}

const fn breaks(label: &'static str, rows: &'static [&'static str]) -> StepRow {
    StepRow {
        label,
        effect: Effect::Breaks(rows),
    }
}

const fn keeps(label: &'static str, rows: &'static [&'static str]) -> StepRow {
    StepRow {
        label,
        effect: Effect::Keeps(rows),
    }
}

const fn open(label: &'static str) -> StepRow {
    StepRow {
        label,
        effect: Effect::Open,
    }
}

/// Every fuzz step's label and the catalogue rows it breaks or keeps. A duplicate claim member
/// is labelled `dup:` and the label its value would have as the claim ([`classify_case`]).
pub const STEPS: &[StepRow] = &[
    // iss
    breaks("iss.removed", &["JAG-ISS-01"]),
    breaks("iss.untrusted", &["JAG-ISS-02"]),
    breaks("iss.type", &["JAG-ISS-04"]),
    breaks("iss.untrusted_key", &["JAG-ISS-02", "JAG-SIG-12"]),
    breaks("iss.variant", &["JAG-ISS-03"]),
    // ISS_B's own token for ISS_A's user: who it maps to is JAG-SUB-03's to judge
    open("iss.other_trusted"),
    // aud: a one-element array of the issuer is valid (RFC 7519 §4.1.3; ID-JAG §4.4.1 "exactly
    // one element"); several elements are not, whatever they hold.
    breaks("aud.removed", &["JAG-AUD-01"]),
    breaks("aud.foreign", &["JAG-AUD-02"]),
    breaks("aud.malformed", &["JAG-AUD-07"]),
    breaks("aud.token_endpoint", &["JAG-AUD-04"]),
    breaks("aud.variant", &["JAG-AUD-05"]),
    breaks("aud.resource", &["JAG-AUD-06"]),
    keeps("aud.array_one", &["BASE-10"]),
    breaks("aud.array_many", &["JAG-AUD-03"]),
    // sub (an unknown one is allowed where the target provisions: see `level_of`)
    breaks("sub.removed", &["JAG-SUB-01"]),
    breaks("sub.malformed", &["JAG-SUB-01"]),
    breaks("sub.unknown", &["JAG-SUB-02"]),
    // client_id
    breaks("client_id.removed", &["JAG-CID-02"]),
    breaks("client_id.other", &["JAG-CID-01"]),
    breaks("client_id.type", &["JAG-CID-04"]),
    // jti: SHOULD under the generic profile, MUST under mcp-ema (the catalogue's profile level)
    breaks("jti.removed", &["JAG-JTI-02"]),
    breaks("jti.type", &["JAG-JTI-03"]),
    keeps("jti.string", &["BASE-01"]),
    // a claim set to its valid value (only in hand-written cases)
    keeps("claim.baseline", &["BASE-01"]),
    // exp, nbf, iat
    breaks("exp.removed", &["JAG-TIME-01"]),
    breaks("exp.type", &["JAG-TIME-04"]),
    breaks("exp.past", &["JAG-TIME-02"]),
    keeps("exp.short", &["BASE-01"]),
    keeps("exp.fraction", &["BASE-09"]),
    breaks("exp.far", &["JAG-TIME-05"]),
    open("exp.number"),
    breaks("nbf.future", &["JAG-TIME-06"]),
    breaks("iat.removed", &["JAG-TIME-08"]),
    breaks("iat.type", &["JAG-TIME-11"]),
    breaks("iat.future", &["JAG-TIME-09"]),
    keeps("iat.recent", &["BASE-01"]),
    open("iat.number"),
    // resource: removing it is a MAY (ID-JAG -04 has no absent-resource rule)
    breaks("resource.removed", &["JAG-RES-04"]),
    breaks("resource.foreign", &["JAG-RES-01"]),
    keeps("resource.array_one", &["JAG-RES-07"]),
    breaks("resource.array_foreign", &["JAG-RES-02"]),
    breaks("resource.type", &["JAG-RES-08"]),
    // the payload as a whole, unknown claims, duplicate members of unknown claims
    breaks("payload.not_object", &["JAG-JSON-01"]),
    keeps("claim.unknown", &["BASE-08"]),
    open("duplicate.unknown"),
    // header; an unknown member not named in crit MUST be ignored (RFC 7515 §4), which no
    // row of its own states: refusing it is refusing a valid ID-JAG (BASE-01)
    breaks("typ.removed", &["JAG-HDR-01"]),
    breaks("typ.jwt", &["JAG-HDR-02"]),
    breaks("typ.other_jwt", &["JAG-HDR-03"]),
    breaks("typ.prefix", &["JAG-HDR-04"]),
    breaks("typ.malformed", &["JAG-HDR-02"]),
    keeps("typ.media_type", &["JAG-HDR-06"]),
    keeps("typ.case", &["JAG-HDR-07"]),
    // a kid no key has: an injection attempt, a number, 10 kB (JAG-HDR-12: either answer)
    open("kid.odd"),
    breaks("crit.unknown", &["JAG-HDR-08"]),
    keeps("header.unknown", &["BASE-01"]),
    // signing and the signature
    breaks("sign.none", &["JAG-SIG-01"]),
    breaks("sign.hs256_public_key", &["JAG-SIG-04"]),
    breaks("sign.hs256_secret", &["JAG-SIG-05"]),
    breaks("sign.ps256_same_key", &["JAG-SIG-06"]),
    breaks("sign.foreign_key", &["JAG-SIG-09"]),
    breaks("sign.embedded_jwk", &["JAG-SIG-10"]),
    breaks("sign.other_issuer_key", &["JAG-SIG-11"]),
    breaks("sign.unknown_kid", &["JAG-SIG-15"]),
    breaks("sign.enc_key", &["JAG-SIG-17"]),
    breaks("sign.jku", &["JAG-SIG-09"]),
    keeps("alg", &["BASE-01"]),
    breaks("signature.strip", &["JAG-SIG-02"]),
    breaks("signature.truncate", &["JAG-SIG-02"]),
    breaks("signature.flip_bit", &["JAG-SIG-03"]),
    breaks("signature.zero", &["JAG-SIG-03", "JAG-SIG-08"]),
    breaks("signature.der_encoded", &["JAG-SIG-07"]),
    breaks("signature.psychic", &["JAG-SIG-08"]),
    // the token request
    breaks("assertion.removed", &["REQ-03"]),
    breaks("assertion.extra_segment", &["REQ-06"]),
    breaks("assertion.doubled", &["REQ-06"]),
    open("assertion.leading_space"),
    open("assertion.padded"),
    breaks("assertion.twice", &["REQ-05"]),
    breaks("grant_type.removed", &["REQ-01"]),
    breaks("grant_type.other", &["REQ-02"]),
    breaks("grant_type.twice", &["REQ-05"]),
    breaks("secret.wrong", &["CAUTH-03"]),
    breaks("client.unauthenticated", &["JAG-CID-05"]),
];

/// Levels the fuzz judge holds where they differ from the catalogue row, as the built-in
/// scenario of that row does (so that `run` and `fuzz` judge one behaviour alike): `(row,
/// level, the profiles under which the row's own level holds instead, why)`.
pub const DEPARTURES: &[(&str, Level, &[&str], &str)] = &[
    (
        "BASE-09",
        Level::Should,
        &[],
        "requirements.md says MUST accept a fractional NumericDate, but its Expects column says WARN if refused",
    ),
    (
        "JAG-RES-02",
        Level::Should,
        &["mcp-ema"],
        "MUST under -05 but MAY under -04, which allows granting a subset: WARN on 200 (§15 A4); \
         MCP EMA §7.6.2 makes any ungoverned entry a MUST refusal",
    ),
];

/// The requirement every 5xx answer breaks (RFC 6749 §5.2: malformed input is a 4xx).
pub const SERVER_ERROR_ROW: &str = "ERR-07";

/// The requirement an answer that is neither a token nor a 4xx breaks.
pub const STATUS_ROW: &str = "ERR-01";

/// What the judge needs to know of the run: the profile and the target's declared world.
#[derive(Debug, Clone, Copy)]
pub struct FuzzWorld<'a> {
    /// The expectation profile.
    pub profile: &'a str,
    /// The target provisions unknown subjects (`jit_provisioning`).
    pub jit_provisioning: bool,
    /// C1 authenticates in the body (`client_secret_post`) rather than with Basic.
    pub body_auth: bool,
}

/// The table row of `label`.
pub fn step_row(label: &str) -> Option<&'static StepRow> {
    STEPS.iter().find(|r| r.label == label)
}

/// The level of row `id` in this world: its catalogue level under the profile, a
/// [`DEPARTURES`] level, and INFO for an unknown subject where the target provisions one.
/// An ID that is no catalogue row is INFO (a unit test keeps the table to real rows).
pub fn level_of(id: &str, world: &FuzzWorld<'_>) -> Level {
    if id == "JAG-SUB-02" && world.jit_provisioning {
        return Level::Info;
    }
    if let Some((_, level, _, _)) = DEPARTURES
        .iter()
        .find(|(d, _, not_under, _)| *d == id && !not_under.contains(&world.profile))
    {
        return *level;
    }
    catalogue::find(id).map_or(Level::Info, |r| r.level_under(world.profile))
}

/// The row as the world reads it: a wrong secret in the body is CAUTH-04, not Basic's CAUTH-03.
fn in_world(id: &'static str, world: &FuzzWorld<'_>) -> &'static str {
    match id {
        "CAUTH-03" if world.body_auth => "CAUTH-04",
        other => other,
    }
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Must => 3,
        Level::Should => 2,
        Level::May | Level::Info => 1,
    }
}

/// What a case owes, from the rows its steps break or keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "owes", rename_all = "snake_case")]
pub enum Owes {
    /// A MUST is broken: a token is FAIL.
    Invalid {
        /// The MUST rows broken.
        rows: Vec<String>,
    },
    /// Only SHOULDs are broken: a token is WARN.
    ShouldRefuse {
        /// The SHOULD rows broken.
        rows: Vec<String>,
    },
    /// Only MAYs are broken, or the spec leaves the change open: either answer.
    Either {
        /// The MAY rows broken and the labels of open changes.
        rows: Vec<String>,
    },
    /// Nothing is broken: a token must be issued.
    Valid {
        /// The rows under which it must be accepted (BASE-01 when no step names one).
        rows: Vec<String>,
        /// The weakest of their levels: a refusal may be for any of them.
        level: Level,
    },
}

/// A case as the oracle classes it: what it owes, and everything it touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClass {
    /// What the case owes.
    #[serde(flatten)]
    pub owes: Owes,
    /// Every row the case breaks or keeps, at any level, and the labels of its open changes:
    /// what may have provoked a 5xx or no answer.
    pub touched: Vec<String>,
}

impl CaseClass {
    /// The class's name for the summary: `valid`, `invalid`, `should_refuse` or `either`.
    pub fn name(&self) -> &'static str {
        match self.owes {
            Owes::Invalid { .. } => "invalid",
            Owes::ShouldRefuse { .. } => "should_refuse",
            Owes::Either { .. } => "either",
            Owes::Valid { .. } => "valid",
        }
    }

    /// The rows (or open labels) that decided the class.
    pub fn rows(&self) -> &[String] {
        match &self.owes {
            Owes::Invalid { rows }
            | Owes::ShouldRefuse { rows }
            | Owes::Either { rows }
            | Owes::Valid { rows, .. } => rows,
        }
    }
}

/// Classes a case from the labels of the steps actually sent (later steps on the same part of
/// the request already dropped by the model). `Err` names a label the table does not know.
pub fn classify_case(labels: &[String], world: &FuzzWorld<'_>) -> Result<CaseClass, String> {
    let mut broken: Vec<(String, Level)> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let add = |list: &mut Vec<(String, Level)>, id: String, level: Level| {
        if !list.iter().any(|(i, _)| *i == id) {
            list.push((id, level));
        }
    };
    for label in labels {
        let (inner, duplicate) = match label.strip_prefix("dup:") {
            Some(inner) => (inner, true),
            None => (label.as_str(), false),
        };
        let row = step_row(inner).ok_or_else(|| format!("no fuzz table row for step `{label}`"))?;
        match (row.effect, duplicate) {
            (Effect::Breaks(rows), _) => {
                let mut strongest = Level::Info;
                for id in rows {
                    let id = in_world(id, world);
                    let level = level_of(id, world);
                    if rank(level) > rank(strongest) {
                        strongest = level;
                    }
                    add(&mut broken, id.to_string(), level);
                }
                // A second member holding a bad value: a parser that keeps the last member
                // refuses for the value's rule, one that rejects duplicates refuses anyway; a
                // token shows first-wins parsing (JAG-DUP-01) or the value's rule unchecked,
                // so it is owed at the value's level.
                if duplicate {
                    add(&mut broken, "JAG-DUP-01".into(), strongest);
                }
            }
            // A duplicate member with a valid value: refusing duplicates is allowed.
            (Effect::Keeps(_), true) | (Effect::Open, _) => open.push(label.clone()),
            (Effect::Keeps(rows), false) => {
                for id in rows {
                    if !kept.iter().any(|k| k == id) {
                        kept.push(id.to_string());
                    }
                }
            }
        }
    }
    let at = |level: Level| -> Vec<String> {
        broken
            .iter()
            .filter(|(_, l)| rank(*l) == rank(level))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let mut touched: Vec<String> = broken.iter().map(|(id, _)| id.clone()).collect();
    touched.extend(open.iter().cloned());
    touched.extend(
        kept.iter()
            .filter(|k| !touched.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let owes = {
        let must = at(Level::Must);
        let should = at(Level::Should);
        if !must.is_empty() {
            Owes::Invalid { rows: must }
        } else if !should.is_empty() {
            Owes::ShouldRefuse { rows: should }
        } else if !broken.is_empty() || !open.is_empty() {
            let mut rows: Vec<String> = broken.iter().map(|(id, _)| id.clone()).collect();
            rows.extend(open);
            Owes::Either { rows }
        } else {
            // Specific acceptance rows (BASE-10, BASE-08, …) say more than BASE-01.
            let mut rows: Vec<String> = kept.into_iter().filter(|r| r != "BASE-01").collect();
            if rows.is_empty() {
                rows.push("BASE-01".into());
            }
            // A refusal may be for any of them: judged at the weakest, never a false FAIL.
            let level = rows
                .iter()
                .map(|r| level_of(r, world))
                .min_by_key(|l| rank(*l))
                .unwrap_or(Level::Must);
            Owes::Valid { rows, level }
        }
    };
    if touched.is_empty() {
        touched = match &owes {
            Owes::Valid { rows, .. } => rows.clone(),
            _ => Vec::new(),
        };
    }
    Ok(CaseClass { owes, touched })
}

/// What kind of wrong an answer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A token for a request that breaks a MUST or a SHOULD.
    Token,
    /// A refusal (or no token) for a valid request.
    Refused,
    /// A 5xx.
    ServerError,
    /// An answer that is neither a token nor a 4xx (a 2xx without a token, a 3xx).
    Status,
    /// No usable answer.
    NoAnswer,
}

/// What the server did wrong with one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFinding {
    /// FAIL (a MUST), WARN (a SHOULD) or ERROR (no usable answer).
    pub verdict: Verdict,
    /// What kind of wrong.
    pub kind: FindingKind,
    /// The catalogue row the finding is filed under: the case's first deciding row for a
    /// token or a refusal (and a 5xx to a valid request), ERR-07 for a 5xx, ERR-01 for an
    /// answer that is neither; the case's first row for no answer.
    pub requirement: Option<String>,
    /// The case's rows that decided it (what the request breaks, or keeps).
    pub rows: Vec<String>,
    /// Everything the case touches (see [`CaseClass::touched`]).
    pub touched: Vec<String>,
    /// What happened, one line.
    pub reason: String,
}

impl CaseFinding {
    /// The root causes the finding may stand for: for a token, the rows that decided the case
    /// (`JAG-AUD-03`; `JAG-AUD-02` and `JAG-DUP-01` for a duplicate member); for a refusal,
    /// every row the valid case keeps;
    /// for a 5xx, no answer or a wrong status, that with each thing the case touched
    /// (`ERR-07<JAG-JSON-01>`). Fuzz counts a finding as new only when none of its keys is
    /// an earlier finding's.
    pub fn keys(&self) -> Vec<String> {
        let prefixed =
            |p: &str| -> Vec<String> { self.touched.iter().map(|t| format!("{p}<{t}>")).collect() };
        match self.kind {
            FindingKind::Token => self.rows.clone(),
            // Any row a valid case keeps may be the one refused, BASE-01 too (an unknown
            // header member and an unknown claim together are one finding with the header
            // member alone).
            FindingKind::Refused => self.touched.clone(),
            FindingKind::ServerError => prefixed(SERVER_ERROR_ROW),
            FindingKind::Status => prefixed(STATUS_ROW),
            FindingKind::NoAnswer => prefixed("no-answer"),
        }
    }

    /// True when the finding fails the run (a MUST broken).
    pub fn fails(&self) -> bool {
        self.verdict == Verdict::Fail
    }

    /// Whether this is the same kind of wrong as `other`, at its verdict or a graver one:
    /// what shrinking keeps (a WARN may shrink to a FAIL, never a FAIL to a WARN).
    pub fn as_grave_as(&self, other: &CaseFinding) -> bool {
        self.kind == other.kind && gravity(self.verdict) >= gravity(other.verdict)
    }

    /// The keys with the verdict, e.g. `FAIL JAG-AUD-03`: a WARN and a FAIL of the same rows
    /// are two findings.
    pub fn judged_keys(&self) -> Vec<String> {
        self.keys()
            .into_iter()
            .map(|k| format!("{} {k}", self.verdict))
            .collect()
    }

    /// The catalogue row to file the finding under.
    pub fn row(&self) -> Option<&str> {
        self.requirement.as_deref()
    }
}

fn gravity(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 3,
        Verdict::Warn => 2,
        Verdict::Error => 1,
        _ => 0,
    }
}

fn finding(
    verdict: Verdict,
    kind: FindingKind,
    requirement: Option<&str>,
    class: &CaseClass,
    reason: String,
) -> CaseFinding {
    CaseFinding {
        verdict,
        kind,
        requirement: requirement.map(str::to_string),
        rows: class.rows().to_vec(),
        touched: class.touched.clone(),
        reason,
    }
}

fn listed(rows: &[String]) -> String {
    if rows.is_empty() {
        "no requirement".into()
    } else {
        rows.join(", ")
    }
}

/// Judges the answer to one case: `None` when the server behaved as the spec allows.
pub fn judge_case(
    class: &CaseClass,
    outcome: &Outcome,
    world: &FuzzWorld<'_>,
) -> Option<CaseFinding> {
    let rows = class.rows();
    let first = rows.first().map(String::as_str);
    let owed_token = match &class.owes {
        Owes::Valid { level, .. } if rank(*level) >= rank(Level::Should) => Some(*level),
        _ => None,
    };
    match outcome {
        Outcome::NoAnswer { reason } => Some(finding(
            Verdict::Error,
            FindingKind::NoAnswer,
            class.touched.first().map(String::as_str),
            class,
            format!("no usable answer: {reason}"),
        )),
        Outcome::Other { status, why } if (500..=599).contains(status) => match owed_token {
            Some(level) => Some(finding(
                level.violation(),
                FindingKind::ServerError,
                first,
                class,
                format!(
                    "answered {status} to a valid request ({}): {why}",
                    listed(rows)
                ),
            )),
            None => Some(finding(
                level_of(SERVER_ERROR_ROW, world).violation(),
                FindingKind::ServerError,
                Some(SERVER_ERROR_ROW),
                class,
                format!(
                    "answered {status} to a request that touches {} (a 4xx or a token is due): {why}",
                    listed(&class.touched)
                ),
            )),
        },
        Outcome::Accepted { .. } => match &class.owes {
            Owes::Invalid { rows } => Some(finding(
                Level::Must.violation(),
                FindingKind::Token,
                first,
                class,
                format!(
                    "a token was issued for a request that breaks {} (MUST)",
                    listed(rows)
                ),
            )),
            Owes::ShouldRefuse { rows } => Some(finding(
                Level::Should.violation(),
                FindingKind::Token,
                first,
                class,
                format!(
                    "a token was issued for a request that breaks {} (SHOULD)",
                    listed(rows)
                ),
            )),
            Owes::Either { .. } | Owes::Valid { .. } => None,
        },
        Outcome::Rejected { status, .. } | Outcome::Other { status, .. }
            if (400..=499).contains(status) =>
        {
            owed_token.map(|level| {
                finding(
                    level.violation(),
                    FindingKind::Refused,
                    first,
                    class,
                    format!(
                        "a valid request was refused: {} ({} {level})",
                        summarize(outcome),
                        listed(rows)
                    ),
                )
            })
        }
        Outcome::Rejected { status, .. } | Outcome::Other { status, .. } => match &class.owes {
            Owes::Valid { .. } => owed_token.map(|level| {
                finding(
                    level.violation(),
                    FindingKind::Refused,
                    first,
                    class,
                    format!(
                        "a valid request was not granted: {} ({})",
                        summarize(outcome),
                        listed(rows)
                    ),
                )
            }),
            _ => Some(finding(
                level_of(STATUS_ROW, world).violation(),
                FindingKind::Status,
                Some(STATUS_ROW),
                class,
                format!(
                    "answered {status}, neither a token nor a 4xx refusal, to a request that breaks {}: {}",
                    listed(rows),
                    summarize(outcome)
                ),
            )),
        },
    }
}

/// The judgement of one case's result in the report: its finding's verdict, or PASS.
pub fn judge_trial(found: Option<&CaseFinding>, case: &str) -> Judgement {
    match found {
        Some(f) => judged(f.verdict, format!("{} ({case})", f.reason)),
        None => judged(Verdict::Pass, format!("held: {case}")),
    }
}

/// The judgement of the whole generated run: PASS with no finding, else INFO naming how many
/// (each finding is judged on its own).
pub fn judge_fuzz_run(cases: u32, findings: usize) -> Judgement {
    if findings == 0 {
        judged(
            Verdict::Pass,
            format!("{cases} generated case(s), no finding"),
        )
    } else {
        judged(
            Verdict::Info,
            format!("{cases} generated case(s), {findings} distinct finding(s), each listed"),
        )
    }
}

/// The fuzz control is the preflight: `None` when the valid ID-JAG was accepted, else the
/// ERROR that stops the run (exit 3) with the preflight's diagnosis. A refusal by a reached,
/// configured server stops fuzzing too: no case can be judged against a refused control.
pub fn judge_fuzz_control(preflight: &Preflight, answer: Option<&Outcome>) -> Option<Judgement> {
    match preflight {
        Preflight::Accepted => None,
        Preflight::Stop { diagnosis } => Some(judge_preflight_stop(diagnosis)),
        Preflight::Refused { causes } => {
            let answer = answer
                .map(summarize)
                .unwrap_or_else(|| "no exchange".into());
            Some(judge_preflight_stop(&format!(
                "the valid ID-JAG was refused ({answer}), so no generated case can be judged; {causes}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    const GENERIC: FuzzWorld<'static> = FuzzWorld {
        profile: "id-jag-04",
        jit_provisioning: false,
        body_auth: false,
    };
    const MCP: FuzzWorld<'static> = FuzzWorld {
        profile: "mcp-ema",
        jit_provisioning: false,
        body_auth: false,
    };

    fn class(labels: &[&str], world: &FuzzWorld<'_>) -> CaseClass {
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        classify_case(&labels, world).expect("known labels")
    }

    fn accepted() -> Outcome {
        Outcome::Accepted { body: Map::new() }
    }

    fn refused() -> Outcome {
        Outcome::Rejected {
            status: 400,
            error: "invalid_grant".into(),
            description: None,
        }
    }

    #[test]
    fn every_table_row_names_catalogue_rows_and_labels_are_unique() {
        for (i, row) in STEPS.iter().enumerate() {
            assert!(
                STEPS[..i].iter().all(|r| r.label != row.label),
                "duplicate label {}",
                row.label
            );
            if let Effect::Breaks(ids) | Effect::Keeps(ids) = row.effect {
                for id in ids {
                    assert!(catalogue::find(id).is_some(), "{}: {id}", row.label);
                }
            }
        }
        for (id, ..) in DEPARTURES {
            assert!(catalogue::find(id).is_some(), "{id}");
        }
        assert!(catalogue::find(SERVER_ERROR_ROW).is_some());
        assert!(catalogue::find(STATUS_ROW).is_some());
        assert!(catalogue::find("CAUTH-04").is_some());
        assert!(catalogue::find("JAG-DUP-01").is_some());
    }

    #[test]
    fn a_missing_jti_is_a_should_generically_and_a_must_under_mcp_ema() {
        let generic = class(&["jti.removed"], &GENERIC);
        assert_eq!(
            generic.owes,
            Owes::ShouldRefuse {
                rows: vec!["JAG-JTI-02".into()]
            }
        );
        let warn = judge_case(&generic, &accepted(), &GENERIC).expect("a finding");
        assert_eq!(warn.verdict, Verdict::Warn);
        assert!(!warn.fails());
        let mcp = class(&["jti.removed"], &MCP);
        assert_eq!(mcp.name(), "invalid");
        let fail = judge_case(&mcp, &accepted(), &MCP).expect("a finding");
        assert!(fail.fails(), "{fail:?}");
        assert_eq!(fail.keys(), vec!["JAG-JTI-02".to_string()]);
        // Refusing it is right either way.
        assert_eq!(judge_case(&generic, &refused(), &GENERIC), None);
    }

    #[test]
    fn a_future_iat_warns_and_a_far_exp_is_open() {
        let c = class(&["iat.future", "claim.unknown"], &GENERIC);
        assert_eq!(c.name(), "should_refuse");
        assert_eq!(
            judge_case(&c, &accepted(), &GENERIC).map(|f| f.verdict),
            Some(Verdict::Warn)
        );
        let far = class(&["exp.far"], &GENERIC);
        assert_eq!(far.name(), "either");
        assert_eq!(judge_case(&far, &accepted(), &GENERIC), None);
        assert_eq!(judge_case(&far, &refused(), &GENERIC), None);
    }

    #[test]
    fn a_must_outweighs_a_should_and_an_open_change() {
        let c = class(
            &["jti.removed", "assertion.padded", "aud.array_many"],
            &GENERIC,
        );
        assert_eq!(
            c.owes,
            Owes::Invalid {
                rows: vec!["JAG-AUD-03".into()]
            }
        );
    }

    #[test]
    fn aud_arrays_one_element_valid_several_invalid() {
        let one = class(&["aud.array_one"], &GENERIC);
        assert_eq!(
            one.owes,
            Owes::Valid {
                rows: vec!["BASE-10".into()],
                level: Level::Must
            }
        );
        assert_eq!(judge_case(&one, &accepted(), &GENERIC), None);
        let refusal = judge_case(&one, &refused(), &GENERIC).expect("refusing BASE-10");
        assert!(refusal.fails());
        assert_eq!(refusal.keys(), vec!["BASE-10".to_string()]);
        let two = class(&["aud.array_one", "header.unknown"], &GENERIC);
        assert_eq!(two.rows(), &["BASE-10".to_string()]);
        let refusal = judge_case(&two, &refused(), &GENERIC).expect("a refusal");
        assert_eq!(
            refusal.keys(),
            vec!["BASE-10".to_string(), "BASE-01".to_string()]
        );
        let many = class(&["aud.array_many"], &GENERIC);
        assert!(judge_case(&many, &accepted(), &GENERIC).is_some_and(|f| f.fails()));
    }

    #[test]
    fn a_refused_valid_case_is_judged_at_its_weakest_row() {
        let c = class(&["typ.media_type", "claim.unknown"], &GENERIC);
        assert_eq!(
            judge_case(&c, &refused(), &GENERIC).map(|f| f.verdict),
            Some(Verdict::Warn)
        );
        let c = class(&["claim.unknown"], &GENERIC);
        assert_eq!(
            judge_case(&c, &refused(), &GENERIC).map(|f| f.verdict),
            Some(Verdict::Fail)
        );
    }

    #[test]
    fn an_unknown_sub_is_allowed_where_the_target_provisions() {
        let jit = FuzzWorld {
            jit_provisioning: true,
            ..GENERIC
        };
        assert_eq!(class(&["sub.unknown"], &GENERIC).name(), "invalid");
        assert_eq!(class(&["sub.unknown"], &jit).name(), "either");
    }

    #[test]
    fn a_duplicate_is_owed_at_its_value_level() {
        let aud = class(&["dup:aud.foreign"], &GENERIC);
        assert_eq!(
            aud.owes,
            Owes::Invalid {
                rows: vec!["JAG-AUD-02".into(), "JAG-DUP-01".into()]
            }
        );
        assert_eq!(class(&["dup:jti.type"], &GENERIC).name(), "should_refuse");
        assert_eq!(class(&["duplicate.unknown"], &GENERIC).name(), "either");
    }

    #[test]
    fn a_wrong_secret_in_the_body_is_cauth_04() {
        let body = FuzzWorld {
            body_auth: true,
            ..GENERIC
        };
        assert_eq!(
            class(&["secret.wrong"], &body).rows(),
            &["CAUTH-04".to_string()]
        );
        assert_eq!(
            class(&["secret.wrong"], &GENERIC).rows(),
            &["CAUTH-03".to_string()]
        );
    }

    #[test]
    fn the_judgement_in_every_corner() {
        let valid = class(&[], &GENERIC);
        assert_eq!(
            valid.owes,
            Owes::Valid {
                rows: vec!["BASE-01".into()],
                level: Level::Must
            }
        );
        let invalid = class(&["exp.past"], &GENERIC);
        let either = class(&["assertion.leading_space"], &GENERIC);
        let five = Outcome::Other {
            status: 500,
            why: "500".into(),
        };
        let silent = Outcome::NoAnswer {
            reason: "timed out".into(),
        };
        let html = Outcome::Other {
            status: 200,
            why: "200 text/html".into(),
        };
        assert_eq!(judge_case(&valid, &accepted(), &GENERIC), None);
        assert!(judge_case(&valid, &refused(), &GENERIC).is_some_and(|f| f.fails()));
        assert_eq!(judge_case(&invalid, &refused(), &GENERIC), None);
        assert!(judge_case(&invalid, &accepted(), &GENERIC).is_some_and(|f| f.fails()));
        assert_eq!(judge_case(&either, &accepted(), &GENERIC), None);
        assert_eq!(judge_case(&either, &refused(), &GENERIC), None);
        for c in [&valid, &invalid, &either] {
            assert!(judge_case(c, &five, &GENERIC).is_some_and(|f| f.fails()));
            let e = judge_case(c, &silent, &GENERIC).expect("no answer");
            assert_eq!(e.verdict, Verdict::Error);
        }
        let err = judge_case(&invalid, &five, &GENERIC).expect("5xx");
        assert_eq!(err.requirement.as_deref(), Some("ERR-07"));
        assert_eq!(err.keys(), vec!["ERR-07<JAG-TIME-02>".to_string()]);
        // A 5xx is keyed by everything the case touched, open changes too.
        let padded = class(&["assertion.padded", "exp.past"], &GENERIC);
        let err = judge_case(&padded, &five, &GENERIC).expect("5xx");
        assert_eq!(
            err.keys(),
            vec![
                "ERR-07<JAG-TIME-02>".to_string(),
                "ERR-07<assertion.padded>".to_string()
            ]
        );
        assert_eq!(err.row(), Some("ERR-07"));
        let wrong = judge_case(&invalid, &html, &GENERIC).expect("neither");
        assert_eq!(wrong.requirement.as_deref(), Some("ERR-01"));
    }

    #[test]
    fn an_unknown_label_is_an_error() {
        assert!(classify_case(&["no.such".to_string()], &GENERIC).is_err());
    }

    #[test]
    fn a_refused_control_stops_with_the_preflights_causes() {
        assert_eq!(judge_fuzz_control(&Preflight::Accepted, None), None);
        let j = judge_fuzz_control(
            &Preflight::Refused {
                causes: "likely causes: x".into(),
            },
            Some(&refused()),
        )
        .expect("stops");
        assert_eq!(j.verdict, Verdict::Error);
        assert!(j.reason.contains("likely causes: x"), "{}", j.reason);
        assert!(j.reason.starts_with("preflight failed"), "{}", j.reason);
    }
}
