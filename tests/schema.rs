//! The JSON Schemas `xaa-conform schema` prints describe the files the loader accepts: every
//! scenario of the catalogue, and the example target file, validate against them.

use xaa_conform::scenario;

#[test]
fn every_catalogue_scenario_validates_against_the_scenario_schema() {
    let schema = scenario::schema();
    let validator = jsonschema::validator_for(&schema).expect("the scenario schema compiles");
    for loaded in scenario::embedded().expect("catalogue") {
        let text = std::fs::read_to_string(&loaded.origin).expect("scenario file");
        let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", loaded.origin);
    }
}

/// The version-1 form (no `version`, `requirement` stating level and source) and a
/// version-2 override (`why`) validate too; a stray member of `requirement` does not.
#[test]
fn both_scenario_forms_validate_and_requirement_is_optional() {
    let schema = scenario::schema();
    let validator = jsonschema::validator_for(&schema).expect("the scenario schema compiles");
    let valid = |text: &str| {
        let doc: serde_json::Value = serde_saphyr::from_str(text).expect("YAML");
        validator.is_valid(&doc)
    };
    assert!(valid(
        "id: A-1\ntitle: t\nrequirement: { level: MUST, source: s }\nexpect: { reject: invalid_grant }\n"
    ));
    assert!(valid(
        "version: 2\nid: JAG-AUD-02\ntitle: t\nexpect: { reject: invalid_grant }\n"
    ));
    assert!(valid(
        "version: 2\nid: JAG-AUD-02\ntitle: t\nrequirement: { level: SHOULD, why: w }\nexpect: { reject: invalid_grant }\n"
    ));
    assert!(!valid(
        "version: 2\nid: JAG-AUD-02\ntitle: t\nrequirement: { level: SHOULD, because: w }\nexpect: { reject: invalid_grant }\n"
    ));
    let required = schema["required"].as_array().expect("required");
    assert!(!required.iter().any(|r| r == "requirement"), "{required:?}");
    assert!(schema.pointer("/properties/version").is_some());
    assert!(schema.pointer("/properties/requirement/default").is_none());
}

#[test]
fn the_example_target_validates_against_the_target_schema() {
    let schema = serde_json::to_value(schemars::schema_for!(xaa_conform::target::TargetFile))
        .expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("the target schema compiles");
    let text = std::fs::read_to_string("examples/target.yaml").expect("example");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// `cases:` is in the scenario schema: a list of cases with a required `name` and no member
/// the loader would refuse.
#[test]
fn the_scenario_schema_describes_cases() {
    let schema = scenario::schema();
    let validator = jsonschema::validator_for(&schema).expect("the scenario schema compiles");
    let valid = |text: &str| {
        let doc: serde_json::Value = serde_saphyr::from_str(text).expect("YAML");
        validator.is_valid(&doc)
    };
    let head = "version: 2\nid: JAG-SUB-01\ntitle: t\nexpect: { reject: invalid_grant }\n";
    assert!(valid(&format!(
        "{head}cases:\n  - name: a\n  - name: b\n    jag: {{ claims: {{ sub: 1 }} }}\n    request: {{ params: [[a, b]] }}\n    expect: {{ either: {{ reject: invalid_grant, accept: {{}} }} }}\n"
    )));
    assert!(
        !valid(&format!("{head}cases:\n  - jag: {{}}\n")),
        "a case needs a name"
    );
    assert!(
        !valid(&format!("{head}cases:\n  - name: a\n    replay: true\n")),
        "a case changes jag, request and expect only"
    );
}

/// results.json's schema describes the grouped findings of the checks that judge the form of
/// every answer of the run (ERR-01, …): optional on a check, each with its verdict, what
/// deviates, its count and every occurrence (check, exchange index, role).
#[test]
fn the_results_schema_describes_grouped_findings() {
    let schema = xaa_conform::report::json::results_schema();
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .expect("definitions");
    let check = &defs["CheckResult"];
    assert!(check.pointer("/properties/findings").is_some(), "{check}");
    let required = check["required"].as_array().expect("required");
    assert!(
        !required.iter().any(|r| r == "findings"),
        "findings is optional"
    );
    let finding = &defs["Finding"];
    for member in ["verdict", "what", "count", "occurrences"] {
        assert!(
            finding["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == member)),
            "Finding.{member} is required: {finding}"
        );
    }
    let occurrence = &defs["Occurrence"];
    for member in ["check", "exchange", "role"] {
        assert!(
            occurrence
                .pointer(&format!("/properties/{member}"))
                .is_some(),
            "Occurrence.{member}: {occurrence}"
        );
    }
}
