//! One root cause, one finding: the form of every answer of the token endpoint in a run
//! (HTTP status, body shape, error code, `Cache-Control`, echoes, 5xx, `WWW-Authenticate`)
//! is judged once, by the check that owns that rule, over every exchange of the run; the
//! other checks judge only what their titles name.
//!
//! Each check's rules say what it owns ([`FormRules`]): a check that pins statuses owns the
//! status (and, with no code, any body); one whose codes are its subject (`invalid_client`,
//! `invalid_scope`, `invalid_target`) owns the code; one that pins a header owns that
//! header. What no check owns goes to the owning check ([`OWNERS`]), which lists each
//! deviation once ([`Finding`]) with every exchange where it occurred.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{Exchange, RecordedResponse};
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, classify_response, header_problems, media_type};
use super::expect::{Expect, Procedure, Rules};
use super::{Judgement, judged};

/// HTTP status of a refusal (RFC 6749 §5.2: 400, or 401 for `invalid_client`).
pub const STATUS: &str = "ERR-01";
/// The body of a refusal is an RFC 6749 §5.2 JSON error.
pub const SHAPE: &str = "ERR-02";
/// The `error` code is the one due.
pub const CODE: &str = "ERR-04";
/// `Cache-Control: no-store` on error responses.
pub const NO_STORE: &str = "ERR-05";
/// An error response does not repeat the assertion.
pub const ECHO: &str = "ERR-06";
/// No 5xx for input the server may or must refuse.
pub const SERVER_ERROR: &str = "ERR-07";
/// A 401 carries `WWW-Authenticate` (RFC 9110 §15.5.2).
pub const CHALLENGE: &str = "ERR-08";

/// The checks that judge the form of the run's answers, run-wide.
pub const OWNERS: &[&str] = &[STATUS, SHAPE, CODE, NO_STORE, ECHO, SERVER_ERROR, CHALLENGE];

/// Error codes that are the subject of the checks that expect them: client authentication
/// (`invalid_client`), scope (`invalid_scope`), resource (`invalid_target`) and grant
/// permission (`unauthorized_client`) checks judge the code themselves, so a wrong code there is their finding, not ERR-04's.
pub const SUBJECT_CODES: &[&str] = &[
    "invalid_client",
    "invalid_scope",
    "invalid_target",
    "unauthorized_client",
];

/// Whether a check that expects `codes` judges the code itself (see [`SUBJECT_CODES`]).
pub fn owns_code(codes: &[String]) -> bool {
    codes.iter().any(|c| SUBJECT_CODES.contains(&c.as_str()))
}

/// What a check's rules say about the form of the answers to its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormRules {
    /// Its probes send input the server may or must refuse (a negative check, a check where
    /// either answer is allowed, a record, most procedures).
    pub refusable: bool,
    /// The codes a refusal of its probe is due to carry (empty: none named).
    pub codes: Vec<String>,
    /// The statuses it pins for its refusal: the status is its own (and, with no code, the
    /// body too); a pinned 5xx is no ERR-07 finding.
    pub statuses: Vec<u16>,
    /// The response headers it pins (lower case): e.g. `www-authenticate` for Basic.
    pub headers: Vec<String>,
}

impl FormRules {
    /// The form rules of a check's expectation (under the run's profile and target).
    pub fn of(expect: &Expect) -> FormRules {
        let refusable = |codes: Vec<String>| FormRules {
            refusable: true,
            codes,
            ..Default::default()
        };
        match expect {
            Expect::Rules(Rules::Reject(spec)) => FormRules {
                refusable: true,
                codes: spec.codes(),
                statuses: spec.statuses(),
                headers: spec
                    .headers()
                    .keys()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            },
            Expect::Rules(Rules::Either(r)) => refusable(r.reject.to_vec()),
            Expect::Rules(Rules::Record(_)) => refusable(Vec::new()),
            Expect::Rules(Rules::Accept(_) | Rules::Metadata(_)) => FormRules::default(),
            Expect::Procedure(p) => match p {
                Procedure::DistinctPrincipal(d) => refusable(d.reject.to_vec()),
                Procedure::OwnIdJag(o) => refusable(o.reject.to_vec()),
                // Its probe goes to another address, whose answers no form rule judges.
                Procedure::Cleartext(_) => FormRules::default(),
                Procedure::ConcurrentReplay(_)
                | Procedure::Measure(_)
                | Procedure::KeyRemoval(_) => refusable(Vec::new()),
                Procedure::FetchBudget(_)
                | Procedure::Whoami(_)
                | Procedure::Introspect(_)
                | Procedure::JwtAccessToken(_) => FormRules::default(),
            },
        }
    }

    /// The check owns the status of its refusals.
    fn owns_status(&self) -> bool {
        !self.statuses.is_empty()
    }

    /// The check takes any body with its pinned statuses.
    fn owns_body(&self) -> bool {
        self.owns_status() && self.codes.is_empty()
    }
}

/// The answers one check got, with the form rules of the check and of each of its cases
/// (an exchange of case `name` has the role `name: …`).
#[derive(Debug, Clone)]
pub struct CheckAnswers<'a> {
    /// The check's ID.
    pub check: &'a str,
    /// The check's form rules.
    pub rules: FormRules,
    /// The form rules of each case, by case name (a case may change `expect`).
    pub cases: Vec<(String, FormRules)>,
    /// Every exchange the check made, in order.
    pub exchanges: &'a [Exchange],
}

impl CheckAnswers<'_> {
    /// The rules an exchange of the check was sent under, and its role without the case.
    fn rules_for<'r>(&'r self, role: &'r str) -> (&'r FormRules, &'r str) {
        for (name, rules) in &self.cases {
            if let Some(rest) = role
                .strip_prefix(name.as_str())
                .and_then(|r| r.strip_prefix(": "))
            {
                return (rules, rest);
            }
        }
        (&self.rules, role)
    }
}

/// An owning check of the run, with its level under the profile and its own judgement (of
/// its own probe, under its rules).
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    /// The check's ID (one of [`OWNERS`]).
    pub id: &'a str,
    /// Its level under the run's profile.
    pub level: Level,
    /// The judgement its own exchanges got.
    pub own: Judgement,
    /// Whether it ran (sent its own requests); one that did not run (its dependency failed,
    /// the server stopped answering) keeps its judgement.
    pub ran: bool,
}

/// One place where a deviation occurred: the check, the index of the exchange among the
/// check's exchanges, and its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Occurrence {
    /// The check whose exchange it was.
    pub check: String,
    /// The exchange's index in that check's `exchanges`.
    pub exchange: usize,
    /// The exchange's role (`probe`, `control`, `case: probe`, …).
    pub role: String,
}

/// One deviation in form, found once and listed with every exchange where it occurred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// Its verdict under the owning check's level.
    pub verdict: Verdict,
    /// What deviates, e.g. `HTTP 401 for invalid_grant (RFC 6749 §5.2: 400)`.
    pub what: String,
    /// How many exchanges of the run show it.
    pub count: usize,
    /// Every exchange that shows it, in run order.
    pub occurrences: Vec<Occurrence>,
}

/// The run-wide verdict of one owning check, with its grouped findings.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedVerdict {
    /// The owning check's ID.
    pub id: String,
    /// Its verdict and reason.
    pub judgement: Judgement,
    /// Each deviation once, worst first.
    pub findings: Vec<Finding>,
}

/// A deviation seen in one answer, before grouping.
struct Seen {
    owner: &'static str,
    /// Verdict under a MUST; lowered to the owner's level when grouped.
    severe: bool,
    what: String,
}

/// Whether a role (without its case) is the request under test: the probe, or its retry.
fn is_probe(role: &str) -> bool {
    matches!(role, "probe" | "retry")
}

/// The status RFC 6749 §5.2 prescribes for an error code: 400, or 401 for `invalid_client`.
pub fn status_fits(error: &str, status: u16) -> bool {
    status == 400 || (error == "invalid_client" && status == 401)
}

/// A header of a response, case-insensitively.
fn has_header(resp: &RecordedResponse, name: &str) -> bool {
    resp.headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// What the body of a 4xx without an RFC 6749 §5.2 error is, coarsely (for grouping).
fn body_kind(resp: &RecordedResponse) -> &'static str {
    if resp.body_not_utf8_at.is_some() {
        return "a body that is not valid UTF-8";
    }
    if resp.body.trim().is_empty() {
        return "an empty body";
    }
    if matches!(
        media_type(resp).as_deref(),
        Some("text/html" | "application/xhtml+xml")
    ) || resp.body.trim_start().starts_with('<')
    {
        return "an HTML body";
    }
    match serde_json::from_str::<Value>(&resp.body) {
        Ok(Value::Object(m)) => match m.get("error") {
            Some(Value::String(_)) => "an error code outside the RFC 6749 §5.2 charset",
            Some(_) => "an error member that is not a string",
            None => "a JSON object without an error member",
        },
        Ok(_) => "JSON that is not an object",
        Err(_) => "a body that is not JSON",
    }
}

/// The `error` member of a body, when it has one.
fn error_member(resp: &RecordedResponse) -> Option<String> {
    match serde_json::from_str::<Value>(&resp.body) {
        Ok(Value::Object(m)) => m.get("error").map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        _ => None,
    }
}

/// The `assertion` form parameter of a request body, when it has a long enough one to be
/// recognised in an answer.
fn assertion_of(body: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "assertion")
        .map(|(_, v)| v.into_owned())
        .filter(|a| a.len() >= 16)
}

/// The codes, joined for a sentence.
fn either(codes: &[String]) -> String {
    codes.join(" or ")
}

/// The deviations of one answer of the token endpoint, each for its owner; `counted` is told
/// which owners examined it.
fn deviations(
    ex: &Exchange,
    rules: &FormRules,
    role: &str,
    counted: &mut dyn FnMut(&'static str),
) -> Vec<Seen> {
    let Some(resp) = &ex.response else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut see = |owner: &'static str, severe: bool, what: String| {
        out.push(Seen {
            owner,
            severe,
            what,
        })
    };
    let status = resp.status;
    let probe = is_probe(role) && rules.refusable;
    let outcome = classify_response(resp);
    let server_error = (500..=599).contains(&status);

    // ERR-07: a 5xx to input the server may or must refuse, unless the check allows it.
    if probe {
        counted(SERVER_ERROR);
        if server_error && !rules.statuses.contains(&status) {
            see(
                SERVER_ERROR,
                true,
                format!("HTTP {status} to a request under test"),
            );
        }
    }
    // ERR-08: every 401 carries a challenge (RFC 9110 §15.5.2), unless the check pins it.
    if !rules.headers.iter().any(|h| h == "www-authenticate") {
        counted(CHALLENGE);
        if status == 401 && !has_header(resp, "www-authenticate") {
            see(
                CHALLENGE,
                true,
                "HTTP 401 without a WWW-Authenticate challenge".into(),
            );
        }
    }
    let is_error = matches!(outcome, Outcome::Rejected { .. })
        || matches!(outcome, Outcome::Other { status, .. } if (400..=499).contains(&status));
    // ERR-05 and ERR-06: what an error response carries. No-store is judged on RFC 6749 §5.2
    // errors only: a body of another kind is ERR-02's finding, and a check that takes any
    // body with its pinned statuses (a 405 to GET) gets no OAuth error to judge.
    if is_error {
        let oauth_error = matches!(outcome, Outcome::Rejected { .. }) && !rules.owns_body();
        if oauth_error {
            counted(NO_STORE);
        }
        let wanted = BTreeMap::from([("cache-control".to_string(), "no-store".to_string())]);
        if oauth_error && !header_problems(&wanted, Some(resp)).is_empty() {
            see(
                NO_STORE,
                true,
                "an error response without Cache-Control: no-store".into(),
            );
        }
        if let Some(assertion) = assertion_of(&ex.request.body) {
            counted(ECHO);
            if resp.body.contains(&assertion) {
                see(ECHO, true, "an error response repeats the assertion".into());
            }
        }
    }
    match &outcome {
        Outcome::Rejected {
            status,
            error,
            description,
        } => {
            // ERR-01: the status for the code sent.
            if !rules.owns_status() {
                counted(STATUS);
                if !status_fits(error, *status) {
                    let due = if error == "invalid_client" {
                        "400 or 401"
                    } else {
                        "400"
                    };
                    see(
                        STATUS,
                        false,
                        format!("HTTP {status} for {error} (RFC 6749 §5.2: {due})"),
                    );
                }
            }
            // ERR-02: the media type of the error body.
            counted(SHAPE);
            match media_type(resp) {
                Some(t) if t == "application/json" => {}
                Some(t) => see(
                    SHAPE,
                    true,
                    format!("an error body sent as {t}, not application/json"),
                ),
                None => see(
                    SHAPE,
                    true,
                    "an error body without a Content-Type (RFC 6749 §5.2: application/json)".into(),
                ),
            }
            // ERR-02, for ERR-03's rule: `error_description` keeps to the charset `error` does
            // (RFC 6749 §5.2), which classify holds `error` itself to.
            if description
                .as_deref()
                .is_some_and(|d| !super::classify::is_error_charset(d))
            {
                see(
                    SHAPE,
                    true,
                    "an error_description outside the RFC 6749 §5.2 charset (a quote, a backslash or a non-ASCII character)".into(),
                );
            }
            // ERR-04: the code due, where the check does not judge it itself.
            if probe && !rules.codes.is_empty() && !owns_code(&rules.codes) {
                counted(CODE);
                if !rules.codes.contains(error) {
                    see(
                        CODE,
                        false,
                        format!("{error} where {} is due", either(&rules.codes)),
                    );
                }
            }
        }
        Outcome::Other { status, .. } if (400..=499).contains(status) => {
            if !rules.owns_status() && probe {
                counted(STATUS);
                let fits = *status == 400
                    || (*status == 401
                        && (rules.codes.is_empty()
                            || rules.codes.iter().any(|c| c == "invalid_client")));
                if !fits {
                    let due = if rules.codes.is_empty() {
                        "a refusal".to_string()
                    } else {
                        either(&rules.codes)
                    };
                    see(
                        STATUS,
                        false,
                        format!("HTTP {status} where {due} is due (RFC 6749 §5.2: 400)"),
                    );
                }
            }
            if !rules.owns_body() {
                counted(SHAPE);
                see(
                    SHAPE,
                    true,
                    format!(
                        "HTTP {status} without an RFC 6749 §5.2 JSON error body ({})",
                        body_kind(resp)
                    ),
                );
            }
        }
        Outcome::Other { status, .. } if !server_error => {
            // A 2xx without a token or a redirect: the wrong class for an error, or for a
            // refusal that was due.
            let code = error_member(resp);
            if (probe || code.is_some()) && !rules.owns_status() {
                counted(STATUS);
                let what = match code {
                    Some(c) => format!("HTTP {status} for the error {c} (RFC 6749 §5.2: 4xx)"),
                    None => format!(
                        "HTTP {status} without a token where a refusal is due (RFC 6749 §5.2: 400)"
                    ),
                };
                see(STATUS, true, what);
            }
        }
        _ => {}
    }
    out
}

/// The run-wide verdicts of the owning checks that ran: every answer of the token endpoint
/// (`token_endpoint`, the URL the run sends token requests to) in `answers`, each deviation
/// judged once by its owner at the owner's level, grouped by what deviates. An owner that did
/// not run keeps its judgement; one that examined no answer keeps its own SKIP or ERROR and
/// is otherwise SKIP (nothing to judge).
pub fn judge_findings(
    token_endpoint: &str,
    answers: &[CheckAnswers],
    owners: &[Owner],
) -> Vec<OwnedVerdict> {
    let mut examined: BTreeMap<&'static str, usize> = BTreeMap::new();
    // owner → (severe, what) → occurrences
    type Groups = BTreeMap<(bool, String), Vec<Occurrence>>;
    let mut groups: BTreeMap<&'static str, Groups> = BTreeMap::new();
    for check in answers {
        for (i, ex) in check.exchanges.iter().enumerate() {
            if !ex.request.url.starts_with(token_endpoint) || ex.role.starts_with("idp-") {
                continue;
            }
            let (rules, role) = check.rules_for(&ex.role);
            let mut counted = |owner: &'static str| *examined.entry(owner).or_default() += 1;
            for seen in deviations(ex, rules, role, &mut counted) {
                groups
                    .entry(seen.owner)
                    .or_default()
                    .entry((seen.severe, seen.what))
                    .or_default()
                    .push(Occurrence {
                        check: check.check.to_string(),
                        exchange: i,
                        role: ex.role.clone(),
                    });
            }
        }
    }
    owners
        .iter()
        .filter_map(|o| {
            let id = OWNERS.iter().find(|x| **x == o.id)?;
            let n = examined.get(id).copied().unwrap_or(0);
            let mut findings: Vec<Finding> = groups
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .map(|((severe, what), occurrences)| Finding {
                    verdict: verdict_for(o.level, severe),
                    what,
                    count: occurrences.len(),
                    occurrences,
                })
                .collect();
            findings.sort_by(|a, b| {
                weight(b.verdict)
                    .cmp(&weight(a.verdict))
                    .then(b.count.cmp(&a.count))
                    .then(a.what.cmp(&b.what))
            });
            let judgement = owner_judgement(o, id, n, &findings);
            Some(OwnedVerdict {
                id: o.id.to_string(),
                judgement,
                findings,
            })
        })
        .collect()
}

/// A deviation's verdict under the owner's level: a severe one is the level's violation; a
/// lesser one (another 4xx, another registered code: requirements.md §2 "any other 4xx code
/// is WARN") is WARN, or INFO under a level that only records.
fn verdict_for(level: Level, severe: bool) -> Verdict {
    match level.violation() {
        Verdict::Info => Verdict::Info,
        v if severe => v,
        _ => Verdict::Warn,
    }
}

fn weight(v: Verdict) -> u8 {
    match v {
        Verdict::Fail => 3,
        Verdict::Warn => 2,
        Verdict::Info => 1,
        _ => 0,
    }
}

/// What an owner examined, for its reason.
fn scope(id: &str) -> &'static str {
    match id {
        STATUS => "refusals",
        SHAPE => "error responses",
        CODE => "refusals with a code due",
        NO_STORE => "error responses",
        ECHO => "error responses to an assertion",
        SERVER_ERROR => "requests under test",
        _ => "answers of the token endpoint",
    }
}

/// The sentence of a passed owner.
fn compliant(id: &str, n: usize) -> String {
    match id {
        STATUS => format!("all {n} refusals of the run carry the status RFC 6749 §5.2 prescribes"),
        SHAPE => format!("all {n} error responses of the run are RFC 6749 §5.2 JSON errors"),
        CODE => format!("all {n} refusals with a code due carry it"),
        NO_STORE => format!("all {n} error responses of the run carry Cache-Control: no-store"),
        ECHO => format!("none of {n} error responses to an assertion repeats it"),
        SERVER_ERROR => format!("no 5xx to any of the run's {n} requests under test"),
        _ => format!("no 401 without WWW-Authenticate among {n} answers of the token endpoint"),
    }
}

fn owner_judgement(o: &Owner, id: &str, n: usize, findings: &[Finding]) -> Judgement {
    if !o.ran {
        return o.own.clone();
    }
    if n == 0 {
        return match o.own.verdict {
            Verdict::Skip | Verdict::Error => o.own.clone(),
            _ => judged(
                Verdict::Skip,
                format!("no {} in this run to judge", scope(id)),
            ),
        };
    }
    let Some(worst) = findings.first() else {
        return judged(Verdict::Pass, compliant(id, n));
    };
    let total: usize = findings.iter().map(|f| f.count).sum();
    let parts: Vec<String> = findings
        .iter()
        .map(|f| {
            let first = &f.occurrences[0];
            let more = if f.count > 1 {
                format!("{}×, first", f.count)
            } else {
                "once,".to_string()
            };
            format!("{} ({more} {} {})", f.what, first.check, first.role)
        })
        .collect();
    judged(
        worst.verdict,
        format!(
            "{total} of {n} {} of the run: {}",
            scope(id),
            parts.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RecordedRequest;

    const TE: &str = "http://ras/token";

    fn ex(role: &str, status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
        Exchange {
            role: role.into(),
            request: RecordedRequest {
                method: "POST".into(),
                url: TE.into(),
                headers: vec![],
                body: "grant_type=x&assertion=eyJhbGciOiJSUzI1NiJ9.payload.signature".into(),
            },
            response: Some(RecordedResponse {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.into(),
                body_not_utf8_at: None,
                headers_not_utf8: vec![],
            }),
            error: None,
            elapsed_ms: 0.0,
            curl: String::new(),
        }
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const NO_STORE_H: (&str, &str) = ("cache-control", "no-store");

    fn reject(codes: &[&str]) -> FormRules {
        FormRules {
            refusable: true,
            codes: codes.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    fn owners() -> Vec<Owner<'static>> {
        OWNERS
            .iter()
            .map(|id| Owner {
                id,
                level: if [NO_STORE, ECHO].contains(id) {
                    Level::Should
                } else {
                    Level::Must
                },
                own: judged(Verdict::Pass, "own"),
                ran: true,
            })
            .collect()
    }

    fn verdict_of<'a>(v: &'a [OwnedVerdict], id: &str) -> &'a OwnedVerdict {
        v.iter().find(|o| o.id == id).expect("owner")
    }

    #[test]
    fn one_401_habit_is_one_status_finding_and_one_challenge_finding() {
        let body = r#"{"error":"invalid_grant"}"#;
        let exchanges: Vec<Vec<Exchange>> = (0..5)
            .map(|_| {
                vec![
                    ex("control", 200, &[JSON], r#"{"access_token":"t"}"#),
                    ex("probe", 401, &[JSON, NO_STORE_H], body),
                ]
            })
            .collect();
        let ids: Vec<String> = (0..5).map(|i| format!("C-{i}")).collect();
        let answers: Vec<CheckAnswers> = exchanges
            .iter()
            .zip(&ids)
            .map(|(e, id)| CheckAnswers {
                check: id,
                rules: reject(&["invalid_grant"]),
                cases: vec![],
                exchanges: e,
            })
            .collect();
        let v = judge_findings(TE, &answers, &owners());
        let status = verdict_of(&v, STATUS);
        assert_eq!(status.judgement.verdict, Verdict::Warn, "{status:?}");
        assert_eq!(status.findings.len(), 1);
        assert_eq!(status.findings[0].count, 5);
        assert_eq!(status.findings[0].occurrences[1].check, "C-1");
        assert_eq!(status.findings[0].occurrences[1].exchange, 1);
        let challenge = verdict_of(&v, CHALLENGE);
        assert_eq!(challenge.judgement.verdict, Verdict::Fail);
        assert_eq!(challenge.findings[0].count, 5);
        for id in [SHAPE, CODE, NO_STORE, ECHO, SERVER_ERROR] {
            assert_eq!(verdict_of(&v, id).judgement.verdict, Verdict::Pass, "{id}");
        }
    }

    #[test]
    fn codes_are_judged_once_unless_they_are_the_subject() {
        let e1 = vec![ex(
            "probe",
            400,
            &[JSON, NO_STORE_H],
            r#"{"error":"invalid_signature"}"#,
        )];
        let e2 = vec![ex(
            "probe",
            400,
            &[JSON, NO_STORE_H],
            r#"{"error":"invalid_grant"}"#,
        )];
        let answers = [
            CheckAnswers {
                check: "SIG",
                rules: reject(&["invalid_grant"]),
                cases: vec![],
                exchanges: &e1,
            },
            CheckAnswers {
                check: "CAUTH",
                rules: reject(&["invalid_client"]),
                cases: vec![],
                exchanges: &e2,
            },
        ];
        let v = judge_findings(TE, &answers, &owners());
        let code = verdict_of(&v, CODE);
        assert_eq!(code.judgement.verdict, Verdict::Warn);
        assert_eq!(code.findings.len(), 1, "{code:?}");
        assert_eq!(code.findings[0].occurrences[0].check, "SIG");
    }

    #[test]
    fn a_5xx_to_a_probe_is_err_07_unless_the_check_allows_it() {
        let e = vec![ex("case a: probe", 500, &[], "boom")];
        let allowed = FormRules {
            statuses: vec![400, 500],
            ..reject(&[])
        };
        let answers = [
            CheckAnswers {
                check: "X",
                rules: FormRules::default(),
                cases: vec![("case a".into(), reject(&["invalid_grant"]))],
                exchanges: &e,
            },
            CheckAnswers {
                check: "SIG-16",
                rules: allowed,
                cases: vec![],
                exchanges: &e,
            },
        ];
        let v = judge_findings(TE, &answers, &owners());
        let s = verdict_of(&v, SERVER_ERROR);
        assert_eq!(s.judgement.verdict, Verdict::Fail);
        assert_eq!(s.findings[0].count, 1, "{s:?}");
        assert_eq!(s.findings[0].occurrences[0].check, "X");
        // A 5xx is no status, shape or code finding.
        for id in [STATUS, SHAPE, CODE] {
            assert!(verdict_of(&v, id).findings.is_empty(), "{id}");
        }
    }

    #[test]
    fn bodies_headers_and_echoes_are_their_owners_findings() {
        let e = vec![
            ex(
                "probe",
                400,
                &[("content-type", "text/html")],
                "<html>no</html>",
            ),
            ex(
                "probe",
                400,
                &[JSON],
                r#"{"error":"invalid_grant","error_description":"bad eyJhbGciOiJSUzI1NiJ9.payload.signature"}"#,
            ),
        ];
        let answers = [CheckAnswers {
            check: "A",
            rules: reject(&["invalid_grant"]),
            cases: vec![],
            exchanges: &e,
        }];
        let v = judge_findings(TE, &answers, &owners());
        assert_eq!(verdict_of(&v, SHAPE).judgement.verdict, Verdict::Fail);
        assert!(verdict_of(&v, SHAPE).findings[0].what.contains("HTML"));
        assert_eq!(verdict_of(&v, NO_STORE).judgement.verdict, Verdict::Warn);
        // The HTML page is ERR-02's finding alone; the JSON error lacks no-store.
        assert_eq!(verdict_of(&v, NO_STORE).findings[0].count, 1);
        assert_eq!(verdict_of(&v, ECHO).judgement.verdict, Verdict::Warn);
        assert_eq!(verdict_of(&v, STATUS).judgement.verdict, Verdict::Pass);
    }

    #[test]
    fn an_error_answered_with_200_is_a_wrong_class() {
        let e = vec![ex("probe", 200, &[JSON], r#"{"error":"invalid_grant"}"#)];
        let answers = [CheckAnswers {
            check: "A",
            rules: reject(&["invalid_grant"]),
            cases: vec![],
            exchanges: &e,
        }];
        let v = judge_findings(TE, &answers, &owners());
        assert_eq!(verdict_of(&v, STATUS).judgement.verdict, Verdict::Fail);
    }

    #[test]
    fn an_owner_with_nothing_to_judge_is_skip() {
        let v = judge_findings(TE, &[], &owners());
        assert_eq!(verdict_of(&v, STATUS).judgement.verdict, Verdict::Skip);
    }
}
