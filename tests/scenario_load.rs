//! The scenario loader: the embedded catalogue, folders of scenario files, diagnostics with
//! exact file:line:column positions, cross-file checks and `--filter`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use xaa_conform::catalogue;
use xaa_conform::input::InputError;
use xaa_conform::oracle::{Expect, OneOrMany, Rules};
use xaa_conform::scenario::{self, LoadedScenario, Obtain, load_dir};
use xaa_conform::spec::Level;

/// The shape of scenarios/claims/JAG-AUD-02.yaml.
const AUD_02: &str = r#"id: JAG-AUD-02
title: an ID-JAG whose aud names another authorization server is refused
requirement: { level: MUST, source: "ID-JAG-04 §4.4.1; RFC 7523 §3 item 3" }
tags: [claims, aud]
jag:
  claims: { aud: "https://other-ras.example/" }
expect: { reject: invalid_grant }
"#;

/// A minimal scenario with the given id and extra top-level lines.
fn minimal(id: &str, extra: &str) -> String {
    format!(
        "id: {id}\ntitle: t\nrequirement: {{ level: MUST, source: \"RFC 6749 §5.2\" }}\n{extra}expect: {{ reject: invalid_grant }}\n"
    )
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dir");
    }
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn origin(path: &Path) -> String {
    path.display().to_string()
}

/// Loads a folder holding only `text` as `s.yaml`; returns the error and the file's origin.
fn load_err(text: impl AsRef<[u8]>) -> (InputError, String) {
    let dir = TempDir::new().expect("tempdir");
    let path = write(dir.path(), "s.yaml", text);
    match load_dir(dir.path()) {
        Ok(v) => panic!(
            "expected an error, loaded {:?}",
            v.iter().map(|s| &s.scenario.id).collect::<Vec<_>>()
        ),
        Err(e) => (e, origin(&path)),
    }
}

/// Asserts the error points at `line`:`column` of `path` and renders as `path:line:col: …`.
fn assert_at(e: &InputError, path: &str, line: u64, column: u64) {
    assert_eq!(e.origin, path, "{e}");
    assert_eq!((e.line, e.column), (Some(line), Some(column)), "{e}");
    let prefix = format!("{path}:{line}:{column}: ");
    assert!(
        e.to_string().starts_with(&prefix),
        "expected {prefix}…, got {e}"
    );
    assert!(
        e.to_string().contains(&e.message),
        "Display must carry the message: {e}"
    );
}

fn ids(v: &[LoadedScenario]) -> Vec<&str> {
    v.iter().map(|s| s.scenario.id.as_str()).collect()
}

// ---------------------------------------------------------------- embedded catalogue

#[test]
fn embedded_catalogue_loads_with_unique_ids() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let ids = ids(&all);
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate ids in {ids:?}");
    // Exactly the catalogue rows that give no reason for being uncovered.
    let covered_rows: BTreeSet<&str> = catalogue::all()
        .iter()
        .filter(|r| r.not_covered.is_none())
        .map(|r| r.id)
        .collect();
    assert_eq!(unique, covered_rows);
}

#[test]
fn embedded_catalogue_is_version_2_without_warnings() {
    for l in scenario::embedded().unwrap_or_else(|e| panic!("{e}")) {
        assert_eq!(
            l.scenario.version,
            Some(scenario::FORMAT_VERSION),
            "{}",
            l.origin
        );
        assert!(l.warnings.is_empty(), "{}: {:?}", l.origin, l.warnings);
    }
}

#[test]
fn embedded_catalogue_names_its_sources() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    for s in &all {
        assert!(
            !s.scenario.requirement.source.trim().is_empty(),
            "{} has no requirement source",
            s.scenario.id
        );
        assert!(
            !s.scenario.title.trim().is_empty(),
            "{} has no title",
            s.scenario.id
        );
        assert!(
            s.origin.starts_with("scenarios/") && s.origin.ends_with(".yaml"),
            "{}",
            s.origin
        );
    }
}

#[test]
fn embedded_catalogue_matches_the_folder() {
    let embedded = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let on_disk = load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let a: BTreeSet<&str> = ids(&embedded).into_iter().collect();
    let b: BTreeSet<&str> = ids(&on_disk).into_iter().collect();
    assert_eq!(a, b);
}

#[test]
fn embedded_aud_02_has_the_expected_shape() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let s = all
        .iter()
        .find(|s| s.scenario.id == "JAG-AUD-02")
        .expect("JAG-AUD-02");
    assert_eq!(s.origin, "scenarios/claims/JAG-AUD-02.yaml");
    assert_eq!(s.scenario.requirement.level, Level::Must);
    assert_eq!(
        s.scenario.expect,
        Expect::Rules(Rules::Reject(xaa_conform::oracle::RejectSpec::Codes(
            OneOrMany::One("invalid_grant".to_owned())
        )))
    );
    let base01 = all
        .iter()
        .find(|s| s.scenario.id == "BASE-01")
        .expect("BASE-01");
    assert_eq!(base01.scenario.obtain, Obtain::TokenExchange);
}

// ---------------------------------------------------------------- a valid folder

#[test]
fn load_dir_returns_a_valid_scenario_with_its_path() {
    let dir = TempDir::new().expect("tempdir");
    let path = write(dir.path(), "JAG-AUD-02.yaml", AUD_02);
    let all = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1);
    let s = &all[0];
    assert_eq!(s.origin, origin(&path));
    assert_eq!(s.scenario.id, "JAG-AUD-02");
    assert_eq!(s.scenario.tags, vec!["claims", "aud"]);
    assert_eq!(s.scenario.requirement.level, Level::Must);
    assert_eq!(
        s.scenario.requirement.source,
        "ID-JAG-04 §4.4.1; RFC 7523 §3 item 3"
    );
    assert_eq!(
        s.scenario.jag.claims.get("aud"),
        Some(&serde_json::json!("https://other-ras.example/"))
    );
    assert_eq!(
        s.scenario.expect,
        Expect::Rules(Rules::Reject(xaa_conform::oracle::RejectSpec::Codes(
            OneOrMany::One("invalid_grant".to_owned())
        )))
    );
}

#[test]
fn load_dir_walks_subfolders_reads_yml_and_ignores_other_files() {
    let dir = TempDir::new().expect("tempdir");
    write(dir.path(), "a/deep/A-1.yaml", minimal("A-1", ""));
    write(
        dir.path(),
        "b/B-1.yml",
        minimal("B-1", "depends_on: [A-1]\n"),
    );
    write(dir.path(), "README.md", "# not a scenario: ${nope}\n");
    write(dir.path(), "notes.txt", "bogus: [");
    let all = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let mut got = ids(&all);
    got.sort_unstable();
    assert_eq!(got, vec!["A-1", "B-1"]);
}

#[test]
fn load_dir_accepts_known_placeholders() {
    let dir = TempDir::new().expect("tempdir");
    write(
        dir.path(),
        "s.yaml",
        minimal(
            "P-1",
            "jag:\n  claims: { sub: \"${user.unknown}\", aud: \"${ras.issuer}\" }\nrequest:\n  params: [[resource, \"${resource.r1}\"]]\n",
        ),
    );
    load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------- format versions

/// JAG-AUD-02 in the version-2 form: level and source come from its catalogue row.
const AUD_02_V2: &str = r#"version: 2
id: JAG-AUD-02
title: an ID-JAG whose aud names another authorization server is refused
tags: [claims, aud]
jag:
  claims: { aud: "https://other-ras.example/" }
expect: { reject: invalid_grant }
"#;

/// Loads a folder holding only `text` as `s.yaml`.
fn load_one(text: &str) -> LoadedScenario {
    let dir = TempDir::new().expect("tempdir");
    write(dir.path(), "s.yaml", text);
    let mut all = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[test]
fn version_2_inherits_level_and_source_from_the_row() {
    let l = load_one(AUD_02_V2);
    let row = catalogue::find("JAG-AUD-02").expect("row");
    assert_eq!(l.scenario.version, Some(2));
    assert_eq!(l.scenario.requirement.level, row.level);
    assert_eq!(l.scenario.requirement.source, row.source);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn version_2_inherits_the_rows_profile_levels() {
    let text = "version: 2\nid: JAG-JTI-02\ntitle: t\njag:\n  remove_claims: [jti]\nexpect: { reject: invalid_grant }\n";
    let l = load_one(text);
    let row = catalogue::find("JAG-JTI-02").expect("row");
    assert!(
        !row.profile_levels.is_empty(),
        "JAG-JTI-02 has a profile level"
    );
    for p in xaa_conform::spec::PROFILES {
        assert_eq!(l.scenario.for_profile(p).0, row.level_under(p), "{p}");
    }
    assert_ne!(l.scenario.for_profile("mcp-ema").0, row.level);
}

#[test]
fn version_2_restating_the_row_needs_no_why() {
    let row = catalogue::find("JAG-AUD-02").expect("row");
    let text = AUD_02_V2.replace(
        "tags:",
        &format!(
            "requirement: {{ level: {}, source: \"{}\" }}\ntags:",
            row.level, row.source
        ),
    );
    let l = load_one(&text);
    assert_eq!(l.scenario.requirement.level, row.level);
}

#[test]
fn version_2_override_without_why_is_reported_at_requirement() {
    let text = AUD_02_V2.replace("tags:", "requirement: { level: SHOULD }\ntags:");
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 1);
    assert!(e.message.contains("departs from its catalogue row"), "{e}");
    assert!(e.message.contains("level SHOULD (the row: MUST)"), "{e}");
    assert!(e.message.contains("why"), "{e}");
}

#[test]
fn version_2_other_source_without_why_is_reported() {
    let text = AUD_02_V2.replace(
        "tags:",
        "requirement: { source: \"RFC 7519 §4.1.3\" }\ntags:",
    );
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 1);
    assert!(e.message.contains("source `RFC 7519 §4.1.3`"), "{e}");
}

#[test]
fn version_2_profile_level_without_why_is_reported_at_profiles() {
    let text = format!("{AUD_02_V2}profiles:\n  auth0: {{ level: SHOULD }}\n");
    let (e, path) = load_err(text);
    assert_at(&e, &path, 8, 1);
    assert!(e.message.contains("level SHOULD under auth0"), "{e}");
}

#[test]
fn version_2_override_with_why_loads_at_its_level() {
    let text = AUD_02_V2.replace(
        "tags:",
        "requirement: { level: SHOULD, why: \"a house rule\" }\ntags:",
    );
    let l = load_one(&text);
    let row = catalogue::find("JAG-AUD-02").expect("row");
    assert_eq!(l.scenario.requirement.level, Level::Should);
    assert_eq!(l.scenario.requirement.source, row.source);
    // The overridden level holds under every profile.
    for p in xaa_conform::spec::PROFILES {
        assert_eq!(l.scenario.for_profile(p).0, Level::Should, "{p}");
    }
}

#[test]
fn version_2_empty_why_is_no_reason() {
    let text = AUD_02_V2.replace("tags:", "requirement: { level: SHOULD, why: \" \" }\ntags:");
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 1);
}

#[test]
fn version_2_custom_check_states_its_requirement() {
    let text = "version: 2\nid: X-HOUSE-01\ntitle: t\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 2, 1);
    assert!(e.message.contains("X-HOUSE-01 is not a row"), "{e}");
    let l = load_one(&text.replace(
        "title: t\n",
        "title: t\nrequirement: { level: SHOULD, source: house rule }\n",
    ));
    assert_eq!(l.scenario.requirement.level, Level::Should);
    assert_eq!(l.scenario.requirement.source, "house rule");
}

#[test]
fn a_file_without_version_loads_with_one_warning_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let path = write(dir.path(), "JAG-AUD-02.yaml", AUD_02);
    let all = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let l = &all[0];
    assert_eq!(l.scenario.version, None);
    // Read as written, as before the catalogue held levels and sources.
    assert_eq!(
        l.scenario.requirement.source,
        "ID-JAG-04 §4.4.1; RFC 7523 §3 item 3"
    );
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(
        l.warnings[0].starts_with(&origin(&path)),
        "{:?}",
        l.warnings
    );
    assert!(l.warnings[0].contains("version"), "{:?}", l.warnings);
}

#[test]
fn a_file_without_version_needs_its_requirement() {
    let text = "id: JAG-AUD-02\ntitle: t\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 1, 1);
    assert!(e.message.contains("version"), "{e}");
}

#[test]
fn an_unknown_version_is_reported_at_the_key() {
    let (e, path) = load_err(AUD_02_V2.replace("version: 2", "version: 3"));
    assert_at(&e, &path, 1, 1);
    assert!(e.message.contains("version 3"), "{e}");
}

// ---------------------------------------------------------------- per-file errors

#[test]
fn wrong_type_is_reported_at_the_value() {
    let (e, path) = load_err(AUD_02.replace("tags: [claims, aud]", "tags: 5"));
    assert_at(&e, &path, 4, 7);
    assert!(e.message.contains("sequence"), "{e}");
}

#[test]
fn unknown_top_level_field_is_reported_at_the_key() {
    let text = "id: A-1\ntitle: t\nbogus: 1\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 3, 1);
    assert!(e.message.contains("bogus"), "{e}");
    // The message lists what is allowed.
    assert!(e.message.contains("expect"), "{e}");
    assert!(e.snippet.is_some(), "{e:?}");
}

#[test]
fn missing_required_field_is_reported_in_the_mapping() {
    let text = "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\ntags: [a]\n";
    let (e, path) = load_err(text);
    assert!(e.message.contains("missing field `expect`"), "{e}");
    assert_eq!(e.origin, path);
    // No position belongs to a missing field; the loader points into the top-level mapping.
    let (line, column) = (e.line.expect("line"), e.column.expect("column"));
    assert!((1..=4).contains(&line), "{e}");
    assert_eq!(column, 1, "{e}");
    assert!(
        e.to_string().starts_with(&format!("{path}:{line}:1: ")),
        "{e}"
    );
}

#[test]
fn yaml_syntax_error_is_reported_with_position() {
    let (e, path) = load_err(AUD_02.replace("tags: [claims, aud]", "tags: [claims, aud"));
    // The flow sequence opened on line 4 is still open when `jag:` shows up on line 5: the
    // error points where it opened, and keeps the parser's own words and place.
    assert_at(&e, &path, 4, 7);
    assert!(e.message.contains("never closed: add the `]`"), "{e}");
    assert!(e.message.contains("line 5 column 4"), "{e}");
}

#[test]
fn unknown_enum_value_lists_the_variants() {
    let (e, path) = load_err(minimal("A-1", "jag:\n  sign: nonsense\n"));
    assert_at(&e, &path, 5, 9);
    assert!(e.message.contains("nonsense"), "{e}");
    for variant in ["none", "hs256_public_key", "key_of", "unknown_kid"] {
        assert!(e.message.contains(variant), "{variant} not listed: {e}");
    }
}

#[test]
fn unknown_level_lists_the_levels() {
    let text = "id: A-1\ntitle: t\nrequirement: { level: MAYBE, source: s }\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 3, 23);
    for level in ["MUST", "SHOULD", "MAY", "INFO"] {
        assert!(e.message.contains(level), "{level} not listed: {e}");
    }
}

#[test]
fn duplicate_key_is_reported_at_the_second_occurrence() {
    let text = "id: A-1\ntitle: t\nid: A-2\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 3, 1);
    assert!(e.message.contains("duplicate"), "{e}");
    assert!(e.message.contains("id"), "{e}");
}

#[test]
fn unknown_placeholder_is_reported_at_the_dollar() {
    let text = minimal("A-1", "jag:\n  claims: { sub: \"${nope}\" }\n");
    assert_eq!(text.lines().nth(4), Some("  claims: { sub: \"${nope}\" }"));
    let (e, path) = load_err(text);
    assert_at(&e, &path, 5, 19);
    assert!(e.message.contains("${nope}"), "{e}");
    // The message lists the known placeholders.
    assert!(e.message.contains("ras.issuer"), "{e}");
    let snippet = e.snippet.as_deref().expect("snippet");
    assert!(snippet.contains("${nope}"), "{snippet}");
}

#[test]
fn placeholder_column_counts_characters_not_bytes() {
    let (e, path) = load_err(minimal("A-1", "jag:\n  claims: { sub: \"éé${nope}\" }\n"));
    assert_at(&e, &path, 5, 21);
}

#[test]
fn unclosed_placeholder_is_reported() {
    let text = "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\njag:\n  claims:\n    sub: \"${user.sub\"\nexpect:\n  reject: invalid_grant\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 6, 11);
    assert!(e.message.contains("unclosed"), "{e}");
}

#[test]

fn unclosed_placeholder_in_a_flow_mapping_is_called_unclosed() {
    let (e, path) = load_err(minimal("A-1", "jag:\n  claims: { sub: \"${user.sub\" }\n"));
    assert_at(&e, &path, 5, 19);
    assert!(e.message.contains("unclosed"), "{e}");
}

#[test]
fn unknown_field_inside_jag_is_reported_at_the_key() {
    let (e, path) = load_err(minimal("A-1", "jag:\n  claims: { sub: x }\n  bogus: 1\n"));
    assert_at(&e, &path, 6, 3);
    assert!(e.message.contains("bogus"), "{e}");
    assert!(e.message.contains("remove_claims"), "{e}");
}

#[test]
fn unknown_field_inside_expect_accept_is_reported() {
    let text = "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect:\n  accept:\n    token_typ: Bearer\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 6, 5);
    assert!(e.message.contains("token_typ"), "{e}");
}

#[test]
fn empty_reject_list_is_reported() {
    let text =
        "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect: { reject: [] }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 11);
    assert!(e.message.contains("at least one"), "{e}");
}

#[test]
fn id_with_whitespace_is_reported() {
    let (e, path) = load_err(minimal("\"JAG AUD 02\"", ""));
    assert_at(&e, &path, 1, 1);
    assert!(e.message.contains("id"), "{e}");
}

#[test]
fn token_exchange_with_jag_changes_is_reported() {
    let text = minimal(
        "A-1",
        "obtain: token_exchange\njag:\n  claims: { aud: x }\n",
    );
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 1);
    assert!(e.message.contains("token_exchange"), "{e}");
}

#[test]

fn token_exchange_error_points_at_obtain_even_when_the_title_mentions_it() {
    let text = "id: A-1\ntitle: a valid ID-JAG obtained from the IdP\nrequirement: { level: MUST, source: s }\nobtain: token_exchange\njag:\n  claims: { aud: x }\nexpect: { reject: invalid_grant }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 1);
}

#[test]

fn empty_reject_error_points_at_reject_even_when_the_title_mentions_it() {
    let text = "id: A-1\ntitle: an expired ID-JAG is rejected\nrequirement: { level: MUST, source: s }\nexpect: { reject: [] }\n";
    let (e, path) = load_err(text);
    assert_at(&e, &path, 4, 11);
}

// ---------------------------------------------------------------- hostile files

#[test]
fn non_utf8_file_is_an_error() {
    let (e, path) = load_err(b"id: A-1\ntitle: \xff\xfe\n".as_slice());
    assert_eq!(e.origin, path);
    assert!(e.message.contains("UTF-8"), "{e}");
    assert!(e.to_string().starts_with(&format!("{path}: ")), "{e}");
}

#[test]
fn deeply_nested_flow_sequences_are_an_error_not_a_crash() {
    let n = 10_000;
    for text in [
        "[".repeat(n),
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        minimal(
            "A-1",
            &format!("jag:\n  claims: {{ aud: {} }}\n", "[".repeat(n)),
        ),
        minimal(
            "A-1",
            &format!(
                "jag:\n  claims: {{ aud: {}{} }}\n",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ),
        minimal(
            "A-1",
            &format!("jag:\n  claims: {{ aud: {} }}\n", "{a: ".repeat(n)),
        ),
    ] {
        let (e, path) = load_err(text);
        assert_eq!(e.origin, path);
        assert!(e.line.is_some(), "{}", e.message);
    }
}

#[test]
fn deeply_nested_block_sequences_are_an_error_not_a_crash() {
    let mut text = String::from(
        "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\njag:\n  claims:\n    aud:\n",
    );
    // 900 levels (far past the loader's depth budget) still fit the 1 MiB input cap.
    for i in 0..900 {
        text.push_str(&" ".repeat(6 + 2 * i));
        text.push_str("- \n");
    }
    text.push_str("expect: { reject: invalid_grant }\n");
    let (e, path) = load_err(text);
    assert_eq!(e.origin, path);
    assert!(e.line.is_some(), "{}", e.message);
}

#[test]
fn empty_and_null_files_are_errors() {
    for text in ["", "\n", "~\n", "---\n", "[]\n", "42\n"] {
        let (e, path) = load_err(text);
        assert_eq!(e.origin, path, "{text:?}");
    }
}

// ---------------------------------------------------------------- cross-file errors

#[test]
fn duplicate_ids_name_both_files() {
    let dir = TempDir::new().expect("tempdir");
    let a = write(dir.path(), "a.yaml", minimal("DUP-1", ""));
    let b = write(dir.path(), "sub/b.yaml", minimal("DUP-1", ""));
    let e = load_dir(dir.path()).expect_err("duplicate ids");
    let text = e.to_string();
    assert!(text.contains("DUP-1"), "{text}");
    assert!(text.contains(&origin(&a)), "{text}");
    assert!(text.contains(&origin(&b)), "{text}");
}

#[test]
fn unknown_dependency_is_an_error() {
    let dir = TempDir::new().expect("tempdir");
    let path = write(
        dir.path(),
        "a.yaml",
        minimal("A-1", "depends_on: [NOPE-9]\n"),
    );
    let e = load_dir(dir.path()).expect_err("unknown dependency");
    assert_eq!(e.origin, origin(&path));
    assert!(e.message.contains("NOPE-9"), "{e}");
}

#[test]
fn empty_directory_is_an_error() {
    let dir = TempDir::new().expect("tempdir");
    write(dir.path(), "README.md", "nothing here");
    let e = load_dir(dir.path()).expect_err("no scenarios");
    assert_eq!(e.origin, origin(dir.path()));
    assert!(e.message.contains("no scenarios found"), "{e}");
}

#[test]
fn a_file_is_not_a_directory_and_a_missing_path_says_so() {
    let dir = TempDir::new().expect("tempdir");
    let file = write(dir.path(), "a.yaml", AUD_02);
    let missing = dir.path().join("missing");
    for (p, words) in [(file, "not a directory"), (missing, "no such directory")] {
        let e = load_dir(&p).expect_err(words);
        assert_eq!(e.origin, origin(&p));
        assert!(e.message.starts_with(words), "{e}");
    }
}

#[test]
fn one_bad_file_fails_the_whole_folder() {
    let dir = TempDir::new().expect("tempdir");
    write(dir.path(), "good.yaml", AUD_02);
    let bad = write(dir.path(), "bad.yaml", "id: [\n");
    let e = load_dir(dir.path()).expect_err("bad file");
    assert_eq!(e.origin, origin(&bad));
}

// ---------------------------------------------------------------- filter

#[test]
fn filter_keeps_matching_ids() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let kept = scenario::filter(all, "JAG-AUD-0[2]").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&kept), vec!["JAG-AUD-02"]);
}

#[test]
fn filter_keeps_dependencies() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let kept = scenario::filter(all, "BASE-02").unwrap_or_else(|e| panic!("{e}"));
    let got: BTreeSet<&str> = ids(&kept).into_iter().collect();
    assert_eq!(got, BTreeSet::from(["BASE-01", "BASE-02"]));
}

#[test]
fn filter_keeps_dependencies_transitively() {
    let dir = TempDir::new().expect("tempdir");
    write(dir.path(), "a.yaml", minimal("T-1", ""));
    write(dir.path(), "b.yaml", minimal("T-2", "depends_on: [T-1]\n"));
    write(dir.path(), "c.yaml", minimal("T-3", "depends_on: [T-2]\n"));
    write(dir.path(), "d.yaml", minimal("U-1", ""));
    let all = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let kept = scenario::filter(all, "T-3").unwrap_or_else(|e| panic!("{e}"));
    let got: BTreeSet<&str> = ids(&kept).into_iter().collect();
    assert_eq!(got, BTreeSet::from(["T-1", "T-2", "T-3"]));
}

#[test]
fn filter_matching_nothing_is_an_error() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let e = scenario::filter(all, "NOPE-*").expect_err("no match");
    assert!(e.message.contains("NOPE-*"), "{e}");
}

#[test]
fn filter_with_an_invalid_glob_is_an_error() {
    let all = scenario::embedded().unwrap_or_else(|e| panic!("{e}"));
    let e = scenario::filter(all, "[").expect_err("invalid glob");
    assert!(e.message.contains('['), "{e}");
}

/// A scenario with two cases, the second with its own `jag:` and `expect:`.
const TWO_CASES: &str = "version: 2\nid: X-CASES-01\ntitle: t\n\
requirement: { level: MUST, source: s }\n\
jag:\n  remove_claims: [sub]\n\
expect: { reject: invalid_grant }\n\
cases:\n  - name: sub removed\n  - name: a number\n    jag:\n      claims: { sub: 123 }\n    expect: { reject: [invalid_grant, invalid_request] }\n";

#[test]
fn cases_load_and_apply_over_the_scenario() {
    let l = load_one(TWO_CASES);
    let s = &l.scenario;
    let names: Vec<&str> = s.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sub removed", "a number"]);
    // The first case states nothing: it is the scenario as written.
    let first = s.with_case(&s.cases[0]);
    assert!(first.cases.is_empty());
    assert_eq!((&first.jag, &first.expect), (&s.jag, &s.expect));
    // The second replaces jag and expect, and keeps the rest (level, request, id).
    let second = s.with_case(&s.cases[1]);
    assert_eq!(second.jag.claims.get("sub"), Some(&serde_json::json!(123)));
    assert!(
        second.jag.remove_claims.is_empty(),
        "the case's jag replaces, not merges"
    );
    assert_eq!(
        second.expect.reject().map(|r| r.codes()),
        Some(vec![
            "invalid_grant".to_string(),
            "invalid_request".to_string()
        ])
    );
    assert_eq!(
        (second.id.as_str(), second.requirement.level),
        ("X-CASES-01", Level::Must)
    );
    assert!(second.cases.is_empty());
}

#[test]
fn a_case_name_used_twice_is_reported_at_the_second() {
    let text = TWO_CASES.replace("  - name: a number\n", "  - name: sub removed\n");
    let (e, path) = load_err(text);
    // Line 10: `  - name: sub removed`, the second one; column 5, the `name` key.
    assert_at(&e, &path, 10, 5);
    assert!(e.message.contains("`sub removed` is used twice"), "{e}");
    // Flow style and quotes: still at the second one.
    let text = TWO_CASES.replace(
        "cases:\n  - name: sub removed\n  - name: a number\n",
        "cases:\n  - { name: \"x\" }\n  - { name: 'x', jag: { remove_claims: [iss] } }\n  - name: a number\n",
    );
    let (e, path) = load_err(text);
    assert_at(&e, &path, 10, 7);
}

#[test]
fn a_case_needs_a_name_and_known_members() {
    let (e, _) = load_err(TWO_CASES.replace("  - name: a number\n", "  - name: \"\"\n"));
    assert!(e.message.contains("non-empty name"), "{e}");
    let (e, path) = load_err(TWO_CASES.replace("    jag:\n      claims", "    jwt:\n      claims"));
    assert!(e.message.contains("jwt"), "{e}");
    assert_at(&e, &path, 11, 5);
    let (e, _) = load_err(TWO_CASES.replace("  - name: sub removed\n", "  - jag: {}\n"));
    assert!(e.message.contains("name"), "{e}");
}

#[test]
fn a_case_is_validated_like_a_scenario() {
    let (e, _) = load_err(TWO_CASES.replace(
        "{ reject: [invalid_grant, invalid_request] }",
        "{ reject: [] }",
    ));
    assert!(e.message.contains("case `a number`: reject needs"), "{e}");
    let (e, _) =
        load_err(TWO_CASES.replace("jag:\n  remove_claims: [sub]\n", "obtain: token_exchange\n"));
    assert!(
        e.message
            .contains("case `a number`: obtain: token_exchange"),
        "{e}"
    );
}
