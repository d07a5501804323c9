//! The judge of `xaa-conform load`: the class of every answer under load, and the verdicts of
//! the load checks (LOAD-01 the rate limit, LOAD-02 the replay race, LOAD-04 the latency trend,
//! LOAD-06 the slow JWKS, LOAD-07 mixed traffic, the conformance lane's probes with LOAD-08),
//! each from what the load's phases observed and at the level its catalogue row has under the
//! profile.
//!
//! The same behaviour gets the same verdict as under `run`: the lane judges each answer with
//! the rules of the scenario that `run` uses for the same probe ([`judge_answer`]), and a
//! class is the run's classification ([`classify_response`]) made cheap enough for every
//! request of a load.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Judgement, Outcome, Preflight, Rules, combine_cases, judge_answer, judged};
use crate::catalogue;
use crate::protocol::RecordedResponse;
use crate::spec::{Level, Verdict};

#[cfg(doc)]
use super::classify_response;

/// The class of one token request's answer under load.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A token was issued: 200 with a JSON object whose `access_token` is a non-empty string.
    Accepted,
    /// 429 Too Many Requests.
    RateLimited,
    /// Refused: a 4xx other than 429 with an RFC 6749 §5.2 JSON error body.
    Rejected,
    /// No usable answer: 5xx, a timeout, a connection error, a 200 without a token, a 4xx
    /// without a §5.2 error body, or a redirect.
    Error,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 4] = [
        Class::Accepted,
        Class::RateLimited,
        Class::Rejected,
        Class::Error,
    ];

    /// The class of an answer: `status` is `None` when no HTTP answer came, `body` is the
    /// (capped) body. The same decision as [`classify_response`] (which also says why), with
    /// 429 first, parsing no more of the body than the one member it looks at.
    pub fn of(status: Option<u16>, body: &[u8]) -> Class {
        match status {
            Some(429) => Class::RateLimited,
            Some(200) if member_is(body, Member::AccessToken) => Class::Accepted,
            Some(400..=499) if member_is(body, Member::Error) => Class::Rejected,
            _ => Class::Error,
        }
    }

    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Accepted => "accepted",
            Class::RateLimited => "rate_limited",
            Class::Rejected => "rejected",
            Class::Error => "error",
        }
    }
}

/// The one member [`Class::of`] reads.
#[derive(Clone, Copy)]
enum Member {
    /// `access_token`: a non-empty string.
    AccessToken,
    /// `error`: a string in the RFC 6749 §5.2 charset.
    Error,
}

/// Whether `body` is a JSON object whose `member` holds what the class needs; the other
/// members are skipped unparsed. A body that is not valid UTF-8 is no JSON (RFC 8259 §8.1).
fn member_is(body: &[u8], member: Member) -> bool {
    #[derive(Deserialize)]
    struct Token<'a> {
        #[serde(borrow, default)]
        access_token: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Error<'a> {
        #[serde(borrow, default)]
        error: Option<Cow<'a, str>>,
    }
    // A derived struct also reads a JSON array; only an object is a token or error response.
    let object = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !object || std::str::from_utf8(body).is_err() {
        return false;
    }
    match member {
        Member::AccessToken => serde_json::from_slice::<Token>(body)
            .ok()
            .and_then(|t| t.access_token)
            .is_some_and(|t| !t.is_empty()),
        Member::Error => serde_json::from_slice::<Error>(body)
            .ok()
            .and_then(|e| e.error)
            .is_some_and(|e| super::classify::is_error_charset(&e)),
    }
}

/// The level of a load check under `profile`: its catalogue row's, where `X@load` is row `X`
/// judged under load. A check without a row is MUST (it cannot be weakened by accident).
pub fn level(check_id: &str, profile: &str) -> Level {
    let row = check_id.split('@').next().unwrap_or(check_id);
    catalogue::find(row).map_or(Level::Must, |r| r.level_under(profile))
}

/// One conformance-lane probe's answers: its positive control (a valid ID-JAG of the lane's
/// client, sent first), the probe sent once on a quiet server, and the tally of its answers
/// under load.
#[derive(Debug, Clone, Default)]
pub struct LaneObservation {
    /// Who sent (`C2/A`), for the reasons.
    pub who: String,
    /// What the probe sends, as `run` describes it ("the ID-JAG with exp …").
    pub what: String,
    /// The control's answer; `None` when it was not sent.
    pub control: Option<Outcome>,
    /// The probe on a quiet server.
    pub alone: Option<LaneAnswer>,
    /// The probe's answers during the load.
    pub under_load: LaneTally,
}

/// One answer of the lane, as the run's judge needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneAnswer {
    /// An answer (or none), classified.
    Answered {
        /// What it was.
        outcome: Outcome,
        /// The response, for the rules that read headers.
        response: Option<RecordedResponse>,
    },
    /// A replay whose first use was not accepted: the second use says nothing.
    FirstUseRefused(Outcome),
}

/// The answers of one probe under load, judged as they came (memory stays bounded however
/// long the load runs): how many said nothing, the count per verdict, and the first of the
/// worst.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaneTally {
    /// Answers that said nothing (429, 5xx, no answer, a replay whose first use failed).
    pub silent: u64,
    /// Judged answers per verdict.
    pub judged: std::collections::BTreeMap<Verdict, u64>,
    /// The first judgement of the worst verdict seen.
    pub worst: Option<Judgement>,
}

impl LaneTally {
    /// Adds one answer's judgement (`None`: it said nothing).
    pub fn add(&mut self, j: Option<Judgement>) {
        let Some(j) = j else {
            self.silent += 1;
            return;
        };
        *self.judged.entry(j.verdict).or_default() += 1;
        let worse = self
            .worst
            .as_ref()
            .is_none_or(|w| super::cases::outweighs(j.verdict, w.verdict));
        if worse {
            self.worst = Some(j);
        }
    }

    /// Judged answers.
    fn judged_count(&self) -> u64 {
        self.judged.values().sum()
    }
}

/// What the load judges in one lane answer, given the lane's accepted `control`: `None` when
/// it says nothing under load (429, a 5xx or no answer: a busy server may shed load; a replay
/// whose first use was refused), else the run's judgement of it under `rules` at `level`.
pub fn judge_lane_answer(
    level: Level,
    rules: &Rules,
    control: &Outcome,
    answer: &LaneAnswer,
    what: &str,
) -> Option<Judgement> {
    match answer {
        LaneAnswer::FirstUseRefused(_) => None,
        LaneAnswer::Answered { outcome, response } => {
            let busy = match outcome {
                Outcome::NoAnswer { .. } => true,
                Outcome::Other { status, .. } => *status == 429 || *status >= 500,
                Outcome::Rejected { status, .. } => *status == 429,
                Outcome::Accepted { .. } => false,
            };
            (!busy).then(|| judge_answer(level, rules, control, outcome, response.as_ref(), what))
        }
    }
}

/// Whether the lane's control was accepted: only then are its probes sent and judged.
pub fn lane_control_accepted(control: Option<&Outcome>) -> bool {
    matches!(control, Some(Outcome::Accepted { .. }))
}

/// A lane probe's verdict: the run's rules (`rules` at `level`, from the scenario `run` uses
/// for the same probe) applied to the answer alone and to every answer under load, the worst
/// deciding. No accepted control is SKIP (the probe then says nothing about the server);
/// under load only 429s, 5xx and silences are SKIP unless the quiet answer already broke the
/// rule.
pub fn judge_lane(level: Level, rules: &Rules, o: &LaneObservation) -> Judgement {
    let Some(control) = &o.control else {
        return judged(Verdict::Skip, "the lane's positive control was not sent");
    };
    if !lane_control_accepted(Some(control)) {
        return judged(
            Verdict::Skip,
            format!(
                "the lane's positive control (a valid ID-JAG of {}) was not accepted ({}): \
                 its probes say nothing",
                o.who,
                super::summarize(control)
            ),
        );
    }
    let alone = o
        .alone
        .as_ref()
        .and_then(|a| judge_lane_answer(level, rules, control, a, &o.what));
    let t = &o.under_load;
    let count = |v: Verdict| t.judged.get(&v).copied().unwrap_or(0);
    let under = match &t.worst {
        None => judged(
            Verdict::Skip,
            format!(
                "no conclusive answer under load ({} sent: 429, 5xx or no answer)",
                t.silent
            ),
        ),
        Some(worst) => judged(
            worst.verdict,
            format!(
                "{} judged under load ({} PASS, {} FAIL, {} WARN), {} said nothing (429, 5xx \
                 or no answer); the worst: {}",
                t.judged_count(),
                count(Verdict::Pass),
                count(Verdict::Fail),
                count(Verdict::Warn),
                t.silent,
                worst.reason
            ),
        ),
    };
    let Some(alone) = alone else {
        return judged(
            under.verdict,
            format!("alone: no conclusive answer; {}", under.reason),
        );
    };
    let worse_under_load = matches!(alone.verdict, Verdict::Pass | Verdict::Info)
        && matches!(under.verdict, Verdict::Fail | Verdict::Warn);
    if worse_under_load {
        return judged(
            under.verdict,
            format!(
                "passes alone but not under load: {}; alone: {}",
                under.reason, alone.reason
            ),
        );
    }
    if under.verdict == Verdict::Skip && alone.verdict != Verdict::Fail {
        return judged(
            Verdict::Skip,
            format!("{}; alone: {}", under.reason, alone.reason),
        );
    }
    let combined = combine_cases(&[
        ("alone".to_string(), alone.clone()),
        ("under load".to_string(), under.clone()),
    ]);
    judged(
        combined.verdict,
        format!("alone: {}; {}", alone.reason, under.reason),
    )
}

/// What the replay race (LOAD-02) saw: a sequential second use first, then one fresh ID-JAG
/// fired `fired` ways at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaceObservation {
    /// Whether the sequential first use (the race's positive control) was accepted.
    pub control_accepted: bool,
    /// Whether the sequential second use was refused.
    pub sequential_refused: bool,
    /// Requests fired together.
    pub fired: usize,
    /// Answers of the race per class, in [`Class::ALL`] order.
    pub classes: [u64; 4],
}

/// LOAD-02 at `level`, for `run` and `load` alike: `required` says whether the profile
/// requires single use (mcp-ema). More than one token from the race breaks the rule where
/// single use is required, or where the server refuses a sequential second use (then it is a
/// race in its replay cache: it claims replay protection and does not hold it); a server that
/// allows reuse under a profile that permits it is INFO. Without an accepted first use (the
/// race's positive control) the race says nothing: SKIP.
pub fn judge_race(level: Level, required: bool, o: &RaceObservation) -> Judgement {
    let accepted = o.classes[Class::Accepted as usize];
    let limited = o.classes[Class::RateLimited as usize];
    let seen = format!(
        "{accepted} of {} concurrent uses of one ID-JAG got a token ({limited} rate-limited)",
        o.fired
    );
    if !o.control_accepted {
        return judged(
            Verdict::Skip,
            "the race's positive control (a first use of a fresh valid ID-JAG) was not \
             accepted: the race says nothing",
        );
    }
    if accepted == 0 {
        return judged(
            Verdict::Skip,
            format!("{seen}: no use was accepted, so the race says nothing"),
        );
    }
    if accepted == 1 {
        return judged(
            Verdict::Pass,
            format!("{seen}: single use held under concurrency"),
        );
    }
    match (required, o.sequential_refused) {
        (true, _) => judged(
            level.violation(),
            format!("{seen}: the profile requires single use (a replay-cache race)"),
        ),
        (false, true) => judged(
            level.violation(),
            format!(
                "{seen}, although a sequential second use is refused: a race in the replay cache"
            ),
        ),
        (false, false) => judged(
            Verdict::Info,
            format!("{seen}; the server allows reuse, as the profile permits"),
        ),
    }
}

/// The class of an answer the run's judge classified, for the race's counts.
pub fn class_of_outcome(o: &Outcome) -> Class {
    match o {
        Outcome::Accepted { .. } => Class::Accepted,
        Outcome::Rejected { status: 429, .. } | Outcome::Other { status: 429, .. } => {
            Class::RateLimited
        }
        Outcome::Rejected { .. } => Class::Rejected,
        Outcome::Other { .. } | Outcome::NoAnswer { .. } => Class::Error,
    }
}

/// What the rate-limit search (LOAD-01) observed.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitObservation {
    /// The highest rate tried, per second.
    pub highest_rate: f64,
    /// Requests sent by the search.
    pub requests: u64,
    /// Of them, answered 5xx or not at all.
    pub errors: u64,
    /// What was seen past the limit, when a 429 came.
    pub limited: Option<AboveLimit>,
}

/// What the rate-limit search saw once the server answered 429.
#[derive(Debug, Clone, PartialEq)]
pub struct AboveLimit {
    /// The rate whose stream saw the first saturated second.
    pub saturated_at: f64,
    /// Tokens per second while the saturating rate was held.
    pub measured_rps: f64,
    /// Requests sent above the limit.
    pub requests: u64,
    /// Of them, 5xx or no answer instead of 429.
    pub errors: u64,
    /// 429s with a `Retry-After`.
    pub retry_after_seen: u64,
    /// 429s without one.
    pub retry_after_missing: u64,
    /// After waiting `Retry-After` seconds: whether one request was accepted, the wait, and
    /// what it got (`None` when no 429 carried a `Retry-After`).
    pub honoured: Option<(bool, u64, String)>,
    /// At half the limit afterwards: the rate, requests sent, requests not accepted.
    pub recovery: Option<(f64, u64, u64)>,
    /// What the limit is keyed on, when the key probes told.
    pub key: Option<String>,
    /// Why a key probe was left out (its own positive control was not accepted).
    pub key_notes: Vec<String>,
}

/// LOAD-01 at `level` (SHOULD): under overload 429 (with `Retry-After`), not 5xx or timeouts.
/// No 429 up to the highest rate tried is INFO "no limit found up to N/s": a server need not
/// limit its rate. It is a violation only where the profile names a limit (`profile_limit`,
/// Auth0's 5/s) and the search went past it without a 429.
pub fn judge_limit(
    level: Level,
    profile: &str,
    profile_limit: Option<f64>,
    o: &LimitObservation,
) -> Judgement {
    let Some(l) = &o.limited else {
        let seen = format!(
            "no 429 up to {:.0} requests per second ({} requests, {} errors)",
            o.highest_rate, o.requests, o.errors
        );
        return match profile_limit {
            Some(limit) if o.highest_rate > limit => judged(
                level.violation(),
                format!(
                    "{seen}: the {profile} profile names a limit of {limit}/s, and the search \
                     went past it without a 429"
                ),
            ),
            _ => judged(
                Verdict::Info,
                format!("no limit found up to {:.0}/s: {seen}", o.highest_rate),
            ),
        };
    };
    let mut problems = Vec::new();
    if l.errors as f64 / l.requests.max(1) as f64 > 0.01 {
        problems.push(format!(
            "{} of {} requests above the limit got 5xx or no answer instead of 429",
            l.errors, l.requests
        ));
    }
    if l.retry_after_missing > 0 {
        problems.push(format!(
            "{} of {} 429s carry no Retry-After",
            l.retry_after_missing,
            l.retry_after_missing + l.retry_after_seen
        ));
    }
    if let Some((false, wait, got)) = &l.honoured {
        problems.push(format!(
            "a request sent after waiting Retry-After ({wait} s) was not accepted (got {got})"
        ));
    }
    if let Some((rate, sent, refused)) = l.recovery
        && refused > 0
    {
        problems.push(format!(
            "at {rate:.0}/s after the limit, {refused} of {sent} requests were not accepted"
        ));
    }
    let mut summary = format!(
        "limit {:.1}/s (saturated at {:.0}/s), {} 429s with Retry-After{}",
        l.measured_rps,
        l.saturated_at,
        l.retry_after_seen,
        l.key
            .as_deref()
            .map(|k| format!(", keyed on {k}"))
            .unwrap_or_default()
    );
    for note in &l.key_notes {
        summary.push_str(&format!(" ({note})"));
    }
    if problems.is_empty() {
        judged(Verdict::Pass, summary)
    } else {
        judged(
            level.violation(),
            format!("{summary}; {}", problems.join("; ")),
        )
    }
}

/// What mixed traffic (`--invalid-share`) observed of its valid requests, for LOAD-07.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixedObservation {
    /// Valid ID-JAGs sent, per class in [`Class::ALL`] order.
    pub valid: [u64; 4],
    /// Of the valid ones, answered 5xx.
    pub valid_5xx: u64,
    /// Invalid ID-JAGs sent.
    pub invalid: u64,
    /// Median latency (µs) of the accepted requests among the invalid ones.
    pub valid_p50_us: Option<u64>,
    /// Median latency (µs) of the accepted requests of the valid-only calibration at the same
    /// rate, just before (`None`: no calibration ran).
    pub baseline_p50_us: Option<u64>,
}

/// How much slower (median) the valid requests may be among invalid ones than alone at the
/// same rate before LOAD-07 calls it disproportionate: this factor of the calibration's median
/// plus [`MIXED_SLACK_US`] (the median and the slack keep a busy machine's noise, tens of ms
/// in the tail, from counting).
pub const MIXED_FACTOR: u64 = 3;

/// See [`MIXED_FACTOR`].
pub const MIXED_SLACK_US: u64 = 50_000;

/// LOAD-07 at `level` (SHOULD): with invalid ID-JAGs mixed in, the valid ones are still served:
/// a valid ID-JAG answered 5xx or not at all breaks the rule, and so does a median latency of
/// the accepted ones above [`MIXED_FACTOR`] times the valid-only calibration's plus
/// [`MIXED_SLACK_US`] (invalid requests slow valid ones disproportionately). (Invalid ID-JAGs
/// that got a token are judged by the checks of the rules they break, see
/// [`judge_refused_under_load`].)
pub fn judge_mixed(level: Level, o: &MixedObservation) -> Judgement {
    let sent: u64 = o.valid.iter().sum();
    let errors = o.valid[Class::Error as usize];
    let seen = format!(
        "{sent} valid ID-JAGs among {} invalid ones: {} accepted, {} rate-limited, {} refused, \
         {errors} errors ({} of them 5xx)",
        o.invalid,
        o.valid[Class::Accepted as usize],
        o.valid[Class::RateLimited as usize],
        o.valid[Class::Rejected as usize],
        o.valid_5xx
    );
    if errors > 0 {
        return judged(
            level.violation(),
            format!("{seen}: valid requests suffer from the invalid ones"),
        );
    }
    let (Some(mixed), Some(alone)) = (o.valid_p50_us, o.baseline_p50_us) else {
        return judged(Verdict::Pass, seen);
    };
    let ms = |us: u64| us as f64 / 1000.0;
    let bound = alone.saturating_mul(MIXED_FACTOR) + MIXED_SLACK_US;
    let latency = format!(
        "accepted median {:.1} ms among them, {:.1} ms with valid ones only at the same rate",
        ms(mixed),
        ms(alone)
    );
    if mixed > bound {
        judged(
            level.violation(),
            format!(
                "{seen}; {latency}: over {MIXED_FACTOR}× that plus {:.0} ms, the invalid \
                 requests slow the valid ones disproportionately",
                ms(MIXED_SLACK_US)
            ),
        )
    } else {
        judged(Verdict::Pass, format!("{seen}; {latency}"))
    }
}

/// An invalid kind of mixed traffic under load, judged at the level of the rule it breaks
/// (`JAG-TIME-02`, `JAG-AUD-02`, `JAG-SIG-03`): any token issued to it breaks the rule; 429s,
/// 5xx and silences say nothing; no refusal at all is SKIP. `name` names the kind.
pub fn judge_refused_under_load(level: Level, name: &str, classes: &[u64; 4]) -> Judgement {
    let sent: u64 = classes.iter().sum();
    let accepted = classes[Class::Accepted as usize];
    let refused = classes[Class::Rejected as usize];
    let seen = format!(
        "{sent} {name} ID-JAGs in mixed traffic: {accepted} got a token, {refused} refused, {} \
         said nothing (429, 5xx or no answer)",
        sent - accepted - refused
    );
    if accepted > 0 {
        judged(level.violation(), seen)
    } else if refused == 0 {
        judged(Verdict::Skip, format!("{seen}: no conclusive answer"))
    } else {
        judged(Verdict::Pass, seen)
    }
}

/// Two judgements of one load check from two sources (the lane and mixed traffic): the worse
/// decides, and the reason names both.
pub fn judge_both(a: (&str, Judgement), b: (&str, Judgement)) -> Judgement {
    let worst = combine_cases(&[
        (a.0.to_string(), a.1.clone()),
        (b.0.to_string(), b.1.clone()),
    ]);
    judged(
        worst.verdict,
        format!("{}: {}; {}: {}", a.0, a.1.reason, b.0, b.1.reason),
    )
}

/// Valid requests of a whole load run, per class, in [`Class::ALL`] order, with how many
/// were sent: `Some(diagnosis)` when none got a token although some were answered, or none
/// was answered at all. The run then measured refusals or failures, not token issuance: it
/// cannot judge the server (exit 3).
///
/// `retry_after` describes the 429s' `Retry-After` values (as [`crate::pace::RetryAfterValues`]
/// says them); it is part of the diagnosis when the answers were 429s.
pub fn diagnose_load(sent: u64, valid: &[u64; 4], retry_after: &str) -> Option<String> {
    if sent == 0 || valid[Class::Accepted as usize] > 0 {
        return None;
    }
    let [_, limited, refused, errors] = *valid;
    let why = if refused > 0 && refused >= limited && refused >= errors {
        "the RAS refuses the valid ID-JAG: run `xaa-conform run` against the same target to see \
         why (its preflight names the cause)"
    } else if limited > 0 && limited >= errors {
        &format!(
            "{} was 429 ({retry_after}): lower --rate, or give the target's max_rate",
            if limited == sent {
                "every answer"
            } else {
                "most answers"
            }
        )
    } else {
        "the endpoint gave no usable answer (5xx, timeouts, resets or no token response)"
    };
    Some(format!(
        "no valid ID-JAG got a token ({sent} sent: {refused} refused, {limited} rate-limited, \
         {errors} errors): {why}; the figures describe failures, not a token endpoint"
    ))
}

/// What the run's preflight means for a load: a stop, or a refusal of the valid ID-JAG, ends
/// it before any load with the diagnosis (exit 3): a load of refused requests measures
/// nothing the user wants.
pub fn preflight_stops_load(p: &Preflight) -> Option<String> {
    match p {
        Preflight::Accepted => None,
        Preflight::Stop { diagnosis } => Some(diagnosis.clone()),
        Preflight::Refused { causes } => Some(format!(
            "the RAS refused the valid ID-JAG, so a load would measure refusals; \
             likely causes: {causes} (`xaa-conform run` against the same target shows the \
             answer)"
        )),
    }
}

/// A valid ID-JAG answered later than this while the JWKS is slow waited for the fetch: the
/// server is not serving from the keys it has (LOAD-06's measure of exhaustion).
pub const STALLED_AFTER_US: u64 = 2_000_000;

/// Most valid ID-JAGs (a share) that may stall or fail while the JWKS is slow before LOAD-06
/// says the server stops serving.
pub const MAX_STALLED_SHARE: f64 = 0.1;

/// What the slow-JWKS phase (LOAD-06) observed: for its length the trusted issuer's JWKS
/// answered only after `jwks_delay_s`, while valid ID-JAGs and ID-JAGs under `kid`s no one
/// publishes (each forcing a key lookup) were sent at a steady rate.
#[derive(Debug, Clone, PartialEq)]
pub struct StallObservation {
    /// How long the JWKS took to answer, seconds.
    pub jwks_delay_s: u64,
    /// The phase's rate, per second.
    pub rate: f64,
    /// The phase's length, seconds.
    pub duration_s: f64,
    /// Valid ID-JAGs per class, in [`Class::ALL`] order.
    pub valid: [u64; 4],
    /// Valid ID-JAGs accepted later than [`STALLED_AFTER_US`].
    pub valid_stalled: u64,
    /// Median and p99 latency of the accepted valid ID-JAGs, µs.
    pub valid_p50_us: Option<u64>,
    /// p99 of the same.
    pub valid_p99_us: Option<u64>,
    /// ID-JAGs under unpublished `kid`s per class.
    pub unknown: [u64; 4],
}

/// LOAD-06 at `level` (MUST: fail closed): a token for an ID-JAG under a `kid` the issuer
/// never published, while its JWKS is slow, was issued unverified: the rule's violation. The
/// server must also keep serving valid ID-JAGs from the keys it has (not exhaust its threads
/// on the fetch, requirements §13: a measure): more than [`MAX_STALLED_SHARE`] of them failed
/// or waited over [`STALLED_AFTER_US`] is WARN. No valid ID-JAG sent says nothing: SKIP.
pub fn judge_stall(level: Level, o: &StallObservation) -> Judgement {
    let ms =
        |us: Option<u64>| us.map_or("-".to_string(), |v| format!("{:.1} ms", v as f64 / 1000.0));
    let valid_sent: u64 = o.valid.iter().sum();
    let unknown_sent: u64 = o.unknown.iter().sum();
    let unverified = o.unknown[Class::Accepted as usize];
    let failed = o.valid[Class::Error as usize];
    let seen = format!(
        "for {:.0} s at {:.0}/s the issuer's JWKS answered after {} s: {unverified} of \
         {unknown_sent} ID-JAGs under unpublished kids got a token ({} refused, {} 429, {} 5xx \
         or no answer); valid ID-JAGs: {} of {valid_sent} accepted (p50 {}, p99 {}), {} later \
         than {} s, {failed} 5xx or no answer",
        o.duration_s,
        o.rate,
        o.jwks_delay_s,
        o.unknown[Class::Rejected as usize],
        o.unknown[Class::RateLimited as usize],
        o.unknown[Class::Error as usize],
        o.valid[Class::Accepted as usize],
        ms(o.valid_p50_us),
        ms(o.valid_p99_us),
        o.valid_stalled,
        STALLED_AFTER_US / 1_000_000,
    );
    if unverified > 0 {
        return judged(
            level.violation(),
            format!("{seen}: tokens issued without a verified signature (fail open)"),
        );
    }
    if valid_sent == 0 || unknown_sent == 0 {
        return judged(Verdict::Skip, format!("{seen}: nothing to judge"));
    }
    let stalled = o.valid_stalled + failed;
    if stalled as f64 > MAX_STALLED_SHARE * valid_sent as f64 {
        return judged(
            Verdict::Warn,
            format!(
                "{seen}: fails closed, but stops serving valid ID-JAGs while the JWKS is slow \
                 (they wait for the fetch: threads or connections exhausted)"
            ),
        );
    }
    judged(
        Verdict::Pass,
        format!("{seen}: fails closed and keeps serving"),
    )
}

/// Seconds of steady load (after the first) LOAD-04 needs to see a trend.
pub const TREND_MIN_SECONDS: usize = 6;

/// Latency at the end of a steady load may be this factor of the start's plus
/// [`TREND_SLACK_US`] before LOAD-04 says it grows.
pub const TREND_FACTOR: u64 = 2;

/// See [`TREND_FACTOR`].
pub const TREND_SLACK_US: u64 = 20_000;

/// LOAD-04 at `level` (SHOULD): at a steady rate the latency stays flat (a replay cache that
/// keeps every `jti` and is searched linearly, or any state that grows with the requests
/// served, shows as latency rising through the run). `medians_us` holds the median latency of
/// the accepted requests of each second of the load (`None`: none accepted that second);
/// `steady` says the schedule kept one rate. The first second (connections being opened) is
/// left out; the median of the first third's medians is compared with the last third's. Flat
/// is INFO, a measurement: memory is not visible from outside the server. A ramp or a plan,
/// or fewer than [`TREND_MIN_SECONDS`] seconds, is SKIP.
pub fn judge_trend(level: Level, steady: bool, medians_us: &[Option<u64>]) -> Judgement {
    if !steady {
        return judged(
            Verdict::Skip,
            "the rate was not steady (--ramp or --plan): a latency trend would measure the rate",
        );
    }
    let seconds: Vec<u64> = medians_us.iter().skip(1).flatten().copied().collect();
    if seconds.len() < TREND_MIN_SECONDS {
        return judged(
            Verdict::Skip,
            format!(
                "{} seconds with tokens after the first: a trend needs {TREND_MIN_SECONDS} \
                 (--duration {}s or more)",
                seconds.len(),
                TREND_MIN_SECONDS + 1
            ),
        );
    }
    let third = seconds.len() / 3;
    let median = |part: &[u64]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let first = median(&seconds[..third]);
    let last = median(&seconds[seconds.len() - third..]);
    let ms = |us: u64| us as f64 / 1000.0;
    let seen = format!(
        "median latency {:.1} ms in the first third of {} s at a steady rate, {:.1} ms in the \
         last",
        ms(first),
        seconds.len(),
        ms(last)
    );
    if last > first.saturating_mul(TREND_FACTOR) + TREND_SLACK_US {
        judged(
            level.violation(),
            format!(
                "{seen}: latency grows with the requests served (state that is never expired, \
                 such as a replay cache keeping every jti)"
            ),
        )
    } else {
        judged(
            Verdict::Info,
            format!("{seen}: flat (memory is not visible from outside the server)"),
        )
    }
}

/// A load check whose phase Ctrl-C cut short: it says nothing.
pub fn judge_interrupted() -> Judgement {
    judged(
        Verdict::Skip,
        "interrupted (Ctrl-C) before the check finished",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{AcceptRules, OneOrMany, RejectSpec, classify_response};

    fn response(status: u16, body: &str) -> RecordedResponse {
        RecordedResponse::text(
            status,
            vec![("content-type".into(), "application/json".into())],
            body,
        )
    }

    /// The load's class agrees with the run's classification on every kind of answer.
    #[test]
    fn class_agrees_with_the_run_classification() {
        let cases: &[(u16, &str)] = &[
            (200, r#"{"access_token":"t","token_type":"Bearer"}"#),
            (
                200,
                r#"{"token_type":"Bearer","access_token":"t","x":{"a":[1,2]}}"#,
            ),
            (200, r#"{"access_token":""}"#),
            (200, r#"{"access_token":7}"#),
            (200, r#"["access_token"]"#),
            (200, "<html>"),
            (200, ""),
            (400, r#"{"error":"invalid_grant"}"#),
            (
                401,
                r#"{"error":"invalid_client","error_description":"no"}"#,
            ),
            (400, r#"{"error":"bad\"quote"}"#),
            (400, r#"{"error":7}"#),
            (400, r#"{"message":"no"}"#),
            (400, "Bad Request"),
            (403, ""),
            (302, ""),
            (500, r#"{"error":"server_error"}"#),
            (503, ""),
        ];
        for (status, body) in cases {
            let run = match classify_response(&response(*status, body)) {
                Outcome::Accepted { .. } => Class::Accepted,
                Outcome::Rejected { .. } => Class::Rejected,
                _ => Class::Error,
            };
            assert_eq!(
                Class::of(Some(*status), body.as_bytes()),
                run,
                "{status} {body}"
            );
        }
        assert_eq!(Class::of(Some(429), b""), Class::RateLimited);
        assert_eq!(Class::of(None, b""), Class::Error);
        assert_eq!(
            Class::of(Some(200), b"{\"access_token\":\"t\xff\"}"),
            Class::Error
        );
    }

    fn answered(status: u16, body: &str) -> LaneAnswer {
        let r = response(status, body);
        LaneAnswer::Answered {
            outcome: classify_response(&r),
            response: Some(r),
        }
    }

    fn lane(rules: &Rules, level: Level, alone: LaneAnswer, under: Vec<LaneAnswer>) -> Judgement {
        let control = classify_response(&response(200, TOKEN));
        let mut under_load = LaneTally::default();
        for a in &under {
            under_load.add(judge_lane_answer(level, rules, &control, a, "the probe"));
        }
        let o = LaneObservation {
            who: "C2/A".into(),
            what: "the probe".into(),
            control: Some(control),
            alone: Some(alone),
            under_load,
        };
        judge_lane(level, rules, &o)
    }

    fn reject() -> Rules {
        Rules::Reject(RejectSpec::Codes(OneOrMany::One("invalid_grant".into())))
    }

    const REFUSED: &str = r#"{"error":"invalid_grant"}"#;
    const TOKEN: &str = r#"{"access_token":"t","token_type":"Bearer"}"#;

    #[test]
    fn a_lane_probe_that_passes_alone_but_fails_under_load_fails() {
        let under = vec![
            answered(400, REFUSED),
            answered(200, TOKEN),
            answered(503, ""),
        ];
        let j = lane(&reject(), Level::Must, answered(400, REFUSED), under);
        assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
        assert!(j.reason.starts_with("passes alone but not under load"));
        assert!(j.reason.contains("1 said nothing"), "{}", j.reason);
    }

    #[test]
    fn a_lane_probe_refused_alone_and_under_load_passes() {
        let under = vec![answered(400, REFUSED)];
        let j = lane(&reject(), Level::Must, answered(400, REFUSED), under);
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    }

    #[test]
    fn a_lane_without_an_accepted_control_is_skip() {
        let o = LaneObservation {
            who: "C2/A".into(),
            what: "the probe".into(),
            control: Some(classify_response(&response(
                400,
                r#"{"error":"unauthorized_client"}"#,
            ))),
            alone: Some(answered(200, TOKEN)),
            under_load: LaneTally::default(),
        };
        let j = judge_lane(Level::Must, &reject(), &o);
        assert_eq!(j.verdict, Verdict::Skip);
        assert!(j.reason.contains("positive control"), "{}", j.reason);
        assert!(!lane_control_accepted(o.control.as_ref()));
    }

    #[test]
    fn only_busy_answers_under_load_are_skip_unless_alone_failed() {
        let busy = || vec![answered(429, ""), answered(500, "")];
        let j = lane(&reject(), Level::Must, answered(400, REFUSED), busy());
        assert_eq!(j.verdict, Verdict::Skip, "{}", j.reason);
        let j = lane(&reject(), Level::Must, answered(200, TOKEN), busy());
        assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
    }

    /// A replay refused under a profile where re-submission is allowed gets the run's verdict
    /// (the Accept rules at SHOULD: WARN), not a PASS.
    #[test]
    fn the_lane_replay_is_judged_like_run() {
        let accept = Rules::Accept(AcceptRules::default());
        let under = vec![answered(400, REFUSED)];
        let j = lane(&accept, Level::Should, answered(400, REFUSED), under);
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        let under = vec![answered(200, TOKEN)];
        let j = lane(&accept, Level::Should, answered(200, TOKEN), under);
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
    }

    #[test]
    fn race_verdicts() {
        let race = |control, seq, classes| RaceObservation {
            control_accepted: control,
            sequential_refused: seq,
            fired: 10,
            classes,
        };
        let must = |o: &RaceObservation| judge_race(Level::Must, true, o).verdict;
        let should = |o: &RaceObservation| judge_race(Level::Should, false, o).verdict;
        assert_eq!(must(&race(true, true, [1, 0, 9, 0])), Verdict::Pass);
        assert_eq!(must(&race(true, true, [3, 0, 7, 0])), Verdict::Fail);
        assert_eq!(should(&race(true, true, [2, 0, 8, 0])), Verdict::Warn);
        assert_eq!(should(&race(true, false, [10, 0, 0, 0])), Verdict::Info);
        assert_eq!(must(&race(true, true, [0, 10, 0, 0])), Verdict::Skip);
        assert_eq!(must(&race(false, false, [3, 0, 7, 0])), Verdict::Skip);
    }

    #[test]
    fn no_limit_is_info_unless_the_profile_names_one() {
        let o = LimitObservation {
            highest_rate: 50.0,
            requests: 400,
            errors: 0,
            limited: None,
        };
        let j = judge_limit(Level::Should, "id-jag-04", None, &o);
        assert_eq!(j.verdict, Verdict::Info);
        assert!(
            j.reason.starts_with("no limit found up to 50/s"),
            "{}",
            j.reason
        );
        let j = judge_limit(Level::Should, "auth0", Some(5.0), &o);
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        let slow = LimitObservation {
            highest_rate: 4.0,
            ..o
        };
        assert_eq!(
            judge_limit(Level::Should, "auth0", Some(5.0), &slow).verdict,
            Verdict::Info
        );
    }

    #[test]
    fn a_limit_with_missing_retry_after_warns() {
        let above = AboveLimit {
            saturated_at: 40.0,
            measured_rps: 20.0,
            requests: 100,
            errors: 0,
            retry_after_seen: 10,
            retry_after_missing: 0,
            honoured: Some((true, 1, "200".into())),
            recovery: Some((10.0, 20, 0)),
            key: Some("client".into()),
            key_notes: vec![],
        };
        let o = |above: AboveLimit| LimitObservation {
            highest_rate: 40.0,
            requests: 300,
            errors: 0,
            limited: Some(above),
        };
        let j = judge_limit(Level::Should, "id-jag-04", None, &o(above.clone()));
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
        let missing = AboveLimit {
            retry_after_missing: 4,
            ..above
        };
        let j = judge_limit(Level::Should, "id-jag-04", None, &o(missing));
        assert_eq!(j.verdict, Verdict::Warn);
        assert!(j.reason.contains("4 of 14 429s carry no Retry-After"));
    }

    #[test]
    fn mixed_traffic_and_invalid_kinds() {
        let ok = MixedObservation {
            valid: [90, 0, 0, 0],
            valid_5xx: 0,
            invalid: 10,
            valid_p50_us: Some(9_000),
            baseline_p50_us: Some(5_000),
        };
        assert_eq!(judge_mixed(Level::Should, &ok).verdict, Verdict::Pass);
        let slowed = MixedObservation {
            valid_p50_us: Some(70_000),
            ..ok
        };
        let j = judge_mixed(Level::Should, &slowed);
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        assert!(j.reason.contains("disproportionately"), "{}", j.reason);
        let uncalibrated = MixedObservation {
            baseline_p50_us: None,
            ..slowed
        };
        assert_eq!(
            judge_mixed(Level::Should, &uncalibrated).verdict,
            Verdict::Pass
        );
        let bad = MixedObservation {
            valid: [88, 0, 0, 2],
            valid_5xx: 2,
            ..ok
        };
        assert_eq!(judge_mixed(Level::Should, &bad).verdict, Verdict::Warn);
        let v = |c: [u64; 4]| judge_refused_under_load(Level::Must, "expired", &c).verdict;
        assert_eq!(v([0, 0, 5, 0]), Verdict::Pass);
        assert_eq!(v([1, 0, 4, 0]), Verdict::Fail);
        assert_eq!(v([0, 3, 0, 2]), Verdict::Skip);
    }

    #[test]
    fn a_load_without_one_token_cannot_judge() {
        assert!(diagnose_load(0, &[0, 0, 0, 0], "").is_none());
        assert!(diagnose_load(10, &[1, 0, 9, 0], "").is_none());
        let d = diagnose_load(100, &[0, 0, 100, 0], "").unwrap_or_default();
        assert!(d.contains("refuses the valid ID-JAG"), "{d}");
        let d = diagnose_load(100, &[0, 100, 0, 0], "Retry-After `1` on 100").unwrap_or_default();
        assert!(
            d.contains("every answer was 429 (Retry-After `1` on 100)"),
            "{d}"
        );
    }

    #[test]
    fn slow_jwks_fails_closed_and_keeps_serving() {
        let ok = StallObservation {
            jwks_delay_s: 6,
            rate: 40.0,
            duration_s: 3.0,
            valid: [90, 0, 0, 0],
            valid_stalled: 1,
            valid_p50_us: Some(2_000),
            valid_p99_us: Some(900_000),
            unknown: [0, 0, 30, 0],
        };
        let j = judge_stall(Level::Must, &ok);
        assert_eq!(j.verdict, Verdict::Pass, "{}", j.reason);
        let open = StallObservation {
            unknown: [1, 0, 29, 0],
            ..ok.clone()
        };
        let j = judge_stall(Level::Must, &open);
        assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
        assert!(
            j.reason
                .contains("1 of 30 ID-JAGs under unpublished kids got a token")
        );
        let stalled = StallObservation {
            valid: [80, 0, 0, 10],
            valid_stalled: 5,
            ..ok.clone()
        };
        assert_eq!(judge_stall(Level::Must, &stalled).verdict, Verdict::Warn);
        let silent = StallObservation {
            unknown: [0, 0, 0, 30],
            ..ok
        };
        assert_eq!(judge_stall(Level::Must, &silent).verdict, Verdict::Pass);
    }

    #[test]
    fn latency_trend_at_a_steady_rate() {
        let flat: Vec<Option<u64>> = [90_000, 3_000, 3_200, 2_900, 3_100, 3_000, 3_300, 2_800]
            .into_iter()
            .map(Some)
            .collect();
        let j = judge_trend(Level::Should, true, &flat);
        assert_eq!(j.verdict, Verdict::Info, "{}", j.reason);
        let rising: Vec<Option<u64>> = (0..10).map(|i| Some(3_000 + i * 15_000)).collect();
        let j = judge_trend(Level::Should, true, &rising);
        assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
        assert_eq!(
            judge_trend(Level::Should, false, &rising).verdict,
            Verdict::Skip
        );
        assert_eq!(
            judge_trend(Level::Should, true, &flat[..4]).verdict,
            Verdict::Skip
        );
    }

    #[test]
    fn load_levels_come_from_the_catalogue() {
        assert_eq!(level("LOAD-01", "id-jag-04"), Level::Should);
        assert_eq!(level("LOAD-02", "mcp-ema"), Level::Must);
        assert_eq!(level("JAG-JTI-01@load", "id-jag-04"), Level::Should);
        assert_eq!(level("JAG-JTI-01@load", "mcp-ema"), Level::Must);
        assert_eq!(level("LOAD-08", "id-jag-04"), Level::Must);
    }
}
