//! `report.html`: self-contained, escapes hostile text, lists every check, opens failures,
//! highlights mutated members, hints, and is written by `write_reports`.

use serde_json::json;
use xaa_conform::report::html::{self, escape, hint, mutated_members, to_html};
use xaa_conform::report::model::{
    CheckResult, Exchange, RESULTS_SCHEMA_VERSION, RecordedRequest, RecordedResponse, RunResults,
    SentToken, Summary, TargetInfo,
};
use xaa_conform::report::write_reports;
use xaa_conform::spec::{DRAFT, Level, Requirement, Verdict};

const RAS: &str = "https://ras.example";
const HOSTILE: &str = "<script>alert(1)</script>";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

fn exchange(role: &str, status: Option<u16>, body: &str, error: Option<&str>) -> Exchange {
    Exchange {
        role: role.to_owned(),
        request: RecordedRequest {
            method: "POST".to_owned(),
            url: format!("{RAS}/token"),
            headers: vec![
                (
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("authorization".to_owned(), "Basic [REDACTED]".to_owned()),
            ],
            body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJ.eyJ.sig"
                .to_owned(),
        },
        response: status.map(|status| RecordedResponse {
            status,
            headers: vec![
                ("content-type".to_owned(), "text/html".to_owned()),
                ("x-evil".to_owned(), format!("\"'{HOSTILE}")),
            ],
            body: body.to_owned(),
            body_not_utf8_at: None,
            headers_not_utf8: vec![],
        }),
        error: error.map(str::to_owned),
        elapsed_ms: 12.5,
        curl: format!(
            "curl -sS -X POST '{RAS}/token' -u 'agent-c1:'\"$XAA_CLIENT_SECRET\" --data-urlencode 'assertion=eyJ.eyJ.sig'"
        ),
    }
}

fn check(id: &str, tags: &[&str], verdict: Verdict, reason: &str) -> CheckResult {
    CheckResult {
        id: id.to_owned(),
        title: format!("title of {id}"),
        requirement: Requirement {
            level: Level::Must,
            source: "ID-JAG-04 §4.4.1".to_owned(),
        },
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        verdict,
        reason: reason.to_owned(),
        token: None,
        exchanges: vec![exchange(
            "probe",
            Some(400),
            r#"{"error":"invalid_grant"}"#,
            None,
        )],
        elapsed_ms: 25.0,
        findings: Vec::new(),
        hint: None,
        expected: false,
    }
}

fn sample() -> RunResults {
    let mut aud = check(
        "JAG-AUD-02",
        &["claims", "aud"],
        Verdict::Fail,
        &format!("aud https://other-ras.example/ was accepted {HOSTILE}"),
    );
    aud.token = Some(SentToken {
        token: "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL290aGVyLXJhcy5leGFtcGxlLyJ9.c2ln"
            .to_owned(),
        header: json!({"alg": "RS256", "typ": "oauth-id-jag+jwt", "kid": "idp-1"}),
        claims: json!({
            "iss": "https://idp.example",
            "aud": "https://other-ras.example/",
            "sub": "alice",
            "nested": {"aud": "not top level"}
        }),
        mutation: "aud https://other-ras.example/".to_owned(),
    });
    aud.exchanges = vec![
        exchange(
            "control",
            Some(200),
            r#"{"access_token":"[redacted]","token_type":"Bearer"}"#,
            None,
        ),
        exchange(
            "probe",
            Some(200),
            &format!("<html>{HOSTILE}{}</html>", "x".repeat(6000)),
            None,
        ),
    ];

    let checks = vec![
        check("BASE-01", &["baseline"], Verdict::Pass, "accepted"),
        aud,
        check(
            "BASE-05",
            &["baseline", "response"],
            Verdict::Warn,
            "refresh",
        ),
        check("JAG-SCP-01", &["claims"], Verdict::Info, "scope recorded"),
        check("JAG-JTI-01", &[], Verdict::Skip, "baseline not accepted"),
        {
            let mut c = check("JAG-SIG-03", &["signature"], Verdict::Error, "no answer");
            c.exchanges = vec![exchange("probe", None, "", Some("connection refused"))];
            c
        },
        check(
            "X-\"'<b>",
            &["\"onmouseover=alert(1) x='"],
            Verdict::Pass,
            "odd id",
        ),
    ];
    RunResults {
        schema_version: RESULTS_SCHEMA_VERSION,
        tool_version: "0.1.0".to_owned(),
        draft: DRAFT.to_owned(),
        profile: "id-jag-04".to_owned(),
        target: TargetInfo {
            kind: "reference".to_owned(),
            issuer: RAS.to_owned(),
            token_endpoint: format!("{RAS}/token"),
            defects: vec!["accept-any-aud".to_owned()],
        },
        started_at: "2025-11-22T00:00:00Z".to_owned(),
        elapsed_ms: 1234.0,
        summary: Summary::of(&checks),
        checks,
        expected_failures: Vec::new(),
        interrupted: false,
    }
}

/// The `<details ...>` start tag of the check with anchor `anchor`.
fn details_tag<'a>(page: &'a str, anchor: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{anchor}\""))
        .unwrap_or_else(|| panic!("{anchor} not found"));
    let start = page[..at].rfind("<details").expect("a details element");
    let end = at + page[at..].find('>').expect("tag end");
    &page[start..=end]
}

#[test]
fn page_is_a_complete_html5_document() {
    let page = to_html(&sample());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<meta charset=\"utf-8\">"));
    assert!(page.trim_end().ends_with("</html>"));
    for text in [
        "0.1.0",
        DRAFT,
        "id-jag-04",
        "reference",
        "https://ras.example/token",
        "accept-any-aud",
        "2025-11-22T00:00:00Z",
        "1.23 s",
    ] {
        assert!(page.contains(text), "{text} missing from the header");
    }
    // A filter control per verdict, and the problems-only switch.
    for verdict in Verdict::ALL {
        let id = format!("id=\"show-{}\"", verdict.name().to_ascii_lowercase());
        assert!(page.contains(&id), "{id} missing");
    }
    assert!(page.contains("id=\"only-problems\""));
}

#[test]
fn page_loads_nothing_from_outside() {
    let page = to_html(&sample());
    let lower = page.to_ascii_lowercase();
    for forbidden in [
        "<script src",
        "<link",
        "@import",
        "url(",
        "<img",
        "<iframe",
        "<object",
        "<embed",
    ] {
        assert!(!lower.contains(forbidden), "{forbidden} found");
    }
    for attr in ["src=", "href=", "action=", "srcset="] {
        for quote in ["\"", "'", ""] {
            for scheme in ["http://", "https://", "//"] {
                let needle = format!("{attr}{quote}{scheme}");
                assert!(!lower.contains(&needle), "{needle} found");
            }
        }
    }
    // Every href is an in-page anchor.
    for (at, _) in lower.match_indices("href=") {
        assert!(
            lower[at..].starts_with("href=\"#"),
            "{}",
            &page[at..at + 40]
        );
    }
    // One inline script, no inline handlers, and a CSP that forbids fetches.
    assert_eq!(lower.matches("<script").count(), 1);
    assert!(!lower.contains(" onclick=") && !lower.contains(" onload="));
    assert!(page.contains("default-src 'none'"));
}

#[test]
fn hostile_text_appears_only_escaped() {
    let page = to_html(&sample());
    assert!(!page.contains(HOSTILE), "raw hostile text in the page");
    assert!(!page.contains("alert(1)</"), "a closing tag survived");
    // In the response body and in the reason.
    assert!(page.matches(HOSTILE_ESCAPED).count() >= 3);
    assert!(page.contains(&format!("was accepted {HOSTILE_ESCAPED}")));
    assert!(page.contains(&format!("&lt;html&gt;{HOSTILE_ESCAPED}")));
    // The hostile header value, quotes included.
    assert!(page.contains(&format!("x-evil: &quot;&#39;{HOSTILE_ESCAPED}")));
    // A hostile tag cannot break out of an attribute or element.
    assert!(!page.contains("\"onmouseover"));
    assert!(page.contains("&quot;onmouseover=alert(1) x=&#39;"));
    assert!(page.contains("X-&quot;&#39;&lt;b&gt;"));
    assert!(!page.contains("<b>\""));

    assert_eq!(
        escape("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(escape("a\u{1b}[31mb\u{202e}"), "a\\u{001b}[31mb\\u{202e}");
}

#[test]
fn every_check_is_listed_and_problems_come_first() {
    let results = sample();
    let page = to_html(&results);
    for check in &results.checks {
        assert!(
            page.contains(&escape(&check.id)),
            "{} missing from the page",
            check.id
        );
    }
    assert_eq!(
        page.matches("<details class=\"check ").count(),
        results.checks.len()
    );

    let position = |anchor: &str| page.find(&format!("id=\"{anchor}\"")).expect(anchor);
    let fail = position("check-JAG-AUD-02");
    let error = position("check-JAG-SIG-03");
    let warn = position("check-BASE-05");
    let pass = position("check-BASE-01");
    assert!(fail < error && error < warn && warn < pass);
}

#[test]
fn failures_and_errors_are_open_others_closed() {
    let page = to_html(&sample());
    assert!(details_tag(&page, "check-JAG-AUD-02").contains(" open"));
    assert!(details_tag(&page, "check-JAG-SIG-03").contains(" open"));
    assert!(!details_tag(&page, "check-BASE-01").contains(" open"));
    assert!(!details_tag(&page, "check-BASE-05").contains(" open"));
    assert!(details_tag(&page, "check-JAG-AUD-02").contains("v-fail"));
}

#[test]
fn mutated_member_is_highlighted() {
    let page = to_html(&sample());
    let aud_line = "&quot;aud&quot;: &quot;https://other-ras.example/&quot;,";
    assert!(
        page.contains(&format!("<span class=\"ln hl\">  {aud_line}</span>")),
        "the aud line is not highlighted"
    );
    assert!(page.contains("<span class=\"ln\">  &quot;iss&quot;"));
    assert!(page.contains("<span class=\"ln\">  &quot;typ&quot;"));
    // A nested member of the same name is not a top-level aud.
    assert!(page.contains("<span class=\"ln\">    &quot;aud&quot;: &quot;not top level"));
    assert!(page.contains("aud https://other-ras.example/</div>"));

    assert_eq!(
        mutated_members("aud https://other-ras.example/"),
        vec!["aud"]
    );
    assert_eq!(mutated_members("no typ header"), vec!["typ"]);
    assert_eq!(
        mutated_members("exp 10m ago, iat 15m ago"),
        vec!["exp", "iat"]
    );
    assert_eq!(mutated_members(""), Vec::<String>::new());
}

#[test]
fn exchanges_show_request_response_error_and_curl() {
    let page = to_html(&sample());
    assert!(page.contains("POST https://ras.example/token"));
    assert!(page.contains("authorization: Basic [REDACTED]"));
    assert!(page.contains("grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer"));
    assert!(page.contains("HTTP 400"));
    assert!(page.contains("&quot;error&quot;: &quot;invalid_grant&quot;"));
    assert!(page.contains("error: connection refused"));
    assert!(page.contains("12.5 ms"));
    // Over 4 KiB: cut, with a note.
    assert!(page.contains("Truncated: showing the first 4096 of"));
    assert!(!page.contains(&"x".repeat(4096)));
    // The curl command, one option per line.
    assert!(page.contains(
        "<pre class=\"curl\">curl -sS -X POST &#39;https://ras.example/token&#39; \\\n  -u &#39;agent-c1:&#39;&quot;$XAA_CLIENT_SECRET&quot; \\\n  --data-urlencode"
    ));
}

#[test]
fn summary_counts_areas_and_hints() {
    let page = to_html(&sample());
    assert!(page.contains("<td class=\"mono\">claims</td>"));
    assert!(page.contains("<td class=\"mono\">untagged</td>"));
    assert!(page.contains("Likely cause:"));
    assert!(page.contains(&escape(hint("JAG-AUD-02").expect("hint"))));
    assert!(page.contains(&escape(hint("BASE-05").expect("hint"))));
    // Hints only for FAIL and WARN.
    assert!(!page.contains(&escape(hint("JAG-SIG-03").expect("hint"))));
}

#[test]
fn hints_cover_the_catalogue_and_fall_back_by_prefix() {
    let rows = xaa_conform::catalogue::all();
    let own: Vec<_> = rows.iter().filter(|r| r.hint.is_some()).collect();
    assert!(!own.is_empty(), "no row has a hint of its own");
    for r in &own {
        let h = hint(r.id).unwrap_or_else(|| panic!("no hint for {}", r.id));
        assert_eq!(Some(h), r.hint, "{}", r.id);
        assert!(h.ends_with('.'), "{}: {h}", r.id);
    }
    // Every other row gets the hint of its ID prefix (or none, for areas without one).
    for r in rows.iter().filter(|r| r.hint.is_none()) {
        assert_eq!(
            hint(r.id),
            xaa_conform::catalogue::area_hint(r.id),
            "{}",
            r.id
        );
    }
    // A check outside the catalogue falls back by its prefix too.
    let areas: Vec<(&str, &str)> = xaa_conform::catalogue::area_hints().collect();
    assert!(!areas.is_empty());
    for (prefix, area_hint) in &areas {
        let id = format!("{prefix}99");
        assert_eq!(hint(&id), Some(*area_hint), "no fallback for {id}");
    }
    let specific = hint("JAG-AUD-02");
    assert!(specific.is_some());
    assert_ne!(hint("JAG-AUD-99"), specific);
    assert_ne!(hint("JAG-SIG-99"), hint("JAG-HDR-99"));
    assert_eq!(hint("NOPE-01"), None);
}

#[test]
fn empty_run_still_renders() {
    let mut results = sample();
    results.checks.clear();
    results.summary = Summary::default();
    let page = to_html(&results);
    assert!(page.contains("No checks ran"));
    assert!(page.trim_end().ends_with("</html>"));
}

#[test]
fn write_reports_writes_the_html_page() {
    let results = sample();
    let tmp = tempfile::TempDir::new().expect("temp dir");
    let dir = tmp.path().join("out");
    let written = write_reports(&results, &dir).expect("reports written");
    let path = dir.join(html::FILE_NAME);
    assert_eq!(html::FILE_NAME, "report.html");
    assert!(written.contains(&path), "{written:?}");
    let page = std::fs::read_to_string(&path).expect("report.html");
    assert_eq!(page, to_html(&results));
}
