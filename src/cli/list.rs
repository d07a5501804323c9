//! `xaa-conform list`: the requirement catalogue with its coverage, as text or JSON.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use crate::catalogue::{self, RequirementRow};
use crate::input::InputError;
use crate::reference::Defect;
use crate::scenario::{self, LoadedScenario};
use crate::spec::Level;

/// The output format of `list`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `xaa-conform list` options.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Output format: one line per requirement, or a JSON array for scripts.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Decide coverage from the scenarios of this folder instead of the built-in catalogue.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Show each check's level as it runs under this profile (default id-jag-04).
    #[arg(long, value_name = "PROFILE", value_parser = crate::cli::args::profile_parser())]
    profile: Option<String>,
    /// List only the reference defects (`--reference-defect NAME`) and the checks each proves.
    #[arg(long)]
    defects: bool,
}

/// Prints the requirement catalogue: every row of requirements.md, covered when the loaded
/// scenarios have a check with its ID, with the reference defects that prove it or the reason
/// it is not covered, each at its level under the profile; then the scenarios outside the
/// catalogue, the defects and the totals (`--defects`: the defects alone). Exits 2 when the
/// scenarios do not load, 3 when stdout cannot be written.
pub fn main(args: ListArgs) -> u8 {
    if args.defects {
        return write_stdout(&match args.format {
            Format::Json => defects_json(),
            Format::Text => defects_text(),
        });
    }
    let scenarios = match load_scenarios(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let profile = args.profile.as_deref().unwrap_or(crate::spec::PROFILES[0]);
    let coverage = Coverage::new(&scenarios, profile);
    let text = match args.format {
        Format::Json => json(&coverage),
        Format::Text => text(&coverage),
    };
    write_stdout(&text)
}

fn load_scenarios(args: &ListArgs) -> Result<Vec<LoadedScenario>, InputError> {
    match &args.scenarios {
        Some(dir) => scenario::load_dir(dir),
        None => scenario::embedded(),
    }
}

/// The catalogue rows in section order against the loaded scenarios.
struct Coverage<'a> {
    /// The loaded scenarios by check ID.
    by_id: BTreeMap<&'a str, &'a LoadedScenario>,
    /// Every requirement row, in the order of the requirement sections.
    rows: Vec<&'static RequirementRow>,
    /// Loaded scenarios whose ID has no catalogue row.
    custom: Vec<&'a LoadedScenario>,
    /// How many checks `run` runs: every loaded scenario.
    runs: usize,
    /// The profile the levels are shown under.
    profile: &'a str,
}

impl<'a> Coverage<'a> {
    fn new(scenarios: &'a [LoadedScenario], profile: &'a str) -> Self {
        let by_id = scenarios
            .iter()
            .map(|l| (l.scenario.id.as_str(), l))
            .collect();
        let mut rows: Vec<&'static RequirementRow> = catalogue::REQUIREMENTS.iter().collect();
        rows.sort_by_key(|r| r.section_key());
        let custom = scenarios
            .iter()
            .filter(|l| catalogue::find(&l.scenario.id).is_none())
            .collect();
        Coverage {
            by_id,
            rows,
            custom,
            runs: scenarios.len(),
            profile,
        }
    }

    /// The row's level as it runs under the profile: its scenario's, else the row's own.
    fn level(&self, r: &RequirementRow) -> Level {
        match self.by_id.get(r.id) {
            Some(l) => l.scenario.for_profile(self.profile).0,
            None => r.level_under(self.profile),
        }
    }

    /// A row is covered by a loaded scenario with its ID, by a load command, or by the
    /// loaded checks it names in `covered_by` (every one of them).
    fn covered(&self, r: &RequirementRow) -> bool {
        self.by_id.contains_key(r.id)
            || catalogue::load_command(r.id).is_some()
            || self.covered_by_others(r)
    }

    /// The row has no check of its own, and the checks it names in `covered_by` are loaded.
    fn covered_by_others(&self, r: &RequirementRow) -> bool {
        !self.by_id.contains_key(r.id)
            && !r.covered_by.is_empty()
            && r.covered_by
                .iter()
                .all(|id| self.by_id.contains_key(id.as_str()))
    }

    /// The defects that prove the row: its own check's, or those of the checks it is covered
    /// by.
    fn defects(&self, r: &RequirementRow) -> Vec<&'static str> {
        if !self.covered_by_others(r) {
            return proving(r.id);
        }
        let mut names: Vec<&'static str> = Vec::new();
        for id in r.covered_by {
            for d in proving(id) {
                if !names.contains(&d) {
                    names.push(d);
                }
            }
        }
        names
    }

    /// `N rows: N covered (N MUST), N not covered (N MUST); `run` runs N checks, `load`
    /// judges N (profile P)`, MUST counted under the profile.
    fn summary(&self) -> String {
        let count = |f: &dyn Fn(&RequirementRow) -> bool| self.rows.iter().filter(|r| f(r)).count();
        let must = |r: &RequirementRow| self.level(r) == Level::Must;
        format!(
            "{} rows: {} covered ({} MUST), {} not covered ({} MUST); `run` runs {} checks, \
             `load` judges {} (profile {})",
            self.rows.len(),
            count(&|r| self.covered(r)),
            count(&|r| self.covered(r) && must(r)),
            count(&|r| !self.covered(r)),
            count(&|r| !self.covered(r) && must(r)),
            self.runs,
            count(&|r| r.load_command.is_some()),
            self.profile,
        )
    }
}

/// The names of the reference defects that prove a check.
fn proving(id: &str) -> Vec<&'static str> {
    crate::reference::proving_defects(id)
        .into_iter()
        .map(|d| d.name())
        .collect()
}

/// The JSON array: the catalogue rows, then the custom scenarios.
fn json(c: &Coverage) -> String {
    let mut out: Vec<serde_json::Value> = c.rows.iter().map(|r| json_row(c, r)).collect();
    out.extend(c.custom.iter().map(|l| json_custom(c, l)));
    let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
    text.push('\n');
    text
}

fn json_row(c: &Coverage, r: &RequirementRow) -> serde_json::Value {
    let s = c.by_id.get(r.id).map(|l| (&l.scenario, l.origin.as_str()));
    let covered = c.covered(r);
    serde_json::json!({
        "id": r.id,
        "title": s.map_or(r.summary, |(s, _)| s.title.as_str()),
        "level": r.level,
        "profile": c.profile,
        "profile_level": c.level(r),
        "area": r.area,
        "section": r.section,
        "source": r.source,
        "summary": r.summary,
        "in_catalogue": true,
        "covered": covered,
        "command": catalogue::load_command(r.id).unwrap_or("xaa-conform run"),
        "defects": c.defects(r),
        "covered_by": if c.covered_by_others(r) { r.covered_by } else { &[][..] },
        "reason": if covered { None } else { Some(r.reason()) },
        "scenario": s.map(|(_, origin)| origin),
        "scenario_level": s.map(|(s, _)| s.requirement.level),
        "tags": s.map_or(&[][..], |(s, _)| s.tags.as_slice()),
    })
}

fn json_custom(c: &Coverage, l: &LoadedScenario) -> serde_json::Value {
    let s = &l.scenario;
    serde_json::json!({
        "id": s.id,
        "title": s.title,
        "level": s.requirement.level,
        "profile": c.profile,
        "profile_level": s.for_profile(c.profile).0,
        "area": s.tags.first().map_or("custom", String::as_str),
        "section": null,
        "source": s.requirement.source,
        "summary": s.title,
        "in_catalogue": false,
        "covered": true,
        "defects": proving(&s.id),
        "reason": null,
        "scenario": l.origin,
        "scenario_level": s.requirement.level,
        "tags": s.tags,
    })
}

/// The text listing: one line per row, the custom scenarios, the defects and the summary.
fn text(c: &Coverage) -> String {
    let mut text = format!(
        "{:<12} {:<13} {:<17} COVERAGE (levels under profile {}; the catalogue's in brackets)\n",
        "ID", "LEVEL", "SECTION", c.profile
    );
    for r in &c.rows {
        text.push_str(&text_row(c, r));
    }
    if !c.custom.is_empty() {
        text.push_str("\nscenarios not in the requirement catalogue (custom):\n");
        for l in &c.custom {
            text.push_str(&text_custom(c, l));
        }
    }
    text.push_str("\nreference defects (`--reference-defect NAME`):\n");
    for d in Defect::ALL {
        text.push_str(&format!("  {:<22} {}\n", d.name(), d.description()));
    }
    text.push_str(&format!("\n{}\n", c.summary()));
    text
}

fn proven_by(id: &str) -> String {
    let names = proving(id);
    if names.is_empty() {
        "proven by: -".to_string()
    } else {
        format!("proven by: {}", names.join(", "))
    }
}

fn text_row(c: &Coverage, r: &RequirementRow) -> String {
    let detail = if let Some(command) = catalogue::load_command(r.id) {
        format!("{:<12} {} (by `{command}`)", "covered", proven_by(r.id))
    } else if c.covered_by_others(r) {
        let defects = c.defects(r);
        format!(
            "{:<12} by {}, proven by: {}",
            "covered",
            r.covered_by.join(", "),
            if defects.is_empty() {
                "-".to_string()
            } else {
                defects.join(", ")
            }
        )
    } else if c.covered(r) {
        format!("{:<12} {}", "covered", proven_by(r.id))
    } else {
        format!("not covered: {}", r.reason())
    };
    format!(
        "{:<12} {:<13} {:<17} {detail}\n",
        r.id,
        level_cell(c.level(r), r.level),
        r.section
    )
}

/// `INFO`, or `INFO (MUST)` when the level under the profile is not the catalogue's.
fn level_cell(under: Level, own: Level) -> String {
    if under == own {
        under.name().to_string()
    } else {
        format!("{} ({})", under.name(), own.name())
    }
}

fn text_custom(c: &Coverage, l: &LoadedScenario) -> String {
    let s = &l.scenario;
    format!(
        "{:<12} {:<13} {:<17} {:<12} {} ({})\n",
        s.id,
        level_cell(s.for_profile(c.profile).0, s.requirement.level),
        "custom",
        "covered",
        proven_by(&s.id),
        l.origin
    )
}

/// `list --defects`: a line per reference defect with what it does and the checks it proves.
fn defects_text() -> String {
    let mut text = format!(
        "{:<24} {:<44} PROVES\n",
        "DEFECT", "WHAT THE REFERENCE RAS THEN DOES"
    );
    for d in Defect::ALL {
        let proves: Vec<&str> = d.breaks().iter().map(|(id, _)| *id).collect();
        text.push_str(&format!(
            "{:<24} {:<44} {}\n",
            d.name(),
            d.description(),
            proves.join(", ")
        ));
    }
    text.push_str(&format!(
        "\n{} defects; switch one on with `--reference-defect NAME` (run, load, fuzz, reference serve)\n",
        Defect::ALL.len()
    ));
    text
}

/// `list --defects --format json`: `[{ name, description, proves }]`.
fn defects_json() -> String {
    let out: Vec<serde_json::Value> = Defect::ALL
        .iter()
        .map(|d| {
            let proves: Vec<&str> = d.breaks().iter().map(|(id, _)| *id).collect();
            serde_json::json!({ "name": d.name(), "description": d.description(), "proves": proves })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
    text.push('\n');
    text
}

/// One write, and a closed pipe (`list | head`) is not an error.
fn write_stdout(text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write the list: {e}");
            3
        }
    }
}
