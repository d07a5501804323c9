//! The requirement catalogue (`src/catalogue/requirements.yaml`) against the scenarios, the
//! reference defects, requirements.md (when it is next to the crate) and `xaa-conform list`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use xaa_conform::catalogue::{self, RequirementRow};
use xaa_conform::reference::{Defect, Proof};
use xaa_conform::scenario::{self, LoadedScenario};
use xaa_conform::spec::Level::{self, Must, Should};
use xaa_conform::spec::{PROFILES, Verdict};

/// Rows whose level departs from requirements.md's Level column on purpose: (id, the level
/// requirements.md states, the row's level). Every entry must still be a real departure.
const DEPARTURES_FROM_REQUIREMENTS_MD: &[(&str, Level, Level)] = &[
    // requirements.md cites RFC 8725 §3.10, which states no MUST; the MUST of RFC 7515 §4.1.4
    // binds the producer, so a server that ignores a numeric kid is WARN (issue 9 §3).
    ("JAG-HDR-12", Must, Should),
];

/// Rows the catalogue adds to requirements.md (every one must still be missing there): a
/// requirement the project found no row for.
const ROWS_BEYOND_REQUIREMENTS_MD: &[&str] = &[
    // Issue 9 §3: with no scope claim, a requested scope the RAS does not define must not be
    // granted (RFC 7521 §4.1; MCP EMA §7.2.1), a MUST no check covered.
    "JAG-SCP-08",
    // RFC 8414 §3: metadata only at the root for an issuer with a path (issue 9 §1).
    "META-08",
    // RFC 7662 §2.2: introspection of an issued token tells the truth (issue 9 §1).
    "RS-12",
    // RFC 9110 §15.5.2: every 401 carries WWW-Authenticate, body-credential failures included;
    // requirements.md names it only for Basic (ERR-01, CAUTH-03).
    "ERR-08",
];

/// Every row of the catalogue.
fn rows() -> &'static [RequirementRow] {
    catalogue::all()
}

/// The `requirement.why` a scenario file states, if any.
fn why_of(l: &LoadedScenario) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&l.origin);
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let doc: Value = serde_saphyr::from_str(&text).expect("YAML");
    doc.pointer("/requirement/why")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn embedded() -> Vec<LoadedScenario> {
    scenario::embedded().expect("the embedded catalogue loads")
}

fn scenario_ids() -> BTreeSet<String> {
    embedded().into_iter().map(|l| l.scenario.id).collect()
}

/// The sections a row may come from: 2–10, 12 and 13 (§11 is the fake IdP, §14–15 notes).
const SECTIONS: &[(u32, &str)] = &[
    (2, "baseline"),
    (3, "header"),
    (4, "signature"),
    (5, "claims"),
    (6, "client-auth"),
    (7, "request"),
    (8, "response"),
    (9, "dpop"),
    (10, "metadata"),
    (12, "resource-api"),
    (13, "load"),
];

/// (a) Every built-in scenario is a row of the catalogue and in the version-2 form, at the
/// row's level and source under every profile unless its file says why it departs; and a
/// file that says why does depart.
#[test]
fn every_scenario_is_a_row_at_its_level() {
    let mut problems = Vec::new();
    for l in embedded() {
        let s = &l.scenario;
        let Some(row) = catalogue::find(&s.id) else {
            problems.push(format!("{} ({}) is not a catalogue row", s.id, l.origin));
            continue;
        };
        if s.version != Some(scenario::FORMAT_VERSION) || !l.warnings.is_empty() {
            problems.push(format!(
                "{}: not in the version-2 form: {:?}",
                l.origin, l.warnings
            ));
        }
        let departs = s.requirement.level != row.level
            || s.requirement.source != row.source
            || PROFILES
                .iter()
                .any(|p| s.for_profile(p).0 != row.level_under(p));
        match (departs, why_of(&l)) {
            (true, None) => problems.push(format!(
                "{}: departs from its row without a why ({})",
                s.id, l.origin
            )),
            (false, Some(why)) => problems.push(format!(
                "{}: says why ({why}) but does not depart from its row",
                s.id
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The profile levels the rows state are the ones the scenarios run at: a scenario that does
/// not override its row has the row's level under every profile.
#[test]
fn scenarios_inherit_the_rows_profile_levels() {
    let mut profile_rows = 0;
    for l in embedded() {
        let s = &l.scenario;
        let row = catalogue::find(&s.id).expect("a row");
        if why_of(&l).is_some() {
            continue;
        }
        profile_rows += usize::from(!row.profile_levels.is_empty());
        assert_eq!(s.requirement.level, row.level, "{}", s.id);
        assert_eq!(s.requirement.source, row.source, "{}", s.id);
        for p in PROFILES {
            assert_eq!(s.for_profile(p).0, row.level_under(p), "{} under {p}", s.id);
        }
    }
    assert!(profile_rows > 0, "no row states a profile level");
}

/// (b) IDs are unique, and `find` finds each row.
#[test]
fn ids_are_unique() {
    let mut seen = BTreeSet::new();
    for r in rows() {
        assert!(seen.insert(r.id), "{} appears twice", r.id);
        assert_eq!(catalogue::find(r.id), Some(r));
    }
    assert_eq!(catalogue::find("NOPE-01"), None);
}

/// (c) Every row is covered by a built-in scenario or says why not.
#[test]
fn every_row_is_covered_or_has_a_reason() {
    let ids = scenario_ids();
    let missing: Vec<&str> = rows()
        .iter()
        .filter(|r| !ids.contains(r.id))
        .filter(|r| r.not_covered.is_none_or(|s| s.trim().is_empty()))
        .map(|r| r.id)
        .collect();
    assert!(
        missing.is_empty(),
        "rows with no scenario and no not_covered reason: {missing:?}"
    );
}

/// A row the built-in catalogue covers carries no stale reason: when a scenario is added for
/// it, its `not_covered` becomes `None`.
#[test]
fn covered_rows_have_no_reason() {
    let ids = scenario_ids();
    let stale: Vec<&str> = rows()
        .iter()
        .filter(|r| ids.contains(r.id) && r.not_covered.is_some())
        .map(|r| r.id)
        .collect();
    assert!(
        stale.is_empty(),
        "covered by a scenario, so drop not_covered in src/catalogue/requirements.yaml: {stale:?}"
    );
}

/// (d) Every MUST row of sections 2–8 and 12 is covered or has a reason.
#[test]
fn every_must_row_is_covered_or_has_a_reason() {
    let ids = scenario_ids();
    let missing: Vec<&str> = rows()
        .iter()
        .filter(|r| r.level == Must)
        .filter(|r| matches!(r.section_key().0, 2..=8 | 12))
        .filter(|r| !ids.contains(r.id))
        .filter(|r| r.not_covered.is_none_or(|s| s.trim().is_empty()))
        .map(|r| r.id)
        .collect();
    assert!(
        missing.is_empty(),
        "MUST rows with no scenario and no reason: {missing:?}"
    );
}

/// A row covered by other checks names checks of the built-in catalogue, has no scenario of
/// its own, and is proven through them (at least one of them has a proving defect).
#[test]
fn covered_by_names_existing_checks() {
    let ids = scenario_ids();
    let mut problems = Vec::new();
    for r in rows().iter().filter(|r| !r.covered_by.is_empty()) {
        if ids.contains(r.id) {
            problems.push(format!("{} has a scenario and covered_by", r.id));
        }
        for check in r.covered_by {
            if !ids.contains(check.as_str()) {
                problems.push(format!("{}: covered_by {check}, which is no check", r.id));
            }
        }
        if r.covered_by
            .iter()
            .all(|c| xaa_conform::reference::proving_defects(c).is_empty())
        {
            problems.push(format!("{}: no defect proves {:?}", r.id, r.covered_by));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The table is well formed: known sections in document order, each with its area, one-line
/// text, and the reason fallback.
#[test]
fn rows_are_well_formed() {
    let mut last = (0, 0);
    for r in rows() {
        let key = r.section_key();
        assert!(
            key >= last,
            "{} ({}) is out of section order",
            r.id,
            r.section
        );
        last = key;
        let area = SECTIONS.iter().find(|(n, _)| *n == key.0).map(|(_, a)| *a);
        assert_eq!(area, Some(r.area), "{}: section {} area", r.id, r.section);
        for (what, text) in [
            ("source", r.source),
            ("summary", r.summary),
            ("hint", r.hint.unwrap_or("-")),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {what}", r.id);
            assert!(!text.contains('\n'), "{}: {what} is not one line", r.id);
        }
        if let Some(reason) = r.not_covered {
            assert!(!reason.contains('\n'), "{}: reason is not one line", r.id);
            assert_eq!(r.reason(), reason);
        } else {
            assert_eq!(r.reason(), catalogue::NO_SCENARIO_YET);
        }
    }
}

/// The level a requirements.md Level cell maps to (the rule in the catalogue's module doc).
fn level_of_cell(cell: &str) -> Option<Level> {
    let cell = cell.trim().trim_matches('*');
    let first = cell.split([' ', ',', '(']).next().unwrap_or_default();
    Some(match first {
        "MUST" | "REQUIRED" => Must,
        "SHOULD" | "RECOMMENDED" | "Profile-dependent" => Should,
        "MAY" => Level::May,
        "INFO" if cell.contains("WARN") => Should,
        "INFO" => Level::Info,
        _ => return None,
    })
}

/// The transcription matches requirements.md: the same IDs, in the same order, with the level
/// its Level column maps to. Skipped when the file is not next to the crate.
#[test]
fn table_matches_requirements_md() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/requirements.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let mut section = 0u32;
    let mut rows: Vec<(String, Option<Level>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("## ") {
            section = rest
                .split('.')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            continue;
        }
        if !SECTIONS.iter().any(|(n, _)| *n == section) || !line.starts_with("| ") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let id = cells[0];
        let is_id = id.rsplit_once('-').is_some_and(|(prefix, n)| {
            n.len() == 2
                && n.bytes().all(|b| b.is_ascii_digit())
                && prefix.bytes().all(|b| b.is_ascii_uppercase() || b == b'-')
        });
        if !is_id {
            continue;
        }
        // Section 13 has no Level column (ID | Basis | Check).
        let level = if cells.len() >= 5 {
            level_of_cell(cells[2])
        } else {
            None
        };
        rows.push((id.to_string(), level));
    }
    let md_ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    for extra in ROWS_BEYOND_REQUIREMENTS_MD {
        assert!(
            !md_ids.contains(extra),
            "{extra} is in requirements.md now: drop it from ROWS_BEYOND_REQUIREMENTS_MD"
        );
    }
    let transcribed: Vec<&RequirementRow> = catalogue::all()
        .iter()
        .filter(|r| !ROWS_BEYOND_REQUIREMENTS_MD.contains(&r.id))
        .collect();
    let table_ids: Vec<&str> = transcribed.iter().map(|r| r.id).collect();
    assert_eq!(md_ids, table_ids, "IDs differ from requirements.md");
    for ((id, level), r) in rows.iter().zip(transcribed) {
        let Some(level) = *level else { continue };
        let departure = DEPARTURES_FROM_REQUIREMENTS_MD
            .iter()
            .find(|(d, _, _)| d == id);
        match departure {
            Some((_, md, row)) => {
                assert_eq!((*md, *row), (level, r.level), "{id}: the listed departure");
            }
            None => assert_eq!(level, r.level, "{id}: level differs from requirements.md"),
        }
    }
}

fn run_list(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xaa-conform"))
        .arg("list")
        .args(args)
        .output()
        .expect("run xaa-conform list");
    assert!(
        out.status.success(),
        "list {args:?} exited {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn list_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let text = run_list(&all);
    match serde_json::from_str(&text) {
        Ok(Value::Array(items)) => items,
        other => panic!("list --format json is not a JSON array: {other:?}"),
    }
}

fn str_field<'a>(item: &'a Value, key: &str) -> &'a str {
    item[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {item}"))
}

/// (e) `list --format json` lists every row with its fields, covered exactly for the
/// scenario IDs.
#[test]
fn list_json_has_every_row() {
    let items = list_json(&[]);
    let scenarios: BTreeMap<String, LoadedScenario> = embedded()
        .into_iter()
        .map(|l| (l.scenario.id.clone(), l))
        .collect();
    let ids: Vec<&str> = items.iter().map(|i| str_field(i, "id")).collect();
    let table: Vec<&str> = rows().iter().map(|r| r.id).collect();
    assert_eq!(
        ids, table,
        "the JSON lists the catalogue rows in order, nothing else"
    );
    for (item, row) in items.iter().zip(rows()) {
        check_item(item, row, scenarios.get(row.id));
    }
}

fn check_item(item: &Value, row: &RequirementRow, scenario: Option<&LoadedScenario>) {
    let id = row.id;
    assert_eq!(str_field(item, "level"), row.level.name(), "{id}");
    assert_eq!(str_field(item, "area"), row.area, "{id}");
    assert_eq!(str_field(item, "section"), row.section, "{id}");
    assert_eq!(str_field(item, "source"), row.source, "{id}");
    assert!(!str_field(item, "title").is_empty(), "{id}: title");
    assert_eq!(item["in_catalogue"], Value::Bool(true), "{id}");
    let defects: Vec<&str> = item["defects"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: defects is not an array"))
        .iter()
        .map(|d| d.as_str().unwrap_or_else(|| panic!("{id}: defect name")))
        .collect();
    let mut expected: Vec<&str> = Vec::new();
    let proven_through: Vec<&str> = if scenario.is_none() && !row.covered_by.is_empty() {
        row.covered_by.iter().map(String::as_str).collect()
    } else {
        vec![id]
    };
    for check in proven_through {
        for d in xaa_conform::reference::proving_defects(check) {
            if !expected.contains(&d.name()) {
                expected.push(d.name());
            }
        }
    }
    assert_eq!(defects, expected, "{id}: defects");
    match scenario {
        Some(l) => {
            assert_eq!(item["covered"], Value::Bool(true), "{id}");
            assert_eq!(str_field(item, "scenario"), l.origin, "{id}");
            assert_eq!(str_field(item, "title"), l.scenario.title, "{id}");
            assert!(item["reason"].is_null(), "{id}: reason on a covered row");
        }
        None if !row.covered_by.is_empty() => {
            // Judged by other checks (`covered_by`), which every embedded run loads.
            assert_eq!(item["covered"], Value::Bool(true), "{id}");
            assert_eq!(
                item["covered_by"],
                serde_json::json!(row.covered_by),
                "{id}: covered_by"
            );
            assert!(item["reason"].is_null(), "{id}: reason on a covered row");
        }
        None if catalogue::load_command(id).is_some() => {
            // Checked by `xaa-conform load`, not by a `run` scenario.
            assert_eq!(item["covered"], Value::Bool(true), "{id}");
            assert_eq!(
                str_field(item, "command"),
                catalogue::load_command(id).unwrap_or_default(),
                "{id}"
            );
            assert!(item["reason"].is_null(), "{id}: reason on a covered row");
        }
        None => {
            assert_eq!(item["covered"], Value::Bool(false), "{id}");
            assert_eq!(str_field(item, "reason"), row.reason(), "{id}");
            assert!(
                item["scenario"].is_null(),
                "{id}: scenario on an uncovered row"
            );
        }
    }
}

/// The text form: a header, one line per row in table order, and totals that add up (MUSTs
/// counted under the default profile, how many checks `run` runs and `load` judges).
#[test]
fn list_text_lines_and_summary() {
    let text = run_list(&[]);
    let ids = scenario_ids();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ID ")
            && lines[0].contains("LEVEL")
            && lines[0].contains("COVERAGE (levels under profile id-jag-04"),
        "{}",
        lines[0]
    );
    for (line, row) in lines[1..].iter().zip(rows()) {
        assert!(
            line.starts_with(row.id),
            "expected {} first, got {line}",
            row.id
        );
        if ids.contains(row.id) {
            assert!(line.contains(" covered "), "{line}");
        } else if !row.covered_by.is_empty() {
            assert!(
                line.contains(&format!(" covered      by {}", row.covered_by.join(", "))),
                "{line}"
            );
        } else if let Some(command) = catalogue::load_command(row.id) {
            assert!(line.contains(" covered "), "{line}");
            assert!(line.contains(command), "{line}");
        } else {
            assert!(
                line.contains(&format!("not covered: {}", row.reason())),
                "{line}"
            );
        }
    }
    let covered = |r: &&RequirementRow| {
        ids.contains(r.id) || catalogue::load_command(r.id).is_some() || !r.covered_by.is_empty()
    };
    let count = |f: &dyn Fn(&&RequirementRow) -> bool| rows().iter().filter(f).count();
    let levels = levels_under(PROFILES[0]);
    let must = |r: &&RequirementRow| levels[r.id] == Must;
    let summary = format!(
        "{} rows: {} covered ({} MUST), {} not covered ({} MUST); `run` runs {} checks, \
         `load` judges {} (profile {})",
        rows().len(),
        count(&covered),
        count(&|r| covered(r) && must(r)),
        count(&|r| !covered(r)),
        count(&|r| !covered(r) && must(r)),
        embedded().len(),
        count(&|r| r.load_command.is_some()),
        PROFILES[0],
    );
    assert_eq!(lines.last().copied(), Some(summary.as_str()));
    for d in Defect::ALL {
        assert!(
            text.contains(d.name()),
            "{} missing from the defect list",
            d.name()
        );
    }
}

/// Each row's level as it runs under `profile`: its scenario's, else the row's own.
fn levels_under(profile: &str) -> BTreeMap<&'static str, Level> {
    let scenarios = embedded();
    rows()
        .iter()
        .map(|r| {
            let level = scenarios
                .iter()
                .find(|l| l.scenario.id == r.id)
                .map_or(r.level_under(profile), |l| {
                    l.scenario.for_profile(profile).0
                });
            (r.id, level)
        })
        .collect()
}

/// `list --profile P` shows each row at its level under P, the catalogue's in brackets where
/// it differs; some row differs under every profile but the default (as `auth0` lowers
/// JAG-SCP-07 to INFO), and the JSON carries the same as `profile_level`.
#[test]
fn list_shows_levels_under_the_profile() {
    for &profile in PROFILES {
        let text = run_list(&["--profile", profile]);
        let levels = levels_under(profile);
        let mut differ = 0;
        for r in rows() {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().next() == Some(r.id))
                .unwrap_or_else(|| panic!("{} missing under {profile}", r.id));
            let under = levels[r.id];
            let cell = if under == r.level {
                format!("{:<13}", under.name())
            } else {
                differ += 1;
                format!("{:<13}", format!("{} ({})", under.name(), r.level.name()))
            };
            assert_eq!(&line[13..27], format!("{cell} "), "{profile}: {line}");
        }
        assert!(
            text.ends_with(&format!("(profile {profile})\n")),
            "{profile}"
        );
        if profile != PROFILES[0] {
            assert!(differ > 0, "no row differs under {profile}");
        }
        let items = list_json(&["--profile", profile]);
        for item in items
            .iter()
            .filter(|i| i["in_catalogue"] == Value::Bool(true))
        {
            let id = str_field(item, "id");
            assert_eq!(str_field(item, "profile"), profile);
            assert_eq!(str_field(item, "profile_level"), levels[id].name(), "{id}");
        }
    }
}

/// With `--scenarios DIR`, coverage follows that folder, and IDs outside the catalogue are
/// listed as custom.
#[test]
fn list_follows_a_scenario_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("BASE-07.yaml"),
        "version: 2\nid: BASE-07\ntitle: unknown parameters are ignored\n\
         tags: [baseline]\nrequest:\n  params: [[foo, bar]]\nexpect:\n  accept: {}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("X-CUSTOM-01.yaml"),
        "version: 2\nid: X-CUSTOM-01\ntitle: a house rule\n\
         requirement: { level: SHOULD, source: \"house rule\" }\n\
         tags: [house]\nexpect:\n  accept: {}\n",
    )
    .expect("write");
    let folder = dir.path().to_str().expect("UTF-8 temp path");
    let items = list_json(&["--scenarios", folder]);
    let covered: Vec<&str> = items
        .iter()
        .filter(|i| i["covered"] == Value::Bool(true))
        .map(|i| str_field(i, "id"))
        .collect();
    // The rows `xaa-conform load` checks stay covered whatever the scenario folder.
    assert_eq!(
        covered,
        [
            "BASE-07",
            "LOAD-01",
            "LOAD-03",
            "LOAD-04",
            "LOAD-06",
            "LOAD-07",
            "LOAD-08",
            "X-CUSTOM-01"
        ]
    );
    let custom = items.last().expect("items");
    assert_eq!(str_field(custom, "id"), "X-CUSTOM-01");
    assert_eq!(custom["in_catalogue"], Value::Bool(false));
    assert_eq!(str_field(custom, "level"), "SHOULD");
    assert_eq!(str_field(custom, "area"), "house");
    // A row the built-in catalogue covers, with no reason of its own, falls back.
    let base01 = items
        .iter()
        .find(|i| i["id"] == "BASE-01")
        .expect("BASE-01");
    assert_eq!(str_field(base01, "reason"), catalogue::NO_SCENARIO_YET);

    let text = run_list(&["--scenarios", folder]);
    assert!(text.contains("scenarios not in the requirement catalogue"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("X-CUSTOM-01") && l.contains("custom")),
        "{text}"
    );
    // BASE-07, and the rows checked by `xaa-conform load`.
    let covered = [
        "BASE-07", "LOAD-01", "LOAD-03", "LOAD-04", "LOAD-06", "LOAD-07", "LOAD-08",
    ];
    let must_not_covered = rows()
        .iter()
        .filter(|r| !covered.contains(&r.id) && r.level_under(PROFILES[0]) == Must)
        .count();
    assert!(
        text.ends_with(&format!(
            "{} rows: 7 covered (3 MUST), {} not covered ({must_not_covered} MUST); `run` runs 2 \
             checks, `load` judges 6 (profile id-jag-04)\n",
            rows().len(),
            rows().len() - 7,
        )),
        "{text}"
    );
}

/// (f) Every check a defect declares is a covered catalogue row, and every defect proves at
/// least one (moves it to FAIL or WARN, not only SKIP or, for a compliant choice, PASS).
#[test]
fn every_defect_proves_a_covered_row() {
    let ids = scenario_ids();
    let mut problems = Vec::new();
    for &d in Defect::ALL {
        for (check, _) in d.breaks() {
            if catalogue::find(check).is_none() {
                problems.push(format!("{d} breaks {check}, which is not a catalogue row"));
            } else if !ids.contains(*check) && d.proof() == Proof::Run {
                problems.push(format!("{d} breaks {check}, which no scenario covers"));
            }
        }
        let proves: Vec<&str> = d
            .breaks()
            .iter()
            .filter(|(_, v)| matches!(v, Verdict::Fail | Verdict::Warn))
            .map(|(c, _)| *c)
            .collect();
        if proves.is_empty() {
            problems.push(format!("{d} proves no check (only SKIPs)"));
        }
        for check in proves {
            if !xaa_conform::reference::proving_defects(check).contains(&d) {
                problems.push(format!("{d} is not listed as proving {check}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The scenario with `id`, loaded.
fn scenario_of(id: &str) -> scenario::Scenario {
    embedded()
        .into_iter()
        .find(|l| l.scenario.id == id)
        .unwrap_or_else(|| panic!("no scenario {id}"))
        .scenario
}

/// The `kid` a case's ID-JAG header carries.
fn kid_of(s: &scenario::Scenario, case: &str) -> Value {
    let c = s.cases.iter().find(|c| c.name == case).expect("case");
    s.with_case(c)
        .jag
        .header
        .get("kid")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Rows whose summary names several things to send: the scenario sends each as a case of its
/// own (issue 9 §3), so `list`'s summary and the scenario hold together. Per row: the words of
/// its summary and the case that sends them.
const MULTI_CASE_ROWS: &[(&str, &[(&str, &str)])] = &[
    (
        "JAG-SUB-01",
        &[
            ("sub removed", "sub removed"),
            ("\"\"", "empty string"),
            ("a number", "a number"),
        ],
    ),
    (
        "JAG-HDR-11",
        &[
            ("kid removed", "no kid"),
            (
                "signed with ISS_B's key under iss ISS_A",
                "ISS_B's key without kid",
            ),
        ],
    ),
    (
        "JAG-HDR-12",
        &[
            ("path traversal", "path traversal"),
            ("SQL", "SQL"),
            ("10 kB", "10 kB"),
            ("a number", "a number"),
        ],
    ),
    (
        "REQ-05",
        &[
            (
                "valid and invalid, both orders",
                "valid then invalid assertion",
            ),
            (
                "valid and invalid, both orders",
                "invalid then valid assertion",
            ),
            ("two grant_type parameters", "two grant_type parameters"),
        ],
    ),
];

#[test]
fn multi_case_rows_and_their_scenarios_hold_together() {
    for (id, cases) in MULTI_CASE_ROWS {
        let row = catalogue::find(id).expect("row");
        let s = scenario_of(id);
        let names: Vec<&str> = s.cases.iter().map(|c| c.name.as_str()).collect();
        let want: Vec<&str> = cases.iter().map(|(_, case)| *case).collect();
        assert_eq!(names, want, "{id}: its cases");
        for (words, _) in *cases {
            assert!(
                row.summary.contains(words),
                "{id}: `{words}` not in `{}`",
                row.summary
            );
        }
    }
    // What each case sends is what its row's words say.
    let sub = scenario_of("JAG-SUB-01");
    let jag = |s: &scenario::Scenario, case: &str| {
        let c = s.cases.iter().find(|c| c.name == case).expect("case");
        s.with_case(c).jag
    };
    assert_eq!(jag(&sub, "sub removed").remove_claims, ["sub"]);
    assert_eq!(
        jag(&sub, "empty string").claims.get("sub"),
        Some(&Value::from(""))
    );
    assert!(
        jag(&sub, "a number")
            .claims
            .get("sub")
            .is_some_and(Value::is_number)
    );
    assert!(
        sub.cases
            .iter()
            .all(|c| sub.with_case(c).expect.reject().is_some())
    );

    let hdr11 = scenario_of("JAG-HDR-11");
    let signed_b = jag(&hdr11, "ISS_B's key without kid");
    assert_eq!(signed_b.remove_header, ["kid"]);
    assert_eq!(
        serde_json::to_value(&signed_b.sign).expect("sign"),
        serde_json::json!({ "key_of": "trusted_b" })
    );
    assert!(signed_b.issuer.is_none(), "iss stays the trusted issuer's");
    let c = hdr11
        .cases
        .iter()
        .find(|c| c.name == "ISS_B's key without kid");
    assert!(hdr11.with_case(c.expect("case")).expect.reject().is_some());

    let hdr12 = scenario_of("JAG-HDR-12");
    assert!(
        kid_of(&hdr12, "path traversal")
            .as_str()
            .is_some_and(|k| k.contains("../"))
    );
    assert!(
        kid_of(&hdr12, "SQL")
            .as_str()
            .is_some_and(|k| k.contains('\''))
    );
    assert!(
        kid_of(&hdr12, "10 kB")
            .as_str()
            .is_some_and(|k| k.len() >= 10_000)
    );
    assert!(kid_of(&hdr12, "a number").is_number());
    // The row's "(no 5xx)": the string injections may be refused or accepted; the number, a
    // kid that is no string, is refused (RFC 7515 §4.1.4).
    for c in &hdr12.cases {
        let expect = hdr12.with_case(c).expect;
        let either = matches!(
            expect,
            xaa_conform::oracle::Expect::Rules(xaa_conform::oracle::Rules::Either(_))
        );
        assert_eq!(either, c.name != "a number", "{}: {expect:?}", c.name);
    }

    let req = scenario_of("REQ-05");
    let request = |case: &str| {
        let c = req.cases.iter().find(|c| c.name == case).expect("case");
        req.with_case(c).request
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let valid_first = request("valid then invalid assertion");
    assert_eq!(valid_first.assertion, None, "the minted ID-JAG first");
    assert_eq!(valid_first.params, [pair("assertion", "not-a-jwt")]);
    let invalid_first = request("invalid then valid assertion");
    assert_eq!(invalid_first.assertion.as_deref(), Some("not-a-jwt"));
    assert_eq!(invalid_first.params, [pair("assertion", "${jag}")]);
    let grant_types = request("two grant_type parameters");
    assert_eq!(grant_types.params.len(), 1);
    assert_eq!(grant_types.params[0].0, "grant_type");
    assert!(req.cases.iter().all(|c| {
        req.with_case(c)
            .expect
            .reject()
            .is_some_and(|r| r.codes() == ["invalid_request"])
    }));
}

/// BASE-09's summary says what its scenario sends: `exp` 299.5 s ahead.
#[test]
fn base_09_summary_matches_its_lifetime() {
    let row = catalogue::find("BASE-09").expect("row");
    assert!(row.summary.contains("now+299.5"), "{}", row.summary);
    let s = scenario_of("BASE-09");
    let exp = s.jag.times.get("exp").expect("exp");
    let fraction = s.jag.add_fraction.get("exp").copied().unwrap_or_default();
    assert_eq!(exp.seconds as f64 + fraction, 299.5);
}

/// The README's profile table names every difference between the profiles: each row with a
/// profile level of its own and each scenario with an expectation or level per profile.
#[test]
fn the_readme_profile_table_names_every_profile_difference() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("| check | id-jag-04 (default) | mcp-ema | auth0 | source |")
        .expect("the README's profile table");
    let table: String = readme[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect::<Vec<_>>()
        .join("\n");
    let named = |id: &str| {
        table.lines().any(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|w| w == id)
        })
    };
    let mut missing = BTreeSet::new();
    for row in catalogue::all() {
        if !row.profile_levels.is_empty() && !named(row.id) {
            missing.insert(row.id.to_string());
        }
    }
    for s in scenario::embedded().expect("scenarios") {
        if !s.scenario.profiles.is_empty() && !named(&s.scenario.id) {
            missing.insert(s.scenario.id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "the README's profile table does not name: {missing:?}"
    );
}
