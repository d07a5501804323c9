//! The run as a Markdown summary, for `--report-markdown FILE` and GitHub's job summary
//! (`GITHUB_STEP_SUMMARY`): the verdict counts by area, what failed with its likely cause,
//! the warnings and errors, and the report files; always under GitHub's 1 MiB limit.

use std::fmt::Write as _;

use super::model::{CheckResult, RunResults, Summary};
use crate::spec::Verdict;

/// GitHub refuses a job summary over 1 MiB; the summary stays well under it.
pub const MAX_BYTES: usize = 1000 * 1000;

/// Checks listed per section before the rest are only counted.
const MAX_LISTED: usize = 200;

/// The summary of `results`, naming `report_files` (as the run wrote them) at the end.
pub fn summary(results: &RunResults, report_files: &[String]) -> String {
    let counts = Summary::of(&results.checks);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## xaa-conform: {}\n",
        escape(&super::terminal::summary(results))
    );
    if results.interrupted {
        out.push_str("> **Interrupted (Ctrl-C):** the checks that did not finish are SKIP.\n\n");
    }
    areas(&mut out, results, &counts);
    section(
        &mut out,
        "What failed",
        results,
        |c| c.verdict == Verdict::Fail,
        true,
    );
    section(
        &mut out,
        "Errors (no usable answer)",
        results,
        |c| c.verdict == Verdict::Error,
        false,
    );
    section(
        &mut out,
        "Warnings",
        results,
        |c| c.verdict == Verdict::Warn,
        true,
    );
    if !report_files.is_empty() {
        let files: Vec<String> = report_files
            .iter()
            .map(|f| format!("`{}`", f.replace('`', "'")))
            .collect();
        let _ = writeln!(out, "Reports: {}", files.join(", "));
    }
    if out.len() > MAX_BYTES {
        let mut cut = MAX_BYTES - 100;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n\n… (cut to stay under GitHub's job summary limit: see report.html)\n");
    }
    out
}

/// The verdict counts of each area of the catalogue, in the order areas first appear.
fn areas(out: &mut String, results: &RunResults, all: &Summary) {
    let mut by_area: Vec<(&str, Vec<&CheckResult>)> = Vec::new();
    for c in &results.checks {
        let area = crate::catalogue::find(&c.id).map_or("other", |r| r.area);
        match by_area.iter_mut().find(|(a, _)| *a == area) {
            Some((_, list)) => list.push(c),
            None => by_area.push((area, vec![c])),
        }
    }
    out.push_str("| area | PASS | FAIL | WARN | INFO | SKIP | ERROR |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let row = |out: &mut String, name: &str, s: &Summary| {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            s.pass, s.fail, s.warn, s.info, s.skip, s.error
        );
    };
    for (area, checks) in &by_area {
        let owned: Vec<CheckResult> = checks.iter().map(|c| (*c).clone()).collect();
        row(out, &escape(area), &Summary::of(&owned));
    }
    row(out, "**all**", all);
    out.push('\n');
}

/// A section listing the checks `pick` selects, with their reason and (`hints`) the likely
/// cause; nothing when none is selected.
fn section(
    out: &mut String,
    title: &str,
    results: &RunResults,
    pick: impl Fn(&CheckResult) -> bool,
    hints: bool,
) {
    let picked: Vec<&CheckResult> = results.checks.iter().filter(|c| pick(c)).collect();
    if picked.is_empty() {
        return;
    }
    let _ = writeln!(out, "### {title} ({})\n", picked.len());
    for c in picked.iter().take(MAX_LISTED) {
        let hint = crate::catalogue::hint(&c.id).filter(|_| hints);
        let _ = writeln!(
            out,
            "- **{}** {} ({} {}): {}  \n  {}{}",
            escape(&c.id),
            c.verdict.name(),
            c.requirement.level,
            escape(&c.requirement.source),
            escape(&c.title),
            escape(&c.reason),
            if hint.is_some() { "  " } else { "" }
        );
        if let Some(h) = hint {
            let _ = writeln!(out, "  *Likely cause:* {}", escape(h));
        }
    }
    if picked.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "- … and {} more (see report.html)",
            picked.len() - MAX_LISTED
        );
    }
    out.push('\n');
}

/// `text` on one line with Markdown's and HTML's active characters escaped, so a server's
/// words cannot format, link or inject anything.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_control() => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_are_inert() {
        assert_eq!(
            escape("a|b <script> [x](y) `c`\n*d*"),
            "a\\|b &lt;script&gt; \\[x\\](y) \\`c\\` \\*d\\*"
        );
    }
}
