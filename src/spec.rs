//! Requirement levels, verdicts and profiles: the vocabulary of `../shared/spec/requirements.md`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The strength of the rule a check tests (BCP 14), which decides the verdict when it is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// MUST, MUST NOT, REQUIRED: a violation is FAIL.
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED, or an ambiguity listed in requirements.md §15: WARN.
    Should,
    /// MAY, OPTIONAL: behaviour is recorded as INFO.
    May,
    /// Recorded behaviour only: INFO.
    Info,
}

impl Level {
    /// The verdict a check of this level gets when the server breaks its rule.
    pub fn violation(self) -> Verdict {
        match self {
            Level::Must => Verdict::Fail,
            Level::Should => Verdict::Warn,
            Level::May | Level::Info => Verdict::Info,
        }
    }

    /// The upper-case keyword.
    pub fn name(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Info => "INFO",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of one check (contract: these six words).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// The server met the requirement.
    Pass,
    /// A MUST was violated.
    Fail,
    /// A SHOULD was violated, or the behaviour falls in a listed ambiguity.
    Warn,
    /// Behaviour recorded, no judgement.
    Info,
    /// Not applicable, or the positive control was not accepted.
    Skip,
    /// No usable answer from the server.
    Error,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 6] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Info,
        Verdict::Skip,
        Verdict::Error,
    ];

    /// FAIL and ERROR: the verdicts that make a run unsuccessful (exit 1 or 3).
    pub fn is_failure(self) -> bool {
        matches!(self, Verdict::Fail | Verdict::Error)
    }

    /// FAIL, ERROR and WARN: the verdicts a reader has to look at.
    pub fn needs_attention(self) -> bool {
        self.is_failure() || self == Verdict::Warn
    }

    /// The upper-case word.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Info => "INFO",
            Verdict::Skip => "SKIP",
            Verdict::Error => "ERROR",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a check's rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Level of the rule.
    pub level: Level,
    /// Spec sections, e.g. `ID-JAG-04 §4.4.1; RFC 7523 §3 item 3`.
    pub source: String,
}

/// The exit code of an interrupted run (128 + SIGINT), before every other code.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Of two exit codes, the one that wins by design.md's precedence: 130 (interrupted), then 2
/// (bad input), then 3 (could not run), then 1 (a FAIL), then 4 (a threshold breached), then
/// 0. (Within one run, isolated ERRORs rank below a FAIL: see `oracle::exit_code`.)
pub fn worst_exit(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        130 => 5,
        2 => 4,
        3 => 3,
        1 => 2,
        4 => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Which verdicts fail a run (`--fail-on`): FAIL alone (the default), or WARN as well, for
/// pipelines that hold a server to its SHOULDs too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FailOn {
    /// Only a FAIL (not listed as expected) fails the run.
    #[default]
    Fail,
    /// A WARN fails the run as a FAIL does (exit 1).
    Warn,
}

impl FailOn {
    /// The values `--fail-on` takes.
    pub const NAMES: [&'static str; 2] = ["fail", "warn"];

    /// Whether a check with this verdict fails the run under this rule.
    pub fn fails(self, verdict: Verdict) -> bool {
        verdict == Verdict::Fail || (self == FailOn::Warn && verdict == Verdict::Warn)
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fail" => Ok(FailOn::Fail),
            "warn" => Ok(FailOn::Warn),
            _ => Err(format!(
                "`{s}`: expected one of {}",
                FailOn::NAMES.join(", ")
            )),
        }
    }
}

/// The draft revision the catalogue follows.
pub const DRAFT: &str = "draft-ietf-oauth-identity-assertion-authz-grant-04";

/// The expectation profiles (requirements.md §14): the generic draft, MCP enterprise-managed
/// authorization, and Auth0's resource-app behaviour.
pub const PROFILES: &[&str] = &["id-jag-04", "mcp-ema", "auth0"];

/// `unknown profile `x`; did you mean `y`? (profiles: …)`: the nearest profile, then the
/// three of them.
pub fn unknown_profile(name: &str) -> String {
    let near = crate::names::did_you_mean(name, PROFILES)
        .map(|d| format!("; {d}"))
        .unwrap_or_default();
    format!(
        "unknown profile `{name}`{near} (profiles: {})",
        PROFILES.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_profile_names_the_nearest_and_the_three() {
        assert_eq!(
            unknown_profile("mcp-emaa"),
            "unknown profile `mcp-emaa`; did you mean `mcp-ema`? (profiles: id-jag-04, mcp-ema, auth0)"
        );
        assert_eq!(
            unknown_profile("okta"),
            "unknown profile `okta` (profiles: id-jag-04, mcp-ema, auth0)"
        );
    }
}
