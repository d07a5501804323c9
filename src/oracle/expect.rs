//! The `Expect` model: what a scenario expects of the server. Two kinds, kept apart:
//! rule sets ([`Rules`]: an answer, or the metadata document, judged against declared rules)
//! and procedures ([`Procedure`]: a bespoke sequence of requests, timed or counted, whose
//! observation the oracle judges). Scenario files keep one flat syntax (`expect: { reject: … }`,
//! `expect: { measure: … }`), read and written through [`ExpectSyntax`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One value or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several acceptable values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What an accepted answer must also satisfy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRules {
    /// Required `token_type`, compared case-insensitively (RFC 6749 §5.1).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Response headers that must carry a value: the header's comma- or semicolon-separated
    /// items must include it, case-insensitively (e.g. `cache-control: no-store`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Members the JSON body must not have (e.g. `refresh_token`).
    #[serde(default)]
    pub absent: Vec<String>,
    /// Members that must be positive integers (e.g. `expires_in`, RFC 6749 §5.1).
    #[serde(default)]
    pub positive_integers: Vec<String>,
    /// The response `scope` must be present and a subset of these space-separated scopes.
    #[serde(default)]
    pub scope_within: Option<String>,
    /// When the response has a `scope`, it must be a subset of these (RFC 6749 §5.1: an
    /// absent scope means the requested one).
    #[serde(default)]
    pub scope_at_most: Option<String>,
    /// Scopes that must not be granted (when `scope` is present).
    #[serde(default)]
    pub scope_excludes: Vec<String>,
    /// The response must carry `scope`: where the granted scope cannot be the requested one,
    /// RFC 6749 §5.1 makes it REQUIRED, and an absent `scope` reads as the requested one.
    #[serde(default)]
    pub scope_required: bool,
    /// Members that must equal these JSON values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub equals: Map<String, Value>,
    /// Rules on the granted `authorization_details` (RFC 9396; see [`super::rar`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<super::rar::RarRules>,
    /// When the response has a `resource`, it must be an absolute URI without a fragment, or
    /// a non-empty array of unique ones (ID-JAG -05 editor's copy §4.4.2); its absence is
    /// BASE-06's to judge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resource_format: bool,
}

/// A rejection with more than the error code: the status and headers it must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRules {
    /// Acceptable RFC 6749 §5.2 error codes (none: any refusal with an allowed status).
    #[serde(default)]
    pub error: Option<OneOrMany>,
    /// Acceptable HTTP statuses (e.g. `[400, 405]`); with no `error`, any answer with one of
    /// these statuses is a refusal, JSON body or not.
    #[serde(default)]
    pub status: Vec<u16>,
    /// Headers the error response must carry (as in [`AcceptRules::headers`]).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Texts the error body must not contain; `${jag}` stands for the ID-JAG sent.
    #[serde(default)]
    pub body_excludes: Vec<String>,
}

/// What a rejection must look like: just the codes, or codes, status and headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RejectSpec {
    /// `reject: invalid_grant` or `reject: [invalid_grant, invalid_target]`.
    Codes(OneOrMany),
    /// `reject: { error: invalid_client, status: [401], headers: { www-authenticate: Basic } }`.
    Rules(RejectRules),
}

impl RejectSpec {
    /// The acceptable error codes.
    pub fn codes(&self) -> Vec<String> {
        match self {
            RejectSpec::Codes(c) => c.to_vec(),
            RejectSpec::Rules(r) => r.error.as_ref().map(OneOrMany::to_vec).unwrap_or_default(),
        }
    }

    /// Acceptable statuses (empty: as RFC 6749 §5.2 prescribes for the code).
    pub fn statuses(&self) -> Vec<u16> {
        match self {
            RejectSpec::Codes(_) => Vec::new(),
            RejectSpec::Rules(r) => r.status.clone(),
        }
    }

    /// Texts the error body must not contain.
    pub fn body_excludes(&self) -> Vec<String> {
        match self {
            RejectSpec::Codes(_) => Vec::new(),
            RejectSpec::Rules(r) => r.body_excludes.clone(),
        }
    }

    /// Headers the error response must carry.
    pub fn headers(&self) -> BTreeMap<String, String> {
        match self {
            RejectSpec::Codes(_) => BTreeMap::new(),
            RejectSpec::Rules(r) => r.headers.clone(),
        }
    }
}

/// Either answer is conformant: a rejection with one of these codes, or an acceptance that
/// satisfies the rules (e.g. RFC 7521 §4.1: refuse, or grant no more than the ID-JAG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EitherRules {
    /// Acceptable error codes.
    pub reject: OneOrMany,
    /// Rules an acceptance must satisfy.
    #[serde(default)]
    pub accept: AcceptRules,
}

/// Behaviour to record only (MAY-level rows): the verdict is INFO, with what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRules {}

/// What the check expects of the server: rules an answer must satisfy, or a procedure whose
/// observation is judged. In scenario files both are one flat `expect:` map ([`ExpectSyntax`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ExpectSyntax", into = "ExpectSyntax")]
// A scenario holds one, read once per run: boxing the rules would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Expect {
    /// Rules for one answer (or for the metadata document).
    Rules(Rules),
    /// A procedure of several requests, judged on what it observed.
    Procedure(Procedure),
}

/// The rule sets: one answer (after a positive control where the check is differential), or
/// the metadata document, judged against declared rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rules {
    /// A token is issued, and the rules hold.
    Accept(AcceptRules),
    /// The request is refused with one of these RFC 6749 §5.2 error codes. The positive
    /// control (the same request with the valid ID-JAG) must be accepted first.
    Reject(RejectSpec),
    /// Refused with one of these codes, or accepted within the rules.
    Either(EitherRules),
    /// Only recorded: INFO with the answer.
    Record(RecordRules),
    /// Rules for the RAS's RFC 8414 metadata document (no token request is made).
    Metadata(MetadataRules),
}

/// The procedures: bespoke request sequences whose observations (counts, timings, fetches,
/// principals) the oracle judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Procedure {
    /// A burst of refused requests whose `kid`s are all unknown must cause few JWKS fetches.
    FetchBudget(FetchBudget),
    /// Measure how far a time claim may be moved before the server refuses (INFO).
    Measure(Measure),
    /// The trusted issuer drops the key the server has just accepted; once the server's JWKS
    /// cache time is up, ID-JAGs signed with it must be refused (RFC 7523 §3 item 9).
    KeyRemoval(KeyRemoval),
    /// The same ID-JAG sent many times at once: how many are accepted (a replay-cache race).
    ConcurrentReplay(ConcurrentReplay),
    /// Records whom the access token represents, as the target's whoami endpoint says (INFO).
    Whoami(WhoamiRecord),
    /// Introspects the access token a valid ID-JAG obtains, and a token never issued
    /// (RFC 7662 §2.2).
    Introspect(IntrospectRecord),
    /// The ID-JAG must not obtain a token for the principal that the same ID-JAG minted by
    /// another issuer obtains: refused, or accepted for another principal (per the whoami
    /// endpoint).
    DistinctPrincipal(DistinctPrincipal),
    /// The access token a valid ID-JAG obtains, judged as an RFC 9068 JWT access token
    /// (SKIP when the target's tokens are not JWTs).
    JwtAccessToken(super::jwt_access_token::JwtAccessTokenRules),
    /// An ID-JAG the RAS's own IdP issued in the same trust domain (`also_idp` of the target)
    /// must obtain no access token (ID-JAG §9.3).
    OwnIdJag(OwnIdJag),
    /// The valid token request sent to the plain-http address of the token endpoint
    /// (`token_endpoint_http` of the target) must obtain no token (RFC 6749 §3.2).
    Cleartext(CleartextRecord),
}

/// What the check expects of the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExpectSyntax {
    /// A token is issued, and the rules hold.
    Accept(AcceptRules),
    /// The request is refused with one of these RFC 6749 §5.2 error codes. The positive
    /// control (the same request with the valid ID-JAG) must be accepted first.
    Reject(RejectSpec),
    /// Refused with one of these codes, or accepted within the rules.
    Either(EitherRules),
    /// Only recorded: INFO with the answer.
    Record(RecordRules),
    /// Rules for the RAS's RFC 8414 metadata document (no token request is made).
    Metadata(MetadataRules),
    /// A burst of refused requests whose `kid`s are all unknown must cause few JWKS fetches.
    FetchBudget(FetchBudget),
    /// Measure how far a time claim may be moved before the server refuses (INFO).
    Measure(Measure),
    /// The trusted issuer drops the key the server has just accepted; once the server's JWKS
    /// cache time is up, ID-JAGs signed with it must be refused (RFC 7523 §3 item 9).
    KeyRemoval(KeyRemoval),
    /// The same ID-JAG sent many times at once: how many are accepted (a replay-cache race).
    ConcurrentReplay(ConcurrentReplay),
    /// Records whom the access token represents, as the target's whoami endpoint says (INFO).
    Whoami(WhoamiRecord),
    /// Introspects the access token a valid ID-JAG obtains, and a token never issued
    /// (RFC 7662 §2.2).
    Introspect(IntrospectRecord),
    /// The ID-JAG must not obtain a token for the principal that the same ID-JAG minted by
    /// another issuer obtains: refused, or accepted for another principal (per the whoami
    /// endpoint).
    DistinctPrincipal(DistinctPrincipal),
    /// The access token a valid ID-JAG obtains, judged as an RFC 9068 JWT access token
    /// (`rule: claims` for RESP-07, `rule: audience` for RESP-08; SKIP when the target's
    /// tokens are not JWTs).
    JwtAccessToken(super::jwt_access_token::JwtAccessTokenRules),
    /// An ID-JAG the RAS's own IdP issued in the same trust domain must obtain no access
    /// token.
    OwnIdJag(OwnIdJag),
    /// No token over the plain-http address of the token endpoint.
    Cleartext(CleartextRecord),
}

impl From<ExpectSyntax> for Expect {
    fn from(s: ExpectSyntax) -> Self {
        match s {
            ExpectSyntax::Accept(r) => Expect::Rules(Rules::Accept(r)),
            ExpectSyntax::Reject(r) => Expect::Rules(Rules::Reject(r)),
            ExpectSyntax::Either(r) => Expect::Rules(Rules::Either(r)),
            ExpectSyntax::Record(r) => Expect::Rules(Rules::Record(r)),
            ExpectSyntax::Metadata(r) => Expect::Rules(Rules::Metadata(r)),
            ExpectSyntax::FetchBudget(p) => Expect::Procedure(Procedure::FetchBudget(p)),
            ExpectSyntax::Measure(p) => Expect::Procedure(Procedure::Measure(p)),
            ExpectSyntax::KeyRemoval(p) => Expect::Procedure(Procedure::KeyRemoval(p)),
            ExpectSyntax::ConcurrentReplay(p) => Expect::Procedure(Procedure::ConcurrentReplay(p)),
            ExpectSyntax::Whoami(p) => Expect::Procedure(Procedure::Whoami(p)),
            ExpectSyntax::Introspect(p) => Expect::Procedure(Procedure::Introspect(p)),
            ExpectSyntax::DistinctPrincipal(p) => {
                Expect::Procedure(Procedure::DistinctPrincipal(p))
            }
            ExpectSyntax::JwtAccessToken(p) => Expect::Procedure(Procedure::JwtAccessToken(p)),
            ExpectSyntax::OwnIdJag(p) => Expect::Procedure(Procedure::OwnIdJag(p)),
            ExpectSyntax::Cleartext(p) => Expect::Procedure(Procedure::Cleartext(p)),
        }
    }
}

impl From<Expect> for ExpectSyntax {
    fn from(e: Expect) -> Self {
        match e {
            Expect::Rules(Rules::Accept(r)) => ExpectSyntax::Accept(r),
            Expect::Rules(Rules::Reject(r)) => ExpectSyntax::Reject(r),
            Expect::Rules(Rules::Either(r)) => ExpectSyntax::Either(r),
            Expect::Rules(Rules::Record(r)) => ExpectSyntax::Record(r),
            Expect::Rules(Rules::Metadata(r)) => ExpectSyntax::Metadata(r),
            Expect::Procedure(Procedure::FetchBudget(p)) => ExpectSyntax::FetchBudget(p),
            Expect::Procedure(Procedure::Measure(p)) => ExpectSyntax::Measure(p),
            Expect::Procedure(Procedure::KeyRemoval(p)) => ExpectSyntax::KeyRemoval(p),
            Expect::Procedure(Procedure::ConcurrentReplay(p)) => ExpectSyntax::ConcurrentReplay(p),
            Expect::Procedure(Procedure::Whoami(p)) => ExpectSyntax::Whoami(p),
            Expect::Procedure(Procedure::Introspect(p)) => ExpectSyntax::Introspect(p),
            Expect::Procedure(Procedure::DistinctPrincipal(p)) => {
                ExpectSyntax::DistinctPrincipal(p)
            }
            Expect::Procedure(Procedure::JwtAccessToken(p)) => ExpectSyntax::JwtAccessToken(p),
            Expect::Procedure(Procedure::OwnIdJag(p)) => ExpectSyntax::OwnIdJag(p),
            Expect::Procedure(Procedure::Cleartext(p)) => ExpectSyntax::Cleartext(p),
        }
    }
}

/// The schema of [`Expect`] is that of its file syntax, under the name `Expect`.
impl JsonSchema for Expect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Expect".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ExpectSyntax::json_schema(generator)
    }
}

impl Rules {
    /// True when the check is differential: a positive control is sent first.
    pub fn needs_control(&self) -> bool {
        matches!(self, Rules::Reject(_) | Rules::Either(_) | Rules::Record(_))
    }
}

impl Expect {
    /// True when the check is differential: a positive control is sent first.
    pub fn needs_control(&self) -> bool {
        matches!(self, Expect::Rules(r) if r.needs_control())
    }

    /// True for procedures that watch the IdP's fetches, change its keys, or race requests
    /// against each other: their checks run alone.
    pub fn runs_alone(&self) -> bool {
        matches!(
            self,
            Expect::Procedure(
                Procedure::FetchBudget(_)
                    | Procedure::KeyRemoval(_)
                    | Procedure::ConcurrentReplay(_)
            )
        )
    }

    /// True when the check judges the RFC 8414 metadata document and sends no ID-JAG.
    pub fn is_metadata(&self) -> bool {
        matches!(self, Expect::Rules(Rules::Metadata(_)))
    }

    /// The rejection rules, when the check expects a refusal.
    pub fn reject(&self) -> Option<&RejectSpec> {
        match self {
            Expect::Rules(Rules::Reject(r)) => Some(r),
            _ => None,
        }
    }
}

/// Record the whoami answer for the access token the check obtains: principal, `client_id`
/// and `scope`, with remarks where they differ from C1 and the ID-JAG's scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiRecord {}

/// Introspect (RFC 7662) the access token the check's ID-JAG obtains, and a token the
/// server never issued: `active`, `client_id` C1, `scope` as granted, `aud` the granted
/// resource, and `active: false` for the unknown one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRecord {}

/// A subject-namespace check: the positive control is the scenario's ID-JAG minted as
/// `control_issuer` and with `control_claims` (it must be accepted; the whoami endpoint names
/// its principal P); the probe, the scenario's ID-JAG as is, must be refused with `reject`, or
/// accepted for a principal other than P (a distinct account, e.g. provisioned just in time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistinctPrincipal {
    /// The issuer that mints the positive control (default: the probe's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_issuer: Option<crate::jose::IssuerRole>,
    /// Claims of the positive control over the probe's, e.g. the user's own `tenant`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(with = "BTreeMap<String, Value>")]
    pub control_claims: Map<String, Value>,
    /// Error codes of a conformant refusal.
    pub reject: OneOrMany,
}

/// No token over cleartext (RFC 6749 §3.2): after the valid token request was accepted at the
/// token endpoint, the same request (a fresh ID-JAG) to its plain-http address must obtain no
/// token; no answer there is conformant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CleartextRecord {}

/// The RAS as the IdP of its own trust domain (ID-JAG §9.3): after a valid ID-JAG obtained an
/// access token (the control), the requesting app exchanges that access token at the
/// target's own IdP (`also_idp`) for an ID-JAG addressed to the RAS; presented, it must be
/// refused with `reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnIdJag {
    /// Error codes of a conformant refusal.
    pub reject: OneOrMany,
}

/// Key removal: after the control is accepted, the trusted issuer's JWKS replaces its keys
/// by new ones, and fresh ID-JAGs signed with the old key are sent until refused or until the
/// server's JWKS cache time (`jwks_cache_ttl` of the target) plus the margin has passed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRemoval {
    /// Time allowed beyond the cache time, e.g. `2s` (default: a tenth of it, at least 1 s).
    #[serde(default)]
    pub margin: Option<String>,
}

/// A burst of the very same ID-JAG, sent in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrentReplay {
    /// How many identical requests are sent at once (2 to 50).
    pub sends: u32,
    /// True when the ID-JAG is single use: more than one acceptance violates the level.
    /// False: the count is only recorded (INFO).
    #[serde(default)]
    pub single_use: bool,
}

/// A burst of ID-JAGs, each under a new unknown `kid`, and the JWKS fetches it may cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchBudget {
    /// How many ID-JAGs to send, one after the other (at most 100).
    pub sends: u32,
    /// The most JWKS fetches they may cause.
    pub max_fetches: u32,
}

/// Which tolerance to measure, by binary search over fresh ID-JAGs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// How long after `exp` an ID-JAG is still accepted (clock skew on `exp`).
    ExpSkew,
    /// How long before `nbf` an ID-JAG is already accepted (clock skew on `nbf`).
    NbfSkew,
    /// The longest lifetime (`exp` − now) accepted.
    MaxLifetime,
    /// The oldest `iat` accepted.
    MaxIatAge,
}

/// A measurement: the largest offset in seconds, up to `max_secs`, that is still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// What to measure.
    pub tolerance: Tolerance,
    /// The search's upper bound in seconds.
    pub max_secs: i64,
}

/// What the RFC 8414 metadata document must say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataRules {
    /// `issuer` must be identical to this (RFC 8414 §3.3).
    #[serde(default)]
    pub issuer_equals: Option<String>,
    /// Members that, when present, must be JSON arrays of strings.
    #[serde(default)]
    pub arrays_of_strings: Vec<String>,
    /// Members that must be arrays containing these values.
    #[serde(default)]
    pub contains: BTreeMap<String, String>,
    /// Members whose values must not be URLs (no issuer allow-lists, ID-JAG §9.4).
    #[serde(default)]
    pub no_urls_in: Vec<String>,
    /// The document must be at the RFC 8414 §3 path-aware location of the issuer, not only
    /// at the root (which only an issuer with a path can tell apart).
    #[serde(default)]
    pub path_aware: bool,
}
