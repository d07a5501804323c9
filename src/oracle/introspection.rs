//! RFC 7662 token introspection: reading an introspection answer, the principal it names,
//! the scope a token really carries (which wins over the token response's `scope` in the
//! checks that judge what was granted), and RS-12's judgement of the introspection endpoint.

use serde_json::{Map, Value};

use crate::protocol::Exchange;
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, json_object};
use super::expect::Rules;
use super::procedures::WhoamiError;
use super::{Judgement, judged};

/// Where the suite learns whom a token represents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The target's whoami endpoint (a resource API that echoes the principal).
    Whoami,
    /// RFC 7662 introspection.
    Introspection,
}

impl TokenSource {
    /// How reasons name it.
    pub fn label(self) -> &'static str {
        match self {
            TokenSource::Whoami => "whoami",
            TokenSource::Introspection => "introspection",
        }
    }
}

/// A readable introspection answer (RFC 7662 §2.2): a JSON object with a boolean `active`.
#[derive(Debug, Clone, PartialEq)]
pub struct Introspected {
    /// `active`.
    pub active: bool,
    /// The whole answer.
    pub body: Map<String, Value>,
}

impl Introspected {
    fn string(&self, member: &str) -> Option<String> {
        match self.body.get(member) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The principal: `sub`, else `username` (RFC 7662 §2.2).
    pub fn principal(&self) -> Option<String> {
        self.string("sub").or_else(|| self.string("username"))
    }

    /// `client_id`, when given.
    pub fn client_id(&self) -> Option<String> {
        self.string("client_id")
    }

    /// `scope`, when given as a string.
    pub fn scope(&self) -> Option<String> {
        match self.body.get("scope") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// `aud` as a list (a string is one audience), when given.
    pub fn aud(&self) -> Option<Vec<String>> {
        match self.body.get("aud")? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Reads an introspection call: no answer, 401/403 (the suite's client may not introspect:
/// the checks that need it are SKIP with that reason), another status, a body that is no
/// JSON object, or one without a boolean `active` are each their own [`WhoamiError`].
pub fn read_introspection(ex: &Exchange) -> Result<Introspected, WhoamiError> {
    let Some(resp) = &ex.response else {
        return Err(WhoamiError::NoAnswer(
            ex.error.clone().unwrap_or_else(|| "no response".into()),
        ));
    };
    match resp.status {
        200 => {}
        401 | 403 => return Err(WhoamiError::IntrospectionRefused(resp.status)),
        other => return Err(WhoamiError::IntrospectionStatus(other)),
    }
    let body = json_object(&resp.body).ok_or(WhoamiError::IntrospectionNotJson)?;
    match body.get("active") {
        Some(Value::Bool(active)) => Ok(Introspected {
            active: *active,
            body,
        }),
        _ => Err(WhoamiError::IntrospectionNoActive),
    }
}

/// The principal an introspection answer names for a token just issued: an inactive token or
/// one without `sub` and `username` names none.
pub fn introspected_principal(
    answer: Result<Introspected, WhoamiError>,
) -> Result<(String, Map<String, Value>), WhoamiError> {
    let a = answer?;
    if !a.active {
        return Err(WhoamiError::Inactive);
    }
    match a.principal() {
        Some(p) => Ok((p, a.body)),
        None => Err(WhoamiError::IntrospectionNoPrincipal),
    }
}

/// True when the rules judge the scope a token was granted (`scope_within`, `scope_at_most`,
/// `scope_excludes`): where introspection is available, those are judged on the scope it
/// reports.
pub fn judges_granted_scope(rules: &Rules) -> bool {
    let accept = match rules {
        Rules::Accept(a) => a,
        Rules::Either(e) => &e.accept,
        _ => return false,
    };
    accept.scope_within.is_some()
        || accept.scope_at_most.is_some()
        || !accept.scope_excludes.is_empty()
}

/// The probe's answer as the token really is: the response's `scope` replaced by the scope
/// introspection reports for its access token, and a note for the reason. Introspection wins:
/// it is the authorization server's own statement of what the token grants, and what resource
/// servers act on; the response's `scope` is the client's copy. `None` (judge the response as
/// it is) when introspection reports no scope for an active token; the note then says why,
/// when introspection was tried and failed. A response without `scope` is left so where the
/// rules require one (that is the response's own fault).
pub fn as_introspected(
    rules: &Rules,
    probe: &Outcome,
    introspected: &Result<Introspected, WhoamiError>,
) -> (Option<Outcome>, Option<String>) {
    let Outcome::Accepted { body } = probe else {
        return (None, None);
    };
    let a = match introspected {
        Ok(a) => a,
        Err(e) => {
            return (
                None,
                Some(format!(
                    "introspection could not say what the token carries ({e}); judged on the token response"
                )),
            );
        }
    };
    let Some(carried) = a.scope().filter(|_| a.active) else {
        return (None, None);
    };
    let said = body.get("scope").and_then(Value::as_str);
    // `scope_within` and `scope_required` need the response to name the scope.
    let required = match rules {
        Rules::Accept(r) => r.scope_required || r.scope_within.is_some(),
        Rules::Either(e) => e.accept.scope_required || e.accept.scope_within.is_some(),
        _ => false,
    };
    if said.is_none() && required {
        return (None, None);
    }
    let same = said.is_some_and(|s| same_scopes(s, &carried));
    let note = if same {
        format!("introspection confirms the token's scope `{carried}`")
    } else {
        format!(
            "judged on the scope the token carries per introspection, `{carried}`; the token response says {}",
            said.map_or_else(|| "none".to_string(), |s| format!("`{s}`"))
        )
    };
    let mut body = body.clone();
    body.insert("scope".into(), Value::String(carried));
    (Some(Outcome::Accepted { body }), Some(note))
}

/// The same set of space-separated scopes.
fn same_scopes(a: &str, b: &str) -> bool {
    let set = |s: &str| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
    };
    set(a) == set(b)
}

/// A judgement with a note appended to its reason.
pub fn with_note(j: Judgement, note: Option<String>) -> Judgement {
    match note {
        Some(n) => Judgement {
            reason: format!("{} ({n})", j.reason),
            ..j
        },
        None => j,
    }
}

/// What RS-12 observed: the introspection of the access token a valid ID-JAG obtained, and
/// of a token the server never issued.
#[derive(Debug, Clone, PartialEq)]
pub struct IntrospectionObservation {
    /// The introspection of the issued access token.
    pub issued: Result<Introspected, WhoamiError>,
    /// The introspection of a random token the server never issued.
    pub unknown: Result<Introspected, WhoamiError>,
    /// The token response's body.
    pub response: Map<String, Value>,
    /// The client the token was requested for (C1).
    pub client_id: String,
    /// The ID-JAG's `scope`, if any.
    pub jag_scope: Option<String>,
    /// The resource the token was granted for: the response's `resource`, else the
    /// ID-JAG's.
    pub resource: Option<String>,
}

/// RS-12 (RFC 7662 §2.2): the issued token is `active`, its `client_id` is C1, its `scope`
/// is the one the token response names and within the ID-JAG's, its `aud` names the granted
/// resource (WARN otherwise: RFC 8707 §2 restricts, it does not say how introspection names
/// it), and a token the server never issued is `active: false`. A 401/403 is SKIP (the
/// suite's client may not introspect); no answer is ERROR.
pub fn judge_introspection(level: Level, seen: &IntrospectionObservation) -> Judgement {
    let issued = match &seen.issued {
        Ok(a) => a,
        Err(e @ WhoamiError::NoAnswer(_)) => {
            return judged(Verdict::Error, format!("introspection: {e}"));
        }
        Err(e @ WhoamiError::IntrospectionRefused(_)) => {
            return judged(Verdict::Skip, format!("not applicable to this target: {e}"));
        }
        Err(e) => {
            return judged(
                level.violation(),
                format!("introspecting the access token just issued: {e}"),
            );
        }
    };
    let mut problems = Vec::new();
    if !issued.active {
        problems.push("the access token just issued is reported inactive".to_string());
    }
    if let Some(c) = issued.client_id()
        && issued.active
        && c != seen.client_id
    {
        problems.push(format!(
            "client_id is {c}, not {} to whom the token was issued",
            seen.client_id
        ));
    }
    if let Some(carried) = issued.scope().filter(|_| issued.active) {
        if let Some(allowed) = &seen.jag_scope {
            let allowed = super::acceptance::scopes(allowed);
            let extra: Vec<&str> = super::acceptance::scopes(&carried)
                .into_iter()
                .filter(|x| !allowed.contains(x))
                .collect();
            if !extra.is_empty() {
                problems.push(format!(
                    "the token carries scope {} beyond the ID-JAG's",
                    extra.join(" ")
                ));
            }
        }
        if let Some(said) = seen.response.get("scope").and_then(Value::as_str)
            && !same_scopes(said, &carried)
        {
            problems.push(format!(
                "the token carries scope `{carried}` but the token response says `{said}` (RFC 6749 §5.1: the scope of the access token)"
            ));
        }
    }
    let unknown = match &seen.unknown {
        Ok(a) if !a.active => None,
        Ok(_) => Some("a token this server never issued is reported active".to_string()),
        Err(e @ WhoamiError::NoAnswer(_)) => {
            return judged(
                Verdict::Error,
                format!("introspection of an unknown token: {e}"),
            );
        }
        Err(e) => Some(format!(
            "a token this server never issued is not answered active false ({e})"
        )),
    };
    problems.extend(unknown);
    let principal = issued
        .principal()
        .unwrap_or_else(|| "not given".to_string());
    let scope = issued.scope().unwrap_or_else(|| "not given".to_string());
    let aud = issued.aud();
    let figure = format!(
        "introspection: active, principal {principal}, client_id {}, scope {scope}, aud {}; a token it never issued: active false",
        issued.client_id().unwrap_or_else(|| "not given".into()),
        aud.as_ref()
            .map_or_else(|| "not given".to_string(), |a| a.join(" "))
    );
    if !problems.is_empty() {
        return judged(level.violation(), problems.join("; "));
    }
    if let (Some(aud), Some(resource)) = (&aud, &seen.resource)
        && !aud.contains(resource)
    {
        return judged(
            Verdict::Warn,
            format!(
                "the token's aud ({}) does not name the resource it was granted for, {resource} (RFC 8707 §2)",
                aud.join(" ")
            ),
        );
    }
    judged(Verdict::Pass, figure)
}
