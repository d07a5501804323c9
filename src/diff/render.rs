//! The three ways `diff` writes a [`Diff`]: a table for people (one line per change, within
//! 80 columns), JSON for scripts (the [`Diff`] itself, schema in `xaa-conform schema diff`),
//! and a GitHub-flavoured markdown table for pull-request comments and job summaries.

use super::load::{LoadDiff, Metric, MetricStatus, Unit};
use super::results::{ChangeCounts, ChangeKind, ResultsDiff, RunSide};
use super::{Diff, trim};
use crate::load::figures::duration_us;
use crate::spec::Verdict;

/// Width the table keeps within.
pub const TABLE_WIDTH: usize = 80;

/// How `diff` writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table within 80 columns (long reasons wrapped).
    Table,
    /// The `diff` JSON document (`xaa-conform schema diff`).
    Json,
    /// A GitHub-flavoured markdown table.
    Markdown,
}

/// `diff` in `format`, ending with a newline.
pub fn render(diff: &Diff, format: Format) -> String {
    match (format, diff) {
        (Format::Json, d) => json(d),
        (Format::Table, Diff::Results(d)) => results_table(d),
        (Format::Table, Diff::Load(d)) => load_table(d),
        (Format::Markdown, Diff::Results(d)) => results_markdown(d),
        (Format::Markdown, Diff::Load(d)) => load_markdown(d),
    }
}

/// The JSON document, pretty-printed; a serializer failure (not expected for these plain
/// types) becomes `{"error": …}` rather than a panic.
pub fn json(diff: &Diff) -> String {
    let mut s = serde_json::to_string_pretty(diff).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("cannot serialize the diff: {e}") }).to_string()
    });
    s.push('\n');
    s
}

/// `text` on one line: control characters (newlines, escapes from server answers) become
/// spaces so a value cannot break the layout or drive the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut to `width` characters, with `…` when it was longer.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// `text` in lines of at most `width` characters, broken at spaces (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        // A word longer than the whole width is cut into pieces that fit.
        for piece in chars.chunks(width) {
            let used = line.chars().count();
            if used > 0 && used + 1 + piece.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.extend(piece);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` padded with spaces to `width` characters.
fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

/// A table cell of markdown: one line, `|` escaped.
fn md(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn verdict(v: Option<Verdict>) -> &'static str {
    v.map_or("-", Verdict::name)
}

/// "2 new FAIL, 1 fixed", or "no verdict changed".
fn counts_line(counts: &ChangeCounts) -> String {
    let parts: Vec<String> = ChangeKind::ALL
        .iter()
        .filter(|k| counts.get(**k) > 0)
        .map(|k| format!("{} {}", counts.get(*k), k.label()))
        .collect();
    if parts.is_empty() {
        "no verdict changed".to_string()
    } else {
        parts.join(", ")
    }
}

fn results_verdict_line(d: &ResultsDiff) -> String {
    if d.regressed {
        let parts: Vec<String> = [ChangeKind::NewFail, ChangeKind::NewError]
            .iter()
            .filter(|k| d.counts.get(**k) > 0)
            .map(|k| format!("{} {}", d.counts.get(*k), k.label()))
            .collect();
        format!("regression (exit {}): {}", d.exit_code, parts.join(", "))
    } else {
        format!("no regression (exit {})", d.exit_code)
    }
}

/// The reason of a change, marked when the new run lists the FAIL as known.
fn reason(c: &super::results::Change) -> String {
    let r = one_line(&c.reason);
    if c.known_failure {
        format!("(known failure) {r}")
    } else {
        r
    }
}

/// The notes, each after `note: ` and wrapped within [`TABLE_WIDTH`].
fn notes_block(notes: &[String]) -> String {
    let mut out = String::new();
    for n in notes {
        for (i, line) in wrap(&one_line(n), TABLE_WIDTH - 6).iter().enumerate() {
            let lead = if i == 0 { "note: " } else { "      " };
            out.push_str(&format!("{lead}{line}\n"));
        }
    }
    out
}

fn side_line(s: &RunSide) -> String {
    format!(
        "{} checks, profile {}, xaa-conform {}, {}",
        s.checks, s.profile, s.tool_version, s.started_at
    )
}

fn results_table(d: &ResultsDiff) -> String {
    let mut out = String::new();
    out.push_str("results.json diff\n");
    out.push_str(&format!(
        "  old: {}\n       {}\n",
        d.old.file,
        side_line(&d.old)
    ));
    out.push_str(&format!(
        "  new: {}\n       {}\n\n",
        d.new.file,
        side_line(&d.new)
    ));
    if d.changes.is_empty() {
        out.push_str("no verdict changed\n");
    } else {
        let id_width = d
            .changes
            .iter()
            .map(|c| one_line(&c.id).chars().count())
            .max()
            .unwrap_or(0)
            .clamp(5, 20);
        let (kind_w, verdict_w) = (9, 6);
        let reason_w = TABLE_WIDTH - (kind_w + 2 + id_width + 2 + 2 * (verdict_w + 2));
        let indent = " ".repeat(TABLE_WIDTH - reason_w);
        let row = |k: &str, id: &str, before: &str, after: &str, reason: &str| {
            let mut reason = wrap(reason, reason_w).into_iter();
            let line = format!(
                "{}  {}  {}  {}  {}",
                pad(k, kind_w),
                pad(&fit(id, id_width), id_width),
                pad(before, verdict_w),
                pad(after, verdict_w),
                reason.next().unwrap_or_default()
            );
            let mut out = format!("{}\n", line.trim_end());
            for more in reason {
                out.push_str(&format!("{indent}{more}\n"));
            }
            out
        };
        out.push_str(&row("change", "check", "before", "after", "reason"));
        for c in &d.changes {
            out.push_str(&row(
                c.change.label(),
                &one_line(&c.id),
                verdict(c.old),
                verdict(c.new),
                &reason(c),
            ));
        }
    }
    out.push('\n');
    out.push_str(&format!(
        "{}\n{} unchanged\n",
        counts_line(&d.counts),
        d.counts.unchanged
    ));
    out.push_str(&notes_block(&d.notes));
    out.push_str(&format!("result: {}\n", results_verdict_line(d)));
    out
}

fn results_markdown(d: &ResultsDiff) -> String {
    let mut out = format!("### xaa-conform diff: {}\n\n", results_verdict_line(d));
    out.push_str(&format!(
        "Old: `{}` ({}).  \nNew: `{}` ({}).\n\n",
        md(&d.old.file),
        md(&side_line(&d.old)),
        md(&d.new.file),
        md(&side_line(&d.new))
    ));
    if d.changes.is_empty() {
        out.push_str("No verdict changed.\n\n");
    } else {
        out.push_str("| change | check | before | after | title | reason |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for c in &d.changes {
            let after = match c.new {
                Some(v) if c.change.is_regression() => format!("**{v}**"),
                v => verdict(v).to_string(),
            };
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} | {} |\n",
                c.change.label(),
                md(&c.id),
                verdict(c.old),
                after,
                md(&c.title),
                md(&reason(c))
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{}; {} unchanged.\n",
        counts_line(&d.counts),
        d.counts.unchanged
    ));
    if !d.notes.is_empty() {
        out.push('\n');
        for n in &d.notes {
            out.push_str(&format!("- {}\n", md(n)));
        }
    }
    out
}

/// A figure in its unit; `-` when absent.
fn figure(unit: Unit, v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) => match unit {
            Unit::Microseconds => duration_us(v),
            Unit::PerSecond => format!("{}/s", trim(v, 1)),
            Unit::Share => format!("{} %", trim(v * 100.0, 2)),
        },
    }
}

/// The signed change: relative in % for most figures, in percentage points for a share.
fn change(m: &Metric) -> String {
    let signed = |v: f64, digits: usize| {
        let t = trim(v, digits);
        if v > 0.0 && t != "0" {
            format!("+{t}")
        } else {
            t
        }
    };
    match (m.unit, m.delta, m.relative) {
        (Unit::Share, Some(d), _) => format!("{} pt", signed(d * 100.0, 2)),
        (_, _, Some(r)) => format!("{} %", signed(r * 100.0, 1)),
        _ => "-".to_string(),
    }
}

fn load_verdict_line(d: &LoadDiff) -> String {
    let worse = d
        .metrics
        .iter()
        .filter(|m| m.status == MetricStatus::Regressed)
        .count();
    if d.regressed {
        let figures = if worse == 1 { "figure" } else { "figures" };
        format!(
            "regression (exit {}): {worse} {figures} worse by more than {}",
            d.exit_code, d.tolerance
        )
    } else {
        format!(
            "no regression (exit {}, tolerance {})",
            d.exit_code, d.tolerance
        )
    }
}

fn load_side_line(s: &super::load::LoadSide) -> String {
    format!(
        "{} requests in {} s, plan {}, xaa-conform {}",
        s.requests,
        trim(s.elapsed_s, 1),
        s.rate_plan,
        s.tool_version
    )
}

fn load_table(d: &LoadDiff) -> String {
    let mut out = format!("load.json diff, tolerance {}\n", d.tolerance);
    out.push_str(&format!(
        "  old: {}\n       {}\n",
        d.old.file,
        load_side_line(&d.old)
    ));
    out.push_str(&format!(
        "  new: {}\n       {}\n\n",
        d.new.file,
        load_side_line(&d.new)
    ));
    let widths = [19, 12, 12, 10, 16];
    let row = |cells: [&str; 5]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| pad(&fit(c, w), w))
            .collect();
        format!("{}\n", line.join("  ").trim_end())
    };
    out.push_str(&row(["figure", "before", "after", "change", "verdict"]));
    for m in &d.metrics {
        out.push_str(&row([
            m.name.label(),
            &figure(m.unit, m.old),
            &figure(m.unit, m.new),
            &change(m),
            m.status.label(),
        ]));
    }
    out.push('\n');
    out.push_str(&notes_block(&d.notes));
    out.push_str(&format!("result: {}\n", load_verdict_line(d)));
    out
}

fn load_markdown(d: &LoadDiff) -> String {
    let mut out = format!("### xaa-conform load diff: {}\n\n", load_verdict_line(d));
    out.push_str(&format!(
        "Old: `{}` ({}).  \nNew: `{}` ({}).\n\n",
        md(&d.old.file),
        md(&load_side_line(&d.old)),
        md(&d.new.file),
        md(&load_side_line(&d.new))
    ));
    out.push_str("| figure | before | after | change | verdict |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    for m in &d.metrics {
        let status = match m.status {
            MetricStatus::Regressed => format!("**{}**", m.status.label()),
            s => s.label().to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            m.name.label(),
            figure(m.unit, m.old),
            figure(m.unit, m.new),
            change(m),
            status
        ));
    }
    if !d.notes.is_empty() {
        out.push('\n');
        for n in &d.notes {
            out.push_str(&format!("- {}\n", md(n)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_and_control_characters_dropped() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 3), [""]);
        assert_eq!(one_line("a\nb\u{1b}[31m"), "a b [31m");
        assert_eq!(md("a|b\nc"), "a\\|b c");
        assert_eq!(trim(-0.0001, 1), "0");
        assert_eq!(duration_us(12_345.0), "12.3 ms");
    }
}
