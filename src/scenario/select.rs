//! Which checks a run runs and reports: `--filter` (check-ID globs), `--tag` (scenario tags)
//! and `--exclude` (check-ID globs dropped from the report). Pure: it sees loaded scenarios
//! only.
//!
//! A check is selected when its ID matches any `--filter` pattern (or there is none) and it
//! has any `--tag` (or there is none), and no `--exclude` pattern matches it. The run also
//! runs what selected checks depend on (`depends_on`, transitively), excluded or not; an
//! excluded check runs only for them and is not reported.

use std::collections::BTreeSet;

use super::LoadedScenario;
use crate::input::InputError;

/// What a run selects; empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--filter` values: each a comma list of check-ID globs (case-insensitive).
    pub filter: Vec<String>,
    /// `--tag` values: each a comma list of tags (case-insensitive).
    pub tags: Vec<String>,
    /// `--exclude` values: each a comma list of check-ID globs (case-insensitive).
    pub exclude: Vec<String>,
}

/// The scenarios a selection runs, and which of them it does not report.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The scenarios to run, in catalogue order: the selected checks and what they depend on.
    pub scenarios: Vec<LoadedScenario>,
    /// IDs of the scenarios that run only because a selected check depends on them, though
    /// `--exclude` names them: their results are left out of the report.
    pub unreported: BTreeSet<String>,
}

impl Selected {
    /// Whether the check `id` is reported.
    pub fn reports(&self, id: &str) -> bool {
        !self.unreported.contains(id)
    }
}

/// The patterns of one flag value: split on commas outside `[...]` (so `JAG-[A,B]*` stays
/// whole), each trimmed, empty ones dropped.
pub fn split_patterns(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                current.push(c);
                // A `]` right after `[` or `[!` is a member of the class, not its end.
                if chars.peek() == Some(&'!') {
                    current.extend(chars.next());
                }
                if chars.peek() == Some(&']') {
                    current.extend(chars.next());
                }
                for inner in chars.by_ref() {
                    current.push(inner);
                    if inner == ']' {
                        break;
                    }
                }
            }
            ',' => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The compiled globs of a flag's values; an invalid one, or a value with no pattern, is bad
/// input naming the flag.
fn globs(flag: &str, values: &[String]) -> Result<Vec<(String, glob::Pattern)>, InputError> {
    let mut out = Vec::new();
    for value in values {
        let patterns = split_patterns(value);
        if patterns.is_empty() {
            return Err(InputError::file(
                flag,
                format!("`{value}` holds no pattern"),
            ));
        }
        for p in patterns {
            let pat = glob::Pattern::new(&p)
                .map_err(|e| InputError::file(flag, format!("`{p}`: {e}")))?;
            out.push((p, pat));
        }
    }
    Ok(out)
}

/// Whether `id` matches one of `globs`, ignoring case.
fn matches_any(globs: &[(String, glob::Pattern)], id: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    globs.iter().any(|(_, g)| g.matches_with(id, options))
}

/// Whether `pattern` has no glob characters: it names one check ID.
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '['])
}

/// The `--filter` patterns without glob characters that name no check of `ids`.
fn unknown_literals<'p>(filter: &'p [(String, glob::Pattern)], ids: &[&str]) -> Vec<&'p str> {
    filter
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| is_literal(p) && !ids.iter().any(|id| id.eq_ignore_ascii_case(p)))
        .collect()
}

/// `did you mean `X`?` for each of `unknown` that has near IDs (prefixed by the pattern when
/// there is more than one), joined by `; `; empty when none is near.
fn suggestions(unknown: &[&str], ids: &[&str], several: bool) -> String {
    unknown
        .iter()
        .filter_map(|p| {
            crate::names::did_you_mean(p, ids).map(|d| {
                if several {
                    format!("for `{p}`, {d}")
                } else {
                    d
                }
            })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the check IDs are listed, the end of every selection error.
const SEE_LIST: &str = "(`xaa-conform list` lists them)";

/// Applies `sel` to the catalogue `all`. Nothing left to report is bad input naming the
/// patterns; so is a `--filter` pattern without glob characters that names no check (with
/// the nearest IDs).
pub fn select(all: Vec<LoadedScenario>, sel: &Selection) -> Result<Selected, InputError> {
    let filter = globs("--filter", &sel.filter)?;
    let ids: Vec<&str> = all.iter().map(|s| s.scenario.id.as_str()).collect();
    let unknown = unknown_literals(&filter, &ids);
    let near = suggestions(&unknown, &ids, unknown.len() > 1);
    let exclude = globs("--exclude", &sel.exclude)?;
    let mut tags: Vec<String> = Vec::new();
    for value in &sel.tags {
        let listed = split_patterns(value);
        if listed.is_empty() {
            return Err(InputError::file("--tag", format!("`{value}` holds no tag")));
        }
        tags.extend(listed.into_iter().map(|t| t.to_lowercase()));
    }
    let chosen = |s: &LoadedScenario| {
        let sc = &s.scenario;
        (filter.is_empty() || matches_any(&filter, &sc.id))
            && (tags.is_empty() || sc.tags.iter().any(|t| tags.contains(&t.to_lowercase())))
    };
    let mut keep: Vec<String> = all
        .iter()
        .filter(|s| chosen(s) && !matches_any(&exclude, &s.scenario.id))
        .map(|s| s.scenario.id.clone())
        .collect();
    if keep.is_empty() {
        return Err(InputError::file(
            if filter.is_empty() && tags.is_empty() {
                "--exclude"
            } else if filter.is_empty() {
                "--tag"
            } else {
                "--filter"
            },
            nothing_selected(sel, all.iter().any(chosen), &near),
        ));
    }
    if !unknown.is_empty() {
        let named: Vec<String> = unknown.iter().map(|p| format!("`{p}`")).collect();
        let near = if near.is_empty() {
            String::new()
        } else {
            format!("; {near}")
        };
        return Err(InputError::file(
            "--filter",
            format!("no check has the id {}{near} {SEE_LIST}", named.join(", ")),
        ));
    }
    let mut i = 0;
    while i < keep.len() {
        if let Some(s) = all.iter().find(|s| s.scenario.id == keep[i]) {
            for d in &s.scenario.depends_on {
                if !keep.contains(d) {
                    keep.push(d.clone());
                }
            }
        }
        i += 1;
    }
    let unreported = keep
        .iter()
        .filter(|id| matches_any(&exclude, id))
        .cloned()
        .collect();
    let scenarios = all
        .into_iter()
        .filter(|s| keep.contains(&s.scenario.id))
        .collect();
    Ok(Selected {
        scenarios,
        unreported,
    })
}

/// The message of a selection that leaves no check: which patterns matched nothing, or that
/// `--exclude` took every check they matched; `near` suggests IDs for mistyped ones.
fn nothing_selected(sel: &Selection, matched_before_exclude: bool, near: &str) -> String {
    let quoted = |values: &[String]| {
        values
            .iter()
            .flat_map(|v| split_patterns(v))
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut asked = Vec::new();
    if !sel.filter.is_empty() {
        asked.push(format!("--filter {}", quoted(&sel.filter)));
    }
    if !sel.tags.is_empty() {
        asked.push(format!("--tag {}", quoted(&sel.tags)));
    }
    let asked = if asked.is_empty() {
        "the catalogue".to_string()
    } else {
        asked.join(" and ")
    };
    if matched_before_exclude {
        format!(
            "--exclude {} leaves no check of {asked} {SEE_LIST}",
            quoted(&sel.exclude)
        )
    } else if near.is_empty() {
        format!("no check id matches {asked} {SEE_LIST}")
    } else {
        format!("no check id matches {asked}; {near} {SEE_LIST}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_brackets_stay_in_the_pattern() {
        assert_eq!(
            split_patterns("JAG-[A,B]*, BASE-01,,x"),
            vec!["JAG-[A,B]*", "BASE-01", "x"]
        );
        assert_eq!(split_patterns("[],x]*,y"), vec!["[],x]*", "y"]);
        assert_eq!(split_patterns("[!],]a,b"), vec!["[!],]a", "b"]);
        assert!(split_patterns(" , ").is_empty());
    }
}
