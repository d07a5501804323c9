//! The scenarios assume nothing of the server's world: every value of a world field (`scope`,
//! `iss`, `aud`, `sub`, `client_id`, `resource`, in the ID-JAG, the request or the expectation)
//! that is a string comes from the target through placeholders, so the same scenario is right
//! on every compliant server, not only on the reference. Values of another JSON type (a number
//! for `aud`, …) are deliberate type errors, not world values, and are allowed.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The members whose values are the server's world.
const WORLD: &[&str] = &["scope", "iss", "aud", "sub", "client_id", "resource"];

/// Expectation members that hold scope values.
const SCOPE_RULES: &[&str] = &["scope_within", "scope_at_most", "scope_excludes"];

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read scenarios/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// Every string inside `v`, with the path that leads to it.
fn strings<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::String(s) => out.push((path, s)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| strings(x, format!("{path}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| strings(x, format!("{path}.{k}"), out)),
        _ => {}
    }
}

/// The world values of one scenario: (where, value), its cases' included (a case has the
/// scenario's `jag`, `request` and `expect` shape).
fn world_values(doc: &Value) -> Vec<(String, String)> {
    let mut found = own_world_values(doc);
    if let Some(Value::Array(cases)) = doc.get("cases") {
        for (i, case) in cases.iter().enumerate() {
            found.extend(
                own_world_values(case)
                    .into_iter()
                    .map(|(p, v)| (format!("cases[{i}].{p}"), v)),
            );
        }
    }
    found
}

/// The world values of a scenario or of one case, leaving its cases out.
fn own_world_values(doc: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut take = |v: &Value, path: String| {
        let mut s = Vec::new();
        strings(v, path, &mut s);
        found.extend(s.into_iter().map(|(p, s)| (p, s.to_string())));
    };
    // Claims set or duplicated in the ID-JAG, or in the positive control's.
    for (jag, section) in [
        ("jag", "claims"),
        ("jag", "duplicate_claims"),
        ("control_jag", "claims"),
    ] {
        if let Some(Value::Object(m)) = doc.pointer(&format!("/{jag}/{section}")) {
            for (k, v) in m {
                if WORLD.contains(&k.as_str()) {
                    take(v, format!("{jag}.{section}.{k}"));
                }
            }
            // A Subject Identifier's members are the world's, its `format` the protocol's.
            if let Some(Value::Object(id)) = m.get("sub_id") {
                for (k, v) in id.iter().filter(|(k, _)| *k != "format") {
                    take(v, format!("{jag}.{section}.sub_id.{k}"));
                }
            }
        }
    }
    // Request parameters.
    if let Some(Value::Array(params)) = doc.pointer("/request/params") {
        for (i, p) in params.iter().enumerate() {
            if let (Some(Value::String(name)), Some(v)) = (p.get(0), p.get(1))
                && WORLD.contains(&name.as_str())
            {
                take(v, format!("request.params[{i}]"));
            }
        }
    }
    if let Some(Value::Object(m)) = doc.pointer("/request/set") {
        for (k, v) in m {
            if WORLD.contains(&k.as_str()) {
                take(v, format!("request.set.{k}"));
            }
        }
    }
    // The tenant of a multi-tenant issuer's ID-JAG (elsewhere `tenant` is an unknown claim).
    if doc.pointer("/jag/issuer").and_then(Value::as_str) == Some("multi_tenant")
        && let Some(v) = doc.pointer("/jag/claims/tenant")
    {
        take(v, "jag.claims.tenant".into());
    }
    // The audience a token exchange asks the IdP for (another RAS).
    if let Some(v) = doc.pointer("/exchange/audience") {
        take(v, "exchange.audience".into());
    }
    // Expectations about granted values, under any expectation kind and profile.
    let mut expects: Vec<(String, &Value)> = Vec::new();
    if let Some(e) = doc.get("expect") {
        expects.push(("expect".into(), e));
    }
    if let Some(Value::Object(profiles)) = doc.get("profiles") {
        for (name, p) in profiles {
            if let Some(e) = p.get("expect") {
                expects.push((format!("profiles.{name}.expect"), e));
            }
        }
    }
    for (path, e) in expects {
        let mut all = Vec::new();
        strings(e, path, &mut all);
        for (p, s) in all {
            let last = p.rsplit('.').next().unwrap_or_default();
            let last = last.split('[').next().unwrap_or_default();
            // A control's tenant (JAG-SUB-04) is the world's, as its other claims are.
            let control =
                p.contains(".control_claims.") && (WORLD.contains(&last) || last == "tenant");
            if SCOPE_RULES.contains(&last)
                || (p.contains(".equals.") && WORLD.contains(&last))
                || control
            {
                found.push((p, s.to_string()));
            }
        }
    }
    found
}

#[test]
fn no_scenario_names_a_world_value_literally() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files = Vec::new();
    scenario_files(&root, &mut files);
    files.sort();
    assert!(files.len() > 100, "the catalogue is there: {}", files.len());
    let mut literal = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read scenario");
        let doc: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (path, value) in world_values(&doc) {
            checked += 1;
            // An empty value names nothing of the world (like a number, a broken value).
            if !value.contains("${") && !value.is_empty() {
                literal.push(format!(
                    "{}: {path} = {value:?}",
                    file.strip_prefix(&root).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(checked > 30, "world values were found to check: {checked}");
    assert!(
        literal.is_empty(),
        "world values must come from the target through placeholders (see `xaa-conform schema`\n\
         and the README's placeholder table):\n{}",
        literal.join("\n")
    );
}

#[test]
fn the_walk_finds_literals_where_they_are() {
    let doc: Value = serde_saphyr::from_str(
        "id: X\njag:\n  claims: { aud: \"https://other.example/\", iss: 5 }\nrequest:\n  params: [[scope, s.read]]\nexpect:\n  accept: { scope_at_most: s.read, equals: { resource: \"${resource.r1}\" } }\n",
    )
    .expect("yaml");
    let values = world_values(&doc);
    let literal: Vec<&str> = values
        .iter()
        .filter(|(_, v)| !v.contains("${"))
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        literal,
        [
            "jag.claims.aud",
            "request.params[0]",
            "expect.accept.scope_at_most"
        ]
    );
    assert_eq!(values.len(), 4, "{values:?}");
}

#[test]
fn the_walk_looks_into_cases() {
    let doc: Value = serde_saphyr::from_str(
        "id: X\nexpect: { reject: invalid_grant }\ncases:\n  - name: a\n    jag: { claims: { aud: \"https://other.example/\" } }\n  - name: b\n    request: { params: [[resource, \"${resource.r1}\"]] }\n",
    )
    .expect("yaml");
    let values = world_values(&doc);
    let paths: Vec<&str> = values.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["cases[0].jag.claims.aud", "cases[1].request.params[0]"]
    );
}
