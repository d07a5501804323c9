//! `xaa-conform schema`: the JSON Schemas of the files the tool reads and writes.

use crate::report;
use crate::scenario;
use crate::target::TargetFile;

/// Which schema `schema` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    Scenario,
    Target,
    Results,
    /// `load.json` of `xaa-conform load`.
    Load,
    /// The JSON of `xaa-conform diff --format json`.
    Diff,
}

/// `xaa-conform schema` options.
#[derive(clap::Args)]
pub struct SchemaArgs {
    /// Which schema; all of them as one JSON object when omitted.
    kind: Option<SchemaKind>,
}

/// Prints the schema (or all of them); always exits 0.
pub fn main(args: SchemaArgs) -> u8 {
    let scenario = scenario::schema();
    let target = serde_json::to_value(schemars::schema_for!(TargetFile)).unwrap_or_default();
    let results = report::json::results_schema();
    let out = match args.kind {
        Some(SchemaKind::Scenario) => scenario,
        Some(SchemaKind::Target) => target,
        Some(SchemaKind::Results) => results,
        Some(SchemaKind::Load) => crate::load::report::load_report_schema(),
        Some(SchemaKind::Diff) => crate::diff::diff_schema(),
        None => serde_json::json!({ "scenario": scenario, "target": target, "results": results,
            "load": crate::load::report::load_report_schema(), "diff": crate::diff::diff_schema() }),
    };
    outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    0
}
