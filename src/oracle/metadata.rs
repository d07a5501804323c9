//! Metadata rules: the RAS's RFC 8414 metadata document (no token request is made).

use serde_json::Value;

use crate::protocol::Exchange;
use crate::spec::{Level, Verdict};

use super::classify::json_object;
use super::expect::MetadataRules;
use super::{Judgement, judged};

/// Where a metadata document was looked for, in the order tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataSource {
    /// RFC 8414 §3: the well-known path between the host and the issuer's path.
    PathAware,
    /// `/.well-known/oauth-authorization-server` at the host's root, without the issuer's
    /// path (tried only for an issuer with a path).
    Root,
    /// OpenID Connect Discovery: `{issuer}/.well-known/openid-configuration`.
    OpenIdDiscovery,
}

impl MetadataSource {
    /// How reasons name the document.
    pub fn label(self) -> &'static str {
        match self {
            MetadataSource::PathAware => {
                "the RFC 8414 document at the issuer's path-aware location"
            }
            MetadataSource::Root => "the RFC 8414 document at the root, without the issuer's path",
            MetadataSource::OpenIdDiscovery => "the OpenID discovery document",
        }
    }
}

/// True when `ex` answered 200 with a JSON object: a metadata document was found there, and
/// no further location is tried.
pub fn is_metadata_document(ex: &Exchange) -> bool {
    ex.response
        .as_ref()
        .is_some_and(|r| r.status == 200 && json_object(&r.body).is_some())
}

/// Judges the metadata from the locations tried, in order (RFC 8414 path-aware, root, OpenID
/// discovery): the first document found is judged, and the reason says which it was. With
/// `path_aware`, a document found only at the root is the RFC 8414 §3 deviation; one found
/// only by OpenID discovery is no RFC 8414 metadata (SKIP). No document at all: SKIP when
/// every location answered 404, otherwise the first answer other than 404 is judged.
pub fn judge_metadata_at(
    level: Level,
    rules: &MetadataRules,
    tried: &[(MetadataSource, &Exchange)],
) -> Judgement {
    let Some(&(_, first)) = tried.first() else {
        return judged(Verdict::Error, "no metadata location to try".to_string());
    };
    let Some(&(source, ex)) = tried.iter().find(|(_, ex)| is_metadata_document(ex)) else {
        if first.response.is_none() {
            return judge_metadata(level, rules, first);
        }
        return match tried
            .iter()
            .find(|(_, ex)| ex.response.as_ref().is_some_and(|r| r.status != 404))
        {
            Some((_, ex)) => judge_metadata(level, rules, ex),
            None => {
                let urls: Vec<&str> = tried.iter().map(|(_, e)| e.request.url.as_str()).collect();
                judged(
                    Verdict::Skip,
                    format!(
                        "not applicable to this target: no metadata at {}",
                        urls.join(", nor at ")
                    ),
                )
            }
        };
    };
    if rules.path_aware {
        return match source {
            MetadataSource::PathAware
                if ex
                    .request
                    .url
                    .trim_end_matches('/')
                    .ends_with("/.well-known/oauth-authorization-server") =>
            {
                judged(
                    Verdict::Pass,
                    format!(
                        "metadata at {} (the issuer has no path: it is also the root)",
                        ex.request.url
                    ),
                )
            }
            MetadataSource::PathAware => judged(
                Verdict::Pass,
                format!("metadata at the path-aware location {}", ex.request.url),
            ),
            MetadataSource::Root => judged(
                level.violation(),
                format!(
                    "metadata only at the root {}, not at the path-aware location {} \
                     (RFC 8414 §3: the well-known path goes between the host and the issuer's path)",
                    ex.request.url, first.request.url
                ),
            ),
            MetadataSource::OpenIdDiscovery => judged(
                Verdict::Skip,
                format!(
                    "not applicable to this target: no RFC 8414 metadata (only {} at {})",
                    source.label(),
                    ex.request.url
                ),
            ),
        };
    }
    let mut j = judge_metadata(level, rules, ex);
    j.reason = format!("{} (read from {})", j.reason, source.label());
    j
}

/// Judges the RAS's RFC 8414 metadata document. A 404 means the server publishes none: SKIP.
pub fn judge_metadata(level: Level, rules: &MetadataRules, ex: &Exchange) -> Judgement {
    let Some(resp) = &ex.response else {
        return judged(
            Verdict::Error,
            format!("no answer: {}", ex.error.clone().unwrap_or_default()),
        );
    };
    if resp.status == 404 {
        return judged(
            Verdict::Skip,
            format!(
                "not applicable to this target: no metadata at {}",
                ex.request.url
            ),
        );
    }
    let Some(doc) = json_object(&resp.body).filter(|_| resp.status == 200) else {
        return judged(
            level.violation(),
            format!("metadata answered {} without a JSON object", resp.status),
        );
    };
    let mut problems = Vec::new();
    if let Some(want) = &rules.issuer_equals {
        match doc.get("issuer") {
            Some(Value::String(i)) if i == want => {}
            Some(other) => problems.push(format!("issuer is {other}, not the identical {want}")),
            None => problems.push("no issuer member".into()),
        }
    }
    for member in &rules.arrays_of_strings {
        match doc.get(member) {
            None => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(other) => problems.push(format!("{member} is {other}, not an array of strings")),
        }
    }
    for (member, value) in &rules.contains {
        let has = doc
            .get(member)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(value)));
        if !has {
            problems.push(format!("{member} does not list {value}"));
        }
    }
    for member in &rules.no_urls_in {
        if let Some(Value::Array(a)) = doc.get(member) {
            let urls: Vec<&str> = a
                .iter()
                .filter_map(Value::as_str)
                .filter(|v| v.starts_with("http://") || v.starts_with("https://"))
                .collect();
            if !urls.is_empty() {
                problems.push(format!("{member} discloses URLs: {}", urls.join(", ")));
            }
        }
    }
    if problems.is_empty() {
        judged(Verdict::Pass, "metadata as required".to_string())
    } else {
        judged(level.violation(), problems.join("; "))
    }
}
