//! The expected-failures file (`--expected-failures FILE`): known FAILs, each with a reason
//! and perhaps an `until` date, that do not fail the run. An entry whose check no longer fails
//! is stale, and fails the run itself, so the file cannot rot; an entry past its `until` date
//! no longer excuses its FAIL. One file serves every selection of checks: entries for checks
//! of the catalogue that a run leaves out are ignored.

use std::fmt;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::input::{self, InputError};
use crate::spec::Verdict;

/// Whether an expected failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedStatus {
    /// The check FAILed, as the file says: it does not fail the run.
    Expected,
    /// The check no longer FAILs: the entry is stale and fails the run.
    Stale,
    /// The check did not finish (Ctrl-C): the entry is neither met nor stale.
    Unfinished,
    /// The check FAILed, but the entry's `until` date has passed: the FAIL counts as any other.
    Expired,
    /// The check is in the catalogue but not in this run (`--filter`, `--tag`, `--exclude`):
    /// the entry says nothing about this run.
    Ignored,
}

/// An entry of the expected-failures file and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExpectedFailure {
    /// The check ID.
    pub id: String,
    /// The reason the file gives.
    pub reason: String,
    /// The last day (`YYYY-MM-DD`) the entry excuses its FAIL, when the file gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Whether it failed as expected.
    pub status: ExpectedStatus,
}

/// A calendar day (UTC), for `until:` and the day a run compares it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year, e.g. 2027.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

impl Date {
    /// Today in UTC, from the system clock.
    pub fn today_utc() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_unix_days((secs / 86_400) as i64)
    }

    /// The day `days` after 1970-01-01 (proleptic Gregorian calendar).
    pub fn from_unix_days(days: i64) -> Date {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for Date {
    type Err = String;

    /// `YYYY-MM-DD`, a day that exists.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a date of the form YYYY-MM-DD (e.g. 2027-03-31)");
        let parts: Vec<&str> = s.trim().split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        let day: u8 = d.parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(format!("`{s}`: there is no month {month}")),
        };
        if day == 0 || day > days_in_month {
            return Err(format!("`{s}`: that month has no day {day}"));
        }
        Ok(Date { year, month, day })
    }
}

/// One entry of the file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The check ID that is known to FAIL.
    pub id: String,
    /// Why it fails, and what is being done about it.
    pub reason: String,
    /// The last day the entry excuses the FAIL; after it, the FAIL counts again.
    pub until: Option<Date>,
}

/// One entry as written, with the places of its values for diagnostics.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    id: Spanned<String>,
    reason: Spanned<String>,
    #[serde(default)]
    until: Option<Spanned<String>>,
}

/// Reads the file (a YAML list of `{ id, reason, until? }`) and checks that every ID is a
/// check of the catalogue (`catalogue_ids`, whatever the run selects) and every `until` a
/// date; an unknown ID is named at its `file:line:column` with the nearest check IDs.
pub fn read(path: &Path, catalogue_ids: &[&str]) -> Result<Vec<Entry>, InputError> {
    let origin = path.display().to_string();
    let text = input::read_text(path)?;
    let written: Vec<Written> = input::parse_yaml(&origin, &text)?;
    let at = |s: &serde_saphyr::Location, message: String| {
        if s.line() > 0 {
            InputError::at(&origin, &text, s.line(), s.column(), message)
        } else {
            InputError::file(&origin, message)
        }
    };
    let mut entries = Vec::with_capacity(written.len());
    for w in written {
        let id = w.id.value.trim().to_string();
        if !catalogue_ids.contains(&id.as_str()) {
            let near = nearest(&id, catalogue_ids);
            let hint = if near.is_empty() {
                String::new()
            } else {
                format!(" (nearest: {})", near.join(", "))
            };
            return Err(at(
                &w.id.referenced,
                format!("{id} is not a check of the catalogue{hint}; see `xaa-conform list`"),
            ));
        }
        if w.reason.value.trim().is_empty() {
            return Err(at(
                &w.reason.referenced,
                format!("{id}: the reason must not be empty"),
            ));
        }
        let until = match w.until {
            Some(u) => Some(
                u.value
                    .parse::<Date>()
                    .map_err(|e| at(&u.referenced, format!("{id}: until: {e}")))?,
            ),
            None => None,
        };
        entries.push(Entry {
            id,
            reason: w.reason.value,
            until,
        });
    }
    Ok(entries)
}

/// The check IDs nearest to a mistyped one (shared with the other "did you mean" messages).
pub use crate::names::nearest;

/// What became of each entry on `today`, given the verdict of each reported check of the run
/// by ID (`None`: the run does not report it) and which checks Ctrl-C kept from finishing: an
/// entry whose check the run does not report is ignored; one whose check FAILed is expected,
/// or expired after its `until` day; one whose check did not finish is unfinished; any other
/// is stale.
pub fn outcomes(
    entries: &[Entry],
    today: Date,
    verdict_of: impl Fn(&str) -> Option<Verdict>,
    unfinished: impl Fn(&str) -> bool,
) -> Vec<ExpectedFailure> {
    entries
        .iter()
        .map(|e| {
            let verdict = verdict_of(&e.id);
            let status = match verdict {
                None => ExpectedStatus::Ignored,
                Some(Verdict::Fail) if e.until.is_some_and(|u| u < today) => {
                    ExpectedStatus::Expired
                }
                Some(Verdict::Fail) => ExpectedStatus::Expected,
                Some(_) if unfinished(&e.id) => ExpectedStatus::Unfinished,
                Some(_) => ExpectedStatus::Stale,
            };
            ExpectedFailure {
                id: e.id.clone(),
                reason: e.reason.clone(),
                until: e.until.map(|u| u.to_string()),
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly_and_order() {
        let d: Date = "2027-03-31".parse().expect("date");
        assert_eq!(d.to_string(), "2027-03-31");
        assert!(d < "2027-04-01".parse::<Date>().expect("date"));
        for bad in [
            "2027-3-31",
            "2027-02-29",
            "2027-13-01",
            "20270331",
            "tomorrow",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!("2028-02-29".parse::<Date>().is_ok());
    }

    #[test]
    fn unix_days_give_the_civil_date() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_unix_days(20_908).to_string(), "2027-03-31");
    }

    #[test]
    fn nearest_ids_ignore_case_and_stay_close() {
        let ids = ["JAG-AUD-01", "JAG-AUD-02", "BASE-01", "JAG-TIME-09"];
        assert_eq!(nearest("jag-aud-02", &ids)[0], "JAG-AUD-02");
        assert_eq!(nearest("JAG-AUD-2", &ids)[0], "JAG-AUD-02");
        assert!(nearest("COMPLETELY-ELSE", &ids).is_empty());
    }

    #[test]
    fn until_expires_after_its_day() {
        let entry = |until: Option<&str>| Entry {
            id: "A".into(),
            reason: "known".into(),
            until: until.map(|u| u.parse().expect("date")),
        };
        let day: Date = "2027-03-31".parse().expect("date");
        let status = |e: Entry, v: Option<Verdict>| outcomes(&[e], day, |_| v, |_| false)[0].status;
        let fail = Some(Verdict::Fail);
        assert_eq!(
            status(entry(Some("2027-03-31")), fail),
            ExpectedStatus::Expected
        );
        assert_eq!(
            status(entry(Some("2027-03-30")), fail),
            ExpectedStatus::Expired
        );
        assert_eq!(status(entry(None), fail), ExpectedStatus::Expected);
        assert_eq!(
            status(entry(Some("2027-03-30")), Some(Verdict::Pass)),
            ExpectedStatus::Stale
        );
        assert_eq!(status(entry(None), None), ExpectedStatus::Ignored);
    }
}
