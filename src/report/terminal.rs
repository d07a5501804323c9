//! The terminal report: a table of every check and a one-line summary.

use tabled::builder::Builder;
use tabled::grid::util::string::get_string_width;
use tabled::settings::object::{Cell, Columns};
use tabled::settings::peaker::PriorityMax;
use tabled::settings::{Color, Modify, Style, Width};

use super::model::{RunResults, Summary};
use crate::spec::Verdict;

/// Maximum width of the whole table in terminal columns.
pub const TABLE_WIDTH: usize = 160;

/// Column headers, in order.
const HEADERS: [&str; 5] = ["check", "title", "requirement", "verdict", "reason"];

/// Index of the verdict column.
const VERDICT_COLUMN: usize = 3;

/// Maximum content width of each column; with borders and padding (16 columns) the table
/// stays within [`TABLE_WIDTH`]. Longer cells are wrapped at spaces, over-long words broken.
const COLUMN_WIDTHS: [usize; 5] = [18, 36, 28, 10, 52];

/// A table of every check (`check`, `title`, `requirement`, `verdict`, `reason`), one row per
/// check in catalogue order, at most [`TABLE_WIDTH`] columns wide, for people watching a run.
///
/// Control characters (newlines, escapes from server answers) are replaced by spaces so each
/// value reads as one line and cannot drive the terminal; long cells are wrapped. With
/// `color`, the verdict word is coloured with ANSI escapes (PASS green, FAIL red, WARN yellow,
/// INFO blue, SKIP grey, ERROR magenta); the colour is applied when the table is drawn, after
/// layout, so alignment is unaffected.
///
/// When checks judged the form of the run's answers and found deviations, the grouped
/// findings follow the table ([`findings`]).
pub fn table(results: &RunResults, color: bool) -> String {
    let mut builder = Builder::with_capacity(results.checks.len() + 1, HEADERS.len());
    builder.push_record(HEADERS);
    for check in &results.checks {
        let cells = [
            one_line(&check.id),
            one_line(&check.title),
            one_line(&format!(
                "{} {}",
                check.requirement.level, check.requirement.source
            )),
            verdict_cell(check),
            one_line(&check.reason),
        ];
        builder.push_record(
            cells
                .iter()
                .zip(COLUMN_WIDTHS)
                .map(|(cell, width)| wrap_words(cell, width)),
        );
    }

    let mut table = builder.build();
    table.with(Style::sharp());
    for (column, width) in COLUMN_WIDTHS.into_iter().enumerate() {
        table.with(Modify::new(Columns::one(column)).with(Width::wrap(width)));
    }
    table.with(Width::wrap(TABLE_WIDTH).priority(PriorityMax::right()));
    if color {
        for (row, check) in results.checks.iter().enumerate() {
            table.modify(
                Cell::new(row + 1, VERDICT_COLUMN),
                verdict_color(check.verdict),
            );
        }
    }
    let mut out = table.to_string();
    if let Some(block) = findings(results, color) {
        out.push('\n');
        out.push_str(&block);
    }
    out
}

/// The verdict word of a check; a FAIL listed as expected reads `FAIL (expected)`.
fn verdict_cell(check: &super::model::CheckResult) -> String {
    if check.expected && check.verdict == Verdict::Fail {
        format!("{} (expected)", check.verdict.name())
    } else {
        check.verdict.name().to_owned()
    }
}

/// How many checks an occurrence list names before it says how many more.
const NAMED_CHECKS: usize = 6;

/// The grouped findings of the run, each deviation once with its count, the check that owns
/// it and the checks whose exchanges show it (`None` when there is none): one root cause is
/// one line, however many checks met it.
pub fn findings(results: &RunResults, color: bool) -> Option<String> {
    let mut lines = Vec::new();
    for check in &results.checks {
        for f in &check.findings {
            let mut checks: Vec<&str> = Vec::new();
            for o in &f.occurrences {
                if !checks.contains(&o.check.as_str()) {
                    checks.push(&o.check);
                }
            }
            let named = checks
                .iter()
                .take(NAMED_CHECKS)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            let more = checks.len().saturating_sub(NAMED_CHECKS);
            let id = one_line(&check.id);
            let head = format!(
                "{id} {} ×{} {}",
                f.verdict.name(),
                f.count,
                one_line(&f.what)
            );
            let mut head = wrap_words(&head, TABLE_WIDTH - 2).replace('\n', "\n    ");
            if color {
                let c = verdict_color(f.verdict);
                head = head.replacen(
                    &format!("{id} {}", f.verdict.name()),
                    &format!(
                        "{id} {}{}{}",
                        c.get_prefix(),
                        f.verdict.name(),
                        c.get_suffix()
                    ),
                    1,
                );
            }
            let tail = if more > 0 {
                format!("in {named} and {more} more")
            } else {
                format!("in {named}")
            };
            lines.push(head);
            lines.push(format!(
                "    {}",
                wrap_words(&tail, TABLE_WIDTH - 6).replace('\n', "\n    ")
            ));
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "findings (each deviation in form once, judged by the check that owns it):\n{}",
        lines.join("\n")
    ))
}

/// One line like `14 checks: 13 PASS, 1 FAIL, 0 WARN, 0 INFO, 0 SKIP, 0 ERROR in 1.23 s
/// (profile id-jag-04, target reference)`, printed under the table and in logs; FAILs listed
/// as expected are counted apart, as in `2 FAIL (1 expected)`.
///
/// The counts are recomputed from `results.checks`, so they always agree with the table.
pub fn summary(results: &RunResults) -> String {
    let counts = Summary::of(&results.checks);
    let total = results.checks.len();
    let expected = if counts.expected_fail > 0 {
        format!(" ({} expected)", counts.expected_fail)
    } else {
        String::new()
    };
    format!(
        "{total} {}: {} PASS, {} FAIL{expected}, {} WARN, {} INFO, {} SKIP, {} ERROR in {:.2} s (profile {}, target {})",
        if total == 1 { "check" } else { "checks" },
        counts.pass,
        counts.fail,
        counts.warn,
        counts.info,
        counts.skip,
        counts.error,
        results.elapsed_ms / 1000.0,
        one_line(&results.profile),
        one_line(&results.target.kind),
    )
}

/// The colour of a verdict word.
fn verdict_color(verdict: Verdict) -> Color {
    match verdict {
        Verdict::Pass => Color::FG_GREEN,
        Verdict::Fail => Color::FG_RED,
        Verdict::Warn => Color::FG_YELLOW,
        Verdict::Info => Color::FG_BLUE,
        Verdict::Skip => Color::FG_BRIGHT_BLACK,
        Verdict::Error => Color::FG_MAGENTA,
    }
}

/// `text` with every control character (newline, tab, escape, …) replaced by a space and
/// runs of spaces collapsed, trimmed.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out
}

/// `text` (one line, single spaces) wrapped greedily at spaces into lines of at most `width`
/// columns; a word wider than `width` gets a line of its own and is broken later by tabled.
fn wrap_words(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_width = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word_width = get_string_width(word);
        if line_width > 0 && line_width + 1 + word_width > width {
            out.push('\n');
            line_width = 0;
        } else if line_width > 0 {
            out.push(' ');
            line_width += 1;
        }
        out.push_str(word);
        line_width += word_width;
    }
    out
}
