//! Reading the files people write (scenarios, targets, expected failures): YAML with
//! file:line:column diagnostics, never a panic.

use std::path::Path;

use serde::de::DeserializeOwned;

/// An input file is unusable. Displays as `file:line:column: message` plus a source snippet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct InputError {
    /// The file (or `embedded:…` for the compiled-in catalogue).
    pub origin: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong and what was expected.
    pub message: String,
    /// Annotated source lines, when available.
    pub snippet: Option<String>,
}

impl InputError {
    /// An error about a whole file, with no position.
    pub fn file(origin: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            origin: origin.into(),
            line: None,
            column: None,
            message: message.into(),
            snippet: None,
        }
    }

    /// An error at a byte offset of `text`.
    pub fn at_offset(
        origin: impl Into<String>,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() as u64 + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
        let src_line = text.lines().nth(line as usize - 1).unwrap_or("");
        let snippet = format!(
            "{line:>4} | {src_line}\n     | {}^",
            " ".repeat(column.saturating_sub(1) as usize)
        );
        InputError {
            origin: origin.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
            snippet: Some(snippet),
        }
    }

    fn render(&self) -> String {
        let mut s = self.origin.clone();
        if let (Some(l), Some(c)) = (self.line, self.column) {
            s.push_str(&format!(":{l}:{c}"));
        }
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(snip) = &self.snippet {
            s.push('\n');
            s.push_str(snip);
        }
        s
    }
}

/// Parses YAML `text` from `origin` into `T`: unknown fields, wrong types, missing fields,
/// duplicate keys and syntax errors all come back with their position.
pub fn parse_yaml<T: DeserializeOwned>(origin: &str, text: &str) -> Result<T, InputError> {
    serde_saphyr::from_str::<T>(text).map_err(|e| {
        let loc = e.location();
        let rendered = e.to_string();
        let mut lines = rendered.lines();
        let first = lines.next().unwrap_or_default();
        // serde-saphyr's first line is "error: line L column C: message".
        let message = first
            .strip_prefix("error: ")
            .unwrap_or(first)
            .split_once(": ")
            .filter(|(head, _)| head.starts_with("line "))
            .map_or(first, |(_, msg)| msg)
            .to_string();
        let snippet: Vec<String> = lines.map(|l| l.replace("<input>", origin)).collect();
        InputError {
            origin: origin.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message,
            snippet: if snippet.is_empty() {
                None
            } else {
                Some(snippet.join("\n"))
            },
        }
    })
}

/// The largest scenario, target or expected-failures file read (1 MiB): such files are a
/// few kilobytes, and a bigger one is a mistake or an attack on the loader.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads and parses a YAML file of at most [`MAX_INPUT_BYTES`].
pub fn read_yaml<T: DeserializeOwned>(path: &Path) -> Result<T, InputError> {
    let origin = path.display().to_string();
    let text = read_text(path)?;
    parse_yaml(&origin, &text)
}

/// Reads a text input file of at most [`MAX_INPUT_BYTES`].
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let origin = path.display().to_string();
    let len = std::fs::metadata(path)
        .map_err(|e| InputError::file(&origin, format!("cannot read: {e}")))?
        .len();
    if len > MAX_INPUT_BYTES {
        return Err(InputError::file(
            &origin,
            format!("the file is {len} bytes; input files may be at most {MAX_INPUT_BYTES} bytes"),
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| InputError::file(&origin, format!("cannot read: {e}")))
}
