//! Why a token request got no usable answer, as a few named causes: `load` counts its errors
//! by them (`load.json` `errors`, the terminal summary, `load.html`), and `run` words its
//! messages for a request that failed after the same cause.
//!
//! A cause is read from the reqwest error of a request that failed (connect, TLS, the wait
//! for the head, the body) or, for an answer that came but is in the error class, from its
//! status and body ([`Fault::of_answer`]).

use std::error::Error as _;

/// The words hyper uses for a response head it cannot parse.
const MALFORMED_HEAD: &[&str] = &[
    "invalid HTTP header parsed",
    "invalid content-length parsed",
    "invalid HTTP status-code parsed",
    "invalid HTTP version parsed",
    "invalid HTTP method parsed",
    "invalid URI",
    "unexpected transfer-encoding parsed",
    "invalid transfer-encoding parsed",
];

/// Why one request is in the error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Nothing listens: the connection was refused.
    ConnectionRefused,
    /// The connection could not be made for another reason (no route, name not resolved).
    ConnectFailed,
    /// The connection was not made within the timeout.
    ConnectTimeout,
    /// The TLS handshake failed (an untrusted certificate, a protocol error).
    Tls,
    /// The server reset or closed the connection before a complete answer.
    ConnectionReset,
    /// No response head within the timeout.
    HeadTimeout,
    /// A response head the client cannot parse, or over its size limit.
    MalformedHead,
    /// The body was still arriving (or stalled) when the timeout passed.
    BodyTimeout,
    /// The body broke off: bad chunked encoding, fewer bytes than `Content-Length`.
    BodyBroken,
    /// The body is over the size read under load.
    BodyOverCap,
    /// A 3xx answer: the token endpoint redirects (never followed).
    Redirect,
    /// A 5xx answer.
    ServerError,
    /// A body that is not JSON (or not UTF-8).
    InvalidJson,
    /// A 200 whose JSON holds no `access_token`.
    NoToken,
    /// A 4xx (other than 429) whose JSON is no RFC 6749 §5.2 error.
    NoErrorMember,
    /// Another status (1xx, 2xx other than 200).
    UnexpectedStatus,
    /// Any other failure of the request.
    Other,
}

impl Fault {
    /// Every cause, in report order.
    pub const ALL: [Fault; 17] = [
        Fault::ConnectionRefused,
        Fault::ConnectFailed,
        Fault::ConnectTimeout,
        Fault::Tls,
        Fault::ConnectionReset,
        Fault::HeadTimeout,
        Fault::MalformedHead,
        Fault::BodyTimeout,
        Fault::BodyBroken,
        Fault::BodyOverCap,
        Fault::Redirect,
        Fault::ServerError,
        Fault::InvalidJson,
        Fault::NoToken,
        Fault::NoErrorMember,
        Fault::UnexpectedStatus,
        Fault::Other,
    ];

    /// The snake_case key in `load.json`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ConnectionRefused => "connection_refused",
            Fault::ConnectFailed => "connect_failed",
            Fault::ConnectTimeout => "connect_timeout",
            Fault::Tls => "tls",
            Fault::ConnectionReset => "connection_reset",
            Fault::HeadTimeout => "head_timeout",
            Fault::MalformedHead => "malformed_head",
            Fault::BodyTimeout => "body_timeout",
            Fault::BodyBroken => "body_broken",
            Fault::BodyOverCap => "body_over_cap",
            Fault::Redirect => "redirect",
            Fault::ServerError => "server_error",
            Fault::InvalidJson => "invalid_json",
            Fault::NoToken => "no_token",
            Fault::NoErrorMember => "no_error_member",
            Fault::UnexpectedStatus => "unexpected_status",
            Fault::Other => "other",
        }
    }

    /// The cause in words, for the terminal and `load.html`.
    pub fn label(self) -> &'static str {
        match self {
            Fault::ConnectionRefused => "connection refused",
            Fault::ConnectFailed => "connect failed",
            Fault::ConnectTimeout => "connect timed out",
            Fault::Tls => "TLS handshake failed",
            Fault::ConnectionReset => "connection reset or closed early",
            Fault::HeadTimeout => "no response head within the timeout",
            Fault::MalformedHead => "malformed response head",
            Fault::BodyTimeout => "body not complete within the timeout",
            Fault::BodyBroken => "body broken off (framing)",
            Fault::BodyOverCap => "body over the size cap",
            Fault::Redirect => "redirect (3xx)",
            Fault::ServerError => "server error (5xx)",
            Fault::InvalidJson => "body not JSON",
            Fault::NoToken => "200 without access_token",
            Fault::NoErrorMember => "4xx without an OAuth error",
            Fault::UnexpectedStatus => "unexpected status",
            Fault::Other => "other failure",
        }
    }

    /// The cause named `name` ([`Fault::name`]).
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Why an answer that came is in the error class (not a token, not a §5.2 refusal, not
    /// a 429): its status, then its body.
    pub fn of_answer(status: u16, body: &[u8]) -> Fault {
        let json = || serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
        match status {
            300..=399 => Fault::Redirect,
            500..=599 => Fault::ServerError,
            200 | 400..=499 if !json() => Fault::InvalidJson,
            200 => Fault::NoToken,
            400..=499 => Fault::NoErrorMember,
            _ => Fault::UnexpectedStatus,
        }
    }

    /// Why a request got no response head: refused, reset, timed out, TLS, a malformed head.
    pub fn of_request_error(e: &reqwest::Error) -> Fault {
        if let Some(f) = io_fault(e) {
            return f;
        }
        let text = innermost(e);
        if e.is_connect() {
            return if e.is_timeout() {
                Fault::ConnectTimeout
            } else if is_tls(&text) {
                Fault::Tls
            } else {
                Fault::ConnectFailed
            };
        }
        if e.is_timeout() {
            return Fault::HeadTimeout;
        }
        if text == "message head is too large" || MALFORMED_HEAD.iter().any(|h| text.starts_with(h))
        {
            return Fault::MalformedHead;
        }
        if text == "connection closed before message completed" {
            return Fault::ConnectionReset;
        }
        if is_tls(&text) {
            return Fault::Tls;
        }
        if e.is_redirect() {
            return Fault::Redirect;
        }
        Fault::Other
    }

    /// Why a body broke off after the head: timed out, reset, bad framing.
    pub fn of_body_error(e: &reqwest::Error) -> Fault {
        if e.is_timeout() {
            return Fault::BodyTimeout;
        }
        match io_fault(e) {
            Some(Fault::ConnectionReset) => Fault::ConnectionReset,
            _ => Fault::BodyBroken,
        }
    }
}

/// The innermost cause's words.
fn innermost(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A refused or reset connection, read from an I/O error in the chain.
fn io_fault(e: &reqwest::Error) -> Option<Fault> {
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return Some(Fault::ConnectionRefused),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                    return Some(Fault::ConnectionReset);
                }
                K::TimedOut => return None,
                _ => {}
            }
        }
        cause = c.source();
    }
    None
}

/// Whether an error's words are rustls's.
fn is_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "alert",
        "peer is incompatible",
    ]
    .iter()
    .any(|w| t.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for f in Fault::ALL {
            assert_eq!(Fault::from_name(f.name()), Some(f));
        }
        let names: std::collections::BTreeSet<_> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Fault::ALL.len());
    }

    #[test]
    fn answers_are_told_apart() {
        assert_eq!(Fault::of_answer(302, b""), Fault::Redirect);
        assert_eq!(Fault::of_answer(503, b"{}"), Fault::ServerError);
        assert_eq!(Fault::of_answer(200, b"<html>"), Fault::InvalidJson);
        assert_eq!(Fault::of_answer(200, b"\xff{}"), Fault::InvalidJson);
        assert_eq!(Fault::of_answer(200, b"{\"a\":1}"), Fault::NoToken);
        assert_eq!(Fault::of_answer(400, b"{\"a\":1}"), Fault::NoErrorMember);
        assert_eq!(Fault::of_answer(400, b"Bad Request"), Fault::InvalidJson);
        assert_eq!(Fault::of_answer(204, b""), Fault::UnexpectedStatus);
    }
}
