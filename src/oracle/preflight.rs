//! The preflight's judgement: from what the suite saw when it sent one valid ID-JAG before any
//! check (the answer, and whether the RAS fetched the trusted issuer's JWKS meanwhile), decide
//! whether the run can judge the server at all, and if not, name the setup mistake.
//!
//! A broken setup must never read as non-conformance: an endpoint that does not answer, an
//! answer that is no token response, a RAS that does not trust the fake IdP, wrong client
//! credentials and a rate limit all stop the run (exit 3) with one diagnosis. Only a valid
//! ID-JAG refused by a server that is reached and configured (it fetched the JWKS) or a 5xx
//! goes on to the checks, where BASE-01 FAILs. Pure: no runtime, no client.

use super::{Judgement, Outcome, judged, summarize};
use crate::protocol::Exchange;
use crate::spec::Verdict;

/// What the preflight observed.
#[derive(Debug, Clone)]
pub struct PreflightObservation<'a> {
    /// The valid ID-JAG's exchange with the token endpoint.
    pub exchange: &'a Exchange,
    /// How the oracle classed its answer.
    pub outcome: &'a Outcome,
    /// The RAS fetched the trusted issuer's JWKS while the request was answered.
    pub fetched_jwks: bool,
    /// The RAS contacted the trusted issuer at all (discovery, metadata or JWKS).
    pub contacted_issuer: bool,
    /// The trusted issuer's identifier, as the RAS must be configured to trust it.
    pub trusted_issuer: &'a str,
    /// Where the trusted issuer publishes its JWKS.
    pub jwks_url: &'a str,
    /// C1's client id, as written in the target file.
    pub client_id: &'a str,
    /// The target's RAS issuer (the valid ID-JAG's `aud`).
    pub ras_issuer: &'a str,
    /// The valid ID-JAG's `sub`.
    pub subject: &'a str,
}

/// The preflight's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// The server took the valid ID-JAG: judge it.
    Accepted,
    /// The server is reached and configured but did not take the valid ID-JAG (a refusal
    /// after it fetched the JWKS, or a 5xx): the checks run, BASE-01 FAILs, and its reason
    /// gets these likely causes.
    Refused {
        /// The likely causes, one sentence.
        causes: String,
    },
    /// The run cannot judge the server: stop before any check (exit 3) with this diagnosis.
    Stop {
        /// What is wrong with the setup and what to do, one paragraph.
        diagnosis: String,
    },
}

/// The ID of the preflight's result when it stops the run.
pub const PREFLIGHT_ID: &str = "PREFLIGHT";

/// The reason of every check that did not run because the preflight stopped the run.
pub const NOT_RUN: &str = "not run: preflight failed";

/// Decides what the preflight's observation means for the run.
pub fn diagnose(o: &PreflightObservation<'_>) -> Preflight {
    let answer = summarize(o.outcome);
    match o.outcome {
        Outcome::Accepted { .. } => Preflight::Accepted,
        Outcome::NoAnswer { reason } if crate::pace::is_rate_limited(reason) => Preflight::Stop {
            diagnosis: format!(
                "the token endpoint kept answering 429 to the valid ID-JAG ({reason}); \
                 set `max_rate` in the target file (or --max-rate) to the rate the RAS allows"
            ),
        },
        // An answer began but broke off or is malformed (a head over the size limit, a body
        // over the cap, stalled or cut short): it is no token response, and the server is there.
        Outcome::NoAnswer { reason }
            if reason.starts_with("HTTP ") || reason.starts_with("the response head") =>
        {
            Preflight::Stop {
                diagnosis: format!(
                    "no token response from the token endpoint {}: {reason}",
                    o.exchange.request.url
                ),
            }
        }
        Outcome::NoAnswer { reason } => Preflight::Stop {
            diagnosis: format!(
                "no answer from the token endpoint {}: {reason}; is the RAS running there?",
                o.exchange.request.url
            ),
        },
        Outcome::Rejected { error, .. } if error == "invalid_client" => Preflight::Stop {
            diagnosis: format!(
                "the RAS refused the client credentials ({answer}): client `{}` and its secret \
                 in the target file (`client.id`, `client.secret`) do not match the RAS's \
                 registration, or the client may not authenticate with `client.auth`",
                o.client_id
            ),
        },
        Outcome::Rejected { .. } if !o.fetched_jwks => {
            let seen = if o.contacted_issuer {
                "contacted the issuer but never fetched its JWKS"
            } else {
                "never contacted the fake IdP"
            };
            Preflight::Stop {
                diagnosis: format!(
                    "the RAS refused the valid ID-JAG ({answer}) and {seen} (`{}`): configure \
                     it to trust issuer `{}` with its JWKS at `{}` (if it holds this issuer's \
                     keys from an earlier run, the refusal's own words above say why)",
                    o.jwks_url, o.trusted_issuer, o.jwks_url
                ),
            }
        }
        Outcome::Rejected { .. } => Preflight::Refused {
            causes: refused_causes(o),
        },
        Outcome::Other { status, .. } if (500..=599).contains(status) => Preflight::Refused {
            causes: refused_causes(o),
        },
        Outcome::Other { status, why } => Preflight::Stop {
            diagnosis: not_a_token_response(o, *status, why),
        },
    }
}

/// Why a reached, configured server may refuse the valid ID-JAG.
fn refused_causes(o: &PreflightObservation<'_>) -> String {
    format!(
        "likely causes: the `issuer` in the target file (`{}`, the ID-JAG's aud) is not the \
         RAS's own issuer identifier; the subject `{}` is unknown to the RAS under issuer `{}`; \
         or client `{}` may not use the jwt-bearer grant",
        o.ras_issuer, o.subject, o.trusted_issuer, o.client_id
    )
}

/// Names an answer that is no token response: what came back, in the classifier's words
/// (`why`), and what to check.
fn not_a_token_response(o: &PreflightObservation<'_>, status: u16, why: &str) -> String {
    let url = &o.exchange.request.url;
    if (300..=399).contains(&status) {
        return format!(
            "the token endpoint {url} answered {why} (credentials would travel on): set \
             `token_endpoint` to the final URL"
        );
    }
    if status == 401 || status == 403 {
        return format!(
            "no token response from the token endpoint {url}: {why}; check client `{}`'s id, \
             secret and `client.auth` in the target file, and that the client may use the \
             jwt-bearer grant",
            o.client_id
        );
    }
    if why.contains("the body is not valid UTF-8") {
        return format!(
            "no token response from the token endpoint {url}: {why} (a token response is JSON, \
             which is UTF-8: RFC 8259 §8.1)"
        );
    }
    if why.ends_with('?') {
        return format!("no token response from the token endpoint {url}: {why}");
    }
    format!("no token response from the token endpoint {url}: {why}; is `token_endpoint` right?")
}

/// The judgement of the run's one result when it stopped at the preflight: ERROR, the
/// diagnosis its reason.
pub fn judge_preflight_stop(diagnosis: &str) -> Judgement {
    judged(Verdict::Error, format!("preflight failed: {diagnosis}"))
}

/// The judgement of every check when the run stopped at the preflight: SKIP, not run.
pub fn judge_not_run_preflight() -> Judgement {
    judged(Verdict::Skip, NOT_RUN)
}

/// The judgement of a check that needs an accepted ID-JAG when the preflight's valid one was
/// refused by a reached, configured server: SKIP, naming the refusal.
pub fn judge_refused_at_preflight(exchange: Option<&Exchange>) -> Judgement {
    let refusal = exchange
        .map(|e| summarize(&super::classify(e)))
        .unwrap_or_else(|| "no exchange".into());
    judged(
        Verdict::Skip,
        format!("not run: the valid ID-JAG was refused at the preflight ({refusal})"),
    )
}

/// BASE-01's reason after a refused preflight: when it FAILed, the likely causes follow.
pub fn with_preflight_causes(verdict: Verdict, reason: &str, causes: &str) -> String {
    if verdict == Verdict::Fail {
        format!("{reason}; {causes}")
    } else {
        reason.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::classify;
    use crate::protocol::{RecordedRequest, RecordedResponse};

    fn exchange(status: u16, headers: &[(&str, &str)], body: &str) -> Exchange {
        Exchange {
            role: "preflight".into(),
            request: RecordedRequest {
                method: "POST".into(),
                url: "https://ras.example/token".into(),
                headers: vec![],
                body: String::new(),
            },
            response: Some(RecordedResponse::text(
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body,
            )),
            error: None,
            elapsed_ms: 1.0,
            curl: String::new(),
        }
    }

    fn decide(ex: &Exchange, fetched: bool) -> Preflight {
        let outcome = classify(ex);
        diagnose(&PreflightObservation {
            exchange: ex,
            outcome: &outcome,
            fetched_jwks: fetched,
            contacted_issuer: fetched,
            trusted_issuer: "http://127.0.0.1:7400/idp-a",
            jwks_url: "http://127.0.0.1:7400/idp-a/jwks",
            client_id: "agent0",
            ras_issuer: "https://ras.example/",
            subject: "bob",
        })
    }

    fn stop(p: Preflight) -> String {
        match p {
            Preflight::Stop { diagnosis } => diagnosis,
            other => panic!("expected a stop, got {other:?}"),
        }
    }

    #[test]
    fn a_token_is_accepted() {
        let ex = exchange(200, &[], r#"{"access_token":"t","token_type":"Bearer"}"#);
        assert_eq!(decide(&ex, true), Preflight::Accepted);
    }

    #[test]
    fn a_refusal_without_a_jwks_fetch_is_a_trust_problem() {
        let ex = exchange(400, &[], r#"{"error":"invalid_grant"}"#);
        let d = stop(decide(&ex, false));
        assert!(d.contains("never contacted the fake IdP"), "{d}");
        assert!(
            d.contains("trust issuer `http://127.0.0.1:7400/idp-a`"),
            "{d}"
        );
        assert!(d.contains("400 invalid_grant"), "{d}");
    }

    #[test]
    fn a_refusal_after_the_fetch_goes_on_with_causes() {
        let ex = exchange(400, &[], r#"{"error":"invalid_grant"}"#);
        match decide(&ex, true) {
            Preflight::Refused { causes } => {
                assert!(causes.contains("subject `bob`"), "{causes}")
            }
            other => panic!("{other:?}"),
        }
        let ex = exchange(500, &[], "oops");
        assert!(matches!(decide(&ex, true), Preflight::Refused { .. }));
    }

    #[test]
    fn invalid_client_names_the_credentials() {
        let ex = exchange(401, &[], r#"{"error":"invalid_client"}"#);
        let d = stop(decide(&ex, true));
        assert!(d.contains("client `agent0`"), "{d}");
    }

    #[test]
    fn no_token_response_is_named() {
        let html = exchange(200, &[("content-type", "text/html")], "<html>login</html>");
        assert!(stop(decide(&html, true)).contains("text/html: is this the token endpoint?"));
        let redirect = exchange(302, &[("location", "https://login.example/")], "");
        let d = stop(decide(&redirect, false));
        assert!(d.contains("302 to https://login.example/"), "{d}");
        let bad = exchange(
            200,
            &[("content-type", "application/json")],
            "{\"access_token\": ",
        );
        assert!(stop(decide(&bad, true)).contains("no token response"));
        let not_found = exchange(404, &[("content-type", "text/plain")], "not found");
        assert!(stop(decide(&not_found, false)).contains("is `token_endpoint` right?"));
    }

    #[test]
    fn a_control_whose_body_is_not_utf8_stops_naming_the_byte() {
        let mut ex = exchange(200, &[], "");
        ex.response = Some(RecordedResponse::from_bytes(
            200,
            vec![("content-type".into(), b"application/json".to_vec())],
            b"{\"access_token\":\"\xfftok\"}",
        ));
        let d = stop(decide(&ex, true));
        assert!(
            d.starts_with("no token response from the token endpoint https://ras.example/token: 200 but the body is not valid UTF-8 at byte 17"),
            "{d}"
        );
        assert!(d.contains("RFC 8259 §8.1"), "{d}");
    }

    #[test]
    fn an_answer_that_broke_off_is_no_token_response() {
        let mut ex = exchange(200, &[], "");
        ex.response = None;
        ex.error = Some("HTTP 200, then the response body is over the 1024 KiB cap".into());
        let d = stop(decide(&ex, true));
        assert!(
            d.starts_with("no token response from the token endpoint"),
            "{d}"
        );
        assert!(!d.contains("is the RAS running there?"), "{d}");
    }

    #[test]
    fn no_answer_and_rate_limits_stop() {
        let mut ex = exchange(200, &[], "");
        ex.response = None;
        ex.error = Some("connection failed: refused".into());
        assert!(stop(decide(&ex, false)).contains("no answer from the token endpoint"));
        ex.error = Some("rate-limited: 429 on 4 tries (no Retry-After)".into());
        assert!(stop(decide(&ex, false)).contains("set `max_rate`"));
    }
}
