//! Loading scenarios from a folder or from the compiled-in catalogue, with validation that
//! goes beyond the YAML shape: unique IDs, known placeholders, known dependencies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use serde::Deserialize;

use super::{DeclaredRequirement, FORMAT_VERSION, Obtain, Scenario};
use crate::fixture::placeholders;
use crate::input::{InputError, parse_yaml};
use crate::spec::{PROFILES, Requirement};

static CATALOGUE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");

/// A scenario and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The scenario.
    pub scenario: Scenario,
    /// Where it came from: a path, or `scenarios/…` for the embedded catalogue.
    pub origin: String,
    /// What the loader has to say about the file without refusing it, each naming the file
    /// (e.g. that it is in the version-1 form). [`load_dir`] prints them on stderr.
    pub warnings: Vec<String>,
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// Byte offset where a YAML comment starts on `line` (a `#` at the start or after a space).
fn comment_start(line: &str) -> usize {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()))
        .unwrap_or(line.len())
}

/// Checks every `${name}` outside comments against the known placeholders.
fn check_placeholders(origin: &str, text: &str) -> Result<(), InputError> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let code = &line[..comment_start(line)];
        let mut from = 0;
        while let Some(rel) = code[from..].find("${") {
            let start = from + rel;
            let at = line_start + start;
            let after = &code[start + 2..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(after.len());
            if !after[name_len..].starts_with('}') {
                return Err(InputError::at_offset(
                    origin,
                    text,
                    at,
                    "unclosed placeholder: `${` needs a name and `}`",
                ));
            }
            let name = &after[..name_len];
            if !placeholders().any(|(p, _)| *p == name) {
                let known: Vec<&str> = placeholders().map(|(p, _)| *p).collect();
                return Err(InputError::at_offset(
                    origin,
                    text,
                    at,
                    format!(
                        "unknown placeholder ${{{name}}}; known: {}",
                        known.join(", ")
                    ),
                ));
            }
            from = start + 2 + name_len + 1;
        }
        line_start += line.len();
    }
    Ok(())
}

/// Offset of `key:` written at the start of a line (at any indentation), after `from`.
fn key_offset(text: &str, key: &str, from: usize) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let rest = line.trim_start().trim_start_matches("- ");
        if offset >= from && rest.starts_with(key) && rest[key.len()..].starts_with(':') {
            return Some(offset + indent);
        }
        offset += line.len();
    }
    None
}

/// Offset of `key:` written at the start of a line without indentation (a top-level key).
fn top_key_offset(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with(key) && line[key.len()..].starts_with(':') {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Offset of `key` inside the flow or block value of the top-level `parent` key.
fn nested_offset(text: &str, parent: &str, key: &str) -> usize {
    let Some(p) = key_offset(text, parent, 0) else {
        return 0;
    };
    text[p..].find(key).map_or(p, |k| p + k)
}

/// Offsets of the `name:` keys written after `from` (block or flow style), each with the
/// name as written (quotes removed).
fn name_keys(text: &str, from: usize) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut at = from.min(text.len());
    while let Some(rel) = text[at..].find("name:") {
        let start = at + rel;
        at = start + "name:".len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = &text[at..];
        // A block mapping's value runs to the end of the line (or a comment); a flow
        // mapping's to the next `,` or `}`.
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let lead = text[line_start..start]
            .trim_start()
            .trim_start_matches("- ");
        let end = if lead.trim().is_empty() {
            rest.find('\n')
                .map(|nl| rest[..nl].find(" #").unwrap_or(nl))
                .unwrap_or(rest.len())
        } else {
            rest.find(['\n', ',', '}']).unwrap_or(rest.len())
        };
        let value = rest[..end].trim().trim_matches(|c| c == '"' || c == '\'');
        found.push((start, value.to_string()));
    }
    found
}

/// The cases of a multi-case scenario: each has a non-empty name that no other case has, an
/// `expect:` that can be judged, and no `jag:` under `obtain: token_exchange`.
fn check_cases(origin: &str, text: &str, scenario: &Scenario) -> Result<(), InputError> {
    let at_cases = top_key_offset(text, "cases").unwrap_or(0);
    let names = name_keys(text, at_cases);
    // Where the `n`-th case called `name` is written (the cases key when it cannot be found).
    let name_at = |name: &str, n: usize| {
        names
            .iter()
            .filter(|(_, v)| v == name)
            .nth(n)
            .map_or(at_cases, |(o, _)| *o)
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &scenario.cases {
        let name = case.name.trim();
        if name.is_empty() {
            return Err(InputError::at_offset(
                origin,
                text,
                name_at(&case.name, 0),
                "a case needs a non-empty name",
            ));
        }
        let count = seen.entry(case.name.as_str()).or_default();
        *count += 1;
        if *count > 1 {
            return Err(InputError::at_offset(
                origin,
                text,
                name_at(&case.name, *count - 1),
                format!(
                    "case name `{}` is used twice; each case of a scenario needs its own name",
                    case.name
                ),
            ));
        }
        if let Some(codes) = case.expect.as_ref().and_then(|e| e.reject())
            && codes.codes().is_empty()
            && codes.statuses().is_empty()
        {
            return Err(InputError::at_offset(
                origin,
                text,
                name_at(&case.name, 0),
                format!(
                    "case `{}`: reject needs at least one error code or status",
                    case.name
                ),
            ));
        }
        if scenario.obtain == Obtain::TokenExchange
            && case.jag.as_ref().is_some_and(|j| !j.is_baseline())
        {
            return Err(InputError::at_offset(
                origin,
                text,
                name_at(&case.name, 0),
                format!(
                    "case `{}`: obtain: token_exchange takes the ID-JAG the IdP issues; it cannot be combined with jag changes",
                    case.name
                ),
            ));
        }
    }
    Ok(())
}

/// The members of a scenario file that say how to read its requirement, as written.
#[derive(Debug, Default, Deserialize)]
struct FileHead {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    requirement: Option<DeclaredRequirement>,
}

/// Sets the scenario's level and source (and its level under each profile) from its file and
/// its catalogue row; returns the warnings. The version-1 form (no `version`) states them in
/// `requirement:`, read as written. Version 2 takes what `requirement:` leaves out from the
/// row with the scenario's ID, and refuses a departure from the row that gives no `why`.
fn resolve_requirement(
    origin: &str,
    text: &str,
    head: FileHead,
    scenario: &mut Scenario,
) -> Result<Vec<String>, InputError> {
    let pos = |key: &str| top_key_offset(text, key);
    let at_requirement = pos("requirement").or(pos("id")).unwrap_or(0);
    let declared = head.requirement.unwrap_or_default();
    match head.version {
        None => {
            let (Some(level), Some(source)) = (declared.level, declared.source) else {
                return Err(InputError::at_offset(
                    origin,
                    text,
                    at_requirement,
                    format!(
                        "a scenario without `version` (the version-1 form) needs `requirement: {{ level, source }}`; \
                         with `version: {FORMAT_VERSION}` they come from the catalogue row"
                    ),
                ));
            };
            scenario.requirement = Requirement { level, source };
            Ok(vec![format!(
                "{origin}: no `version`: read in the version-1 scenario form; add \
                 `version: {FORMAT_VERSION}` and leave out the `requirement:` that repeats the \
                 catalogue row (an override says why, with `why:`)"
            )])
        }
        Some(FORMAT_VERSION) => {
            let Some(row) = crate::catalogue::find(&scenario.id) else {
                let (Some(level), Some(source)) = (declared.level, declared.source) else {
                    return Err(InputError::at_offset(
                        origin,
                        text,
                        at_requirement,
                        format!(
                            "{} is not a row of the requirement catalogue, so `requirement:` needs its level and source",
                            scenario.id
                        ),
                    ));
                };
                scenario.requirement = Requirement { level, source };
                return Ok(Vec::new());
            };
            let level = declared.level.unwrap_or(row.level);
            let source = declared.source.unwrap_or_else(|| row.source.to_string());
            let mut departures = Vec::new();
            if level != row.level {
                departures.push(format!("level {level} (the row: {})", row.level));
            }
            if source != row.source {
                departures.push(format!("source `{source}` (the row: `{}`)", row.source));
            }
            for &profile in PROFILES {
                let row_level = row.level_under(profile);
                let own = scenario.profiles.get(profile).and_then(|o| o.level);
                if let Some(own) = own
                    && own != row_level
                {
                    departures.push(format!(
                        "level {own} under {profile} (the row: {row_level})"
                    ));
                }
                // An overridden level holds under every profile the file does not name.
                let in_force = own.unwrap_or(if level == row.level { row_level } else { level });
                if in_force != level {
                    scenario
                        .profiles
                        .entry(profile.to_string())
                        .or_default()
                        .level = Some(in_force);
                }
            }
            let has_why = declared
                .why
                .as_deref()
                .is_some_and(|w| !w.trim().is_empty());
            if !departures.is_empty() && !has_why {
                let at = pos("requirement")
                    .or(pos("profiles"))
                    .unwrap_or(at_requirement);
                return Err(InputError::at_offset(
                    origin,
                    text,
                    at,
                    format!(
                        "{} departs from its catalogue row: {}; say why in `requirement: {{ why: \"…\" }}`, or leave out what differs",
                        scenario.id,
                        departures.join(", ")
                    ),
                ));
            }
            scenario.requirement = Requirement { level, source };
            Ok(Vec::new())
        }
        Some(other) => Err(InputError::at_offset(
            origin,
            text,
            pos("version").unwrap_or(0),
            format!(
                "unknown scenario format version {other}; this build reads version {FORMAT_VERSION} (and files without `version`, the version-1 form)"
            ),
        )),
    }
}

/// Parses and validates one scenario file's text; `origin` names it in errors.
pub fn parse_text(origin: &str, text: &str) -> Result<LoadedScenario, InputError> {
    parse_one(origin, text)
}

fn parse_one(origin: &str, text: &str) -> Result<LoadedScenario, InputError> {
    let mut scenario: Scenario = parse_yaml(origin, text)?;
    // The same text again, for what the typed form does not keep: which members of
    // `requirement:` the file states.
    let head: FileHead = parse_yaml(origin, text)?;
    check_placeholders(origin, text)?;
    let pos = |key: &str| key_offset(text, key, 0).unwrap_or(0);
    if scenario.id.trim().is_empty() || scenario.id.contains(char::is_whitespace) {
        return Err(InputError::at_offset(
            origin,
            text,
            pos("id"),
            "id must be a non-empty word such as JAG-AUD-02",
        ));
    }
    if let Some(codes) = scenario.expect.reject()
        && codes.codes().is_empty()
        && codes.statuses().is_empty()
    {
        return Err(InputError::at_offset(
            origin,
            text,
            nested_offset(text, "expect", "reject"),
            "reject needs at least one error code or status",
        ));
    }
    if let Some(name) = scenario
        .profiles
        .keys()
        .find(|p| !crate::spec::PROFILES.contains(&p.as_str()))
    {
        return Err(InputError::at_offset(
            origin,
            text,
            text.find(name.as_str()).unwrap_or(0),
            crate::spec::unknown_profile(name),
        ));
    }
    if let Some(wait) = &scenario.retry_after {
        let ok =
            humantime::parse_duration(wait).is_ok_and(|d| d <= std::time::Duration::from_secs(30));
        if !ok {
            return Err(InputError::at_offset(
                origin,
                text,
                pos("retry_after"),
                format!("retry_after `{wait}` must be a duration of at most 30s, such as 2s"),
            ));
        }
    }
    if scenario.obtain == Obtain::TokenExchange && !scenario.jag.is_baseline() {
        return Err(InputError::at_offset(
            origin,
            text,
            pos("obtain"),
            "obtain: token_exchange takes the ID-JAG the IdP issues; it cannot be combined with jag changes",
        ));
    }
    if scenario.exchange.is_some() && scenario.obtain != Obtain::TokenExchange {
        return Err(InputError::at_offset(
            origin,
            text,
            pos("exchange"),
            "exchange: changes the token exchange, so it needs obtain: token_exchange",
        ));
    }
    check_cases(origin, text, &scenario)?;
    let warnings = resolve_requirement(origin, text, head, &mut scenario)?;
    Ok(LoadedScenario {
        scenario,
        origin: origin.to_string(),
        warnings,
    })
}

/// Cross-file checks: unique IDs, dependencies that exist, at least one scenario.
fn finish(mut all: Vec<LoadedScenario>, where_: &str) -> Result<Vec<LoadedScenario>, InputError> {
    if all.is_empty() {
        return Err(InputError::file(
            where_,
            "no scenarios found (*.yaml or *.yml)",
        ));
    }
    all.sort_by(|a, b| a.origin.cmp(&b.origin));
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &all {
        if let Some(first) = seen.insert(&s.scenario.id, &s.origin) {
            return Err(InputError::file(
                &s.origin,
                format!("check id {} is already defined in {first}", s.scenario.id),
            ));
        }
    }
    for s in &all {
        for dep in &s.scenario.depends_on {
            if !seen.contains_key(dep.as_str()) {
                return Err(InputError::file(
                    &s.origin,
                    format!("depends_on names {dep}, which no scenario defines"),
                ));
            }
        }
    }
    all.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(all)
}

/// Loads every `*.yaml`/`*.yml` below `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedScenario>, InputError> {
    let where_ = dir.display().to_string();
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError::file(&where_, "no such directory"));
        }
        Err(e) => return Err(InputError::file(&where_, format!("cannot read: {e}"))),
        Ok(m) if !m.is_dir() => {
            return Err(InputError::file(
                &where_,
                "not a directory (--scenarios names a folder of scenario files)",
            ));
        }
        Ok(_) => {}
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| InputError::file(d.display().to_string(), format!("cannot read: {e}")))?;
        for entry in entries {
            let path = entry
                .map_err(|e| InputError::file(d.display().to_string(), e.to_string()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_yaml(&path) {
                files.push(path);
            }
        }
    }
    let mut all = Vec::new();
    for f in files {
        let origin = f.display().to_string();
        let text = crate::input::read_text(&f)?;
        all.push(parse_one(&origin, &text)?);
    }
    let all = finish(all, &where_)?;
    for warning in all.iter().flat_map(|l| &l.warnings) {
        eprintln!("warning: {warning}");
    }
    Ok(all)
}

/// The catalogue compiled into the binary.
pub fn embedded() -> Result<Vec<LoadedScenario>, InputError> {
    fn walk(d: &Dir<'static>, out: &mut Vec<(String, &'static str)>) {
        for f in d.files() {
            if is_yaml(f.path()) {
                out.push((
                    format!("scenarios/{}", f.path().display()),
                    f.contents_utf8().unwrap_or(""),
                ));
            }
        }
        for sub in d.dirs() {
            walk(sub, out);
        }
    }
    let mut files = Vec::new();
    walk(&CATALOGUE, &mut files);
    let all = files
        .into_iter()
        .map(|(origin, text)| parse_one(&origin, text))
        .collect::<Result<Vec<_>, _>>()?;
    finish(all, "scenarios/")
}

/// Keeps the scenarios whose ID matches the glob (a comma list of globs, ignoring case),
/// plus whatever they depend on: `--filter` alone (see [`super::select`]).
pub fn filter(all: Vec<LoadedScenario>, glob: &str) -> Result<Vec<LoadedScenario>, InputError> {
    let selection = super::select::Selection {
        filter: vec![glob.to_string()],
        ..Default::default()
    };
    super::select::select(all, &selection).map(|s| s.scenarios)
}
