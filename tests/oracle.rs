//! The judge, pure: classification of recorded answers, differential negatives, positive
//! checks against their rules, and the one-line summaries. No network.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use xaa_conform::oracle::{
    AcceptRules, Expect, OneOrMany, Outcome, RejectSpec, Rules, WhoamiError, classify,
    classify_response, judge_negative, judge_positive, summarize,
};
use xaa_conform::report::model::{Exchange, RecordedRequest, RecordedResponse};
use xaa_conform::spec::{Level, Verdict};

const WHAT: &str = "aud https://other-ras.example/";
const TOKEN_BODY: &str = r#"{"access_token":"x","token_type":"Bearer"}"#;

fn resp(status: u16, body: &str) -> RecordedResponse {
    resp_h(status, &[("content-type", "application/json")], body)
}

fn resp_h(status: u16, headers: &[(&str, &str)], body: &str) -> RecordedResponse {
    RecordedResponse::text(
        status,
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body,
    )
}

/// A response as the client records it from raw bytes.
fn resp_bytes(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> RecordedResponse {
    RecordedResponse::from_bytes(
        status,
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        body,
    )
}

fn exchange(response: Option<RecordedResponse>, error: Option<&str>) -> Exchange {
    Exchange {
        role: "probe".to_owned(),
        request: RecordedRequest {
            method: "POST".to_owned(),
            url: "https://ras.example/token".to_owned(),
            headers: vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer".to_owned(),
        },
        response,
        error: error.map(str::to_owned),
        elapsed_ms: 1.0,
        curl: "curl -sS -X POST https://ras.example/token".to_owned(),
    }
}

fn outcome(status: u16, body: &str) -> Outcome {
    classify_response(&resp(status, body))
}

fn accepted() -> Outcome {
    outcome(200, TOKEN_BODY)
}

fn rejected(status: u16, error: &str) -> Outcome {
    Outcome::Rejected {
        status,
        error: error.to_owned(),
        description: None,
    }
}

fn no_answer(reason: &str) -> Outcome {
    Outcome::NoAnswer {
        reason: reason.to_owned(),
    }
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn other_why(o: &Outcome) -> &str {
    match o {
        Outcome::Other { why, .. } => why,
        other => panic!("expected Other, got {other:?}"),
    }
}

// ---------------------------------------------------------------- classify

#[test]
fn classify_200_with_token_is_accepted() {
    let o = classify(&exchange(Some(resp(200, TOKEN_BODY)), None));
    let Outcome::Accepted { body } = o else {
        panic!("expected Accepted, got {o:?}");
    };
    assert_eq!(body.get("access_token"), Some(&json!("x")));
    assert_eq!(body.get("token_type"), Some(&json!("Bearer")));
}

#[test]
fn classify_200_with_empty_access_token_is_other() {
    let o = outcome(200, r#"{"access_token":"","token_type":"Bearer"}"#);
    assert!(matches!(o, Outcome::Other { status: 200, .. }), "{o:?}");
    assert_eq!(other_why(&o), "200 but access_token is empty");
}

#[test]
fn classify_200_with_numeric_access_token_is_other() {
    let o = outcome(200, r#"{"access_token":12,"token_type":"Bearer"}"#);
    assert!(matches!(o, Outcome::Other { status: 200, .. }), "{o:?}");
    let why = other_why(&o);
    assert!(
        why.starts_with("200 but access_token is not a string"),
        "{why}"
    );
    assert!(why.contains("12"), "{why}");
}

#[test]
fn classify_200_without_access_token_is_other() {
    let o = outcome(200, r#"{"token_type":"Bearer"}"#);
    assert!(matches!(o, Outcome::Other { status: 200, .. }), "{o:?}");
    assert_eq!(other_why(&o), "200 without an access_token");
}

#[test]
fn classify_200_with_non_json_body_is_other() {
    for (body, what) in [
        (
            "access_token=x",
            "(invalid JSON: expected value at line 1 column 1)",
        ),
        ("", "(an empty body)"),
        ("[1,2]", "(JSON array)"),
        (r#""access_token""#, "(JSON string)"),
    ] {
        let o = outcome(200, body);
        assert!(matches!(o, Outcome::Other { status: 200, .. }), "{o:?}");
        assert_eq!(
            other_why(&o),
            format!("200 but the body is not a JSON object {what}")
        );
    }
}

#[test]
fn classify_200_with_invalid_json_gives_the_parsers_line_and_column() {
    let o = outcome(200, "{\"access_token\": ");
    assert_eq!(
        other_why(&o),
        "200 but the body is not a JSON object (invalid JSON: EOF while parsing a value at line 1 column 17)"
    );
    let o = outcome(200, "{\n  \"access_token\": \"t\",\n  oops\n}");
    assert!(other_why(&o).contains("at line 3 column 3"), "{o:?}");
    // A content type that is not JSON's is named.
    let o = classify_response(&resp_h(200, &[("content-type", "text/plain")], "hello"));
    assert!(
        other_why(&o).contains("(text/plain; invalid JSON: expected value at line 1 column 1)"),
        "{o:?}"
    );
}

#[test]
fn classify_200_html_asks_whether_this_is_the_token_endpoint() {
    let o = classify_response(&resp_h(
        200,
        &[("content-type", "text/html; charset=utf-8")],
        "<html><body>Sign in</body></html>",
    ));
    assert_eq!(
        other_why(&o),
        "200 but the endpoint answered text/html: is this the token endpoint?"
    );
    // By its first characters when the content type does not say.
    let o = classify_response(&resp_h(200, &[], "\n<!DOCTYPE html><html></html>"));
    assert!(
        other_why(&o).ends_with("an HTML page: is this the token endpoint?"),
        "{o:?}"
    );
    // A 4xx HTML page is named too.
    let o = classify_response(&resp_h(404, &[("content-type", "text/html")], "<p>no</p>"));
    assert_eq!(
        other_why(&o),
        "404 without an RFC 6749 §5.2 JSON error body (text/html)"
    );
}

#[test]
fn classify_a_body_that_is_not_utf8_is_other_naming_the_byte_offset() {
    // The token inside is not taken: shown text is no answer, whatever it holds.
    let body = b"{\"access_token\":\"tok\xff\",\"token_type\":\"Bearer\"}";
    let r = resp_bytes(200, &[("content-type", b"application/json")], body);
    assert_eq!(r.body_not_utf8_at, Some(20));
    let o = classify_response(&r);
    assert_eq!(
        o,
        Outcome::Other {
            status: 200,
            why: "200 but the body is not valid UTF-8 at byte 20".to_owned(),
        }
    );
    // A §5.2 error body that is not UTF-8 is no rejection either.
    let r = resp_bytes(400, &[], b"{\"error\":\"invalid_grant\"}\xc3");
    assert_eq!(
        other_why(&classify_response(&r)),
        "400 but the body is not valid UTF-8 at byte 25"
    );
    // Lossy decoding would have made a token of it: the shown body is escaped instead.
    assert!(r.body.ends_with(r"}\xc3"), "{}", r.body);
    // The judge names it in the check's reason: no token was issued, so the negative check's
    // subject (the refusal) is met; the form (a 200 where a refusal is due) is ERR-01's.
    let probe = classify_response(&resp_bytes(200, &[], body));
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &probe,
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert!(
        j.reason.contains("the body is not valid UTF-8 at byte 20"),
        "{j:?}"
    );
}

#[test]
fn classify_a_header_that_is_not_utf8_is_recorded_not_refused() {
    let r = resp_bytes(
        200,
        &[
            ("content-type", b"application/json"),
            ("x-note", b"caf\xe9"),
        ],
        TOKEN_BODY.as_bytes(),
    );
    assert_eq!(r.headers[1].1, r"caf\xe9");
    assert_eq!(r.headers_not_utf8, vec![("x-note".to_string(), 3)]);
    // RFC 9110 §5.5: such bytes are opaque data; the token response is still one.
    assert!(
        matches!(classify_response(&r), Outcome::Accepted { .. }),
        "{:?}",
        classify_response(&r)
    );
}

#[test]
fn classify_a_redirect_names_status_and_location() {
    let o = classify_response(&resp_h(307, &[("location", "/elsewhere")], ""));
    assert_eq!(
        other_why(&o),
        "a redirect (307 to /elsewhere), never followed"
    );
    let o = classify_response(&resp_h(301, &[], ""));
    assert_eq!(
        other_why(&o),
        "a redirect (301 without a Location), never followed"
    );
}

#[test]
fn classify_4xx_without_an_error_body_says_what_came_back() {
    for (body, what) in [
        ("", "(an empty body)"),
        (
            r#"{"message":"no"}"#,
            "(JSON object without an `error` member)",
        ),
        (
            "{",
            "(invalid JSON: EOF while parsing an object at line 1 column 1)",
        ),
    ] {
        let o = outcome(401, body);
        assert_eq!(
            other_why(&o),
            format!("401 without an RFC 6749 §5.2 JSON error body {what}"),
            "{body}"
        );
    }
}

#[test]
fn classify_400_error_body_is_rejected_with_code_and_description() {
    let o = outcome(400, r#"{"error":"invalid_grant","error_description":"d"}"#);
    assert_eq!(
        o,
        Outcome::Rejected {
            status: 400,
            error: "invalid_grant".to_owned(),
            description: Some("d".to_owned()),
        }
    );
}

#[test]
fn classify_400_without_description_has_none() {
    let o = outcome(400, r#"{"error":"invalid_grant"}"#);
    assert_eq!(o, rejected(400, "invalid_grant"));
}

#[test]
fn classify_401_invalid_client_is_rejected() {
    let o = outcome(401, r#"{"error":"invalid_client"}"#);
    assert_eq!(o, rejected(401, "invalid_client"));
}

#[test]
fn classify_400_html_body_is_other() {
    let o = outcome(400, "<html><body>Bad Request</body></html>");
    assert!(matches!(o, Outcome::Other { status: 400, .. }), "{o:?}");
    let why = other_why(&o);
    assert!(why.starts_with("400 without"), "{why}");
    assert!(why.contains("error body"), "{why}");
}

#[test]
fn classify_400_error_with_forbidden_chars_is_other() {
    for body in [
        r#"{"error":"a\"b"}"#,
        r#"{"error":"a\\b"}"#,
        r#"{"error":"invalid_grånt"}"#,
        r#"{"error":"tab\there"}"#,
        r#"{"error":""}"#,
        r#"{"error":12}"#,
    ] {
        let o = outcome(400, body);
        assert!(
            matches!(o, Outcome::Other { status: 400, .. }),
            "{body}: {o:?}"
        );
        let why = other_why(&o);
        assert!(why.contains("malformed error member"), "{body}: {why}");
    }
}

#[test]
fn classify_400_error_allows_the_whole_rfc_charset() {
    // %x20-21 / %x23-5B / %x5D-7E: space, `!`, `#`..`[`, `]`..`~` are all allowed.
    let code = " !#[]~";
    let body = json!({ "error": code }).to_string();
    assert_eq!(outcome(400, &body), rejected(400, code));
}

#[test]
fn classify_500_is_other_server_error() {
    let o = outcome(500, r#"{"error":"server_error"}"#);
    assert_eq!(
        o,
        Outcome::Other {
            status: 500,
            why: "500 server error".to_owned(),
        }
    );
}

#[test]
fn classify_302_is_other() {
    let o = classify_response(&resp_h(
        302,
        &[("location", "https://ras.example/login")],
        "",
    ));
    assert!(matches!(o, Outcome::Other { status: 302, .. }), "{o:?}");
    assert!(other_why(&o).contains("302"), "{o:?}");
}

#[test]
fn classify_without_response_is_no_answer() {
    let o = classify(&exchange(None, Some("connection failed: refused")));
    assert_eq!(o, no_answer("connection failed: refused"));
}

#[test]
fn classify_without_response_or_error_is_still_no_answer() {
    let o = classify(&exchange(None, None));
    assert!(matches!(o, Outcome::NoAnswer { .. }), "{o:?}");
}

// ---------------------------------------------------------------- judge_negative

#[test]
fn negative_rejected_with_expected_code_passes() {
    let probe = outcome(
        400,
        r#"{"error":"invalid_grant","error_description":"aud"}"#,
    );
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &probe,
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert!(j.reason.starts_with("rejected: 400 invalid_grant"), "{j:?}");
}

#[test]
fn negative_accepted_probe_at_must_fails() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &accepted(),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Fail);
    assert_eq!(
        j.reason,
        "aud https://other-ras.example/ was accepted: 200 with an access token"
    );
}

#[test]
fn negative_accepted_probe_verdict_follows_level() {
    for (level, verdict) in [
        (Level::Should, Verdict::Warn),
        (Level::May, Verdict::Info),
        (Level::Info, Verdict::Info),
    ] {
        let j = judge_negative(
            level,
            &codes(&["invalid_grant"]),
            &accepted(),
            &accepted(),
            WHAT,
        );
        assert_eq!(j.verdict, verdict, "{level}: {j:?}");
        assert_eq!(
            j.reason,
            format!("{WHAT} was accepted: 200 with an access token")
        );
    }
}

#[test]
fn negative_rejected_with_another_code_passes_and_leaves_the_code_to_err_04() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &rejected(400, "invalid_request"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert!(j.reason.contains("invalid_request"), "{j:?}");
    assert!(j.reason.contains("ERR-04"), "{j:?}");
}

#[test]
fn negative_rejected_with_another_code_than_its_subject_warns_naming_both() {
    // invalid_client is the subject of a client-authentication check: it judges it itself.
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_client"]),
        &accepted(),
        &rejected(400, "invalid_request"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Warn, "{j:?}");
    assert!(j.reason.contains("invalid_request"), "{j:?}");
    assert!(j.reason.contains("invalid_client"), "{j:?}");
    assert!(j.reason.starts_with(WHAT), "{j:?}");
}

#[test]
fn negative_rejected_with_another_code_at_may_is_info() {
    let j = judge_negative(
        Level::May,
        &codes(&["invalid_scope"]),
        &accepted(),
        &rejected(400, "invalid_request"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Info, "{j:?}");
}

#[test]
fn negative_expected_code_with_another_status_passes_the_status_is_err_01s() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &rejected(403, "invalid_grant"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert!(j.reason.contains("403"), "{j:?}");
    assert!(j.reason.contains("invalid_grant"), "{j:?}");
}

#[test]
fn negative_invalid_client_with_401_passes() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_client"]),
        &accepted(),
        &outcome(401, r#"{"error":"invalid_client"}"#),
        "client_secret wrong",
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert!(
        j.reason.starts_with("rejected: 401 invalid_client"),
        "{j:?}"
    );
}

#[test]
fn negative_invalid_client_with_400_passes() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_client"]),
        &accepted(),
        &rejected(400, "invalid_client"),
        "client_secret wrong",
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn negative_invalid_grant_with_401_passes_the_status_is_err_01s() {
    // Only invalid_client may come with 401, but the status is judged once for the run, by
    // ERR-01 (oracle::findings); the check judges the refusal.
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &rejected(401, "invalid_grant"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn negative_probe_server_error_fails_at_must() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &outcome(500, "oops"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("500 server error"), "{j:?}");
    assert!(j.reason.starts_with(WHAT), "{j:?}");
}

#[test]
fn negative_probe_server_error_at_should_warns() {
    let j = judge_negative(
        Level::Should,
        &codes(&["invalid_grant"]),
        &accepted(),
        &outcome(500, "oops"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Warn, "{j:?}");
}

#[test]
fn negative_probe_no_answer_is_error() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &accepted(),
        &no_answer("timeout after 10s"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Error, "{j:?}");
    assert!(j.reason.contains("timeout after 10s"), "{j:?}");
}

#[test]
fn negative_control_rejected_skips() {
    let control = outcome(
        400,
        r#"{"error":"invalid_grant","error_description":"nope"}"#,
    );
    for probe in [
        accepted(),
        rejected(400, "invalid_grant"),
        outcome(500, ""),
        no_answer("reset"),
    ] {
        let j = judge_negative(
            Level::Must,
            &codes(&["invalid_grant"]),
            &control,
            &probe,
            WHAT,
        );
        assert_eq!(j.verdict, Verdict::Skip, "{probe:?}: {j:?}");
        assert!(
            j.reason
                .starts_with("baseline not accepted: 400 invalid_grant"),
            "{j:?}"
        );
    }
}

#[test]
fn negative_control_server_error_skips() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &outcome(500, ""),
        &rejected(400, "invalid_grant"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Skip, "{j:?}");
    assert!(j.reason.starts_with("baseline not accepted: "), "{j:?}");
    assert!(j.reason.contains("500 server error"), "{j:?}");
}

#[test]
fn negative_control_200_without_token_skips() {
    let j = judge_negative(
        Level::Must,
        &codes(&["invalid_grant"]),
        &outcome(200, r#"{"token_type":"Bearer"}"#),
        &rejected(400, "invalid_grant"),
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Skip, "{j:?}");
}

#[test]
fn negative_control_no_answer_is_error_whatever_the_probe() {
    for probe in [
        accepted(),
        rejected(400, "invalid_grant"),
        outcome(500, ""),
        no_answer("reset"),
    ] {
        let j = judge_negative(
            Level::Must,
            &codes(&["invalid_grant"]),
            &no_answer("connection failed: refused"),
            &probe,
            WHAT,
        );
        assert_eq!(j.verdict, Verdict::Error, "{probe:?}: {j:?}");
        assert!(j.reason.contains("connection failed: refused"), "{j:?}");
    }
}

#[test]
fn negative_never_pass_or_fail_without_accepted_control() {
    let controls = [
        rejected(400, "invalid_grant"),
        rejected(401, "invalid_client"),
        outcome(500, ""),
        outcome(302, ""),
        outcome(200, r#"{"access_token":""}"#),
        no_answer("timeout"),
    ];
    let probes = [
        accepted(),
        rejected(400, "invalid_grant"),
        rejected(400, "invalid_request"),
        outcome(500, ""),
        no_answer("timeout"),
    ];
    for level in [Level::Must, Level::Should, Level::May, Level::Info] {
        for c in &controls {
            for p in &probes {
                let j = judge_negative(level, &codes(&["invalid_grant"]), c, p, WHAT);
                assert!(
                    matches!(j.verdict, Verdict::Skip | Verdict::Error),
                    "{level} control {c:?} probe {p:?}: {j:?}"
                );
            }
        }
    }
}

#[test]
fn negative_expected_list_accepts_either_code() {
    let expected = codes(&["invalid_grant", "invalid_target"]);
    for code in ["invalid_grant", "invalid_target"] {
        let j = judge_negative(
            Level::Must,
            &expected,
            &accepted(),
            &rejected(400, code),
            "resource https://foreign.example/",
        );
        assert_eq!(j.verdict, Verdict::Pass, "{code}: {j:?}");
        assert_eq!(j.reason, format!("rejected: 400 {code}"));
    }
    let j = judge_negative(
        Level::Must,
        &expected,
        &accepted(),
        &rejected(400, "invalid_scope"),
        "resource https://foreign.example/",
    );
    assert_eq!(j.verdict, Verdict::Warn, "{j:?}");
    assert!(
        j.reason.contains("invalid_grant or invalid_target"),
        "{j:?}"
    );
}

#[test]
fn expect_reject_one_or_many_lists_codes() {
    let one = Expect::Rules(Rules::Reject(RejectSpec::Codes(OneOrMany::One(
        "invalid_grant".to_owned(),
    ))));
    let many = Expect::Rules(Rules::Reject(RejectSpec::Codes(OneOrMany::Many(codes(&[
        "invalid_grant",
        "invalid_target",
    ])))));
    let Some(o) = one.reject() else {
        unreachable!()
    };
    assert_eq!(o.codes(), codes(&["invalid_grant"]));
    let Some(m) = many.reject() else {
        unreachable!()
    };
    assert_eq!(m.codes(), codes(&["invalid_grant", "invalid_target"]));
}

// ---------------------------------------------------------------- judge_positive

fn rules_token_type(t: &str) -> AcceptRules {
    AcceptRules {
        token_type: Some(t.to_owned()),
        ..AcceptRules::default()
    }
}

fn rules_header(name: &str, value: &str) -> AcceptRules {
    AcceptRules {
        headers: BTreeMap::from([(name.to_owned(), value.to_owned())]),
        ..AcceptRules::default()
    }
}

/// Judges a 200 token answer with these headers against `rules` at MUST.
fn judge_headers(rules: &AcceptRules, headers: &[(&str, &str)]) -> xaa_conform::oracle::Judgement {
    let r = resp_h(200, headers, TOKEN_BODY);
    let o = classify_response(&r);
    judge_positive(Level::Must, rules, &o, Some(&r), "the valid ID-JAG")
}

#[test]
fn positive_accepted_with_rules_met_passes() {
    let rules = AcceptRules {
        token_type: Some("Bearer".to_owned()),
        headers: BTreeMap::from([
            ("cache-control".to_owned(), "no-store".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ]),
        absent: vec!["refresh_token".to_owned()],
        ..AcceptRules::default()
    };
    let j = judge_headers(
        &rules,
        &[
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    assert_eq!(j.reason, "accepted: 200 with an access token");
}

#[test]
fn positive_no_rules_passes() {
    let j = judge_positive(
        Level::Must,
        &AcceptRules::default(),
        &accepted(),
        None,
        "the valid ID-JAG",
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn positive_token_type_is_case_insensitive() {
    let o = outcome(200, r#"{"access_token":"x","token_type":"bearer"}"#);
    let j = judge_positive(Level::Must, &rules_token_type("Bearer"), &o, None, "x");
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn positive_wrong_token_type_fails_at_must() {
    let o = outcome(200, r#"{"access_token":"x","token_type":"N_A"}"#);
    let j = judge_positive(Level::Must, &rules_token_type("Bearer"), &o, None, "x");
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("N_A"), "{j:?}");
    assert!(j.reason.contains("Bearer"), "{j:?}");
}

#[test]
fn positive_missing_token_type_fails_at_must() {
    let o = outcome(200, r#"{"access_token":"x"}"#);
    let j = judge_positive(Level::Must, &rules_token_type("Bearer"), &o, None, "x");
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("token_type"), "{j:?}");
}

#[test]
fn positive_cache_control_no_store_satisfied() {
    let rules = rules_header("cache-control", "no-store");
    for value in [
        "no-store",
        "No-Store",
        "private, no-store",
        "no-cache,no-store",
    ] {
        let j = judge_headers(&rules, &[("cache-control", value)]);
        assert_eq!(j.verdict, Verdict::Pass, "{value}: {j:?}");
    }
    // The header name matches case-insensitively too.
    let j = judge_headers(&rules, &[("Cache-Control", "no-store")]);
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    // Items may be spread over repeated header lines.
    let j = judge_headers(
        &rules,
        &[("cache-control", "private"), ("cache-control", "no-store")],
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn positive_cache_control_no_cache_is_not_no_store() {
    let rules = rules_header("cache-control", "no-store");
    let j = judge_headers(&rules, &[("cache-control", "no-cache")]);
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("no-cache"), "{j:?}");
    assert!(j.reason.contains("no-store"), "{j:?}");
}

#[test]
fn positive_cache_control_substring_is_not_enough() {
    let rules = rules_header("cache-control", "no-store");
    let j = judge_headers(&rules, &[("cache-control", "no-store-please")]);
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
}

#[test]
fn positive_missing_cache_control_fails() {
    let rules = rules_header("cache-control", "no-store");
    let j = judge_headers(&rules, &[("content-type", "application/json")]);
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("no cache-control header"), "{j:?}");
}

#[test]
fn positive_header_rule_without_recorded_response_fails() {
    let rules = rules_header("cache-control", "no-store");
    let j = judge_positive(Level::Must, &rules, &accepted(), None, "x");
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("no cache-control header"), "{j:?}");
}

#[test]
fn positive_content_type_with_charset_satisfied() {
    let rules = rules_header("content-type", "application/json");
    let j = judge_headers(
        &rules,
        &[("content-type", "application/json; charset=utf-8")],
    );
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
    let j = judge_headers(&rules, &[("content-type", "text/html")]);
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("text/html"), "{j:?}");
}

#[test]
fn positive_absent_member_present_warns_at_should() {
    let rules = AcceptRules {
        absent: vec!["refresh_token".to_owned()],
        ..AcceptRules::default()
    };
    let o = outcome(
        200,
        r#"{"access_token":"x","token_type":"Bearer","refresh_token":"r"}"#,
    );
    let j = judge_positive(Level::Should, &rules, &o, None, "x");
    assert_eq!(j.verdict, Verdict::Warn, "{j:?}");
    assert!(j.reason.contains("refresh_token"), "{j:?}");
    let j = judge_positive(Level::Should, &rules, &accepted(), None, "x");
    assert_eq!(j.verdict, Verdict::Pass, "{j:?}");
}

#[test]
fn positive_several_problems_are_all_named() {
    let rules = AcceptRules {
        token_type: Some("Bearer".to_owned()),
        headers: BTreeMap::from([("cache-control".to_owned(), "no-store".to_owned())]),
        absent: vec!["refresh_token".to_owned()],
        ..AcceptRules::default()
    };
    let r = resp_h(
        200,
        &[],
        r#"{"access_token":"x","token_type":"mac","refresh_token":"r"}"#,
    );
    let j = judge_positive(Level::Must, &rules, &classify_response(&r), Some(&r), "x");
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("mac"), "{j:?}");
    assert!(j.reason.contains("cache-control"), "{j:?}");
    assert!(j.reason.contains("refresh_token"), "{j:?}");
}

#[test]
fn positive_refused_fails_at_must_with_summary() {
    let o = outcome(
        400,
        r#"{"error":"invalid_grant","error_description":"bad aud"}"#,
    );
    let j = judge_positive(
        Level::Must,
        &rules_token_type("Bearer"),
        &o,
        None,
        "the valid ID-JAG",
    );
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert_eq!(
        j.reason,
        "the valid ID-JAG was not accepted: 400 invalid_grant (bad aud)"
    );
}

#[test]
fn positive_server_error_fails_at_must() {
    let j = judge_positive(
        Level::Must,
        &AcceptRules::default(),
        &outcome(503, ""),
        None,
        "the valid ID-JAG",
    );
    assert_eq!(j.verdict, Verdict::Fail, "{j:?}");
    assert!(j.reason.contains("503 server error"), "{j:?}");
}

#[test]
fn positive_no_answer_is_error() {
    let j = judge_positive(
        Level::Must,
        &rules_token_type("Bearer"),
        &no_answer("connection failed: refused"),
        None,
        "the valid ID-JAG",
    );
    assert_eq!(j.verdict, Verdict::Error, "{j:?}");
    assert!(j.reason.contains("connection failed: refused"), "{j:?}");
}

// ---------------------------------------------------------------- summarize

#[test]
fn summarize_each_outcome() {
    assert_eq!(summarize(&accepted()), "200 with an access token");
    assert_eq!(
        summarize(&Outcome::Accepted { body: Map::new() }),
        "200 with an access token"
    );
    assert_eq!(
        summarize(&rejected(400, "invalid_grant")),
        "400 invalid_grant"
    );
    assert_eq!(
        summarize(&Outcome::Rejected {
            status: 400,
            error: "invalid_grant".to_owned(),
            description: Some("aud mismatch".to_owned()),
        }),
        "400 invalid_grant (aud mismatch)"
    );
    assert_eq!(
        summarize(&Outcome::Other {
            status: 500,
            why: "500 server error".to_owned(),
        }),
        "500 server error"
    );
    assert_eq!(
        summarize(&no_answer("connection failed: refused")),
        "no answer: connection failed: refused"
    );
}

#[test]
fn summarize_flattens_and_caps_descriptions() {
    let s = summarize(&Outcome::Rejected {
        status: 400,
        error: "invalid_grant".to_owned(),
        description: Some("line one\nline two".to_owned()),
    });
    assert_eq!(s, "400 invalid_grant (line one line two)");
    assert!(!s.contains('\n'));

    let long = "é".repeat(500);
    let s = summarize(&Outcome::Rejected {
        status: 400,
        error: "invalid_grant".to_owned(),
        description: Some(long),
    });
    assert_eq!(s, format!("400 invalid_grant ({}…)", "é".repeat(120)));
}

#[test]
fn summarize_of_classified_answers() {
    let v: Value = json!({"error":"invalid_grant","error_description":"d"});
    assert_eq!(
        summarize(&outcome(400, &v.to_string())),
        "400 invalid_grant (d)"
    );
    assert_eq!(
        summarize(&outcome(200, r#"{"access_token":12}"#)),
        "200 but access_token is not a string (12)"
    );
    assert_eq!(
        summarize(&classify(&exchange(None, Some("timeout")))),
        "no answer: timeout"
    );
}

// Whoami and the cross-issuer subject check (JAG-SUB-03, RS-11).

fn principal_of(body: &str) -> Result<String, WhoamiError> {
    xaa_conform::oracle::read_whoami(&exchange(Some(resp(200, body)), None), None).map(|(p, _)| p)
}

#[test]
fn whoami_principal_at_a_declared_pointer_and_with_the_issuer_it_names() {
    let at = |body: &str, pointer: &str| {
        xaa_conform::oracle::read_whoami(&exchange(Some(resp(200, body)), None), Some(pointer))
            .map(|(p, _)| p)
    };
    // The object form of whoami: `principal: "/userId"` names the member, nested or not.
    assert_eq!(
        at(r#"{"userId":"u-7","sub":"x"}"#, "/userId"),
        Ok("u-7".into())
    );
    assert_eq!(at(r#"{"user":{"id":9}}"#, "/user/id"), Ok("9".into()));
    assert_eq!(
        at(r#"{"sub":"u1"}"#, "/userId").map_err(|e| e.to_string()),
        Err(
            "the whoami answer has no principal at /userId (whoami.principal in the target file)"
                .into()
        )
    );
    // An issuer in the answer is part of the principal: the same sub of two issuers is two
    // principals (JAG-SUB-03 compares them so).
    let a = principal_of(r#"{"sub":"u3","iss":"https://idp/a"}"#);
    let b = principal_of(r#"{"sub":"u3","iss":"https://idp/b"}"#);
    assert_eq!(a, Ok("u3 of https://idp/a".into()));
    assert_ne!(a, b);
    assert_eq!(
        at(r#"{"userId":"u3","issuer":"https://idp/b"}"#, "/userId"),
        Ok("u3 of https://idp/b".into())
    );
}

#[test]
fn whoami_principal_is_sub_then_the_usual_alternatives() {
    assert_eq!(
        principal_of(r#"{"sub":"U3","username":"x"}"#),
        Ok("U3".into())
    );
    assert_eq!(principal_of(r#"{"username":"carol"}"#), Ok("carol".into()));
    assert_eq!(principal_of(r#"{"id":42}"#), Ok("42".into()));
    assert!(principal_of(r#"{"sub":""}"#).is_err());
    assert!(principal_of(r#"{"client_id":"c1"}"#).is_err());
    let refused = xaa_conform::oracle::read_whoami(&exchange(Some(resp(401, "{}")), None), None);
    assert_eq!(refused, Err(WhoamiError::Status(401)));
    assert_eq!(
        refused.map(|_| ()).unwrap_err().to_string(),
        "the whoami endpoint answered 401"
    );
    assert_eq!(
        principal_of(r#"{"client_id":"c1"}"#).map_err(|e| e.to_string()),
        Err(
            "the whoami answer names no principal (none of sub, username, user, user_id, id)"
                .into()
        )
    );
    assert_eq!(principal_of("[]"), Err(WhoamiError::NotJson));
    assert!(
        xaa_conform::oracle::read_whoami(&exchange(None, Some("connection refused")), None)
            .is_err_and(|e| e == WhoamiError::NoAnswer("connection refused".into())
                && e.to_string() == "no answer: connection refused")
    );
}

#[test]
fn distinct_principal_judges_refusal_other_principal_and_same_principal() {
    use xaa_conform::oracle::judge_distinct_principal as judge;
    let c = codes(&["invalid_grant"]);
    let iss = ("ISS_A", "ISS_B");
    let refused = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &rejected(400, "invalid_grant"),
        None,
        WHAT,
    );
    assert_eq!(refused.verdict, Verdict::Pass);
    // A refusal needs no whoami.
    let refused = judge(
        Level::Must,
        &c,
        iss,
        None,
        &rejected(400, "invalid_grant"),
        None,
        WHAT,
    );
    assert_eq!(refused.verdict, Verdict::Pass);
    let other_code = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &rejected(400, "invalid_request"),
        None,
        WHAT,
    );
    // The code is ERR-04's finding, judged once for the run.
    assert_eq!(other_code.verdict, Verdict::Pass);
    let jit = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &accepted(),
        Some(Ok("jit:u3".into())),
        WHAT,
    );
    assert_eq!(jit.verdict, Verdict::Pass);
    assert!(jit.reason.contains("distinct"), "{}", jit.reason);
    let same = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &accepted(),
        Some(Ok("U3".into())),
        WHAT,
    );
    assert_eq!(same.verdict, Verdict::Fail);
    assert!(
        same.reason
            .contains("ISS_A's sub was mapped to ISS_B's user"),
        "{}",
        same.reason
    );
    // Accepted, but whose token it is cannot be seen.
    let blind = judge(Level::Must, &c, iss, None, &accepted(), None, WHAT);
    assert_eq!(blind.verdict, Verdict::Skip);
    let unknown = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &accepted(),
        Some(Err(WhoamiError::Status(401))),
        WHAT,
    );
    assert_eq!(unknown.verdict, Verdict::Skip);
    let silent = judge(
        Level::Must,
        &c,
        iss,
        Some("U3"),
        &no_answer("reset"),
        None,
        WHAT,
    );
    assert_eq!(silent.verdict, Verdict::Error);
}

#[test]
fn whoami_record_is_info_with_the_figures_and_remarks() {
    let body = |s: &str| match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let j = xaa_conform::oracle::judge_whoami(
        "U1",
        &body(r#"{"sub":"U1","client_id":"c1","scope":"s.read"}"#),
        "c1",
        Some("s.read s.write"),
    );
    assert_eq!(j.verdict, Verdict::Info);
    assert_eq!(j.reason, "whoami: principal U1, client_id c1, scope s.read");
    let j = xaa_conform::oracle::judge_whoami(
        "U1",
        &body(r#"{"sub":"U1","client_id":"c2","scope":"s.read admin"}"#),
        "c1",
        Some("s.read s.write"),
    );
    assert_eq!(j.verdict, Verdict::Info);
    assert!(
        j.reason.contains("the client is not C1 (c1)"),
        "{}",
        j.reason
    );
    assert!(j.reason.contains("scope admin is beyond"), "{}", j.reason);
}

// ---------------------------------------------------------------- procedures, from observations

use std::time::Duration;
use xaa_conform::jose::IssuerRole;
use xaa_conform::oracle::{
    ApiRules, BuildError, ConcurrentReplay, ConcurrentReplayObservation, DistinctPrincipal,
    DistinctPrincipalObservation, FetchBudget, FetchBudgetObservation, Incomplete,
    KeyRemovalObservation, MeasureObservation, Prerequisite, Tolerance, WhoamiObservation,
};

fn budget_seen(accepted: u32, fetches: usize, took_ms: u64) -> FetchBudgetObservation {
    FetchBudgetObservation {
        sends: 20,
        accepted,
        fetches,
        took: Duration::from_millis(took_ms),
    }
}

#[test]
fn fetch_budget_passes_within_the_budget_and_grows_it_by_the_seconds_taken() {
    use xaa_conform::oracle::judge_fetch_budget as judge;
    let budget = FetchBudget {
        sends: 20,
        max_fetches: 2,
    };
    let j = judge(Level::Should, &budget, &budget_seen(0, 2, 400));
    assert_eq!(j.verdict, Verdict::Pass);
    assert_eq!(
        j.reason,
        "20 ID-JAGs under unknown kids caused 2 JWKS fetches in 0.4 s"
    );
    // Three whole seconds: three more fetches are allowed.
    assert_eq!(
        judge(Level::Should, &budget, &budget_seen(0, 5, 3_200)).verdict,
        Verdict::Pass
    );
    let over = judge(Level::Should, &budget, &budget_seen(0, 20, 500));
    assert_eq!(over.verdict, Verdict::Warn);
    assert!(
        over.reason.ends_with("(at most 2 expected)"),
        "{}",
        over.reason
    );
    // An ID-JAG under an unknown kid accepted is a FAIL whatever the level.
    let accepted = judge(Level::Should, &budget, &budget_seen(1, 0, 100));
    assert_eq!(accepted.verdict, Verdict::Fail);
    assert_eq!(
        accepted.reason,
        "1 of 20 ID-JAGs under unknown kids were accepted"
    );
}

#[test]
fn measure_records_the_limit_or_that_the_bound_was_accepted() {
    use xaa_conform::oracle::judge_measure as judge;
    let limit = MeasureObservation::Limit {
        accepted_secs: 60,
        refused_secs: 61,
        requests: 9,
    };
    let j = judge(Tolerance::ExpSkew, &limit);
    assert_eq!(j.verdict, Verdict::Info);
    assert_eq!(
        j.reason,
        "leeway on exp: 61 s (refuses an ID-JAG 61 s after its exp, accepts one 60 s after it; \
         measured in 9 requests)"
    );
    // No leeway: an exp of now is refused, one a second ahead accepted: 0 s, not a SKIP.
    let none = MeasureObservation::Limit {
        accepted_secs: -1,
        refused_secs: 0,
        requests: 7,
    };
    assert_eq!(
        judge(Tolerance::ExpSkew, &none).reason,
        "leeway on exp: 0 s (refuses an ID-JAG 0 s after its exp, accepts one 1 s before its \
         exp; measured in 7 requests)"
    );
    assert_eq!(
        judge(Tolerance::MaxIatAge, &limit).reason,
        "accepts an iat as old as 60 s (measured in 9 requests)"
    );
    let unbounded = judge(
        Tolerance::MaxLifetime,
        &MeasureObservation::NoLimit { bound_secs: 3600 },
    );
    assert_eq!(unbounded.verdict, Verdict::Info);
    assert_eq!(
        unbounded.reason,
        "accepts a lifetime of 1h, the search bound: no limit found"
    );
}

fn removal(refused_after: Option<u64>, recovered: bool) -> KeyRemovalObservation {
    KeyRemovalObservation {
        ttl: Duration::from_secs(4),
        margin: Duration::from_secs(1),
        refused: refused_after.map(|s| (Duration::from_secs(s), rejected(400, "invalid_grant"))),
        probed_for: Duration::from_secs(5),
        sent: 7,
        recovered,
        recovery_window: Duration::from_secs(6),
    }
}

#[test]
fn key_removal_passes_on_a_refusal_and_fails_when_the_key_stays_trusted() {
    use xaa_conform::oracle::judge_key_removal as judge;
    let j = judge(Level::Must, &removal(Some(4), true));
    assert_eq!(j.verdict, Verdict::Pass);
    assert_eq!(
        j.reason,
        "an ID-JAG signed with the removed key was refused 4.0 s after the removal \
         (400 invalid_grant; JWKS cache time 4.0 s); measured over 7 requests"
    );
    let early = judge(Level::Must, &removal(Some(1), true));
    assert!(
        early
            .reason
            .contains("(within the cache time: the server refetched)"),
        "{}",
        early.reason
    );
    let kept = judge(Level::Must, &removal(None, true));
    assert_eq!(kept.verdict, Verdict::Fail);
    assert_eq!(
        kept.reason,
        "an ID-JAG signed with the removed key was still accepted 5.0 s after the removal \
         (JWKS cache time 4.0 s, margin 1.0 s)"
    );
    let stuck = judge(Level::Must, &removal(Some(4), false));
    assert_eq!(stuck.verdict, Verdict::Pass);
    assert!(
        stuck
            .reason
            .ends_with("; the server did not accept the restored key again within 6.0 s"),
        "{}",
        stuck.reason
    );
}

fn burst(outcomes: Vec<Outcome>, sequential: (Outcome, Outcome)) -> ConcurrentReplayObservation {
    ConcurrentReplayObservation {
        sends: 3,
        outcomes,
        sequential: Some(sequential),
    }
}

#[test]
fn concurrent_replay_allows_one_redemption_of_a_single_use_id_jag() {
    use xaa_conform::oracle::judge_concurrent_replay as judge;
    let single = ConcurrentReplay {
        sends: 3,
        single_use: true,
    };
    let refused_reuse = || (accepted(), rejected(400, "invalid_grant"));
    let once = burst(
        vec![
            accepted(),
            rejected(400, "invalid_grant"),
            rejected(400, "invalid_grant"),
        ],
        refused_reuse(),
    );
    let j = judge(Level::Must, single, &once);
    assert_eq!(j.verdict, Verdict::Pass);
    assert_eq!(
        j.reason,
        "1 of 3 concurrent uses of one ID-JAG got a token (0 rate-limited): single use held under concurrency"
    );
    let twice = || vec![accepted(), accepted(), rejected(400, "invalid_grant")];
    let race = judge(Level::Must, single, &burst(twice(), refused_reuse()));
    assert_eq!(race.verdict, Verdict::Fail);
    assert!(race.reason.contains("replay-cache race"), "{}", race.reason);
    let counted = ConcurrentReplay {
        sends: 3,
        single_use: false,
    };
    // Reuse allowed: the count is recorded.
    let reuse = (accepted(), accepted());
    let j = judge(Level::Should, counted, &burst(twice(), reuse.clone()));
    assert_eq!(j.verdict, Verdict::Info);
    // The server refuses a sequential reuse but not a concurrent one: a race in its cache.
    let j = judge(Level::Should, counted, &burst(twice(), refused_reuse()));
    assert_eq!(j.verdict, Verdict::Warn, "{}", j.reason);
    let silent = burst(vec![accepted(), no_answer("reset"), accepted()], reuse);
    let j = judge(Level::Should, counted, &silent);
    assert_eq!(j.verdict, Verdict::Error);
    assert!(
        j.reason
            .starts_with("no answer: reset (1 of 3 got none; 2 of 3 concurrent uses"),
        "{}",
        j.reason
    );
    let refused = || rejected(400, "invalid_client");
    let none = burst(vec![refused(); 3], (refused(), refused()));
    let j = judge(Level::Must, single, &none);
    assert_eq!(j.verdict, Verdict::Skip);
    assert_eq!(j.reason, "baseline not accepted: 400 invalid_client");
}

#[test]
fn whoami_record_from_its_observation_is_error_only_without_an_answer() {
    use xaa_conform::oracle::judge_whoami_record as judge;
    let seen = |answer| WhoamiObservation {
        answer,
        client_id: "c1".into(),
        jag_scope: None,
    };
    let body = match json!({"sub": "U1", "client_id": "c1"}) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let j = judge(&seen(Ok(("U1".into(), body))));
    assert_eq!(j.verdict, Verdict::Info);
    assert_eq!(
        j.reason,
        "whoami: principal U1, client_id c1, scope not given"
    );
    let j = judge(&seen(Err(WhoamiError::Status(404))));
    assert_eq!(j.verdict, Verdict::Info);
    assert_eq!(j.reason, "whoami: the whoami endpoint answered 404");
    let j = judge(&seen(Err(WhoamiError::NoAnswer("timeout".into()))));
    assert_eq!(j.verdict, Verdict::Error);
    assert_eq!(j.reason, "whoami: no answer: timeout");
}

#[test]
fn distinct_principal_from_its_observation_names_the_issuers() {
    use xaa_conform::oracle::judge_distinct_principal_observation as judge;
    let rules = DistinctPrincipal {
        control_issuer: Some(IssuerRole::TrustedB),
        control_claims: Default::default(),
        reject: OneOrMany::One("invalid_grant".into()),
    };
    let claims = serde_json::Map::new();
    let probed = |p: &str| DistinctPrincipalObservation::Probed {
        control_principal: Some("U3".into()),
        probe: accepted(),
        probe_principal: Some(Ok(p.into())),
    };
    let same = judge(
        Level::Must,
        &rules,
        IssuerRole::Trusted,
        &claims,
        &probed("U3"),
        WHAT,
    );
    assert_eq!(same.verdict, Verdict::Fail);
    assert!(
        same.reason
            .contains("ISS_A's sub was mapped to ISS_B's user"),
        "{}",
        same.reason
    );
    let other = judge(
        Level::Must,
        &rules,
        IssuerRole::Trusted,
        &claims,
        &probed("jit"),
        WHAT,
    );
    assert_eq!(other.verdict, Verdict::Pass);
    let unknown = DistinctPrincipalObservation::ControlUnknown(WhoamiError::NotJson);
    let j = judge(
        Level::Must,
        &rules,
        IssuerRole::Trusted,
        &claims,
        &unknown,
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Skip);
    assert_eq!(
        j.reason,
        "the positive control's principal is unknown: the whoami endpoint answered 200 without a JSON object"
    );
    let silent =
        DistinctPrincipalObservation::ControlUnknown(WhoamiError::NoAnswer("reset".into()));
    let j = judge(
        Level::Must,
        &rules,
        IssuerRole::Trusted,
        &claims,
        &silent,
        WHAT,
    );
    assert_eq!(j.verdict, Verdict::Error);
    assert_eq!(j.reason, "whoami: no answer: reset");
}

// ---------------------------------------------------------------- the resource API

fn api_exchange(status: u16, challenge: Option<&str>) -> Exchange {
    let headers: Vec<(&str, &str)> = challenge
        .map(|c| vec![("www-authenticate", c)])
        .unwrap_or_default();
    exchange(Some(resp_h(status, &headers, "")), None)
}

#[test]
fn api_step_checks_status_and_the_bearer_challenge() {
    use xaa_conform::oracle::judge_api as judge;
    let rules = ApiRules {
        status: 401,
        challenge: Some("invalid_token".into()),
        challenge_without_error: false,
        token_in_query: false,
        optional: false,
    };
    let ok = judge(
        Level::Must,
        &rules,
        &api_exchange(401, Some(r#"Bearer error="invalid_token""#)),
    );
    assert_eq!(ok.verdict, Verdict::Pass);
    assert_eq!(ok.reason, "resource API answered 401 as required");
    let wrong = judge(Level::Must, &rules, &api_exchange(200, None));
    assert_eq!(wrong.verdict, Verdict::Fail);
    assert_eq!(
        wrong.reason,
        "the resource API answered 200, expected 401; no WWW-Authenticate: Bearer challenge"
    );
    // An error code though no credentials were sent is a SHOULD NOT: WARN under a MUST.
    let bare = ApiRules {
        status: 401,
        challenge: None,
        challenge_without_error: true,
        token_in_query: false,
        optional: false,
    };
    let j = judge(
        Level::Must,
        &bare,
        &api_exchange(401, Some(r#"Bearer error="invalid_request""#)),
    );
    assert_eq!(j.verdict, Verdict::Warn);
    assert!(j.reason.contains("carries an error"), "{}", j.reason);
    // A non-ASCII challenge is judged, never a panic.
    let odd = judge(Level::Must, &rules, &api_exchange(401, Some("Bé")));
    assert_eq!(odd.verdict, Verdict::Fail);
    let silent = judge(Level::Must, &rules, &exchange(None, Some("refused")));
    assert_eq!(silent.verdict, Verdict::Error);
    // RFC 6750 §2.3: the query method is optional (a refusal is INFO), and an acceptance
    // SHOULD be answered Cache-Control: private.
    let query = ApiRules {
        status: 200,
        challenge: None,
        challenge_without_error: false,
        token_in_query: true,
        optional: true,
    };
    let refused = judge(Level::Should, &query, &api_exchange(401, Some("Bearer")));
    assert_eq!(refused.verdict, Verdict::Info, "{}", refused.reason);
    let cacheable = judge(Level::Should, &query, &api_exchange(200, None));
    assert_eq!(cacheable.verdict, Verdict::Warn, "{}", cacheable.reason);
    assert!(cacheable.reason.contains("Cache-Control: private"));
    let private = exchange(
        Some(resp_h(200, &[("cache-control", "no-store, Private")], "")),
        None,
    );
    assert_eq!(
        judge(Level::Should, &query, &private).verdict,
        Verdict::Pass
    );
    assert_eq!(silent.reason, "resource API: no answer: refused");
}

// ---------------------------------------------------------------- checks that stopped early

#[test]
fn build_errors_are_skip_when_not_applicable_and_error_when_internal() {
    use xaa_conform::oracle::{judge_incomplete, judge_unbuilt};
    let na = judge_unbuilt(&BuildError::NotApplicable(
        "the target has no second client (client2)".into(),
    ));
    assert_eq!(na.verdict, Verdict::Skip);
    assert_eq!(
        na.reason,
        "not applicable to this target: the target has no second client (client2)"
    );
    let internal = judge_unbuilt(&BuildError::Internal(
        "could not mint the ID-JAG: no key".into(),
    ));
    assert_eq!(internal.verdict, Verdict::Error);
    assert_eq!(internal.reason, "could not mint the ID-JAG: no key");
    let missing = judge_incomplete(Level::Must, &Incomplete::Missing(Prerequisite::ResourceApi));
    assert_eq!(missing.verdict, Verdict::Skip);
    assert_eq!(
        missing.reason,
        "not applicable to this target: no resource API (api.r1)"
    );
    let refused = judge_incomplete(
        Level::Must,
        &Incomplete::ControlNotAccepted(rejected(400, "invalid_client")),
    );
    assert_eq!(refused.verdict, Verdict::Skip);
    assert_eq!(refused.reason, "baseline not accepted: 400 invalid_client");
    let silent = judge_incomplete(
        Level::Must,
        &Incomplete::ControlNotAccepted(no_answer("reset")),
    );
    assert_eq!(silent.verdict, Verdict::Error);
    assert_eq!(silent.reason, "positive control got no answer: reset");
    let lost = judge_incomplete(Level::Must, &Incomplete::NoAnswer("timeout".into()));
    assert_eq!(lost.verdict, Verdict::Error);
    assert_eq!(lost.reason, "no answer: timeout");
}

// ---------------------------------------------------------------- verdicts that span checks

#[test]
fn dependencies_pass_through_skip_or_leave_the_check_unanswered() {
    use xaa_conform::oracle::{judge_dependency, judge_dependency_cycle, judge_lost};
    assert_eq!(judge_dependency("BASE-01", Verdict::Pass, "ok"), None);
    let failed = judge_dependency("BASE-01", Verdict::Fail, "aud").expect("a verdict");
    assert_eq!(failed.verdict, Verdict::Skip);
    assert_eq!(failed.reason, "BASE-01 did not pass");
    let silent =
        judge_dependency("BASE-01", Verdict::Error, "no answer: reset").expect("a verdict");
    assert_eq!(silent.verdict, Verdict::Error);
    assert_eq!(silent.reason, "BASE-01 got no answer (no answer: reset)");
    assert_eq!(judge_dependency_cycle().verdict, Verdict::Skip);
    assert_eq!(judge_lost().verdict, Verdict::Error);
}

#[test]
fn a_forbidden_fetch_is_at_least_as_bad_as_its_level() {
    use xaa_conform::oracle::{Judgement, judge_forbidden_fetches as judge};
    let pass = Judgement {
        verdict: Verdict::Pass,
        reason: "rejected: 400 invalid_grant".into(),
    };
    let fetched = vec!["GET /iss-x/jwks".to_string()];
    let j = judge(pass.clone(), Level::Must, &fetched);
    assert_eq!(j.verdict, Verdict::Fail);
    assert_eq!(
        j.reason,
        "the server fetched GET /iss-x/jwks (rejected: 400 invalid_grant)"
    );
    assert_eq!(judge(pass.clone(), Level::Must, &[]), pass);
    // A WARN stays a WARN under a SHOULD fetch; a SKIP is never made worse.
    let warn = Judgement {
        verdict: Verdict::Warn,
        reason: "other code".into(),
    };
    assert_eq!(judge(warn.clone(), Level::Should, &fetched), warn);
    let skip = Judgement {
        verdict: Verdict::Skip,
        reason: "baseline not accepted".into(),
    };
    assert_eq!(judge(skip.clone(), Level::Must, &fetched), skip);
}

#[test]
fn expect_keeps_its_flat_syntax_and_separates_rules_from_procedures() {
    use xaa_conform::oracle::Procedure;
    let reject: Expect = serde_saphyr::from_str("reject: invalid_grant").expect("reject");
    assert!(matches!(reject, Expect::Rules(Rules::Reject(_))));
    assert!(reject.needs_control());
    let measure: Expect =
        serde_saphyr::from_str("measure: { tolerance: exp_skew, max_secs: 600 }").expect("measure");
    assert!(matches!(
        measure,
        Expect::Procedure(Procedure::Measure(m)) if m.max_secs == 600
    ));
    assert!(!measure.needs_control());
    let race: Expect =
        serde_saphyr::from_str("concurrent_replay: { sends: 5 }").expect("concurrent_replay");
    assert!(race.runs_alone());
    // Written back, it is the same flat map.
    assert_eq!(
        serde_json::to_value(&measure).expect("json"),
        json!({"measure": {"tolerance": "exp_skew", "max_secs": 600}})
    );
    assert!(serde_saphyr::from_str::<Expect>("reject: x\nmeasure: {}").is_err());
    assert!(serde_saphyr::from_str::<Expect>("nonsense: {}").is_err());
}

fn case(name: &str, verdict: Verdict, reason: &str) -> (String, xaa_conform::oracle::Judgement) {
    (
        name.to_owned(),
        xaa_conform::oracle::Judgement {
            verdict,
            reason: reason.to_owned(),
        },
    )
}

/// A multi-case check is as bad as its worst case: FAIL over ERROR over WARN over SKIP over
/// INFO over PASS; among equals the first decides. The reason names the deciding case and
/// sums up the others.
#[test]
fn cases_combine_to_the_worst_and_name_the_deciding_case() {
    use xaa_conform::oracle::{combine_cases, deciding_case};
    let order = [
        Verdict::Pass,
        Verdict::Info,
        Verdict::Skip,
        Verdict::Warn,
        Verdict::Error,
        Verdict::Fail,
    ];
    for (i, worse) in order.iter().enumerate() {
        for better in &order[..i] {
            for cases in [
                vec![case("a", *better, "fine"), case("b", *worse, "bad")],
                vec![case("b", *worse, "bad"), case("a", *better, "fine")],
            ] {
                let j = combine_cases(&cases);
                assert_eq!(j.verdict, *worse, "{better} and {worse}: {}", j.reason);
                assert!(j.reason.starts_with("case `b`: bad"), "{}", j.reason);
                assert!(j.reason.contains(&format!("`a` {better}")), "{}", j.reason);
            }
        }
    }
    // A FAIL decides even when another case got no answer; an unanswered case outranks a WARN.
    let j = combine_cases(&[
        case("x", Verdict::Error, "no answer: timed out"),
        case("y", Verdict::Fail, "accepted"),
    ]);
    assert_eq!(
        (j.verdict, j.reason.starts_with("case `y`")),
        (Verdict::Fail, true)
    );
    let j = combine_cases(&[
        case("w", Verdict::Warn, "rejected with invalid_grant"),
        case("x", Verdict::Error, "no answer: timed out"),
    ]);
    assert_eq!(j.verdict, Verdict::Error, "{}", j.reason);
    assert_eq!(
        j.reason,
        "case `x`: no answer: timed out (other cases: `w` WARN)"
    );
    // Equal verdicts: the first case in the scenario's order decides.
    let two = [
        case("first", Verdict::Pass, "rejected: 400 invalid_grant"),
        case("second", Verdict::Pass, "rejected: 400 invalid_grant"),
    ];
    assert_eq!(deciding_case(&two), Some(0));
    assert_eq!(
        combine_cases(&two).reason,
        "case `first`: rejected: 400 invalid_grant (other cases: `second` PASS)"
    );
    // One case: just its reason, named.
    let one = combine_cases(&[case("only", Verdict::Info, "recorded")]);
    assert_eq!(
        (one.verdict, one.reason.as_str()),
        (Verdict::Info, "case `only`: recorded")
    );
    // No case: the check could not be judged.
    assert_eq!(deciding_case(&[]), None);
    assert_eq!(combine_cases(&[]).verdict, Verdict::Error);
}

/// `scope_required`: an accepted answer without `scope` is a breach (RFC 6749 §5.1 reads it
/// as the requested scope); with `scope`, the other scope rules decide.
#[test]
fn scope_required_refuses_an_answer_without_scope() {
    let rules = AcceptRules {
        scope_required: true,
        scope_excludes: vec!["undefined".into()],
        ..Default::default()
    };
    let body = |v: Value| match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let without = Outcome::Accepted {
        body: body(json!({"access_token": "x", "token_type": "Bearer"})),
    };
    let j = judge_positive(Level::Must, &rules, &without, None, WHAT);
    assert_eq!(j.verdict, Verdict::Fail, "{}", j.reason);
    assert!(j.reason.contains("no scope"), "{}", j.reason);
    let default_scope = Outcome::Accepted {
        body: body(json!({"access_token": "x", "token_type": "Bearer", "scope": "s.read"})),
    };
    assert_eq!(
        judge_positive(Level::Must, &rules, &default_scope, None, WHAT).verdict,
        Verdict::Pass
    );
    let granted = Outcome::Accepted {
        body: body(json!({"access_token": "x", "token_type": "Bearer", "scope": "undefined"})),
    };
    assert_eq!(
        judge_positive(Level::Must, &rules, &granted, None, WHAT).verdict,
        Verdict::Fail
    );
}

// ---------------------------------------------------------------- own ID-JAGs, cleartext

#[test]
fn an_id_jag_of_the_targets_own_idp_must_be_refused() {
    use xaa_conform::oracle::{OwnIdJag, OwnIdJagObservation, judge_own_id_jag as judge};
    let rules = OwnIdJag {
        reject: OneOrMany::One("invalid_grant".into()),
    };
    let what = "the ID-JAG the RAS's own IdP issued";
    let j = judge(
        Level::Must,
        &rules,
        &OwnIdJagObservation::Probed(accepted()),
        what,
    );
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.starts_with(what), "{}", j.reason);
    let j = judge(
        Level::Must,
        &rules,
        &OwnIdJagObservation::Probed(rejected(400, "invalid_grant")),
        what,
    );
    assert_eq!(j.verdict, Verdict::Pass);
    let j = judge(
        Level::Must,
        &rules,
        &OwnIdJagObservation::NotIssued("400 invalid_request".into()),
        what,
    );
    assert_eq!(j.verdict, Verdict::Skip);
    assert!(j.reason.contains("also_idp"), "{}", j.reason);
}

#[test]
fn a_token_over_cleartext_fails_and_silence_passes() {
    use xaa_conform::oracle::judge_cleartext as judge;
    let url = "http://ras.example/token";
    assert_eq!(judge(Level::Must, url, &accepted()).verdict, Verdict::Fail);
    assert_eq!(
        judge(Level::Must, url, &rejected(400, "invalid_request")).verdict,
        Verdict::Pass
    );
    let silent = Outcome::NoAnswer {
        reason: "connection refused".into(),
    };
    let j = judge(Level::Must, url, &silent);
    assert_eq!(j.verdict, Verdict::Pass);
    assert!(j.reason.contains("nothing answers"), "{}", j.reason);
}

#[test]
fn refused_credentials_of_a_declared_client_are_a_skip_naming_its_key() {
    use xaa_conform::oracle::{Judgement, judge_declared_client as judge};
    let warn = Judgement {
        verdict: Verdict::Warn,
        reason: "rejected with invalid_client, expected unauthorized_client".into(),
    };
    let j = judge(warn.clone(), &rejected(401, "invalid_client"), "client4");
    assert_eq!(j.verdict, Verdict::Skip);
    assert!(j.reason.contains("`client4`"), "{}", j.reason);
    let j = judge(warn.clone(), &rejected(400, "invalid_grant"), "client4");
    assert_eq!(j, warn);
}
