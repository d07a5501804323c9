//! Layering, read from the sources: the pure core names no client, server, runtime or report
//! module, not even through another module, and no file of `src/` imports another in a circle.
//!
//! The graph is built from the text of `src/` (comments and string literals removed): an edge
//! from a file to the file of every module it names by `use crate::…`, `use super::…`,
//! `use self::…`, `use child::…` or an inline `crate::…` / `super::…` path, and from a module
//! file to each child it declares with `mod name;`. A child naming its own ancestors
//! (`use super::Item` from `x/y.rs` to `x/mod.rs`) is not an edge: the parent declares the
//! child, and Rust code reads its parent's items that way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// The pure core: data, parsing, minting and judging, with no I/O beyond reading files.
const PURE: &[&str] = &[
    "spec",
    "jose",
    "scenario",
    "catalogue",
    "oracle",
    "protocol",
    "fixture",
    "input",
    "target",
    "expected",
    "pace",
    "names",
];

/// Modules that run servers, send requests, drive runs or write reports.
const IMPURE: &[&str] = &[
    "client",
    "diff",
    "fault",
    "idp",
    "idp_control",
    "reference",
    "runner",
    "report",
    "load",
    "fuzz",
    "server",
    "tls",
];

/// Runtime, client and server crates the pure core must not name.
const RUNTIME_CRATES: &[&str] = &["tokio", "reqwest", "axum", "goose"];

/// Edges from the pure core to an impure module that are tolerated for now, each with why.
/// The test fails when an entry is no longer needed, so it cannot outlive its reason.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// One source file: its module path, and its code without comments and literals.
struct Source {
    module: Vec<String>,
    code: String,
}

/// The library's sources by path relative to the crate root (`src/…`); `main.rs` is the
/// binary's root, another crate, and is left out.
fn sources() -> BTreeMap<String, Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .expect("under the crate root")
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "src/main.rs" {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("read {rel}: {e}"));
        out.insert(
            rel.clone(),
            Source {
                module: module_of(&rel),
                code: strip(&text),
            },
        );
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/lib.rs` → `[]`, `src/a.rs` and `src/a/mod.rs` → `[a]`, `src/a/b.rs` → `[a, b]`.
fn module_of(rel: &str) -> Vec<String> {
    let inner = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The code with comments removed and string and character literals emptied, so that only
/// what the compiler reads as paths is left (lifetimes stay).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident(b[i - 1]);
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 1;
            i += 2;
            while i < b.len() && depth > 0 {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        if !prev_ident && (c == 'r' || (c == 'b' && next == Some('r'))) {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&'"') {
                j += 1;
                while j < b.len() {
                    if b[j] == '"' && (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            i += 1;
            while i < b.len() {
                match b[i] {
                    '\\' => i += 2,
                    '"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            out.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            if next == Some('\\') {
                i += 3;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
                continue;
            }
            if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Whether `word` stands at byte `at` of `code` as a whole token.
fn token_at(code: &str, at: usize, word: &str) -> bool {
    code[at..].starts_with(word)
        && !code[..at].chars().next_back().is_some_and(is_ident)
        && !code[at + word.len()..].chars().next().is_some_and(is_ident)
}

/// Byte spans of the inline modules (`mod tests { … }`) of `code`.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for (at, _) in code.match_indices("mod") {
        if !token_at(code, at, "mod") {
            continue;
        }
        let rest = &code[at + 3..];
        let name_len = rest
            .trim_start()
            .chars()
            .take_while(|c| is_ident(*c))
            .count();
        let after = rest.trim_start()[name_len..].trim_start();
        if name_len == 0 || !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let mut depth = 0usize;
        for (k, ch) in code[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        spans.push((at, open + k));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    spans
}

/// The paths a `use` tree names, groups expanded: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`,
/// `a::c::e`; a glob or `self` stands for the module before it.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = tree.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_ident(c) {
            let mut end = i + c.len_utf8();
            while let Some((j, d)) = chars.peek().copied() {
                if !is_ident(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            tokens.push(tree[i..end].to_string());
        } else if matches!(c, '{' | '}' | ',' | '*') {
            tokens.push(c.to_string());
        }
    }
    let mut out = Vec::new();
    let mut pos = 0;
    parse_tree(&tokens, &mut pos, &[], &mut out);
    out
}

fn parse_tree(tokens: &[String], pos: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while let Some(t) = tokens.get(*pos) {
        match t.as_str() {
            "{" => {
                *pos += 1;
                while tokens.get(*pos).is_some_and(|t| t != "}") {
                    parse_tree(tokens, pos, &path, out);
                    if tokens.get(*pos).is_some_and(|t| t == ",") {
                        *pos += 1;
                    }
                }
                *pos += 1;
                return;
            }
            "}" | "," => break,
            "*" => {
                *pos += 1;
                break;
            }
            "as" => {
                *pos += 2;
                break;
            }
            "self" if !path.is_empty() => *pos += 1,
            seg => {
                path.push(seg.to_string());
                *pos += 1;
            }
        }
    }
    out.push(path);
}

/// Every module path a file names, each with the byte offset where it is named.
fn named_paths(code: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("use") {
        if !token_at(code, at, "use") {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        for p in expand_use(&code[at + 3..end]) {
            out.push((at, p));
        }
    }
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let mut path = Vec::new();
            let mut rest = &code[at..];
            loop {
                let n = rest.chars().take_while(|c| is_ident(*c)).count();
                if n == 0 {
                    break;
                }
                path.push(rest[..n].to_string());
                rest = &rest[n..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            out.push((at, path));
        }
    }
    out
}

/// The file-level import graph of the library, with the forbidden crates each file names.
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    runtime: BTreeMap<String, Vec<&'static str>>,
}

fn graph(sources: &BTreeMap<String, Source>) -> Graph {
    let by_module: BTreeMap<&[String], &str> = sources
        .iter()
        .map(|(f, s)| (s.module.as_slice(), f.as_str()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut runtime = BTreeMap::new();
    for (file, src) in sources {
        let code = &src.code;
        let here = &src.module;
        let inline = inline_modules(code);
        let mut targets = BTreeSet::new();
        for (at, path) in named_paths(code) {
            let depth = inline.iter().filter(|(s, e)| *s < at && at < *e).count();
            let Some(first) = path.first() else { continue };
            let (mut base, rest): (Vec<String>, &[String]) = match first.as_str() {
                "crate" => (Vec::new(), &path[1..]),
                "self" => (scope(here, depth), &path[1..]),
                "super" => {
                    let mut base = scope(here, depth);
                    let mut k = 0;
                    while path.get(k).is_some_and(|s| s == "super") {
                        base.pop();
                        k += 1;
                    }
                    (base, &path[k..])
                }
                // `use child::…`: a child module of this one, when there is one.
                _ if depth == 0 => (here.clone(), &path[..]),
                _ => continue,
            };
            base.retain(|s| s != "{inline}");
            let full: Vec<String> = base.iter().chain(rest).cloned().collect();
            // The longest prefix that is a module with a file of its own.
            let target = (0..=full.len())
                .rev()
                .find_map(|n| by_module.get(&full[..n]));
            let Some(target) = target else { continue };
            let target_module = &sources[*target].module;
            let is_ancestor_or_self =
                target_module.len() <= here.len() && here.starts_with(target_module);
            if !is_ancestor_or_self {
                targets.insert(target.to_string());
            }
        }
        for (at, _) in code.match_indices("mod") {
            if !token_at(code, at, "mod") || inline.iter().any(|(s, e)| *s < at && at < *e) {
                continue;
            }
            let rest = code[at + 3..].trim_start();
            let n = rest.chars().take_while(|c| is_ident(*c)).count();
            if n > 0 && rest[n..].trim_start().starts_with(';') {
                let mut child = here.clone();
                child.push(rest[..n].to_string());
                if let Some(f) = by_module.get(child.as_slice()) {
                    targets.insert(f.to_string());
                }
            }
        }
        let names: Vec<&'static str> = RUNTIME_CRATES
            .iter()
            .copied()
            .filter(|c| code.match_indices(c).any(|(at, _)| token_at(code, at, c)))
            .collect();
        if !names.is_empty() {
            runtime.insert(file.clone(), names);
        }
        edges.insert(file.clone(), targets);
    }
    Graph { edges, runtime }
}

/// The module path in effect `depth` inline modules into the file of `here`.
fn scope(here: &[String], depth: usize) -> Vec<String> {
    let mut s = here.to_vec();
    s.extend(std::iter::repeat_n("{inline}".to_string(), depth));
    s
}

fn top_module(file: &str, sources: &BTreeMap<String, Source>) -> String {
    sources[file].module.first().cloned().unwrap_or_default()
}

fn allowed(from: &str, to: &str) -> bool {
    ALLOWED.iter().any(|(f, t, _)| *f == from && *t == to)
}

#[test]
fn the_graph_sees_the_imports_it_should() {
    let sources = sources();
    let g = graph(&sources);
    // Known edges of each kind, so a parser that sees nothing cannot pass the tests below.
    for (from, to) in [
        ("src/runner/mod.rs", "src/reference/mod.rs"), // use crate::reference::{…}
        ("src/runner/mod.rs", "src/runner/check.rs"),  // mod check;
        ("src/load/html.rs", "src/load/report.rs"),    // use super::report::…
        ("src/report/mod.rs", "src/report/model.rs"),  // use model::RunResults
        ("src/scenario/mod.rs", "src/protocol.rs"),    // use crate::protocol::{…}
    ] {
        assert!(
            g.edges[from].contains(to),
            "{from} should import {to}; it imports {:?}",
            g.edges[from]
        );
    }
    assert!(
        g.runtime.contains_key("src/client.rs"),
        "client.rs names reqwest"
    );
    assert!(g.runtime.contains_key("src/idp.rs"), "idp.rs names axum");
}

#[test]
fn use_trees_and_literals_are_read_as_the_compiler_reads_them() {
    assert_eq!(
        expand_use(" super::{self, a, b::{c, d as e}, f::*}"),
        [
            vec!["super"],
            vec!["super", "a"],
            vec!["super", "b", "c"],
            vec!["super", "b", "d"],
            vec!["super", "f"],
        ]
    );
    let code = strip(
        "let s = \"crate::client\"; // crate::idp\n/* crate::tls */ let r = r#\"tokio\"#; \
         let c = '\\''; fn f<'a>(x: &'a str) {} crate::spec::Level",
    );
    assert!(!code.contains("client") && !code.contains("idp") && !code.contains("tls"));
    assert!(!code.contains("tokio"));
    assert!(
        code.contains("<'a>") && code.contains("crate::spec::Level"),
        "{code}"
    );
}

#[test]
fn the_pure_core_reaches_no_client_server_runtime_or_report() {
    let sources = sources();
    let g = graph(&sources);
    let mut problems = Vec::new();
    let mut used_allowances = BTreeSet::new();
    for file in sources.keys() {
        if !PURE.contains(&top_module(file, &sources).as_str()) {
            continue;
        }
        // Breadth-first through the imports, remembering the way each file was reached.
        let mut came_from: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([file.clone()]);
        let mut seen = BTreeSet::from([file.clone()]);
        while let Some(at) = queue.pop_front() {
            if let Some(names) = g.runtime.get(&at) {
                problems.push(format!(
                    "{} names {}",
                    way(&came_from, &at),
                    names.join(", ")
                ));
            }
            for to in &g.edges[&at] {
                if allowed(&at, to) {
                    used_allowances.insert((at.clone(), to.clone()));
                    continue;
                }
                if IMPURE.contains(&top_module(to, &sources).as_str()) {
                    problems.push(format!("{} → {to}", way(&came_from, &at)));
                    continue;
                }
                if seen.insert(to.clone()) {
                    came_from.insert(to.clone(), at.clone());
                    queue.push_back(to.clone());
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "the pure core ({}) must not reach {} or name {}:\n  {}",
        PURE.join(", "),
        IMPURE.join(", "),
        RUNTIME_CRATES.join(", "),
        problems.join("\n  ")
    );
    for (from, to, why) in ALLOWED {
        assert!(
            used_allowances.contains(&(from.to_string(), to.to_string())),
            "the allowance {from} → {to} is no longer needed ({why}): delete it from ALLOWED"
        );
    }
}

/// How `at` was reached: the chain of files from the start of the search.
fn way(came_from: &BTreeMap<String, String>, at: &str) -> String {
    let mut chain = vec![at.to_string()];
    while let Some(p) = chain.last().and_then(|l| came_from.get(l)) {
        chain.push(p.clone());
    }
    chain.reverse();
    chain.join(" → ")
}

#[test]
fn no_file_of_src_imports_another_in_a_circle() {
    let sources = sources();
    let g = graph(&sources);
    let cycles = strongly_connected(&g.edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.join(", "))
        .collect::<Vec<_>>();
    assert!(
        cycles.is_empty(),
        "files that import each other in a circle:\n  {}",
        cycles.join("\n  ")
    );
}

/// Tarjan's strongly connected components of `edges`, each sorted.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}
