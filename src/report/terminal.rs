//! The terminal report: what needs attention, a line each, the summary, and a recap of what
//! failed with its likely cause, all within the terminal's width.

use tabled::grid::util::string::get_string_width;
use tabled::settings::Color;

use super::model::{CheckResult, RunResults, Summary};
use crate::spec::Verdict;

/// Width assumed when nothing tells the terminal's (not a terminal, no `COLUMNS`).
pub const DEFAULT_WIDTH: usize = 100;

/// The narrowest width laid out for; a narrower terminal gets this and wraps.
pub const MIN_WIDTH: usize = 40;

/// How much the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The summary line alone (`-q`).
    Quiet,
    /// A line per FAIL, WARN, ERROR and SKIP, the findings, the summary and a recap of what
    /// failed (the default).
    Normal,
    /// A line per check, reasons in full (`-v`).
    Verbose,
}

/// How the run is shown: the terminal's width, colour, how much, and where report.html is
/// (for the recap's `report.html#check-…` links).
#[derive(Debug, Clone)]
pub struct Screen {
    /// Columns available.
    pub width: usize,
    /// ANSI colour on the verdict words.
    pub color: bool,
    /// How much to show.
    pub detail: Detail,
    /// The path report.html is written to, when it is.
    pub report_html: Option<String>,
}

/// The run as the terminal shows it (see [`Detail`]), every line within `screen.width`
/// columns: check lines `ID  VERDICT  reason`, the grouped findings, the summary line, then
/// what failed with its likely cause and where its evidence is.
///
/// Control characters (newlines, escapes from server answers) are replaced by spaces, so
/// each value reads as one line and cannot drive the terminal. With `color` the verdict word
/// is coloured (PASS green, FAIL red, WARN yellow, INFO blue, SKIP grey, ERROR magenta);
/// layout is computed on the plain text, so colour never changes it.
pub fn render(results: &RunResults, screen: &Screen) -> String {
    let width = screen.width.max(MIN_WIDTH);
    if screen.detail == Detail::Quiet {
        return summary(results);
    }
    let verbose = screen.detail == Detail::Verbose;
    let shown: Vec<&CheckResult> = results
        .checks
        .iter()
        .filter(|c| verbose || !matches!(c.verdict, Verdict::Pass | Verdict::Info))
        .collect();
    let id_width = shown
        .iter()
        .map(|c| get_string_width(&one_line(&c.id)))
        .max()
        .unwrap_or(0)
        .min(ID_WIDTH);
    let mut out = String::new();
    // By default many SKIPs for one reason ("not run: preflight failed") are one line.
    let mut skips: Vec<(String, Vec<&str>)> = Vec::new();
    if !verbose {
        for c in shown.iter().filter(|c| c.verdict == Verdict::Skip) {
            let reason = one_line(&c.reason);
            match skips.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, ids)) => ids.push(&c.id),
                None => skips.push((reason, vec![&c.id])),
            }
        }
        skips.retain(|(_, ids)| ids.len() > SKIPS_LISTED);
    }
    let grouped = |c: &CheckResult| {
        c.verdict == Verdict::Skip && skips.iter().any(|(r, _)| *r == one_line(&c.reason))
    };
    for check in shown.iter().filter(|c| !grouped(c)) {
        out.push_str(&check_line(check, id_width, width, screen.color, verbose));
        out.push('\n');
    }
    for (reason, ids) in &skips {
        let head = format!("{} checks", ids.len());
        let pad = id_width.saturating_sub(head.len());
        let verdict = if screen.color {
            let c = verdict_color(Verdict::Skip);
            format!("{}SKIP{} ", c.get_prefix(), c.get_suffix())
        } else {
            "SKIP ".to_string()
        };
        let indent = head.len() + pad + 9;
        let text = format!("{reason} ({})", ids.join(", "));
        out.push_str(&format!(
            "{head}{}  {verdict}  {}\n",
            " ".repeat(pad),
            cut(&text, width.saturating_sub(indent).max(MIN_WIDTH / 2))
        ));
    }
    if let Some(block) = findings(results, screen.color, width) {
        out.push_str(&block);
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&wrap_words(&summary(results), width));
    if let Some(recap) = recap(results, screen, width) {
        out.push_str("\n\n");
        out.push_str(&recap);
    }
    out
}

/// SKIPs for one reason listed one by one; more are one line.
const SKIPS_LISTED: usize = 3;

/// Widest check ID given its own column; a longer one pushes its line's reason right.
const ID_WIDTH: usize = 18;

/// One check as a line, `ID  VERDICT  reason`, padded to `id_width`: the reason cut to the
/// line with `…`, or with `full` wrapped under itself. Also the line CI logs get per check.
pub fn check_line(
    check: &CheckResult,
    id_width: usize,
    width: usize,
    color: bool,
    full: bool,
) -> String {
    let id = one_line(&check.id);
    let pad = id_width.saturating_sub(get_string_width(&id));
    let verdict = check.verdict.name();
    let head = format!("{id}{}  {verdict:<5}  ", " ".repeat(pad));
    let indent = get_string_width(&head);
    let room = width.saturating_sub(indent).max(MIN_WIDTH / 2);
    let reason = if check.expected && check.verdict == Verdict::Fail {
        format!("(expected) {}", one_line(&check.reason))
    } else {
        one_line(&check.reason)
    };
    let body = if full {
        wrap_words(&reason, room).replace('\n', &format!("\n{}", " ".repeat(indent)))
    } else {
        cut(&reason, room)
    };
    let head = if color {
        let c = verdict_color(check.verdict);
        head.replacen(
            verdict,
            &format!("{}{verdict}{}", c.get_prefix(), c.get_suffix()),
            1,
        )
    } else {
        head
    };
    format!("{head}{body}").trim_end().to_string()
}

/// `text` wrapped within `width`, its first line indented by `first` spaces and the others
/// by `rest`.
fn hanging(text: &str, first: usize, rest: usize, width: usize) -> String {
    let body = wrap_words(text, width.saturating_sub(first.max(rest)));
    format!(
        "{}{}",
        " ".repeat(first),
        body.replace('\n', &format!("\n{}", " ".repeat(rest)))
    )
}

/// `text` cut to `width` columns, ending in `…` when it was longer.
fn cut(text: &str, width: usize) -> String {
    if get_string_width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = get_string_width(c.encode_utf8(&mut [0; 4]));
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    format!("{}…", out.trim_end())
}

/// What failed (FAIL and ERROR), each with its requirement, the likely cause from the
/// catalogue and where report.html shows the evidence; `None` when nothing failed.
fn recap(results: &RunResults, screen: &Screen, width: usize) -> Option<String> {
    let anchors = super::html::anchors(results);
    let mut lines = Vec::new();
    for (check, anchor) in results.checks.iter().zip(&anchors) {
        if !matches!(check.verdict, Verdict::Fail | Verdict::Error) {
            continue;
        }
        let head = format!(
            "{} {}{} ({} {}): {}",
            one_line(&check.id),
            check.verdict.name(),
            if check.expected { " (expected)" } else { "" },
            check.requirement.level,
            one_line(&check.requirement.source),
            one_line(&check.title)
        );
        lines.push(hanging(&head, 2, 4, width));
        lines.push(hanging(
            &format!("what came back: {}", one_line(&check.reason)),
            4,
            6,
            width,
        ));
        if check.verdict == Verdict::Fail
            && let Some(h) = crate::catalogue::hint(&check.id)
        {
            lines.push(hanging(&format!("likely cause: {h}"), 4, 6, width));
        }
        if let Some(html) = &screen.report_html {
            lines.push(hanging(&format!("evidence: {html}#{anchor}"), 4, 6, width));
        }
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!("what failed:\n{}", lines.join("\n")))
}

/// How many checks an occurrence list names before it says how many more.
const NAMED_CHECKS: usize = 6;

/// The grouped findings of the run, each deviation once with its count, the check that owns
/// it and the checks whose exchanges show it (`None` when there is none): one root cause is
/// one line, however many checks met it.
pub fn findings(results: &RunResults, color: bool, width: usize) -> Option<String> {
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
            let mut head = hanging(&head, 0, 4, width);
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
            lines.push(hanging(&tail, 4, 4, width));
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
/// columns; a word wider than `width` is broken across lines.
fn wrap_words(text: &str, width: usize) -> String {
    let width = width.max(1);
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
        for c in word.chars() {
            let w = get_string_width(c.encode_utf8(&mut [0; 4]));
            if line_width + w > width && line_width > 0 {
                out.push('\n');
                line_width = 0;
            }
            out.push(c);
            line_width += w;
        }
    }
    out
}
