//! How the resource API finds the access token in a request (RFC 6750 §2): the
//! `Authorization: Bearer` header (the method resource servers MUST support, §2.1; `DPoP` for a
//! DPoP-bound token, RFC 9449 §7.1), the
//! `access_token` form body parameter (§2.2) or the `access_token` query parameter (§2.3).
//! A client MUST NOT use more than one method (§2); the reference refuses such a request with
//! 400 `invalid_request` (§3.1) and supports the header alone, unless a defect says otherwise.

use axum::http::{HeaderMap, Method, header};

/// Where a request carried its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// No token by any method.
    Nothing,
    /// In the `Authorization: Bearer` header.
    Header(String),
    /// Only in the `access_token` query parameter.
    Query(String),
    /// Only in the `access_token` form body parameter.
    Body(String),
    /// By more than one method, or twice by one (RFC 6750 §2, §3.1: `invalid_request`).
    Several {
        /// The header's token, which a server that ignores the other methods uses.
        header: Option<String>,
    },
}

/// The `access_token` values of a form-encoded text (a query or a body).
fn access_tokens(form: &[u8]) -> Vec<String> {
    url::form_urlencoded::parse(form)
        .filter(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// Where the request carried its access token: the header, the query, and the body when it
/// is a form (`application/x-www-form-urlencoded`) sent by a method other than GET (§2.2).
pub fn presented(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Presented {
    // The Bearer scheme, or DPoP for a DPoP-bound token (RFC 9449 §7.1).
    let from_header = super::dpop::authorization(headers).map(|(t, _)| t);
    let from_query = access_tokens(query.unwrap_or_default().as_bytes());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let from_body = if is_form && method != Method::GET {
        access_tokens(body)
    } else {
        Vec::new()
    };
    let count = usize::from(from_header.is_some()) + from_query.len() + from_body.len();
    match (from_header, count) {
        (_, 0) => Presented::Nothing,
        (Some(t), 1) => Presented::Header(t),
        (None, 1) if !from_query.is_empty() => {
            Presented::Query(from_query.into_iter().next().unwrap_or_default())
        }
        (None, 1) => Presented::Body(from_body.into_iter().next().unwrap_or_default()),
        (header, _) => Presented::Several { header },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn each_method_alone_and_two_at_once() {
        let bearer = headers(&[(header::AUTHORIZATION, "Bearer abc")]);
        let form = headers(&[(header::CONTENT_TYPE, "application/x-www-form-urlencoded")]);
        assert_eq!(
            presented(&Method::GET, &HeaderMap::new(), None, b""),
            Presented::Nothing
        );
        assert_eq!(
            presented(&Method::GET, &bearer, None, b""),
            Presented::Header("abc".into())
        );
        assert_eq!(
            presented(
                &Method::GET,
                &HeaderMap::new(),
                Some("access_token=q&x=1"),
                b""
            ),
            Presented::Query("q".into())
        );
        assert_eq!(
            presented(&Method::POST, &form, None, b"access_token=b"),
            Presented::Body("b".into())
        );
        // A GET body, or a body that is no form, carries no token (§2.2).
        assert_eq!(
            presented(&Method::GET, &form, None, b"access_token=b"),
            Presented::Nothing
        );
        assert_eq!(
            presented(&Method::POST, &HeaderMap::new(), None, b"access_token=b"),
            Presented::Nothing
        );
        assert_eq!(
            presented(&Method::GET, &bearer, Some("access_token=abc"), b""),
            Presented::Several {
                header: Some("abc".into())
            }
        );
        let mut both = bearer.clone();
        both.extend(form);
        assert_eq!(
            presented(&Method::POST, &both, None, b"access_token=abc"),
            Presented::Several {
                header: Some("abc".into())
            }
        );
        assert_eq!(
            presented(
                &Method::GET,
                &HeaderMap::new(),
                Some("access_token=a&access_token=b"),
                b""
            ),
            Presented::Several { header: None }
        );
    }
}
