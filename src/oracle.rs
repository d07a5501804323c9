//! The judge: classifies token-endpoint answers and turns them into verdicts.
//!
//! Pure: it sees recorded exchanges, never the network. "Accepted" is a 200 with a non-empty
//! string `access_token`; "rejected" is a 4xx with an RFC 6749 §5.2 JSON error body; anything
//! else that is HTTP is judged; only no usable answer at all is ERROR.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::{Exchange, RecordedResponse};
use crate::spec::{Level, Verdict};

/// One value or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several acceptable values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What an accepted answer must also satisfy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRules {
    /// Required `token_type`, compared case-insensitively (RFC 6749 §5.1).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Response headers that must carry a value: the header's comma- or semicolon-separated
    /// items must include it, case-insensitively (e.g. `cache-control: no-store`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Members the JSON body must not have (e.g. `refresh_token`).
    #[serde(default)]
    pub absent: Vec<String>,
    /// Members that must be positive integers (e.g. `expires_in`, RFC 6749 §5.1).
    #[serde(default)]
    pub positive_integers: Vec<String>,
    /// The response `scope` must be present and a subset of these space-separated scopes.
    #[serde(default)]
    pub scope_within: Option<String>,
    /// When the response has a `scope`, it must be a subset of these (RFC 6749 §5.1: an
    /// absent scope means the requested one).
    #[serde(default)]
    pub scope_at_most: Option<String>,
    /// Scopes that must not be granted (when `scope` is present).
    #[serde(default)]
    pub scope_excludes: Vec<String>,
    /// Members that must equal these JSON values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub equals: Map<String, Value>,
}

/// A rejection with more than the error code: the status and headers it must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRules {
    /// Acceptable RFC 6749 §5.2 error codes (none: any refusal with an allowed status).
    #[serde(default)]
    pub error: Option<OneOrMany>,
    /// Acceptable HTTP statuses (e.g. `[400, 405]`); with no `error`, any answer with one of
    /// these statuses is a refusal, JSON body or not.
    #[serde(default)]
    pub status: Vec<u16>,
    /// Headers the error response must carry (as in [`AcceptRules::headers`]).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Texts the error body must not contain; `${jag}` stands for the ID-JAG sent.
    #[serde(default)]
    pub body_excludes: Vec<String>,
}

/// What a rejection must look like: just the codes, or codes, status and headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RejectSpec {
    /// `reject: invalid_grant` or `reject: [invalid_grant, invalid_target]`.
    Codes(OneOrMany),
    /// `reject: { error: invalid_client, status: [401], headers: { www-authenticate: Basic } }`.
    Rules(RejectRules),
}

impl RejectSpec {
    /// The acceptable error codes.
    pub fn codes(&self) -> Vec<String> {
        match self {
            RejectSpec::Codes(c) => c.to_vec(),
            RejectSpec::Rules(r) => r.error.as_ref().map(OneOrMany::to_vec).unwrap_or_default(),
        }
    }

    /// Acceptable statuses (empty: as RFC 6749 §5.2 prescribes for the code).
    pub fn statuses(&self) -> Vec<u16> {
        match self {
            RejectSpec::Codes(_) => Vec::new(),
            RejectSpec::Rules(r) => r.status.clone(),
        }
    }

    /// Texts the error body must not contain.
    pub fn body_excludes(&self) -> Vec<String> {
        match self {
            RejectSpec::Codes(_) => Vec::new(),
            RejectSpec::Rules(r) => r.body_excludes.clone(),
        }
    }

    /// Headers the error response must carry.
    pub fn headers(&self) -> BTreeMap<String, String> {
        match self {
            RejectSpec::Codes(_) => BTreeMap::new(),
            RejectSpec::Rules(r) => r.headers.clone(),
        }
    }
}

/// Either answer is conformant: a rejection with one of these codes, or an acceptance that
/// satisfies the rules (e.g. RFC 7521 §4.1: refuse, or grant no more than the ID-JAG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EitherRules {
    /// Acceptable error codes.
    pub reject: OneOrMany,
    /// Rules an acceptance must satisfy.
    #[serde(default)]
    pub accept: AcceptRules,
}

/// Behaviour to record only (MAY-level rows): the verdict is INFO, with what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRules {}

/// What the check expects of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// A token is issued, and the rules hold.
    Accept(AcceptRules),
    /// The request is refused with one of these RFC 6749 §5.2 error codes. The positive
    /// control (the same request with the valid ID-JAG) must be accepted first.
    Reject(RejectSpec),
    /// Refused with one of these codes, or accepted within the rules.
    Either(EitherRules),
    /// Only recorded: INFO with the answer.
    Record(RecordRules),
    /// Rules for the RAS's RFC 8414 metadata document (no token request is made).
    Metadata(MetadataRules),
    /// A burst of refused requests whose `kid`s are all unknown must cause few JWKS fetches.
    FetchBudget(FetchBudget),
    /// Measure how far a time claim may be moved before the server refuses (INFO).
    Measure(Measure),
    /// The trusted issuer drops the key the server has just accepted; once the server's JWKS
    /// cache time is up, ID-JAGs signed with it must be refused (RFC 7523 §3 item 9).
    KeyRemoval(KeyRemoval),
    /// The same ID-JAG sent many times at once: how many are accepted (a replay-cache race).
    ConcurrentReplay(ConcurrentReplay),
    /// Records whom the access token represents, as the target's whoami endpoint says (INFO).
    Whoami(WhoamiRecord),
    /// The ID-JAG must not obtain a token for the principal that the same ID-JAG minted by
    /// another issuer obtains: refused, or accepted for another principal (per the whoami
    /// endpoint).
    DistinctPrincipal(DistinctPrincipal),
}

/// Record the whoami answer for the access token the check obtains: principal, `client_id`
/// and `scope`, with remarks where they differ from C1 and the ID-JAG's scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiRecord {}

/// A cross-issuer subject check: the positive control is the scenario's ID-JAG minted as
/// `control_issuer` (it must be accepted; the whoami endpoint names its principal P); the
/// probe, the scenario's ID-JAG as is, must be refused with `reject`, or accepted for a
/// principal other than P (a distinct account, e.g. provisioned just in time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctPrincipal {
    /// The issuer that mints the positive control.
    pub control_issuer: crate::jose::IssuerRole,
    /// Error codes of a conformant refusal.
    pub reject: OneOrMany,
}

/// The members of a whoami answer that name the principal, in the order they are looked for
/// (RFC 7662 §2.2 names `sub` and `username`).
pub const PRINCIPAL_MEMBERS: &[&str] = &["sub", "username", "user", "user_id", "id"];

/// The principal a whoami answer names: the first of [`PRINCIPAL_MEMBERS`] that holds a
/// non-empty string or a number.
pub fn whoami_principal(body: &Map<String, Value>) -> Option<String> {
    PRINCIPAL_MEMBERS.iter().find_map(|m| match body.get(*m) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// What a whoami call gave: the principal and the whole answer, or why there is none.
pub fn read_whoami(ex: &Exchange) -> Result<(String, Map<String, Value>), String> {
    let Some(resp) = &ex.response else {
        return Err(format!(
            "no answer: {}",
            ex.error.clone().unwrap_or_else(|| "no response".into())
        ));
    };
    if resp.status != 200 {
        return Err(format!("the whoami endpoint answered {}", resp.status));
    }
    let Some(body) = json_object(&resp.body) else {
        return Err("the whoami endpoint answered 200 without a JSON object".into());
    };
    match whoami_principal(&body) {
        Some(p) => Ok((p, body)),
        None => Err(format!(
            "the whoami answer names no principal (none of {})",
            PRINCIPAL_MEMBERS.join(", ")
        )),
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
        let allowed = scopes(allowed);
        let extra: Vec<&str> = scopes(g)
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
    judged(
        Verdict::Info,
        format!("whoami: principal {principal}, client_id {client}, scope {scope}{tail}"),
    )
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
    probe_principal: Option<Result<String, String>>,
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
                 endpoint (whoami in the target file) the suite cannot tell whose token it is"
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

/// Key removal: after the control is accepted, the trusted issuer's JWKS replaces its keys
/// by new ones, and fresh ID-JAGs signed with the old key are sent until refused or until the
/// server's JWKS cache time (`jwks_cache_ttl` of the target) plus the margin has passed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRemoval {
    /// Time allowed beyond the cache time, e.g. `2s` (default: a tenth of it, at least 1 s).
    #[serde(default)]
    pub margin: Option<String>,
}

/// A burst of the very same ID-JAG, sent in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrentReplay {
    /// How many identical requests are sent at once (2 to 50).
    pub sends: u32,
    /// True when the ID-JAG is single use: more than one acceptance violates the level.
    /// False: the count is only recorded (INFO).
    #[serde(default)]
    pub single_use: bool,
}

/// A burst of ID-JAGs, each under a new unknown `kid`, and the JWKS fetches it may cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBudget {
    /// How many ID-JAGs to send, one after the other (at most 100).
    pub sends: u32,
    /// The most JWKS fetches they may cause.
    pub max_fetches: u32,
}

/// Which tolerance to measure, by binary search over fresh ID-JAGs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// How long after `exp` an ID-JAG is still accepted (clock skew on `exp`).
    ExpSkew,
    /// How long before `nbf` an ID-JAG is already accepted (clock skew on `nbf`).
    NbfSkew,
    /// The longest lifetime (`exp` − now) accepted.
    MaxLifetime,
    /// The oldest `iat` accepted.
    MaxIatAge,
}

/// A measurement: the largest offset in seconds, up to `max_secs`, that is still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// What to measure.
    pub tolerance: Tolerance,
    /// The search's upper bound in seconds.
    pub max_secs: i64,
}

/// What the RFC 8414 metadata document must say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataRules {
    /// `issuer` must be identical to this (RFC 8414 §3.3).
    #[serde(default)]
    pub issuer_equals: Option<String>,
    /// Members that, when present, must be JSON arrays of strings.
    #[serde(default)]
    pub arrays_of_strings: Vec<String>,
    /// Members that must be arrays containing these values.
    #[serde(default)]
    pub contains: BTreeMap<String, String>,
    /// Members whose values must not be URLs (no issuer allow-lists, ID-JAG §9.4).
    #[serde(default)]
    pub no_urls_in: Vec<String>,
}

impl Expect {
    /// True when the check is differential: a positive control is sent first.
    pub fn needs_control(&self) -> bool {
        !matches!(
            self,
            Expect::Accept(_)
                | Expect::Metadata(_)
                | Expect::FetchBudget(_)
                | Expect::Measure(_)
                | Expect::KeyRemoval(_)
                | Expect::ConcurrentReplay(_)
                | Expect::Whoami(_)
                | Expect::DistinctPrincipal(_)
        )
    }
}

/// What an answer was, as far as the judge is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 200 with a non-empty string `access_token`.
    Accepted {
        /// The JSON body.
        body: Map<String, Value>,
    },
    /// 4xx with an RFC 6749 §5.2 error body.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// An HTTP answer that is neither (5xx, a 200 without a token, a 4xx without an error body).
    Other {
        /// HTTP status.
        status: u16,
        /// What is wrong with it.
        why: String,
    },
    /// No usable HTTP answer.
    NoAnswer {
        /// Refused, reset, timeout, body over the cap, ….
        reason: String,
    },
}

/// The body as a JSON object, when it is one.
pub fn json_object(body: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The RFC 6749 §5.2 charset for `error` values: %x20-21 / %x23-5B / %x5D-7E.
fn is_error_charset(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Classifies one exchange.
pub fn classify(ex: &Exchange) -> Outcome {
    let Some(resp) = &ex.response else {
        return Outcome::NoAnswer {
            reason: ex.error.clone().unwrap_or_else(|| "no response".into()),
        };
    };
    classify_response(resp)
}

/// Classifies one HTTP response.
pub fn classify_response(resp: &RecordedResponse) -> Outcome {
    let status = resp.status;
    let body = json_object(&resp.body);
    match status {
        200 => match body {
            Some(m) => match m.get("access_token") {
                Some(Value::String(t)) if !t.is_empty() => Outcome::Accepted { body: m },
                Some(Value::String(_)) => Outcome::Other {
                    status,
                    why: "200 but access_token is empty".into(),
                },
                Some(other) => Outcome::Other {
                    status,
                    why: format!("200 but access_token is not a string ({other})"),
                },
                None => Outcome::Other {
                    status,
                    why: "200 without an access_token".into(),
                },
            },
            None => Outcome::Other {
                status,
                why: "200 but the body is not a JSON object".into(),
            },
        },
        400..=499 => match body.as_ref().and_then(|m| m.get("error")) {
            Some(Value::String(e)) if is_error_charset(e) => Outcome::Rejected {
                status,
                error: e.clone(),
                description: body
                    .as_ref()
                    .and_then(|m| m.get("error_description"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            Some(other) => Outcome::Other {
                status,
                why: format!("{status} with a malformed error member ({other})"),
            },
            None => Outcome::Other {
                status,
                why: format!("{status} without an RFC 6749 §5.2 JSON error body"),
            },
        },
        500..=599 => Outcome::Other {
            status,
            why: format!("{status} server error"),
        },
        _ => Outcome::Other {
            status,
            why: format!("unexpected HTTP status {status}"),
        },
    }
}

/// A short description of an outcome, e.g. `400 invalid_grant (aud mismatch)`.
pub fn summarize(o: &Outcome) -> String {
    match o {
        Outcome::Accepted { .. } => "200 with an access token".into(),
        Outcome::Rejected {
            status,
            error,
            description,
        } => match description {
            Some(d) => format!("{status} {error} ({})", one_line(d, 120)),
            None => format!("{status} {error}"),
        },
        Outcome::Other { why, .. } => why.clone(),
        Outcome::NoAnswer { reason } => format!("no answer: {reason}"),
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
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
    /// The same verdict with another reason, when it passed.
    fn with_reason(self, reason: String) -> Judgement {
        if self.verdict == Verdict::Pass {
            Judgement { reason, ..self }
        } else {
            self
        }
    }
}

fn judged(verdict: Verdict, reason: impl Into<String>) -> Judgement {
    Judgement {
        verdict,
        reason: reason.into(),
    }
}

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
    match control {
        Outcome::Accepted { .. } => {}
        Outcome::NoAnswer { reason } => {
            return judged(
                Verdict::Error,
                format!("positive control got no answer: {reason}"),
            );
        }
        other => {
            return judged(
                Verdict::Skip,
                format!("baseline not accepted: {}", summarize(other)),
            );
        }
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

/// Judges a positive check against its rules.
pub fn judge_positive(
    level: Level,
    rules: &AcceptRules,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    let body = match probe {
        Outcome::NoAnswer { reason } => {
            return judged(Verdict::Error, format!("no answer: {reason}"));
        }
        Outcome::Accepted { body } => body,
        other => {
            return judged(
                level.violation(),
                format!("{what} was not accepted: {}", summarize(other)),
            );
        }
    };
    let mut problems = Vec::new();
    if let Some(want) = &rules.token_type {
        match body.get("token_type") {
            Some(Value::String(t)) if t.eq_ignore_ascii_case(want) => {}
            Some(Value::String(t)) => problems.push(format!("token_type is {t}, expected {want}")),
            Some(other) => problems.push(format!("token_type is {other}, expected {want}")),
            None => problems.push(format!("no token_type, expected {want}")),
        }
    }
    problems.extend(header_problems(&rules.headers, response));
    for member in &rules.absent {
        if body.contains_key(member) {
            problems.push(format!("the response includes {member}"));
        }
    }
    problems.extend(body_problems(rules, body));
    if problems.is_empty() {
        judged(
            Verdict::Pass,
            "accepted: 200 with an access token".to_string(),
        )
    } else {
        judged(level.violation(), problems.join("; "))
    }
}

/// The `headers` rules a response breaks, each as a sentence.
/// A header item matches the wanted value, or starts with it as a word (an auth scheme:
/// `Basic realm="…"` matches `Basic`).
fn item_matches(item: &str, want: &str) -> bool {
    if item.eq_ignore_ascii_case(want) {
        return true;
    }
    match (item.get(..want.len()), item.get(want.len()..)) {
        (Some(head), Some(rest)) => head.eq_ignore_ascii_case(want) && rest.starts_with(' '),
        _ => false,
    }
}

fn header_problems(
    rules: &BTreeMap<String, String>,
    response: Option<&RecordedResponse>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in rules {
        let values: Vec<&str> = response
            .map(|r| {
                r.headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let has = values
            .iter()
            .flat_map(|v| v.split([',', ';']))
            .any(|item| item_matches(item.trim(), want));
        if !has {
            if values.is_empty() {
                problems.push(format!("no {name} header (expected {want})"));
            } else {
                problems.push(format!(
                    "{name} is `{}`, expected {want}",
                    values.join(", ")
                ));
            }
        }
    }
    problems
}

fn scopes(s: &str) -> Vec<&str> {
    s.split(' ').filter(|x| !x.is_empty()).collect()
}

/// The body rules (integers, scope, equality) an accepted response breaks.
fn body_problems(rules: &AcceptRules, body: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for member in &rules.positive_integers {
        match body.get(member) {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > 0) => {}
            Some(other) => problems.push(format!("{member} is {other}, not a positive integer")),
            None => problems.push(format!("no {member} in the response")),
        }
    }
    let granted = body.get("scope");
    if let Some(allowed) = &rules.scope_within {
        let allowed = scopes(allowed);
        match granted {
            Some(Value::String(g)) => {
                let extra: Vec<&str> = scopes(g)
                    .into_iter()
                    .filter(|x| !allowed.contains(x))
                    .collect();
                if !extra.is_empty() {
                    problems.push(format!(
                        "scope {} was granted beyond {}",
                        extra.join(" "),
                        allowed.join(" ")
                    ));
                }
            }
            Some(other) => problems.push(format!("scope is {other}, not a string")),
            None => problems.push("no scope in the response".to_string()),
        }
    }
    if let (Some(allowed), Some(Value::String(g))) = (&rules.scope_at_most, granted) {
        let allowed = scopes(allowed);
        let extra: Vec<&str> = scopes(g)
            .into_iter()
            .filter(|x| !allowed.contains(x))
            .collect();
        if !extra.is_empty() {
            problems.push(format!(
                "scope {} was granted beyond {}",
                extra.join(" "),
                allowed.join(" ")
            ));
        }
    }
    if let Some(Value::String(g)) = granted {
        let bad: Vec<&str> = scopes(g)
            .into_iter()
            .filter(|x| rules.scope_excludes.iter().any(|e| e == x))
            .collect();
        if !bad.is_empty() {
            problems.push(format!("scope {} was granted", bad.join(" ")));
        }
    }
    for (member, want) in &rules.equals {
        match body.get(member) {
            Some(v) if v == want => {}
            Some(v) => problems.push(format!("{member} is {v}, expected {want}")),
            None => problems.push(format!("no {member} in the response (expected {want})")),
        }
    }
    problems
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

/// Judges a check where a rejection with the listed codes and an acceptance within the
/// rules are both conformant. The control must have been accepted.
pub fn judge_either(
    level: Level,
    rules: &EitherRules,
    control: &Outcome,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
    what: &str,
) -> Judgement {
    let codes = rules.reject.to_vec();
    match probe {
        Outcome::Accepted { body } => {
            let j = judge_negative(
                level,
                &codes,
                control,
                &Outcome::NoAnswer {
                    reason: String::new(),
                },
                what,
            );
            if matches!(j.verdict, Verdict::Skip)
                || (j.verdict == Verdict::Error && j.reason.starts_with("positive"))
            {
                return j;
            }
            let mut problems = header_problems(&rules.accept.headers, response);
            problems.extend(body_problems(&rules.accept, body));
            if problems.is_empty() {
                judged(
                    Verdict::Pass,
                    "accepted within the rules: 200 with an access token",
                )
            } else {
                judged(
                    level.violation(),
                    format!("{what} was accepted, but {}", problems.join("; ")),
                )
            }
        }
        _ => judge_negative(level, &codes, control, probe, what),
    }
}

/// Records behaviour (INFO) after a differential control; no answer is still ERROR.
pub fn judge_record(control: &Outcome, probe: &Outcome, what: &str) -> Judgement {
    match control {
        Outcome::Accepted { .. } => {}
        Outcome::NoAnswer { reason } => {
            return judged(
                Verdict::Error,
                format!("positive control got no answer: {reason}"),
            );
        }
        other => {
            return judged(
                Verdict::Skip,
                format!("baseline not accepted: {}", summarize(other)),
            );
        }
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

/// Judges the RAS's RFC 8414 metadata document. A 404 means the server publishes none: SKIP.
pub fn judge_metadata(level: Level, rules: &MetadataRules, ex: &Exchange) -> Judgement {
    let Some(resp) = &ex.response else {
        return judged(
            Verdict::Error,
            format!("no answer: {}", ex.error.clone().unwrap_or_default()),
        );
    };
    if resp.status == 404 {
        return judged(
            Verdict::Skip,
            format!(
                "not applicable to this target: no metadata at {}",
                ex.request.url
            ),
        );
    }
    let Some(doc) = json_object(&resp.body).filter(|_| resp.status == 200) else {
        return judged(
            level.violation(),
            format!("metadata answered {} without a JSON object", resp.status),
        );
    };
    let mut problems = Vec::new();
    if let Some(want) = &rules.issuer_equals {
        match doc.get("issuer") {
            Some(Value::String(i)) if i == want => {}
            Some(other) => problems.push(format!("issuer is {other}, not the identical {want}")),
            None => problems.push("no issuer member".into()),
        }
    }
    for member in &rules.arrays_of_strings {
        match doc.get(member) {
            None => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(other) => problems.push(format!("{member} is {other}, not an array of strings")),
        }
    }
    for (member, value) in &rules.contains {
        let has = doc
            .get(member)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)));
        if !has {
            problems.push(format!("{member} does not list {value}"));
        }
    }
    for member in &rules.no_urls_in {
        if let Some(Value::Array(a)) = doc.get(member) {
            let urls: Vec<&str> = a
                .iter()
                .filter_map(Value::as_str)
                .filter(|v| v.starts_with("http://") || v.starts_with("https://"))
                .collect();
            if !urls.is_empty() {
                problems.push(format!("{member} discloses URLs: {}", urls.join(", ")));
            }
        }
    }
    if problems.is_empty() {
        judged(Verdict::Pass, "metadata as required".to_string())
    } else {
        judged(level.violation(), problems.join("; "))
    }
}
