//! The command line as a new user meets it: what `--help` says (profiles, report files,
//! environment variables) and the "unknown … ; did you mean …?" messages of mistyped names.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use xaa_conform::reference::Defect;
use xaa_conform::spec::PROFILES;

/// No command here gets as far as a server; a slow machine still has this long.
const TIMEOUT: Duration = Duration::from_secs(60);

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `xaa-conform ARGS…` with nothing to find in the working folder.
fn xaa(args: &[&str]) -> Ran {
    let dir = common::report_dir();
    let mut cmd = common::command();
    cmd.current_dir(dir.path()).args(args);
    let out = common::output_with_timeout(cmd, TIMEOUT);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `--help` of `args`, its whitespace runs made single spaces (clap wraps at the width).
fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let ran = xaa(&all);
    assert_eq!(ran.code, Some(0), "{all:?}: {}", ran.stderr);
    ran.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The help text of `--report-dir`, up to its default.
fn report_dir_help(command: &str) -> String {
    let text = help(&[command]);
    let start = text
        .find("--report-dir <DIR>")
        .unwrap_or_else(|| panic!("{command}: no --report-dir: {text}"));
    let rest = &text[start..];
    let end = rest.find("[default: reports]").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// `--profile` lists the profiles in the help of every command that takes one.
#[test]
fn profile_lists_its_values_in_help() {
    let listed = format!("[possible values: {}]", PROFILES.join(", "));
    for command in ["run", "load", "fuzz", "list"] {
        let text = help(&[command]);
        assert!(text.contains("--profile <PROFILE>"), "{command}: {text}");
        assert!(text.contains(&listed), "{command}: {text}");
    }
}

/// An unknown profile is bad input (exit 2) that names the similar one, before anything runs.
#[test]
fn an_unknown_profile_is_exit_2_naming_the_similar_one() {
    for command in ["run", "load", "fuzz", "list"] {
        let ran = xaa(&[command, "--profile", "auth"]);
        assert_eq!(ran.code, Some(2), "{command}: {}", ran.stderr);
        assert!(
            ran.stderr
                .contains("invalid value 'auth' for '--profile <PROFILE>'"),
            "{command}: {}",
            ran.stderr
        );
        assert!(ran.stderr.contains("'auth0'"), "{command}: {}", ran.stderr);
    }
}

/// `--report-dir` names every file it receives, per command.
#[test]
fn report_dir_help_names_every_report() {
    let expected: &[(&str, &[&str])] = &[
        (
            "run",
            &[
                "results.json",
                "junit.xml",
                "report.html",
                "idp-ca.pem",
                "--report-markdown",
            ],
        ),
        (
            "fuzz",
            &[
                "fuzz.json",
                "results.json",
                "junit.xml",
                "report.html",
                "fuzz-failures.json",
            ],
        ),
        ("load", &["load.json", "load.html"]),
    ];
    for (command, files) in expected {
        let text = report_dir_help(command);
        for file in *files {
            assert!(text.contains(file), "{command}: {file} missing: {text}");
        }
    }
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literal at the start of `text` (after spaces), if any.
fn literal_at(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(name, _)| name)
}

/// The identifier at the start of `text` (after spaces and a `super::`-like path).
fn ident_at(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end].rsplit("::").next().unwrap_or_default()
}

/// Whether `name` looks like an environment variable: upper case, digits and `_`.
fn env_like(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The environment variables the sources read: string literals and constants passed to
/// `env::var`, `var_os`, `from_env` and clap's `env = `, constants named `…_ENV`, and every
/// `"XAA_…"` literal (the names of secrets that helpers read).
fn variables_the_sources_read() -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("source"))
        .collect();
    // `const NAME: &str = "VALUE";` anywhere, to resolve constants passed by name.
    let mut consts = std::collections::BTreeMap::new();
    for text in &texts {
        for line in text.lines() {
            let line = line.trim_start().trim_start_matches("pub ");
            let line = line
                .trim_start_matches("(crate) ")
                .trim_start_matches("(super) ");
            if let Some(rest) = line.strip_prefix("const ")
                && let Some((name, value)) = rest.split_once(": &str = ")
                && let Some(value) = literal_at(value)
            {
                consts.insert(name.trim().to_string(), value.to_string());
            }
        }
    }
    let mut found = BTreeSet::new();
    for (name, value) in &consts {
        if name.ends_with("_ENV") && env_like(value) {
            found.insert(value.clone());
        }
    }
    for text in &texts {
        for call in ["env::var(", "var_os(", "from_env(", "env = "] {
            for (i, _) in text.match_indices(call) {
                let after = &text[i + call.len()..];
                let name = match literal_at(after) {
                    Some(l) => Some(l.to_string()),
                    None => consts.get(ident_at(after)).cloned(),
                };
                if let Some(name) = name.filter(|n| env_like(n)) {
                    found.insert(name);
                }
            }
        }
        for (i, _) in text.match_indices("\"XAA_") {
            if let Some(name) = literal_at(&text[i..]).filter(|n| env_like(n)) {
                found.insert(name.to_string());
            }
        }
    }
    found
}

/// Every environment variable the sources read is named after `--help` of the tool and of
/// `run`, and in the README's table; so is the `${VAR}` of target-file secrets.
#[test]
fn every_environment_variable_the_sources_read_is_in_help() {
    let names = variables_the_sources_read();
    for known in [
        "XAA_LOG",
        "NO_COLOR",
        "COLUMNS",
        "GITHUB_STEP_SUMMARY",
        "XAA_CONFORM_TODAY",
        "XAA_HEARTBEAT",
        "XAA_CLIENT_SECRET",
    ] {
        assert!(names.contains(known), "the scan missed {known}: {names:?}");
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    for (what, text) in [
        ("xaa-conform --help", help(&[])),
        ("xaa-conform run --help", help(&["run"])),
        ("README.md", readme),
    ] {
        assert!(
            text.contains("Environment"),
            "{what}: no environment section"
        );
        assert!(
            text.contains("${VAR}"),
            "{what}: target-file secrets missing"
        );
        for name in &names {
            assert!(text.contains(name.as_str()), "{what} does not name {name}");
        }
    }
}

/// A mistyped defect gets the nearest names and where the list is, not every name.
#[test]
fn an_unknown_defect_suggests_the_nearest() {
    let ran = xaa(&["run", "--reference-defect", "accept-any-audd"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "unknown defect `accept-any-audd`; did you mean `accept-any-aud`? \
             (`xaa-conform list --defects` lists them)"
        ),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("typ-optional"), "{}", ran.stderr);

    let ran = xaa(&["load", "--reference-defect", "nothing-like-it-at-all"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "unknown defect `nothing-like-it-at-all` (`xaa-conform list --defects` lists them)"
        ),
        "{}",
        ran.stderr
    );
}

/// `list --defects` lists every defect with the checks it proves, and nothing else.
#[test]
fn list_defects_lists_every_defect() {
    let ran = xaa(&["list", "--defects"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for d in Defect::ALL {
        let line = ran
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(d.name()))
            .unwrap_or_else(|| panic!("{} missing: {}", d.name(), ran.stdout));
        for (check, _) in d.breaks() {
            assert!(line.contains(check), "{line}");
        }
    }
    assert!(!ran.stdout.contains("BASE-01 "), "rows listed too");
    assert!(ran.stdout.contains("--reference-defect NAME"));

    let ran = xaa(&["list", "--defects", "--format", "json"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let items: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON");
    assert_eq!(
        items.as_array().map(Vec::len),
        Some(Defect::ALL.len()),
        "{items}"
    );
}

/// A `--filter` pattern without glob characters that names no check is exit 2 with the
/// nearest IDs, alone or beside patterns that match.
#[test]
fn an_unknown_check_id_in_filter_suggests_the_nearest() {
    let ran = xaa(&["run", "--filter", "JAG-AUD-1"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "no check id matches --filter `JAG-AUD-1`; did you mean `JAG-AUD-01`? \
             (`xaa-conform list` lists them)"
        ),
        "{}",
        ran.stderr
    );

    let ran = xaa(&["run", "--filter", "BASE-01,BASE-99"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "no check has the id `BASE-99`; did you mean `BASE-09`? (`xaa-conform list` lists them)"
        ),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.lines().count() <= 2, "{}", ran.stderr);
}

/// A mistyped target-file key (or value) names the nearest expected one instead of all.
#[test]
fn an_unknown_target_key_suggests_the_nearest() {
    let dir = common::report_dir();
    let target = dir.path().join("target.yaml");
    std::fs::write(
        &target,
        "token_endpont: http://127.0.0.1:9/token\nissuer: http://127.0.0.1:9\n",
    )
    .expect("write");
    let path = target.to_str().expect("UTF-8 path");
    let ran = xaa(&["run", "--target", path]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let first = ran.stderr.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(
            "target.yaml:1:1: unknown field `token_endpont`; did you mean `token_endpoint`?"
        ),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("expected one of"), "{}", ran.stderr);

    std::fs::write(
        &target,
        "token_endpoint: http://127.0.0.1:9/token\n\
         client: { id: a, secret: b, auth: client_secret_bsic }\n",
    )
    .expect("write");
    let ran = xaa(&["run", "--target", path]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(
            "unknown value `client_secret_bsic`; did you mean `client_secret_basic`? \
                 (expected one of client_secret_basic, client_secret_post, none)"
        ),
        "{}",
        ran.stderr
    );
}
