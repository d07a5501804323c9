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
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line = before.matches('\n').count() as u64 + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
        Self::at(origin, text, line, column, message)
    }

    /// An error at 1-based `line` and `column` (in characters) of `text`, with the line shown.
    pub fn at(
        origin: impl Into<String>,
        text: &str,
        line: u64,
        column: u64,
        message: impl Into<String>,
    ) -> Self {
        let src_line = text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("");
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
        // An unclosed `{` or `[` swallows the lines after it, so the parser's own words
        // describe a symptom far away ("unknown variant `a b`"): point where it opened.
        if let Some((offset, open)) = unclosed_flow(text) {
            let close = if open == '{' { '}' } else { ']' };
            let kind = if open == '{' { "mapping" } else { "sequence" };
            return InputError::at_offset(
                origin,
                text,
                offset,
                format!(
                    "this `{open}` opens a flow {kind} that is never closed: add the `{close}` \
                     (the parser went on to read the lines after it as part of it: {e})",
                    e = e.to_string().lines().next().unwrap_or_default()
                ),
            );
        }
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
        let shorter = did_you_mean_key(&message);
        let snippet: Vec<String> = lines
            .map(|l| {
                let l = l.replace("<input>", origin);
                match &shorter {
                    Some(s) => l.replace(&message, s),
                    None => l,
                }
            })
            .collect();
        let message = shorter.unwrap_or(message);
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

/// The parser's "unknown field `x`, expected one of a, b, …" (or "unknown variant") as
/// "unknown field `x`; did you mean `a`?" with the nearest expected names, or `None` when the
/// message is not of that form or no expected name is near (the full list then stays). A
/// list of at most [`SHORT_LIST`] names stays after the suggestion.
pub fn did_you_mean_key(message: &str) -> Option<String> {
    let (kind, rest) = [("unknown field `", "field"), ("unknown variant `", "value")]
        .iter()
        .find_map(|(prefix, kind)| message.strip_prefix(prefix).map(|r| (*kind, r)))?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.strip_prefix(", expected ")?;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let names: Vec<&str> = expected
        .split(", ")
        .flat_map(|n| n.split(" or "))
        .map(|n| n.trim().trim_matches('`'))
        .filter(|n| !n.is_empty())
        .collect();
    let near = crate::names::did_you_mean(name, &names)?;
    if names.len() <= SHORT_LIST {
        Some(format!("unknown {kind} `{name}`; {near} ({})", &rest[2..]))
    } else {
        Some(format!("unknown {kind} `{name}`; {near}"))
    }
}

/// The most expected names an "unknown …" message keeps after its suggestion (a level, an
/// auth method); longer lists (a file's keys) give way to the suggestion.
pub const SHORT_LIST: usize = 6;

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

/// The byte offset and character of the first `{` or `[` of a flow collection that is never
/// closed, outside quotes, comments and block scalars (`|`, `>`); `None` when every one is
/// closed.
fn unclosed_flow(text: &str) -> Option<(usize, char)> {
    let mut open: Vec<(usize, char)> = Vec::new();
    // Inside a block scalar: the indentation of the line that opened it.
    let mut block: Option<usize> = None;
    for (line_start, line) in line_offsets(text) {
        let indent = line.len() - line.trim_start().len();
        if let Some(opener) = block {
            if line.trim().is_empty() || indent > opener {
                continue;
            }
            block = None;
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut last = ' ';
        for (i, c) in line.char_indices() {
            match (quote, c) {
                (Some('"'), '"') if prev != '\\' => quote = None,
                (Some('\''), '\'') => quote = None,
                (Some(_), _) => {}
                (None, '#') if prev.is_whitespace() => break,
                (None, '\'' | '"') if matches!(prev, ' ' | '\t' | '{' | '[' | ',' | ':' | '-') => {
                    quote = Some(c)
                }
                (None, '{' | '[') => open.push((line_start + i, c)),
                (None, '}' | ']') => {
                    open.pop();
                }
                _ => {}
            }
            prev = c;
            if !c.is_whitespace() {
                last = c;
            }
        }
        let trimmed = line.split(" #").next().unwrap_or_default().trim_end();
        let header = trimmed.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
        if open.is_empty()
            && quote.is_none()
            && matches!(last, '|' | '>' | '-' | '+' | '0'..='9')
            && (header.ends_with(" |")
                || header.ends_with(" >")
                || header.ends_with(":|")
                || header.ends_with(":>")
                || header == "|"
                || header == ">")
        {
            block = Some(indent);
        }
    }
    open.first().copied()
}

/// Each line of `text` with the byte offset where it starts.
fn line_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    text.split('\n').map(move |line| {
        let at = start;
        start += line.len() + 1;
        (at, line)
    })
}

/// Where a parsed file's values came from, so that an error found after parsing (an unset
/// `${VAR}`, a bad duration or URL) still names `file:line:column`.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The file, as errors name it.
    pub origin: &'a str,
    /// Its text, when known.
    pub text: Option<&'a str>,
}

impl Place<'_> {
    /// The error `{path}: {message}` at the value of `path` (dot-separated keys, as
    /// `client.secret`), or about the whole file when the value cannot be found.
    pub fn error(&self, path: &str, message: impl std::fmt::Display) -> InputError {
        let message = format!("{path}: {message}");
        match self
            .text
            .and_then(|t| locate(t, path).map(|(l, c)| (t, l, c)))
        {
            Some((text, line, column)) => InputError::at(self.origin, text, line, column, message),
            None => InputError::file(self.origin, message),
        }
    }
}

/// The 1-based line and column of the value at `path` (dot-separated mapping keys) in a YAML
/// `text`; `None` when the text does not parse or has no such value.
pub fn locate(text: &str, path: &str) -> Option<(u64, u64)> {
    let root: serde_saphyr::Spanned<Node> = serde_saphyr::from_str(text).ok()?;
    let mut here = &root;
    for key in path.split('.') {
        let Node::Map(entries) = &here.value else {
            return None;
        };
        here = &entries.iter().find(|(k, _)| k == key)?.1;
    }
    let loc = here.referenced;
    (loc.line() > 0).then(|| (loc.line() as u64, loc.column() as u64))
}

/// A YAML node with the place of every value below it, for [`locate`].
enum Node {
    Map(Vec<(String, serde_saphyr::Spanned<Node>)>),
    Seq,
    Scalar,
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            entries.push((key.0, map.next_value()?));
        }
        Ok(Node::Map(entries))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Node::Seq)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        <Node as serde::Deserialize>::deserialize(d)
    }
}

/// A mapping key as text (a number or boolean key as written).
struct Key(String);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(String::new()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_suggest_the_nearest_expected_name() {
        assert_eq!(
            did_you_mean_key(
                "unknown field `tokn_endpoint`, expected one of issuer, token_endpoint, client, \
                 client2, client3, subject, scope"
            )
            .as_deref(),
            Some("unknown field `tokn_endpoint`; did you mean `token_endpoint`?")
        );
        assert_eq!(
            did_you_mean_key("unknown variant `nne`, expected `none` or `post`").as_deref(),
            Some("unknown value `nne`; did you mean `none`? (expected `none` or `post`)")
        );
        assert_eq!(
            did_you_mean_key("unknown field `zzzzzzzz`, expected one of a, b"),
            None
        );
        assert_eq!(did_you_mean_key("missing field `issuer`"), None);
    }

    #[test]
    fn locate_finds_nested_values() {
        let text = "a: 1\nclient:\n  id: c1\n  secret: ${NOPE}\nidp: { bind: x }\n";
        assert_eq!(locate(text, "a"), Some((1, 4)));
        assert_eq!(locate(text, "client.secret"), Some((4, 11)));
        assert_eq!(locate(text, "idp.bind"), Some((5, 14)));
        assert_eq!(locate(text, "client.nope"), None);
        assert_eq!(locate("a: [", "a"), None);
    }

    #[test]
    fn a_place_names_the_value_or_the_file() {
        let text = "timeout: soon\n";
        let e = Place {
            origin: "t.yaml",
            text: Some(text),
        }
        .error("timeout", "`soon` is no duration");
        assert_eq!((e.line, e.column), (Some(1), Some(10)));
        assert!(
            e.to_string().starts_with("t.yaml:1:10: timeout: `soon`"),
            "{e}"
        );
        let e = Place {
            origin: "t.yaml",
            text: None,
        }
        .error("timeout", "bad");
        assert_eq!(e.to_string(), "t.yaml: timeout: bad");
    }

    #[test]
    fn unclosed_flow_points_where_it_opened() {
        assert_eq!(unclosed_flow("a: { b: 1 }\nc: [1, 2]\n"), None);
        let text = "token_endpoint: x\nclient: { id: c1, auth: client_secret_basic\nsubject: u1\n";
        assert_eq!(unclosed_flow(text), Some((26, '{')));
        // Quotes, comments and block scalars do not count.
        assert_eq!(unclosed_flow("a: '{'\nb: \"[\" # {\nc: it's\n"), None);
        assert_eq!(unclosed_flow("body: |\n  {\"a\": [\nnext: 1\n"), None);
        let e = parse_yaml::<serde_json::Value>("t.yaml", text).expect_err("unclosed");
        assert_eq!((e.line, e.column), (Some(2), Some(9)), "{e}");
        assert!(e.message.contains("never closed: add the `}`"), "{e}");
    }
}
