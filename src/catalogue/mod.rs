//! The requirement catalogue of `../shared/spec/requirements.md`: every row of sections 2–10,
//! 12 and 13, with its level, source, the hint the HTML report gives when the check fails, the
//! levels profiles change and, where no scenario can test it yet, the reason why.
//!
//! The rows are data: `src/catalogue/requirements.yaml`, compiled into the binary and parsed
//! once, on first use. They are transcribed by hand (the markdown is
//! never parsed at run time). Whether a row is covered is not stored here: `xaa-conform list`
//! decides it from the scenarios it loads, so the same rows describe the built-in catalogue and
//! a custom `--scenarios` folder. A scenario takes its level and source from the row with its
//! ID unless it overrides them and says why (see `scenario`).
//!
//! Levels follow requirements.md's Level column: MUST, MUST NOT, REQUIRED, "MUST accept",
//! "MUST reject" and "MUST (…)" are [`Level::Must`]; SHOULD, SHOULD NOT, RECOMMENDED and
//! "SHOULD (…)" are [`Level::Should`]; MAY is [`Level::May`]; INFO is [`Level::Info`]. A row that
//! states two levels gets the stronger one ("INFO / WARN" is [`Level::Should`]); the
//! profile-dependent JAG-JTI-01 is [`Level::Should`] (the generic profile's verdict), MUST under
//! `mcp-ema` (its profile level). §13 has no Level column: rows whose breach is a correctness
//! fault (a token issued unverified or past `exp`) are [`Level::Must`], the ones judged WARN
//! are [`Level::Should`], pure measurements are [`Level::Info`]. One row departs from
//! requirements.md on purpose: JAG-HDR-12 (a numeric `kid`) is SHOULD, from RFC 7515 §4.1.4,
//! since the MUST there binds the producer and RFC 8725 §3.10 states none.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::spec::Level;

/// The catalogue's data file, compiled in.
const DATA: &str = include_str!("requirements.yaml");

/// Where the data file is, for error messages.
const DATA_ORIGIN: &str = "src/catalogue/requirements.yaml";

/// One row of the requirement catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequirementRow {
    /// Requirement ID, which is also the ID of the scenario that tests it, e.g. `JAG-AUD-02`.
    pub id: &'static str,
    /// The requirements.md section, number first, e.g. `5.2 aud`.
    pub section: &'static str,
    /// The area: `baseline`, `header`, `signature`, `claims`, `client-auth`, `request`,
    /// `response`, `dpop`, `metadata`, `resource-api` or `load`.
    pub area: &'static str,
    /// The strongest level the row states (see the module documentation for the mapping),
    /// under the generic profile.
    pub level: Level,
    /// The spec sections the rule comes from, quotations left out.
    pub source: &'static str,
    /// What is sent or checked (the Mutation / Request column), on one line.
    pub summary: &'static str,
    /// What the server most likely does wrong when the check is FAIL or WARN, as the HTML
    /// report says it; `None`: the hint of the row's ID prefix ([`area_hint`]).
    pub hint: Option<&'static str>,
    /// Why no scenario tests the row yet; `None` for rows the built-in catalogue covers. Shown
    /// only when the loaded scenarios do not cover the row ([`NO_SCENARIO_YET`] when `None`).
    pub not_covered: Option<&'static str>,
    /// The level under a profile where it differs from [`level`](Self::level), keyed by
    /// profile name (requirements.md §14), e.g. `mcp-ema: MUST` for a single-use `jti`.
    pub profile_levels: &'static BTreeMap<String, Level>,
    /// The `xaa-conform load` options that check the row instead of a `run` scenario (it
    /// needs sustained traffic); `None` for rows `run` checks.
    pub load_command: Option<&'static str>,
    /// The checks that judge exactly this row's rule as part of their own (RESP-01 by
    /// BASE-01, …): the row is covered when they are loaded, and proven by their defects.
    /// Empty for rows with a check of their own, or none.
    pub covered_by: &'static [String],
}

impl RequirementRow {
    /// Why the row is not covered: its own reason, or [`NO_SCENARIO_YET`].
    pub fn reason(&self) -> &'static str {
        self.not_covered.unwrap_or(NO_SCENARIO_YET)
    }

    /// The level under `profile`: its profile level if it has one, else [`level`](Self::level).
    pub fn level_under(&self, profile: &str) -> Level {
        self.profile_levels
            .get(profile)
            .copied()
            .unwrap_or(self.level)
    }

    /// The section number as a sortable key: `5.2 aud` is `(5, 2)`, `13 load` is `(13, 0)`.
    pub fn section_key(&self) -> (u32, u32) {
        let number = self.section.split(' ').next().unwrap_or_default();
        let mut parts = number
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
        (
            parts.next().unwrap_or(u32::MAX),
            parts.next().unwrap_or_default(),
        )
    }
}

/// The reason shown for a row that has no reason of its own and no scenario.
pub const NO_SCENARIO_YET: &str = "no scenario yet";

/// The data file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    /// Fallback hints by check ID prefix, first match wins.
    area_hints: Vec<AreaHint>,
    /// The rows, in document order.
    requirements: Vec<RowData>,
}

/// A fallback hint for the checks whose ID starts with `prefix` (custom ones too).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaHint {
    prefix: String,
    hint: String,
}

/// One row as written in the data file (see [`RequirementRow`] for the fields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowData {
    id: String,
    section: String,
    area: String,
    level: Level,
    source: String,
    summary: String,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    not_covered: Option<String>,
    #[serde(default)]
    profile_levels: BTreeMap<String, Level>,
    #[serde(default)]
    load_command: Option<String>,
    #[serde(default)]
    covered_by: Vec<String>,
}

/// The data file, parsed on first use. It is compiled in and a unit test parses it, so a
/// failure here is a broken build, not bad input.
static FILE: LazyLock<CatalogueFile> = LazyLock::new(|| {
    crate::input::parse_yaml(DATA_ORIGIN, DATA)
        .unwrap_or_else(|e| panic!("the compiled-in catalogue does not parse: {e}"))
});

/// Every row of requirements.md sections 2–10, 12 and 13, in document order (which is
/// section order).
pub static REQUIREMENTS: LazyLock<Vec<RequirementRow>> = LazyLock::new(|| {
    FILE.requirements
        .iter()
        .map(|r| RequirementRow {
            id: &r.id,
            section: &r.section,
            area: &r.area,
            level: r.level,
            source: &r.source,
            summary: &r.summary,
            hint: r.hint.as_deref(),
            not_covered: r.not_covered.as_deref(),
            profile_levels: &r.profile_levels,
            load_command: r.load_command.as_deref(),
            covered_by: &r.covered_by,
        })
        .collect()
});

/// Every row, in document order.
pub fn all() -> &'static [RequirementRow] {
    &REQUIREMENTS
}

/// The row with this ID.
pub fn find(id: &str) -> Option<&'static RequirementRow> {
    all().iter().find(|r| r.id == id)
}

/// The `load` options that check row `id`, when the load command covers it.
pub fn load_command(id: &str) -> Option<&'static str> {
    find(id).and_then(|r| r.load_command)
}

/// The fallback hint for a check ID by its prefix (`JAG-AUD-`, `CAUTH-`, …), whether or not
/// the ID is a row; `None` for an unknown prefix.
pub fn area_hint(check_id: &str) -> Option<&'static str> {
    FILE.area_hints
        .iter()
        .find(|a| check_id.starts_with(a.prefix.as_str()))
        .map(|a| a.hint.as_str())
}

/// The fallback hints as (ID prefix, hint), in the order they are tried.
pub fn area_hints() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILE.area_hints
        .iter()
        .map(|a| (a.prefix.as_str(), a.hint.as_str()))
}

/// A one-sentence hint for a FAIL or WARN of `check_id`: what the server most likely does
/// wrong. A row with a hint of its own gives it; other IDs fall back to their prefix's
/// ([`area_hint`]); `None` for an unknown prefix.
pub fn hint(check_id: &str) -> Option<&'static str> {
    find(check_id)
        .and_then(|r| r.hint)
        .or_else(|| area_hint(check_id))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_data_file_parses_with_unique_ids() {
        let file: CatalogueFile =
            crate::input::parse_yaml(DATA_ORIGIN, DATA).unwrap_or_else(|e| panic!("{e}"));
        assert!(!file.requirements.is_empty());
        let mut seen = BTreeSet::new();
        for r in &file.requirements {
            assert!(seen.insert(r.id.as_str()), "{} appears twice", r.id);
        }
        assert_eq!(all().len(), file.requirements.len());
    }

    #[test]
    fn profile_levels_name_known_profiles_and_differ() {
        for r in all() {
            for (profile, level) in r.profile_levels {
                assert!(
                    crate::spec::PROFILES.contains(&profile.as_str()),
                    "{}: unknown profile {profile}",
                    r.id
                );
                assert_ne!(*level, r.level, "{}: {profile} repeats the level", r.id);
                assert_eq!(r.level_under(profile), *level);
            }
            assert_eq!(r.level_under("no-such-profile"), r.level);
        }
    }

    #[test]
    fn hints_are_sentences_and_area_hints_have_unique_prefixes() {
        let mut prefixes = BTreeSet::new();
        for a in &FILE.area_hints {
            assert!(prefixes.insert(a.prefix.as_str()), "{} twice", a.prefix);
            assert!(a.hint.ends_with('.'), "{}: {}", a.prefix, a.hint);
        }
        for r in all() {
            if let Some(h) = r.hint {
                assert!(h.ends_with('.'), "{}: {h}", r.id);
                assert_ne!(
                    Some(h),
                    area_hint(r.id),
                    "{}: hint repeats its area's",
                    r.id
                );
            }
            assert_eq!(hint(r.id), r.hint.or_else(|| area_hint(r.id)));
        }
    }
}
