//! Command-line value parsers shared by `run`, `load` and `fuzz`.

use std::time::Duration;

use crate::reference::Defect;

/// A duration such as `500ms`, `10s` or `5m`, with an example in the error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (for example 500ms, 10s, 5m)"))
}

/// A reference defect by its kebab-case name; the error suggests the nearest names and says
/// where the list is.
pub fn parse_defect(s: &str) -> Result<Defect, String> {
    s.parse().map_err(|_: String| unknown_defect(s))
}

/// `unknown defect `x`; did you mean `y`? (`xaa-conform list --defects` lists them)`.
pub fn unknown_defect(s: &str) -> String {
    let names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
    let near = crate::names::did_you_mean(s, &names)
        .map(|d| format!("; {d}"))
        .unwrap_or_default();
    format!("unknown defect `{s}`{near} (`xaa-conform list --defects` lists them)")
}

/// `--profile`: one of [`crate::spec::PROFILES`], listed in `--help`; clap rejects any other
/// (exit 2) and names the similar one.
pub fn profile_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::spec::PROFILES.iter().copied())
}

/// `--fail-on`: `fail` (the default) or `warn`.
pub fn parse_fail_on(s: &str) -> Result<crate::spec::FailOn, String> {
    s.parse()
}
