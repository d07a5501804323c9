//! The one fixture of requirements.md (issuers, RAS, clients, users, resources, scopes) and the
//! `target.yaml` that describes it for a real server.
//!
//! The embedded reference RAS is configured from the same fixture, so the scenarios run
//! unchanged against the reference or a real server. Scenarios reach fixture values through
//! placeholders such as `${ras.issuer}`; [`PLACEHOLDERS`] lists them.

pub mod rar;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::jose::{Baseline, KeyAlg};
use crate::protocol::IssuerRole;

/// A secret value: shown as `[REDACTED]` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// A random 32-byte secret, base64url.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        // SystemRandom fills from the OS; a failure leaves zeros, which still works for tests
        // but is never silent: aws-lc aborts on a broken RNG.
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        Secret(crate::jose::jws::b64(bytes))
    }

    /// The secret text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// How the requesting app authenticates to the RAS token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// No client authentication; `client_id` in the body only.
    None,
}

/// A client registered at the RAS.
#[derive(Debug, Clone)]
pub struct Client {
    /// Client id at the RAS.
    pub id: String,
    /// Client secret at the RAS.
    pub secret: Secret,
    /// How it authenticates by default.
    pub auth: ClientAuthMethod,
}

/// The fixture: everything a scenario needs to know about the RAS under test and the parties
/// the suite plays.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// RAS_ISSUER: the RAS issuer identifier, the `aud` of a valid ID-JAG.
    pub ras_issuer: String,
    /// The RAS token endpoint.
    pub token_endpoint: String,
    /// Another authorization server's issuer: an `aud` this RAS must refuse.
    pub other_ras: String,
    /// C1: the requesting app's client at the RAS.
    pub client: Client,
    /// C2: a second registered client, when the target has one.
    pub client2: Option<Client>,
    /// C3: a client that authenticates with `private_key_jwt` (the suite's key, published at
    /// the fake IdP's `/clients/c3/jwks`), when the target has one.
    pub client3: Option<String>,
    /// U1's `sub` under the trusted issuer.
    pub subject: String,
    /// A `sub` no issuer has a user for.
    pub unknown_subject: String,
    /// A `sub` the RAS knows only under the second trusted issuer (ISS_B), when the target
    /// has one (JAG-SUB-03 sends it from ISS_A).
    pub subject_b: Option<String>,
    /// R1: a resource the RAS governs.
    pub resource: Option<String>,
    /// R2: a second governed resource.
    pub resource2: Option<String>,
    /// R_FOREIGN: a resource the RAS does not govern.
    pub foreign_resource: String,
    /// The scope of the valid ID-JAG.
    pub scope: Option<String>,
    /// Issuer identifiers of the fake IdP's parties.
    pub issuers: BTreeMap<IssuerRole, String>,
    /// The resource API of R1 (RFC 6750 Bearer), when the target has one.
    pub api_r1: Option<String>,
    /// The resource API of R2.
    pub api_r2: Option<String>,
    /// A "whoami" URL: GET with the access token as Bearer answers a JSON object naming whom
    /// the token represents (RS-11, JAG-SUB-03).
    pub whoami: Option<String>,
    /// Where a whoami answer names the principal: a JSON pointer (`whoami.principal` in the
    /// target file); `None` looks for the usual members (`sub`, `username`, …).
    pub whoami_principal: Option<String>,
    /// The RFC 7662 introspection endpoint and the client that calls it, when the target
    /// declares one (`introspection` in the target file): the standard way the suite learns
    /// whom an issued token represents. Without it, the metadata's `introspection_endpoint`
    /// is used with C1, unless the target declares `whoami`.
    pub introspection: Option<Introspection>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How long the RAS uses a fetched JWKS before fetching it again, when known (JAG-SIG-14
    /// waits that long after removing a key; it is SKIP without it).
    pub jwks_cache_ttl: Option<Duration>,
    /// The shortest time the RAS leaves between two fetches of one JWKS
    /// (`jwks_refetch_interval`): a check that waits for a refetch waits at least this long.
    pub jwks_refetch_interval: Option<Duration>,
    /// A write on the resource API and the scope it needs (RS-06 is SKIP without it).
    pub api_write: Option<ApiWrite>,
    /// The most requests per second the RAS takes from one client (`max_rate`): every
    /// request to it is paced under this.
    pub max_rate: Option<f64>,
    /// The RAS creates an account for an unknown `sub` of a trusted issuer on first sight
    /// (ID-JAG §2.2 allows it): an unknown subject is then recorded, not refused.
    pub jit_provisioning: bool,
    /// Certificate authorities (PEM) the suite trusts for the RAS, its API and the IdP's
    /// public URL, besides the system's (`ca_file`); verification is never turned off.
    pub ca_pem: Option<String>,
    /// The signature algorithms the RAS accepts for ID-JAGs, the default first: every positive
    /// control, and `load`'s ID-JAGs, are signed with the first (`accepted_algs`, default
    /// RS256 and ES256).
    pub accepted_algs: Vec<KeyAlg>,
    /// The RFC 9396 authorization detail types the RAS supports and an entry it grants
    /// (`authorization_details` in the target file): the RAR checks are SKIP without it.
    pub rar: Option<rar::Rar>,
    /// What the RAS's access tokens are (`access_token_format`): RFC 9068 JWTs, opaque
    /// strings, or `None` when the target does not say (each issued token is then judged by
    /// its form: a JWS whose header `typ` is `at+jwt` is a JWT access token).
    pub access_token_format: Option<AccessTokenFormat>,
    /// What the RAS does with DPoP (RFC 9449; ID-JAG §9.8): `None` when the target declares
    /// no support (`dpop: supported` in the target file), and the DPoP checks are SKIP.
    pub dpop: Option<Dpop>,
    /// The issuer of a second RAS the fake IdP issues ID-JAGs for (`second_ras`, default
    /// [`DEFAULT_SECOND_RAS`]): JAG-AUD-08 obtains one for it by token exchange and presents
    /// it here.
    pub second_ras: String,
    /// C4: a client registered at the RAS with valid credentials but not enabled for the
    /// jwt-bearer grant (`client4`), when the target has one (CAUTH-15).
    pub client4: Option<Client>,
    /// The tenants of the multi-tenant issuer ISS_MT (`multi_tenant`), when the RAS trusts it:
    /// U1's `sub` is a user of `tenant` there (JAG-SUB-04).
    pub multi_tenant: Option<MultiTenant>,
    /// How the RAS resolves the users of the SAML NameID issuer ISS_SAML (`saml_subjects`),
    /// when it trusts it: by `sub_id` (JAG-SUB-05).
    pub saml_subjects: Option<SamlSubjects>,
    /// The RAS product's own IdP, when it is also the IdP of the RAS's trust domain
    /// (`also_idp`): JAG-ISS-05 presents an ID-JAG it issued.
    pub also_idp: Option<AlsoIdp>,
    /// The plain-http address of the (https) token endpoint, when one answers
    /// (`token_endpoint_http`): REQ-10 sends the valid request there and expects no token.
    pub token_endpoint_http: Option<String>,
}

/// The form of the access tokens a RAS issues (`access_token_format` in the target file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    /// RFC 9068 JWT access tokens: RESP-07, RESP-08 and RS-07 judge them.
    Jwt,
    /// Opaque strings only the RAS (and introspection) can read: those checks are SKIP.
    Opaque,
}

/// A RAS that supports DPoP (`dpop: supported`): it takes proofs at its token endpoint,
/// binds access tokens to their key and serves key-bound ID-JAGs (`cnf.jkt`). Whether it
/// asks for nonces (RFC 9449 §8) is read from its answers.
#[derive(Debug, Clone, Default)]
pub struct Dpop {
    /// A resource whose resource server requires DPoP-bound tokens (ID-JAG §9.8.1.2.4 step 2):
    /// an unbound ID-JAG for it without a proof must be refused (DPOP-06; SKIP without it).
    pub required_resource: Option<String>,
}

/// The RAS product as the IdP of its own trust domain: its issuer identifier, and the RFC
/// 8693 token endpoint where C1 exchanges an access token of this RAS for an ID-JAG
/// addressed to it (ID-JAG §9.3 forbids honouring such an ID-JAG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlsoIdp {
    /// The issuer identifier of the ID-JAGs it issues.
    pub issuer: String,
    /// Its token endpoint (RFC 8693 token exchange, `requested_token_type` id-jag).
    pub token_endpoint: String,
}

/// How a RAS that trusts the issuer ISS_SAML (`{idp}/idp-saml`) resolves its users: by a SAML
/// NameID `sub_id` (ID-JAG §3.2), U1 being `nameid` within the SAML issuer `saml_issuer`,
/// which the RAS associates with ISS_SAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlSubjects {
    /// The SAML issuer entity identifier the RAS associates with ISS_SAML (`sub_id.issuer`).
    pub saml_issuer: String,
    /// U1's SAML Assertion Subject NameID there (`sub_id.nameid`).
    pub nameid: String,
}

/// How a RAS that trusts the multi-tenant issuer ISS_MT (`{idp}/idp-mt`) knows U1 there: the
/// user with U1's `sub` in `tenant`; `other_tenant` is a tenant it does not map to U1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiTenant {
    /// The tenant (the `tenant` claim, ID-JAG §3.1) whose user U1's `sub` is.
    pub tenant: String,
    /// A tenant of the same issuer the RAS does not map to U1 (default
    /// `xaa-conform-other-tenant`); one it knows, with another user of that `sub`, is sharper.
    #[serde(default = "default_other_tenant")]
    pub other_tenant: String,
}

/// The tenant that stands for one the RAS does not map to U1, when the target names none.
pub const DEFAULT_OTHER_TENANT: &str = "xaa-conform-other-tenant";

fn default_other_tenant() -> String {
    DEFAULT_OTHER_TENANT.into()
}

/// An RFC 7662 introspection endpoint and the client credentials it is called with.
#[derive(Debug, Clone)]
pub struct Introspection {
    /// The endpoint URL.
    pub url: String,
    /// The client that authenticates to it (C1 unless the target names another).
    pub client: Client,
}

/// The algorithms a target accepts when it does not say: RS256 (the JWT default of most
/// servers) and ES256.
pub const DEFAULT_ACCEPTED_ALGS: [KeyAlg; 2] = [KeyAlg::RS256, KeyAlg::ES256];

/// A write call on the resource API: its method and the scope it requires (RS-06 sends a token
/// without that scope and expects 403 `insufficient_scope`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiWrite {
    /// The HTTP method of a write, e.g. `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The scope a write requires, one of the target's `scope` tokens.
    pub scope: String,
}

/// Every placeholder a scenario may use, with what it stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("ras.issuer", "the RAS issuer identifier (RAS_ISSUER)"),
    ("ras.token_endpoint", "the RAS token endpoint URL"),
    (
        "ras.other",
        "another authorization server's issuer (default https://other-ras.example/)",
    ),
    ("client.id", "C1, the requesting app's client id at the RAS"),
    ("client2.id", "C2, a second client registered at the RAS"),
    (
        "client2.id_or_generated",
        "C2's client id when the target declares client2, else a generated client id no party registers (the check is then weaker)",
    ),
    ("client3.id", "C3, a client registered for private_key_jwt"),
    (
        "client4.id",
        "C4, a client registered with valid credentials but not enabled for the jwt-bearer grant",
    ),
    (
        "saml.issuer",
        "the SAML issuer the RAS associates with ISS_SAML (`saml_subjects.saml_issuer`)",
    ),
    (
        "saml.nameid",
        "U1's SAML NameID under that SAML issuer (`saml_subjects.nameid`)",
    ),
    (
        "idp.saml_subjects.issuer",
        "ISS_SAML, an issuer whose users the RAS resolves by SAML NameID sub_id (trusted when the target declares saml_subjects)",
    ),
    (
        "tenant.home",
        "the tenant of the multi-tenant issuer ISS_MT whose user U1's sub is (`multi_tenant.tenant`)",
    ),
    (
        "tenant.other",
        "a tenant of ISS_MT the RAS does not map to U1 (`multi_tenant.other_tenant`)",
    ),
    (
        "idp.multi_tenant.issuer",
        "ISS_MT, a multi-tenant issuer (trusted when the target declares multi_tenant)",
    ),
    (
        "ras.second",
        "the issuer of a second RAS the fake IdP issues ID-JAGs for (default https://second-ras.example/)",
    ),
    ("user.sub", "U1's sub under the trusted issuer"),
    ("user.unknown", "a sub no issuer has a user for"),
    (
        "user.sub_b",
        "a sub the RAS knows only under the second trusted issuer (ISS_B)",
    ),
    ("resource.r1", "R1, a resource the RAS governs"),
    ("resource.r2", "R2, a second governed resource"),
    (
        "resource.dpop_required",
        "a governed resource whose server requires DPoP-bound tokens (`dpop_required_resource`)",
    ),
    (
        "resource.foreign",
        "R_FOREIGN, a resource the RAS does not govern",
    ),
    (
        "scope",
        "the scope of the valid ID-JAG (the target's whole `scope`)",
    ),
    (
        "scope.first",
        "the first of the target's scopes (the whole scope when it declares one)",
    ),
    (
        "scope.narrow",
        "the first of the target's scopes, narrower than the whole (needs two scopes)",
    ),
    (
        "scope.undefined",
        "a scope name the target does not declare, generated from its scopes",
    ),
    (
        "scope.read_only",
        "the target's scopes without the write scope of `api.write` (needs api.write)",
    ),
    (
        "attacker.url",
        "a URL of an attacker's, no party of the run (https://attacker.example/)",
    ),
    (
        "ras.issuer_slash",
        "the RAS issuer with its trailing slash removed, or one added when it has none",
    ),
    ("api.r1", "the resource API URL of R1"),
    ("api.r2", "the resource API URL of R2"),
    (
        "api.whoami",
        "the whoami URL, which says whom a token represents",
    ),
    (
        "jag",
        "the minted ID-JAG (in request.assertion and request.params values only)",
    ),
    ("idp.trusted.issuer", "ISS_A, the trusted issuer"),
    ("idp.trusted_b.issuer", "ISS_B, a second trusted issuer"),
    (
        "idp.untrusted.issuer",
        "ISS_X, an issuer the RAS must not trust",
    ),
    ("idp.attacker.issuer", "the attacker host"),
];

/// Every placeholder a scenario may use: [`PLACEHOLDERS`] and the RAR ones
/// ([`rar::JSON_PLACEHOLDERS`], [`rar::TEXT_PLACEHOLDERS`]).
pub fn placeholders() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    PLACEHOLDERS
        .iter()
        .chain(rar::JSON_PLACEHOLDERS)
        .chain(rar::TEXT_PLACEHOLDERS)
}

/// Why this target cannot give what a check needs (a placeholder it does not declare, a rate
/// too low for a race): the check is then not applicable, SKIP with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotOnThisTarget(pub String);

impl Fixture {
    /// How many of `wanted` requests a race may send at once under the declared `max_rate`:
    /// one second's worth (a token bucket's usual burst), all of them without a rate; `Err`
    /// with the SKIP reason when that is fewer than the 2 a race needs.
    pub fn burst_allowance(&self, wanted: u32) -> Result<u32, NotOnThisTarget> {
        let Some(rate) = self.max_rate else {
            return Ok(wanted);
        };
        let burst = rate.floor().min(f64::from(u32::MAX)) as u32;
        if burst < 2 {
            return Err(NotOnThisTarget(format!(
                "not applicable to this target: its max_rate {rate}/s allows no 2 requests at \
                 once (one second's worth), and a race needs at least 2"
            )));
        }
        Ok(wanted.min(burst))
    }

    /// How long a check that retries a refused probe (its `retry_after`, for a key the server
    /// may not have fetched yet) waits: at least the declared `jwks_refetch_interval` and a
    /// fifth of it (or 200 ms) beyond, so that the retry comes after the refetch limit of a
    /// fetch made just before the check, whatever ran before it.
    pub fn retry_wait(&self, declared: Option<Duration>) -> Option<Duration> {
        let declared = declared?;
        Some(match self.jwks_refetch_interval {
            Some(i) => declared.max(i + (i / 5).max(Duration::from_millis(200))),
            None => declared,
        })
    }

    /// The value of placeholder `name`, or why this target has none (a check that needs it is
    /// then not applicable: SKIP with that reason).
    pub fn placeholder_value(&self, name: &str) -> Result<String, NotOnThisTarget> {
        self.placeholder_text(name).map_err(NotOnThisTarget)
    }

    /// [`Fixture::placeholder_value`], with the reason as text.
    fn placeholder_text(&self, name: &str) -> Result<String, String> {
        let scopes = || self.scopes();
        if let Some(rar) = rar::placeholder_text(self.rar.as_ref(), name) {
            return rar;
        }
        match name {
            "scope" => self
                .scope
                .clone()
                .ok_or_else(|| "the target declares no scope".to_string()),
            "scope.first" => scopes()
                .into_iter()
                .next()
                .ok_or_else(|| "the target declares no scope".to_string()),
            "scope.narrow" => match scopes().as_slice() {
                [] => Err("the target declares no scope".into()),
                [_] => Err("the target declares one scope".into()),
                [first, ..] => Ok(first.clone()),
            },
            "scope.undefined" => Ok(self.undefined_scope()),
            "scope.read_only" => {
                let write = self
                    .api_write
                    .as_ref()
                    .ok_or("the target declares no api.write (a write and the scope it needs)")?;
                let rest: Vec<String> =
                    scopes().into_iter().filter(|s| *s != write.scope).collect();
                if rest.is_empty() {
                    Err(format!(
                        "the target declares no scope but the write scope `{}`",
                        write.scope
                    ))
                } else {
                    Ok(rest.join(" "))
                }
            }
            "attacker.url" => Ok(ATTACKER_URL.to_string()),
            "resource.dpop_required" => self
                .dpop
                .as_ref()
                .and_then(|d| d.required_resource.clone())
                .ok_or_else(|| {
                    "the target declares no `dpop_required_resource` (a resource whose server requires DPoP-bound tokens)".to_string()
                }),
            "client4.id" => self.client4.as_ref().map(|c| c.id.clone()).ok_or_else(|| {
                "the target declares no client4 (`client4: { id, secret }`: a client registered \
                 with valid credentials but not enabled for the jwt-bearer grant)"
                    .to_string()
            }),
            "tenant.home" | "tenant.other" => {
                let mt = self.multi_tenant.as_ref().ok_or_else(|| {
                    "the target declares no multi_tenant (`multi_tenant: { tenant }`: the RAS \
                     trusts the multi-tenant issuer …/idp-mt, where U1's sub is a user of that \
                     tenant)"
                        .to_string()
                })?;
                Ok(if name == "tenant.home" {
                    mt.tenant.clone()
                } else {
                    mt.other_tenant.clone()
                })
            }
            "saml.issuer" | "saml.nameid" => {
                let saml = self.saml_subjects.as_ref().ok_or_else(|| {
                    "the target declares no saml_subjects (`saml_subjects: { saml_issuer, nameid \
                     }`: the RAS resolves the users of …/idp-saml by SAML NameID sub_id)"
                        .to_string()
                })?;
                Ok(if name == "saml.issuer" {
                    saml.saml_issuer.clone()
                } else {
                    saml.nameid.clone()
                })
            }
            "client2.id_or_generated" => Ok(self
                .client2
                .as_ref()
                .map_or_else(|| GENERATED_CLIENT_ID.to_string(), |c| c.id.clone())),
            "ras.issuer_slash" => Ok(match self.ras_issuer.strip_suffix('/') {
                Some(without) => without.to_string(),
                None => format!("{}/", self.ras_issuer),
            }),
            other => self
                .placeholder(other)
                .ok_or_else(|| format!("the target has no value for ${{{other}}}")),
        }
    }

    /// The algorithm of the positive controls: the first the target accepts.
    pub fn default_alg(&self) -> KeyAlg {
        self.accepted_algs
            .first()
            .copied()
            .unwrap_or(DEFAULT_ACCEPTED_ALGS[0])
    }

    /// Whether the target accepts ID-JAGs signed with `alg`.
    pub fn accepts_alg(&self, alg: KeyAlg) -> bool {
        self.accepted_algs.contains(&alg)
    }

    /// The target's scopes: `scope` split on spaces.
    pub fn scopes(&self) -> Vec<String> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A scope name that none of the target's scopes is: `xaa-conform.undefined`, with a
    /// number appended in the unlikely case that the target declares it.
    pub fn undefined_scope(&self) -> String {
        let declared = self.scopes();
        let mut name = "xaa-conform.undefined".to_string();
        let mut n = 2;
        while declared.contains(&name) {
            name = format!("xaa-conform.undefined{n}");
            n += 1;
        }
        name
    }

    /// The value of placeholder `name`; `None` when the name is unknown or the target lacks it.
    pub fn placeholder(&self, name: &str) -> Option<String> {
        let issuer = |role| self.issuers.get(&role).cloned();
        match name {
            "ras.issuer" => Some(self.ras_issuer.clone()),
            "ras.token_endpoint" => Some(self.token_endpoint.clone()),
            "ras.other" => Some(self.other_ras.clone()),
            "ras.second" => Some(self.second_ras.clone()),
            "client4.id" => self.client4.as_ref().map(|c| c.id.clone()),
            "client.id" => Some(self.client.id.clone()),
            "client2.id" => self.client2.as_ref().map(|c| c.id.clone()),
            "client3.id" => self.client3.clone(),
            "user.sub" => Some(self.subject.clone()),
            "user.unknown" => Some(self.unknown_subject.clone()),
            "user.sub_b" => self.subject_b.clone(),
            "resource.r1" => self.resource.clone(),
            "resource.r2" => self.resource2.clone(),
            "resource.foreign" => Some(self.foreign_resource.clone()),
            "scope" => self.scope.clone(),
            "api.r1" => self.api_r1.clone(),
            "api.r2" => self.api_r2.clone(),
            "api.whoami" => self.whoami.clone(),
            "idp.trusted.issuer" => issuer(IssuerRole::Trusted),
            "idp.trusted_b.issuer" => issuer(IssuerRole::TrustedB),
            "idp.untrusted.issuer" => issuer(IssuerRole::Untrusted),
            "idp.attacker.issuer" => issuer(IssuerRole::Attacker),
            "idp.multi_tenant.issuer" => issuer(IssuerRole::MultiTenant),
            "idp.saml_subjects.issuer" => issuer(IssuerRole::SamlSubjects),
            _ => None,
        }
    }

    /// Replaces every `${name}` in `text` but `${jag}`, which is filled at send time. Errors
    /// name the first placeholder the fixture cannot fill.
    pub fn substitute(&self, text: &str) -> Result<String, NotOnThisTarget> {
        self.substitute_text(text).map_err(NotOnThisTarget)
    }

    /// [`Fixture::substitute`], with the reason as text.
    fn substitute_text(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(format!("unclosed placeholder in `{text}`"));
            };
            let name = &after[..end];
            match self.placeholder_text(name) {
                Ok(v) => out.push_str(&v),
                Err(_) if name == "jag" => out.push_str("${jag}"),
                Err(why) => return Err(why),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The fake IdP's base URL (the trusted issuer without its path).
    pub fn idp_base(&self) -> String {
        let trusted = self
            .issuers
            .get(&IssuerRole::Trusted)
            .map(String::as_str)
            .unwrap_or_default();
        trusted
            .strip_suffix(&format!("/{}", IssuerRole::Trusted.path()))
            .unwrap_or(trusted)
            .to_string()
    }

    /// The valid baseline ID-JAG for this fixture.
    pub fn baseline(&self) -> Baseline {
        Baseline {
            issuers: self.issuers.clone(),
            audience: self.ras_issuer.clone(),
            subject: self.subject.clone(),
            client_id: self.client.id.clone(),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            lifetime_secs: 300,
            client_secret: self.client.secret.expose().to_string(),
        }
    }
}

/// Where the fake IdP under `idp_base` publishes C3's public key.
pub fn client3_jwks_uri(idp_base: &str) -> String {
    format!("{}/clients/c3/jwks", idp_base.trim_end_matches('/'))
}

/// A URL no party of the run serves, for values an attacker would inject (`${attacker.url}`).
pub const ATTACKER_URL: &str = "https://attacker.example/";

/// The client id that stands in for client2 when the target declares none
/// (`${client2.id_or_generated}`): no party registers it.
pub const GENERATED_CLIENT_ID: &str = "xaa-conform-generated-client";

/// The default issuer of another authorization server, for `${ras.other}`.
pub const DEFAULT_OTHER_RAS: &str = "https://other-ras.example/";

/// The default issuer of the second RAS the fake IdP issues ID-JAGs for, for
/// `${ras.second}`: another server than `${ras.other}`, which the IdP does not serve.
pub const DEFAULT_SECOND_RAS: &str = "https://second-ras.example/";

/// Issuer identifiers of every party hosted under the fake IdP's base URL.
pub fn issuer_urls(idp_base: &str) -> BTreeMap<IssuerRole, String> {
    let base = idp_base.trim_end_matches('/');
    IssuerRole::ALL
        .iter()
        .map(|r| (*r, format!("{base}/{}", r.path())))
        .collect()
}
