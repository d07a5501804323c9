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
}

/// Prints the requirement catalogue: every row of requirements.md, covered when the loaded
/// scenarios have a check with its ID, with the reference defects that prove it or the reason
/// it is not covered; then the scenarios outside the catalogue, the defects and a summary.
/// Exits 2 when the scenarios do not load, 3 when stdout cannot be written.
pub fn main(args: ListArgs) -> u8 {
    let scenarios = match load_scenarios(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let coverage = Coverage::new(&scenarios);
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
}

impl<'a> Coverage<'a> {
    fn new(scenarios: &'a [LoadedScenario]) -> Self {
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
        }
    }

    /// A row is covered by a loaded scenario with its ID, or by a load command.
    fn covered(&self, r: &RequirementRow) -> bool {
        self.by_id.contains_key(r.id) || catalogue::load_command(r.id).is_some()
    }

    /// `N rows: N covered (N MUST), N not covered (N MUST)`.
    fn summary(&self) -> String {
        let count = |f: &dyn Fn(&RequirementRow) -> bool| self.rows.iter().filter(|r| f(r)).count();
        format!(
            "{} rows: {} covered ({} MUST), {} not covered ({} MUST)",
            self.rows.len(),
            count(&|r| self.covered(r)),
            count(&|r| self.covered(r) && r.level == Level::Must),
            count(&|r| !self.covered(r)),
            count(&|r| !self.covered(r) && r.level == Level::Must),
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
    out.extend(c.custom.iter().map(|l| json_custom(l)));
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
        "area": r.area,
        "section": r.section,
        "source": r.source,
        "summary": r.summary,
        "in_catalogue": true,
        "covered": covered,
        "command": catalogue::load_command(r.id).unwrap_or("xaa-conform run"),
        "defects": proving(r.id),
        "reason": if covered { None } else { Some(r.reason()) },
        "scenario": s.map(|(_, origin)| origin),
        "scenario_level": s.map(|(s, _)| s.requirement.level),
        "tags": s.map_or(&[][..], |(s, _)| s.tags.as_slice()),
    })
}

fn json_custom(l: &LoadedScenario) -> serde_json::Value {
    let s = &l.scenario;
    serde_json::json!({
        "id": s.id,
        "title": s.title,
        "level": s.requirement.level,
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
    let mut text = String::new();
    for r in &c.rows {
        text.push_str(&text_row(c, r));
    }
    if !c.custom.is_empty() {
        text.push_str("\nscenarios not in the requirement catalogue (custom):\n");
        for l in &c.custom {
            text.push_str(&text_custom(l));
        }
    }
    text.push_str("\nreference defects:\n");
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
    } else if c.covered(r) {
        format!("{:<12} {}", "covered", proven_by(r.id))
    } else {
        format!("not covered: {}", r.reason())
    };
    format!(
        "{:<12} {:<6} {:<17} {detail}\n",
        r.id,
        r.level.name(),
        r.section
    )
}

fn text_custom(l: &LoadedScenario) -> String {
    let s = &l.scenario;
    format!(
        "{:<12} {:<6} {:<17} {:<12} {} ({})\n",
        s.id,
        s.requirement.level.name(),
        "custom",
        "covered",
        proven_by(&s.id),
        l.origin
    )
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
