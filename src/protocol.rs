//! The protocol model at the bottom of the crate: the parties, the grant and token-type URNs,
//! how a request travels and how it is recorded, and what the fake IdP can be told to serve.
//!
//! Pure data: this module imports nothing of the crate and no runtime, client or server, so
//! the scenario format, the JOSE code and the judge can name these types without reaching
//! reqwest, axum or tokio (the layering test, `tests/layering.rs`, holds it to that).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The grant type of an ID-JAG presentation (RFC 7523 §2.1).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The client-assertion type of `private_key_jwt` (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The RFC 8693 grant type, with which the requesting app exchanges an ID token for an ID-JAG.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type URN of an ID-JAG (ID-JAG §4.3).
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// Token type URN of an OIDC ID token (RFC 8693 §3).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The JWS `typ` of an ID-JAG (ID-JAG §3.1).
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";

/// The JWS `typ` of a client assertion (draft-ietf-oauth-rfc7523bis).
pub const CLIENT_ASSERTION_TYP: &str = "client-authentication+jwt";

/// The parties the fake IdP plays, each with its own keys.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IssuerRole {
    /// ISS_A: the issuer the RAS trusts; the baseline ID-JAG comes from it.
    Trusted,
    /// ISS_B: a second trusted issuer.
    TrustedB,
    /// ISS_X: an issuer the RAS must not trust.
    Untrusted,
    /// The attacker host that serves keys for `jku`/`x5u` probes.
    Attacker,
    /// ISS_MT: a multi-tenant issuer, one `iss` for several tenants told apart by the
    /// `tenant` claim (ID-JAG §6.1); trusted by a RAS that declares `multi_tenant`.
    MultiTenant,
    /// ISS_SAML: an issuer whose users the RAS resolves by a SAML NameID `sub_id` (ID-JAG
    /// §3.2); trusted by a RAS that declares `saml_subjects`.
    SamlSubjects,
}

impl IssuerRole {
    /// Every role, in a stable order.
    pub const ALL: [IssuerRole; 6] = [
        IssuerRole::Trusted,
        IssuerRole::TrustedB,
        IssuerRole::Untrusted,
        IssuerRole::Attacker,
        IssuerRole::MultiTenant,
        IssuerRole::SamlSubjects,
    ];

    /// The path segment under which the fake IdP hosts this issuer.
    pub fn path(self) -> &'static str {
        match self {
            IssuerRole::Trusted => "idp-a",
            IssuerRole::TrustedB => "idp-b",
            IssuerRole::Untrusted => "idp-x",
            IssuerRole::Attacker => "attacker",
            IssuerRole::MultiTenant => "idp-mt",
            IssuerRole::SamlSubjects => "idp-saml",
        }
    }

    /// The name used in scenarios and placeholders.
    pub fn name(self) -> &'static str {
        match self {
            IssuerRole::Trusted => "trusted",
            IssuerRole::TrustedB => "trusted_b",
            IssuerRole::Untrusted => "untrusted",
            IssuerRole::Attacker => "attacker",
            IssuerRole::MultiTenant => "multi_tenant",
            IssuerRole::SamlSubjects => "saml_subjects",
        }
    }
}

/// How client credentials are presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1, App. B).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// `client_id` in the body, no secret.
    None,
    /// Basic and the body secret at once (RFC 6749 §2.3: more than one method).
    BasicAndPost,
}

/// The HTTP method of a request: a token request is POST unless its scenario says GET
/// (RFC 6749 §3.2), a resource-API call is GET unless its scenario says POST (a write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// POST with the parameters in the body (RFC 6749 §3.2).
    #[default]
    Post,
    /// GET with the parameters in the query string.
    Get,
    /// PUT (a resource-API write; a token request sends it like POST).
    Put,
    /// PATCH (a resource-API write).
    Patch,
    /// DELETE (a resource-API write).
    Delete,
}

impl HttpMethod {
    /// The method of a resource-API call that names none: GET, a read (RFC 6750 §2.1). A
    /// write must say POST; a correct API answers a POST to a read-only resource with 405.
    pub fn resource_default() -> Self {
        HttpMethod::Get
    }

    /// The method's name on the wire (`GET`, `POST`).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// The method named `name` (case-insensitive), e.g. `api.write`'s.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Put,
            HttpMethod::Patch,
            HttpMethod::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// How the trusted issuer's JWKS endpoint fails (RFC 7523 §3 item 9: the RAS must fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JwksFault {
    /// HTTP 500.
    ServerError,
    /// An answer only after six seconds.
    Slow,
    /// A body that is not JSON.
    InvalidJson,
    /// A JWK Set with no keys.
    EmptyKeys,
}

/// A temporary change to what the fake IdP serves, for the length of one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpCondition {
    /// Publish the trusted issuer's next key (rotated in) next to its current ones.
    #[serde(default)]
    pub publish_new_key: bool,
    /// Remove the trusted issuer's current keys from its JWKS, publishing its next keys in
    /// their place (a key removed after a rotation, RFC 7523 §3 item 9).
    #[serde(default)]
    pub remove_current_key: bool,
    /// Also publish an RSA key marked `use: enc` in the trusted issuer's JWKS (RFC 7517 §4.2).
    #[serde(default)]
    pub publish_enc_key: bool,
    /// Also publish the trusted issuer's 1024-bit RSA key (for RS256) in its JWKS, under the
    /// 2048 bits RFC 7518 §3.3 requires.
    #[serde(default)]
    pub publish_weak_key: bool,
    /// Make a JWKS endpoint fail.
    #[serde(default)]
    pub jwks_fault: Option<JwksFault>,
    /// Whose JWKS fails (default the trusted issuer).
    #[serde(default)]
    pub fault_issuer: Option<IssuerRole>,
}

/// One HTTP request as sent, with secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Request headers (credentials redacted).
    pub headers: Vec<(String, String)>,
    /// Form body (secrets redacted).
    pub body: String,
}

/// One HTTP response as received (the body is capped). Nothing is decoded lossily: a body or
/// header value that is not valid UTF-8 is shown with each byte that breaks it escaped as
/// `\xNN`, and where it breaks is recorded, so the judge never takes the shown text for what
/// the server sent (such an answer is no token response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordedResponse {
    /// Status code.
    pub status: u16,
    /// Response headers (a value that is not valid UTF-8 shown escaped, see `headers_not_utf8`).
    pub headers: Vec<(String, String)>,
    /// Body text (capped; when it is not valid UTF-8, shown escaped, see `body_not_utf8_at`).
    pub body: String,
    /// The byte offset at which the body stops being valid UTF-8, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_not_utf8_at: Option<usize>,
    /// The headers whose value is not valid UTF-8, each with the byte offset where it breaks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers_not_utf8: Vec<(String, usize)>,
}

impl RecordedResponse {
    /// A response whose body and header values are valid UTF-8.
    pub fn text(status: u16, headers: Vec<(String, String)>, body: impl Into<String>) -> Self {
        RecordedResponse {
            status,
            headers,
            body: body.into(),
            body_not_utf8_at: None,
            headers_not_utf8: Vec::new(),
        }
    }

    /// A response as received: the body and header values as bytes, decoded without loss
    /// (what is not valid UTF-8 is escaped for display and its offset recorded).
    pub fn from_bytes(status: u16, headers: Vec<(String, Vec<u8>)>, body: &[u8]) -> Self {
        let mut headers_not_utf8 = Vec::new();
        let headers = headers
            .into_iter()
            .map(|(name, value)| {
                let (shown, at) = decode_utf8(&value);
                if let Some(at) = at {
                    headers_not_utf8.push((name.clone(), at));
                }
                (name, shown)
            })
            .collect();
        let (body, body_not_utf8_at) = decode_utf8(body);
        RecordedResponse {
            status,
            headers,
            body,
            body_not_utf8_at,
            headers_not_utf8,
        }
    }
}

/// Bytes as text without loss: valid UTF-8 as it is; otherwise each byte that breaks it
/// escaped as `\xNN`, with the offset of the first one.
fn decode_utf8(bytes: &[u8]) -> (String, Option<usize>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(e) => {
            let mut shown = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                shown.push_str(chunk.valid());
                for b in chunk.invalid() {
                    shown.push_str(&format!("\\x{b:02x}"));
                }
            }
            (shown, Some(e.valid_up_to()))
        }
    }
}

/// A request, its answer or the reason there was none, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Exchange {
    /// What this request was for: `control`, `probe`, `idp-login`, ….
    pub role: String,
    /// The request.
    pub request: RecordedRequest,
    /// The response, when one arrived.
    pub response: Option<RecordedResponse>,
    /// Why there is no usable response (refused, timeout, body over the cap, …).
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub elapsed_ms: f64,
    /// A curl command that repeats the request, secrets replaced by environment variables.
    pub curl: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_headers_are_decoded_without_loss() {
        let r = RecordedResponse::from_bytes(
            200,
            vec![
                ("x-ok".into(), "café".as_bytes().to_vec()),
                ("x-latin1".into(), b"caf\xe9".to_vec()),
            ],
            b"{\"access_token\":\"t\xff\"}",
        );
        assert_eq!(r.body, r#"{"access_token":"t\xff"}"#);
        assert_eq!(r.body_not_utf8_at, Some(18));
        assert_eq!(r.headers[0].1, "café");
        assert_eq!(r.headers[1].1, r"caf\xe9");
        assert_eq!(r.headers_not_utf8, vec![("x-latin1".to_string(), 3)]);
        // The shown body is no JSON that holds the token.
        assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
        let ok = RecordedResponse::from_bytes(200, vec![], "ü".as_bytes());
        assert_eq!((ok.body.as_str(), ok.body_not_utf8_at), ("ü", None));
    }

    #[test]
    fn results_without_the_utf8_fields_still_read_and_valid_answers_add_none() {
        let r: RecordedResponse =
            serde_json::from_str(r#"{"status":200,"headers":[],"body":"{}"}"#).expect("old form");
        assert_eq!(r, RecordedResponse::text(200, vec![], "{}"));
        let v = serde_json::to_value(&r).expect("json");
        assert!(v.get("body_not_utf8_at").is_none() && v.get("headers_not_utf8").is_none());
    }

    #[test]
    fn token_requests_default_to_post_and_resource_calls_to_get() {
        assert_eq!(HttpMethod::default(), HttpMethod::Post);
        assert_eq!(HttpMethod::resource_default(), HttpMethod::Get);
        assert_eq!(HttpMethod::Get.as_str(), "GET");
        assert_eq!(HttpMethod::Post.as_str(), "POST");
    }

    #[test]
    fn names_on_the_wire_and_in_scenarios_are_unchanged() {
        assert_eq!(
            serde_json::to_value(HttpMethod::Get).ok(),
            Some("GET".into())
        );
        assert_eq!(
            serde_json::to_value(AuthMethod::BasicAndPost).ok(),
            Some("basic_and_post".into())
        );
        assert_eq!(
            serde_json::to_value(IssuerRole::TrustedB).ok(),
            Some("trusted_b".into())
        );
        assert_eq!(
            serde_json::to_value(JwksFault::EmptyKeys).ok(),
            Some("empty_keys".into())
        );
    }
}
