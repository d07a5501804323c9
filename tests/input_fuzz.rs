//! The suite under hostile input: generated scenario and target files never panic the
//! loader, every rejection names the file (and a position where the text has one), and YAML
//! bombs, deep nesting and oversized files are refused within a small time budget.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use xaa_conform::input::InputError;
use xaa_conform::scenario::parse_text;
use xaa_conform::target::TargetFile;

/// Pieces scenario files are made of, so generated texts get deep into the loader rather
/// than failing on the first byte.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("id: X-1\n".to_string()),
        Just("title: t\n".to_string()),
        Just("requirement: { level: MUST, source: s }\n".to_string()),
        Just("expect:\n  reject: [invalid_grant]\n".to_string()),
        Just("expect:\n  accept: {}\n".to_string()),
        Just("jag:\n  claims: { aud: \"${ras.other}\" }\n".to_string()),
        Just("jag:\n  times: { exp: -10m }\n".to_string()),
        Just("jag:\n  sign: { key_of: attacker }\n".to_string()),
        Just("request:\n  remove: [grant_type]\n".to_string()),
        Just("profiles: { mcp-ema: { level: MUST } }\n".to_string()),
        Just("depends_on: [BASE-01]\n".to_string()),
        Just("  ".to_string()),
        Just("- ".to_string()),
        Just(": ".to_string()),
        Just("&a ".to_string()),
        Just("*a ".to_string()),
        Just("!!binary ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("#".to_string()),
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just("${".to_string()),
        Just("---\n".to_string()),
        "[a-z_]{1,8}".prop_map(|s| s),
        "\\PC{1,4}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..40).prop_map(|v| v.concat())
}

fn check_rejection(e: &InputError, origin: &str) {
    let shown = e.to_string();
    assert!(shown.starts_with(origin), "{shown}");
    assert!(!e.message.is_empty(), "{shown}");
    if let (Some(l), Some(c)) = (e.line, e.column) {
        assert!(l >= 1 && c >= 1, "{shown}");
        assert!(shown.starts_with(&format!("{origin}:{l}:{c}: ")), "{shown}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scenario_loader_never_panics(text in yamlish()) {
        if let Err(e) = parse_text("gen.yaml", &text) {
            check_rejection(&e, "gen.yaml");
        }
    }

    #[test]
    fn scenario_loader_survives_any_text(text in "\\PC{0,200}") {
        if let Err(e) = parse_text("any.yaml", &text) {
            check_rejection(&e, "any.yaml");
        }
    }

    #[test]
    fn target_loader_never_panics(text in yamlish()) {
        if let Err(e) = TargetFile::parse("target.yaml", &text) {
            check_rejection(&e, "target.yaml");
        }
    }
}

/// Syntax and type errors carry a line and column.
#[test]
fn syntax_errors_have_a_position() {
    for text in [
        "id: X\ntitle: [unclosed\n",
        "id: X\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect:\n  reject: 7\n",
        "id: X\n  bad indent: 1\n",
        "id: X\nunknown_field: 1\n",
    ] {
        let e = parse_text("pos.yaml", text).expect_err(text);
        assert!(e.line.is_some() && e.column.is_some(), "{text:?}: {e}");
    }
}

fn refused_quickly(what: &str, text: &str) {
    let started = Instant::now();
    let r = parse_text("bomb.yaml", text);
    let took = started.elapsed();
    assert!(r.is_err(), "{what} was accepted");
    assert!(took < Duration::from_secs(5), "{what} took {took:?}");
}

#[test]
fn alias_bomb_is_refused_within_budget() {
    // "Billion laughs": nine levels of nine aliases each, inside `jag.claims`, which takes
    // any JSON value, so only the loader's budget can stop the expansion.
    let mut text = String::from(
        "id: X-1\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect: { accept: {} }\njag:\n  claims:\n",
    );
    text.push_str(
        "    a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
        text.push_str(&format!("    a{i}: &a{i} [{}]\n", refs.join(",")));
    }
    refused_quickly("an alias bomb", &text);
}

#[test]
fn deep_nesting_is_refused_within_budget() {
    let depth = 100_000;
    let text = format!("id: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    refused_quickly("100000 nested sequences", &text);
    let text = format!("id: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth));
    refused_quickly("100000 nested mappings", &text);
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.yaml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text = line.repeat((xaa_conform::input::MAX_INPUT_BYTES as usize / line.len()) + 2);
    std::fs::write(&path, text).expect("write");
    let started = Instant::now();
    let e = TargetFile::read(&path).expect_err("a file over the cap must be refused");
    assert!(e.message.contains("at most"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(1));
}
