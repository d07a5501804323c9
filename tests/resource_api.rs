//! The resource-API step reads with GET unless its scenario says POST: a correct API answers a
//! POST to a read-only resource with 405, so a POST default would fail servers for nothing.

use xaa_conform::protocol::HttpMethod;
use xaa_conform::runner::{self, RunOptions};
use xaa_conform::scenario;

#[test]
fn an_api_step_without_method_is_a_get() {
    let loaded = scenario::parse_text(
        "RS-01.yaml",
        "id: RS-01\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect:\n  accept: {}\n\
         api: { status: 200 }\n",
    )
    .expect("parses");
    let api = loaded.scenario.api.expect("an api step");
    assert_eq!(api.method, HttpMethod::Get);
}

#[test]
fn an_api_step_says_post_to_write() {
    let loaded = scenario::parse_text(
        "RS-06.yaml",
        "id: RS-06\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect:\n  accept: {}\n\
         api: { method: POST, status: 403 }\n",
    )
    .expect("parses");
    assert_eq!(
        loaded.scenario.api.expect("an api step").method,
        HttpMethod::Post
    );
    // The token request keeps its own default.
    assert_eq!(loaded.scenario.request.method, None);
    assert_eq!(HttpMethod::default(), HttpMethod::Post);
}

#[test]
fn only_the_write_check_of_the_catalogue_writes_to_the_api() {
    let posts: Vec<String> = scenario::embedded()
        .expect("the catalogue loads")
        .into_iter()
        .filter(|l| {
            let writes = |a: &scenario::ApiStep| a.method == HttpMethod::Post || a.write;
            l.scenario.api.as_ref().is_some_and(writes)
                || l.scenario
                    .cases
                    .iter()
                    .any(|c| c.api.as_ref().is_some_and(writes))
        })
        .map(|l| l.scenario.id)
        .collect();
    // RS-09 sends a form body, which goes with the write (GET has none).
    assert_eq!(posts, ["RS-06", "RS-09"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resource_api_checks_send_get_and_the_write_check_post() {
    let opts = RunOptions {
        filter: vec!["RS-0*".into()],
        ..RunOptions::default()
    };
    let results = runner::run_suite(&opts, None).await.expect("the run");
    let mut seen = 0;
    for check in &results.checks {
        for ex in check.exchanges.iter().filter(|e| e.role == "api") {
            let want = if check.id == "RS-06" { "POST" } else { "GET" };
            assert_eq!(ex.request.method, want, "{}: {}", check.id, ex.curl);
            assert!(ex.curl.contains(&format!("-X {want} ")), "{}", ex.curl);
            seen += 1;
        }
    }
    assert!(
        seen >= 6,
        "every RS-0x check calls the API once; saw {seen} calls"
    );
}
