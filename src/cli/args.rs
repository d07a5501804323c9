//! Command-line value parsers shared by `run`, `load` and `fuzz`.

use std::time::Duration;

use crate::reference::Defect;

/// A duration such as `500ms`, `10s` or `5m`, with an example in the error.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (for example 500ms, 10s, 5m)"))
}

/// A reference defect by its kebab-case name; the error lists the valid names.
pub fn parse_defect(s: &str) -> Result<Defect, String> {
    s.parse()
}

/// `--fail-on`: `fail` (the default) or `warn`.
pub fn parse_fail_on(s: &str) -> Result<crate::spec::FailOn, String> {
    s.parse()
}
