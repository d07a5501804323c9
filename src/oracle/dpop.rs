//! Verdicts of the DPoP checks (RFC 9449; ID-JAG §9.8) beyond a token answer's rules: the
//! server nonce (RFC 9449 §8), a stale proof the server may date by its nonce (§4.3 step 11),
//! the `token_type` of an answer to a proof (§5), and a DPoP-bound token at the resource API
//! (§7).

use crate::protocol::{Exchange, RecordedResponse};
use crate::spec::{Level, Verdict};

use super::classify::{Outcome, summarize};
use super::{Judgement, judged};

/// Why a DPoP check does not apply to a target that declares no DPoP support.
pub const NO_DPOP: &str =
    "the target declares no DPoP support (`dpop: supported` in the target file)";

/// What the positive control of a DPoP check saw of the server's nonce (RFC 9449 §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NonceSeen {
    /// The first answer was `use_dpop_nonce`.
    pub asked: bool,
    /// That answer carried a `DPoP-Nonce` header.
    pub header: bool,
}

/// The value of a response header, case-insensitively.
pub fn header<'r>(resp: &'r RecordedResponse, name: &str) -> Option<&'r str> {
    resp.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether an answer asks for a DPoP nonce (`use_dpop_nonce`, RFC 9449 §8), and the nonce it
/// gives in `DPoP-Nonce` (at a resource, in a `WWW-Authenticate: DPoP` challenge, §9).
pub fn nonce_asked(ex: &Exchange) -> Option<Option<String>> {
    let resp = ex.response.as_ref()?;
    let token_endpoint_asks = matches!(
        super::classify_response(resp),
        Outcome::Rejected { ref error, .. } if error == "use_dpop_nonce"
    );
    let resource_asks = resp.status == 401
        && header(resp, "www-authenticate").is_some_and(|v| v.contains("use_dpop_nonce"));
    (token_endpoint_asks || resource_asks).then(|| header(resp, "dpop-nonce").map(str::to_string))
}

/// DPOP-07: a proof with a nonce the server never issued, after a positive control that was
/// asked for a nonce and accepted with it. `judged` is the refusal rule's judgement of the
/// probe. No nonce asked: SKIP (nonces are the server's choice); `use_dpop_nonce` without a
/// `DPoP-Nonce` header, from the control or the probe: the level's violation.
pub fn judge_nonce(
    level: Level,
    seen: NonceSeen,
    judged_probe: Judgement,
    probe: &Outcome,
    response: Option<&RecordedResponse>,
) -> Judgement {
    if seen.asked && !seen.header {
        return judged(
            level.violation(),
            "the RAS answered use_dpop_nonce without a DPoP-Nonce header (RFC 9449 §8: it MUST name the nonce)",
        );
    }
    if !seen.asked
        && judged_probe.verdict != Verdict::Skip
        && judged_probe.verdict != Verdict::Error
    {
        return judged(
            Verdict::Skip,
            "the RAS asked for no DPoP nonce (RFC 9449 §8: nonces are the server's choice), so there is no nonce to hold it to",
        );
    }
    if judged_probe.verdict == Verdict::Pass
        && matches!(probe, Outcome::Rejected { error, .. } if error == "use_dpop_nonce")
        && response.and_then(|r| header(r, "dpop-nonce")).is_none()
    {
        return judged(
            level.violation(),
            format!(
                "{}, but without a DPoP-Nonce header (RFC 9449 §8)",
                judged_probe.reason
            ),
        );
    }
    judged_probe
}

/// A proof issued an hour ago that carried the server's own nonce and was accepted: RFC 9449
/// §4.3 step 11 lets a server date a proof by its nonce instead of its `iat`, so the
/// acceptance is recorded (INFO), not a violation. Other judgements stand.
pub fn judge_dated_by_nonce(j: Judgement, probe: &Outcome, nonce_sent: bool) -> Judgement {
    if nonce_sent && matches!(probe, Outcome::Accepted { .. }) {
        return judged(
            Verdict::Info,
            "a DPoP proof issued an hour ago was accepted with the RAS's own nonce: RFC 9449 §4.3 step 11 lets it date proofs by its nonce",
        );
    }
    j
}

/// The `token_type` of an answer to a request with a DPoP proof (RFC 6749 §5.1, RFC 9449 §5;
/// RESP-02): `DPoP` (a bound token) or `Bearer` (an unbound one), case-insensitively. A token
/// said to be `Bearer` must work as one: `as_bearer` is the resource API's answer to it
/// presented so (`None`: the target declares no resource API, and only the value is judged).
pub fn judge_token_type(
    level: Level,
    body: &serde_json::Map<String, serde_json::Value>,
    as_bearer: Option<&Exchange>,
) -> Judgement {
    let token_type = body.get("token_type").and_then(|v| v.as_str());
    match token_type {
        Some(t) if t.eq_ignore_ascii_case("DPoP") => judged(
            Verdict::Pass,
            "token_type DPoP for a request with a DPoP proof",
        ),
        Some(t) if t.eq_ignore_ascii_case("Bearer") => match as_bearer {
            None => judged(
                Verdict::Pass,
                "token_type Bearer for a request with a DPoP proof (an unbound token; the target declares no resource API to see it used as one)",
            ),
            Some(ex) => match &ex.response {
                Some(r) if (200..300).contains(&r.status) => judged(
                    Verdict::Pass,
                    "token_type Bearer, and the resource API accepts the token as a Bearer token",
                ),
                Some(r) => judged(
                    level.violation(),
                    format!(
                        "token_type Bearer, but the resource API refuses the token as a Bearer token (HTTP {}): it is DPoP-bound, and RFC 9449 §5 says such a token's type is DPoP",
                        r.status
                    ),
                ),
                None => judged(
                    Verdict::Error,
                    format!(
                        "resource API: no answer: {}",
                        ex.error.clone().unwrap_or_default()
                    ),
                ),
            },
        },
        Some(t) => judged(
            level.violation(),
            format!("token_type is {t}, expected DPoP or Bearer"),
        ),
        None => judged(level.violation(), "no token_type in the response"),
    }
}

/// An accepted key-bound ID-JAG whose access token should be bound to the proof's key
/// (ID-JAG §9.8.1.2.1 step 5: SHOULD): a `token_type` other than `DPoP` is WARN (INFO under a
/// level that only records); `j` is the acceptance's judgement, which stands otherwise.
pub fn judge_bound_token(
    j: Judgement,
    body: &serde_json::Map<String, serde_json::Value>,
) -> Judgement {
    let token_type = body
        .get("token_type")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if j.verdict != Verdict::Pass || token_type.eq_ignore_ascii_case("DPoP") {
        return j;
    }
    judged(
        Verdict::Warn,
        format!(
            "accepted, but with token_type {token_type:?}: the RAS does not say that the access token is bound to the ID-JAG's DPoP key (ID-JAG §9.8.1.2.1 step 5: it SHOULD be; RFC 9449 §5: a bound token's type is DPoP)"
        ),
    )
}

/// A record (INFO) of an answer to a request with a DPoP proof: an acceptance names its
/// `token_type` (DPoP-bound or not, RFC 9449 §5). Other judgements stand.
pub fn with_token_type(j: Judgement, probe: &Outcome) -> Judgement {
    match probe {
        Outcome::Accepted { body } if j.verdict == Verdict::Info => {
            let t = body
                .get("token_type")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_else(|| "absent".into());
            Judgement {
                reason: format!("{}, token_type {t}", j.reason),
                ..j
            }
        }
        _ => j,
    }
}

/// RS-08 does not apply: the RAS answered the proof with a token that is not DPoP-bound
/// (its `token_type`), which the resource API may take as Bearer.
pub fn judge_not_bound(token_type: &str) -> Judgement {
    judged(
        Verdict::Skip,
        format!(
            "the RAS answered token_type {token_type}, not DPoP: the token is not DPoP-bound, so there is no binding to hold the resource API to"
        ),
    )
}

/// A DPoP-bound token at the resource API (RFC 9449 §7): `control` presents it correctly
/// (the DPoP scheme and a proof by its key with `ath`) and must be accepted, else SKIP;
/// `probe` presents it as `what` says and must be refused with 401 and a `DPoP` challenge.
/// An acceptance is the level's violation; another refusal, or a 401 without a DPoP
/// challenge, a WARN.
pub fn judge_bound_at_api(
    level: Level,
    control: &Exchange,
    probe: &Exchange,
    what: &str,
) -> Judgement {
    let Some(c) = &control.response else {
        return judged(
            Verdict::Error,
            format!(
                "resource API: the positive control got no answer: {}",
                control.error.clone().unwrap_or_default()
            ),
        );
    };
    if !(200..300).contains(&c.status) {
        return judged(
            Verdict::Skip,
            format!(
                "baseline not accepted: the resource API refused the DPoP-bound token presented with a valid proof (HTTP {})",
                c.status
            ),
        );
    }
    let Some(p) = &probe.response else {
        return judged(
            Verdict::Error,
            format!(
                "resource API: no answer: {}",
                probe.error.clone().unwrap_or_default()
            ),
        );
    };
    let warn = if level.violation() == Verdict::Info {
        Verdict::Info
    } else {
        Verdict::Warn
    };
    if (200..300).contains(&p.status) {
        return judged(
            level.violation(),
            format!(
                "{what} was accepted by the resource API (HTTP {})",
                p.status
            ),
        );
    }
    if p.status != 401 {
        return judged(
            warn,
            format!(
                "{what} was refused with HTTP {}, expected 401 (RFC 9449 §7.1)",
                p.status
            ),
        );
    }
    let dpop_challenge = p
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
        .any(|(_, v)| {
            v.split(',').any(|c| {
                c.trim()
                    .get(..4)
                    .is_some_and(|s| s.eq_ignore_ascii_case("dpop"))
            })
        });
    if !dpop_challenge {
        return judged(
            warn,
            format!(
                "{what} was refused with 401, but without a WWW-Authenticate: DPoP challenge (RFC 9449 §7.1)"
            ),
        );
    }
    judged(
        Verdict::Pass,
        format!("refused: 401 with a DPoP challenge ({what})"),
    )
}

/// A DPoP check's token request whose answer left nothing for its next step (the token for
/// the resource API): SKIP with the answer, ERROR without one.
pub fn judge_token_not_obtained(what: &str, probe: &Outcome) -> Judgement {
    match probe {
        Outcome::NoAnswer { reason } => judged(Verdict::Error, format!("no answer: {reason}")),
        other => judged(
            Verdict::Skip,
            format!(
                "baseline not accepted: {what} was refused ({}), so there is no DPoP-bound token to present",
                summarize(other)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            role: "api".into(),
            request: crate::protocol::RecordedRequest {
                method: "GET".into(),
                url: "https://rs.example/api".into(),
                headers: vec![],
                body: String::new(),
            },
            response: Some(RecordedResponse::from_bytes(
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                    .collect(),
                b"",
            )),
            error: None,
            elapsed_ms: 0.0,
            curl: String::new(),
        }
    }

    /// No nonce asked is SKIP; `use_dpop_nonce` without `DPoP-Nonce` is the violation.
    #[test]
    fn the_nonce_rules() {
        let refused = Outcome::Rejected {
            status: 400,
            error: "use_dpop_nonce".into(),
            description: None,
        };
        let pass = judged(Verdict::Pass, "rejected");
        let none = NonceSeen::default();
        assert_eq!(
            judge_nonce(Level::Must, none, pass.clone(), &refused, None).verdict,
            Verdict::Skip
        );
        let no_header = NonceSeen {
            asked: true,
            header: false,
        };
        assert_eq!(
            judge_nonce(Level::Must, no_header, pass.clone(), &refused, None).verdict,
            Verdict::Fail
        );
        let seen = NonceSeen {
            asked: true,
            header: true,
        };
        let with =
            RecordedResponse::from_bytes(400, vec![("DPoP-Nonce".into(), b"n".to_vec())], b"");
        assert_eq!(
            judge_nonce(Level::Must, seen, pass.clone(), &refused, Some(&with)).verdict,
            Verdict::Pass
        );
        let without = RecordedResponse::from_bytes(400, vec![], b"");
        assert_eq!(
            judge_nonce(Level::Must, seen, pass, &refused, Some(&without)).verdict,
            Verdict::Fail
        );
    }

    /// A bound token taken as Bearer is the violation; a 401 without a DPoP challenge, or
    /// another refusal, a WARN; a refused control SKIP.
    #[test]
    fn a_bound_token_at_the_resource_api() {
        let ok = answer(200, &[]);
        let dpop_401 = answer(401, &[("www-authenticate", "DPoP error=\"invalid_token\"")]);
        let bearer_401 = answer(
            401,
            &[("www-authenticate", "Bearer error=\"invalid_token\"")],
        );
        let v = |c: &Exchange, p: &Exchange| judge_bound_at_api(Level::Must, c, p, "x").verdict;
        assert_eq!(v(&ok, &dpop_401), Verdict::Pass);
        assert_eq!(v(&ok, &ok), Verdict::Fail);
        assert_eq!(v(&ok, &bearer_401), Verdict::Warn);
        assert_eq!(v(&ok, &answer(403, &[])), Verdict::Warn);
        assert_eq!(v(&dpop_401, &ok), Verdict::Skip);
    }

    /// `DPoP` passes; `Bearer` passes when the API takes it as one, fails when it refuses it;
    /// anything else fails.
    #[test]
    fn the_token_type_of_an_answer_to_a_proof() {
        let body = |t: &str| {
            let mut m = serde_json::Map::new();
            m.insert("token_type".into(), serde_json::json!(t));
            m
        };
        let v =
            |t: &str, api: Option<&Exchange>| judge_token_type(Level::Must, &body(t), api).verdict;
        assert_eq!(v("dpop", None), Verdict::Pass);
        assert_eq!(v("Bearer", None), Verdict::Pass);
        assert_eq!(v("Bearer", Some(&answer(200, &[]))), Verdict::Pass);
        assert_eq!(v("Bearer", Some(&answer(401, &[]))), Verdict::Fail);
        assert_eq!(v("N_A", None), Verdict::Fail);
    }

    /// A stale proof accepted with the server's nonce is recorded; without one it stands.
    #[test]
    fn a_stale_proof_dated_by_the_nonce() {
        let accepted = Outcome::Accepted {
            body: Default::default(),
        };
        let fail = judged(Verdict::Fail, "accepted");
        assert_eq!(
            judge_dated_by_nonce(fail.clone(), &accepted, true).verdict,
            Verdict::Info
        );
        assert_eq!(
            judge_dated_by_nonce(fail, &accepted, false).verdict,
            Verdict::Fail
        );
    }
}
