//! Helpers shared by the integration tests: the binary, running it with a timeout, a report
//! folder, reading results.json, and golden files through one normaliser.
//!
//! Each test binary that says `mod common;` compiles its own copy and uses a part of it.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use std::sync::{Arc, OnceLock};

use xaa_conform::jose::Keyring;
use xaa_conform::report::model::RunResults;

/// One in-memory keyring per test binary: RSA key generation is slow.
pub fn keyring() -> Arc<Keyring> {
    static KEYS: OnceLock<Arc<Keyring>> = OnceLock::new();
    KEYS.get_or_init(|| Arc::new(Keyring::ephemeral().expect("keys")))
        .clone()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// The `xaa-conform` binary cargo built for these tests.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_xaa-conform"))
}

/// A command for the binary, without colours and without the caller's log filter.
pub fn command() -> Command {
    let mut c = Command::new(bin_path());
    c.env("NO_COLOR", "1").env_remove("XAA_LOG");
    c
}

/// Runs `xaa-conform ARGS…` to its end and returns its output; panics (naming the command)
/// when it runs longer than `timeout`, after killing it.
pub fn run_with_timeout<I, S>(args: I, timeout: Duration) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = command();
    cmd.args(args);
    output_with_timeout(cmd, timeout)
}

/// Runs a prepared command with piped output; panics after killing it when it runs longer
/// than `timeout`.
pub fn output_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    wait_with_timeout(child, &shown, timeout)
}

/// Waits for a child started with piped output, as [`output_with_timeout`] does (for a test
/// that acts on the process while it runs, e.g. sends it a signal).
pub fn output_with_timeout_of_child(child: Child, timeout: Duration) -> Output {
    wait_with_timeout(child, "the child process", timeout)
}

fn wait_with_timeout(mut child: Child, shown: &str, timeout: Duration) -> Output {
    // Read both pipes on their own threads so that a full pipe cannot stall the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not finish within {timeout:?}");
            }
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A fresh folder for the reports of one run, removed when dropped.
pub fn report_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary report folder")
}

/// The results.json a run wrote into `dir`, parsed.
pub fn read_results(dir: &Path) -> RunResults {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces what changes from run to run in a report (results.json, junit.xml) with a
/// placeholder, and keeps everything else, so that a golden file still catches a changed
/// verdict, reason, level, source, request or answer:
///
/// - JWTs (`eyJ…`, any number of segments) → `[jwt]`;
/// - UUIDs (jtis, codes, state, nonces) → `[uuid]`;
/// - loopback ports (`127.0.0.1:PORT`, also URL-encoded) → `[port]`;
/// - RFC 3339 timestamps → `[timestamp]`, HTTP dates → `[http-date]`;
/// - durations (`"elapsed_ms": N`, `time="N"`, `in N ms`) → `[ms]`, `[s]`, `[n]`;
/// - ten-digit Unix times (`iat`, `exp`) → `[unix]`;
/// - long random base64url strings (kids, access tokens, thumbprints) → `[b64]`;
/// - the tool version → `[version]`.
pub fn normalise(text: &str) -> String {
    let text = text
        .replace(
            &format!("\"tool_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"tool_version\": \"[version]\"",
        )
        .replace(
            &format!(
                "name=\"tool_version\" value=\"{}\"",
                env!("CARGO_PKG_VERSION")
            ),
            "name=\"tool_version\" value=\"[version]\"",
        );
    // Ports first: in URL-encoded URLs (`%2F%2F127.0.0.1%3A…`) the host is inside a word.
    let text = ["127.0.0.1:", "127.0.0.1%3A", "localhost:"]
        .iter()
        .fold(text, |t, host| digits_after(&t, host, "[port]"));
    let s = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < s.len() {
        let at_word_start = i == 0 || !is_word(s[i - 1]);
        if let Some((len, replacement)) = volatile_at(s, i, at_word_start) {
            out.push_str(&replacement);
            i += len;
            continue;
        }
        if at_word_start && is_word(s[i]) {
            // A word that is not volatile is kept whole, so that no rule starts inside it.
            let end = i + s[i..].iter().take_while(|&&b| is_word(b)).count();
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        // One character (a multi-byte one whole).
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// `text` with the digits right after every `marker` replaced by `placeholder`.
fn digits_after(text: &str, marker: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = at + marker.len();
        out.push_str(&rest[..after]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str(placeholder);
        }
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    out
}

/// Characters of base64url words (and of identifiers).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The volatile value at `i`, as (bytes it covers, placeholder), if one starts there.
fn volatile_at(s: &[u8], i: usize, at_word_start: bool) -> Option<(usize, String)> {
    let rest = &s[i..];
    // Numbers named by their key or unit: durations.
    for (prefix, placeholder, suffixes) in [
        (&b"\"elapsed_ms\": "[..], "[ms]", &[&b""[..]][..]),
        (&b"time=\""[..], "[s]", &[&b"\""[..]][..]),
        (&b" in "[..], "[n]", &[&b" ms"[..], &b" s"[..]][..]),
    ] {
        if let Some(after) = rest.strip_prefix(prefix) {
            let n = number_len(after);
            if n > 0 && suffixes.iter().any(|x| after[n..].starts_with(x)) {
                let prefix = String::from_utf8_lossy(prefix);
                return Some((prefix.len() + n, format!("{prefix}{placeholder}")));
            }
        }
    }
    if !at_word_start {
        return None;
    }
    if shape(rest, b"dddd-dd-ddTdd:dd:dd") {
        let mut n = 19;
        if rest.get(n) == Some(&b'.') {
            n += 1 + rest[n + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        }
        if rest.get(n) == Some(&b'Z') {
            return Some((n + 1, "[timestamp]".into()));
        }
    }
    if shape(rest, b"Aaa, dd Aaa dddd dd:dd:dd GMT") {
        return Some((29, "[http-date]".into()));
    }
    if rest.starts_with(b"eyJ") {
        let n = rest
            .iter()
            .take_while(|&&b| is_word(b) || b == b'.')
            .count();
        return Some((n, "[jwt]".into()));
    }
    let word = rest.iter().take_while(|&&b| is_word(b)).count();
    if word == 36 && shape(rest, b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") {
        return Some((36, "[uuid]".into()));
    }
    if word == 10 && rest[0] == b'1' && rest[..10].iter().all(u8::is_ascii_digit) {
        return Some((10, "[unix]".into()));
    }
    let random =
        |w: &[u8]| w.iter().any(u8::is_ascii_uppercase) && w.iter().any(u8::is_ascii_lowercase);
    if word >= 20 && random(&rest[..word]) {
        return Some((word, "[b64]".into()));
    }
    None
}

/// The length of the decimal number (digits, an optional fraction) at the start of `s`.
fn number_len(s: &[u8]) -> usize {
    let int = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if int > 0 && s.get(int) == Some(&b'.') {
        let frac = s[int + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if frac > 0 {
            return int + 1 + frac;
        }
    }
    int
}

/// Whether `s` starts with the shape `pattern`: `d` a digit, `x` a hex digit, `A` an upper-
/// and `a` a lower-case letter, anything else itself.
fn shape(s: &[u8], pattern: &[u8]) -> bool {
    s.len() >= pattern.len()
        && s.iter().zip(pattern).all(|(&c, &p)| match p {
            b'd' => c.is_ascii_digit(),
            b'x' => c.is_ascii_hexdigit(),
            b'A' => c.is_ascii_uppercase(),
            b'a' => c.is_ascii_lowercase(),
            _ => c == p,
        })
}

/// The folder of the golden files.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` (already normalised) with the golden file `name`; with
/// `UPDATE_GOLDEN=1` in the environment it rewrites the file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).expect("create tests/golden");
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with `UPDATE_GOLDEN=1 cargo test --test golden`",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (want, got): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let first = want
        .iter()
        .zip(&got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let window = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(first.saturating_sub(3))
            .take(8)
            .map(|(n, l)| format!("{:>5} {l}", n + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{} differs from this run from line {} on ({} lines expected, {} got)\n\
         --- expected\n{}\n--- got\n{}\n\
         If the change is intended: UPDATE_GOLDEN=1 cargo test --test golden, and review the diff.",
        path.display(),
        first + 1,
        want.len(),
        got.len(),
        window(&want),
        window(&got)
    );
}
