//! Scenarios: one check each, written in YAML, loaded with file:line:column diagnostics.
//!
//! The catalogue under `scenarios/` is compiled into the binary; `--scenarios DIR` loads
//! another folder instead.

pub mod dpop;
mod load;
pub mod select;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::jose::JagMutation;
use crate::oracle::Expect;
use crate::protocol::{AuthMethod, HttpMethod, IdpCondition, IssuerRole};
use crate::spec::Level;
use crate::spec::Requirement;

pub use load::{LoadedScenario, embedded, filter, load_dir, parse_text};
pub use select::{Selected, Selection, select};

/// How the requesting app obtains the ID-JAG it sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Obtain {
    /// Minted by the suite with the trusted issuer's key (the default; fast).
    #[default]
    Mint,
    /// The real way: sign in at the fake IdP, then exchange the ID token at its RFC 8693
    /// token endpoint for an ID-JAG.
    TokenExchange,
}

/// What the requesting app asks the fake IdP's token exchange for (with `obtain:
/// token_exchange`), instead of an ID-JAG for the RAS under test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The `audience` asked for (a RAS issuer the IdP issues ID-JAGs for, e.g.
    /// `${ras.second}`); the resource and scope stay the target's, so only `aud` differs from
    /// the control's.
    #[serde(default)]
    pub audience: Option<String>,
}

/// Which registered client the request authenticates as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientChoice {
    /// C1, the requesting app.
    #[default]
    C1,
    /// C2, the second registered client.
    C2,
    /// C3, the client that authenticates with `private_key_jwt`.
    C3,
    /// C4, registered with valid credentials but not enabled for the jwt-bearer grant
    /// (`client4` in the target file).
    C4,
}

/// Changes to C3's `private_key_jwt` client assertion (RFC 7523 §2.2, §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientAssertionChange {
    /// The assertion expired ten minutes ago.
    #[serde(default)]
    pub expired: bool,
    /// Also send this `client_id` parameter (e.g. another client's).
    #[serde(default)]
    pub client_id_param: Option<String>,
    /// Send the ID-JAG itself as the client assertion.
    #[serde(default)]
    pub use_id_jag: bool,
    /// The assertion's `aud` instead of the RAS issuer (a string, or a list).
    #[serde(default)]
    pub aud: Option<crate::oracle::OneOrMany>,
    /// This `client_assertion_type` instead of the jwt-bearer one.
    #[serde(default)]
    pub assertion_type: Option<String>,
    /// The positive control authenticates as C3 with one assertion, and the probe sends the
    /// same assertion again (with a fresh ID-JAG).
    #[serde(default)]
    pub reuse: bool,
}

/// Changes to the token request itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestChange {
    /// Authenticate this way instead of the target's default.
    #[serde(default)]
    pub client_auth: Option<AuthMethod>,
    /// Authenticate as this client (default C1).
    #[serde(default)]
    pub client: Option<ClientChoice>,
    /// Present a wrong client secret.
    #[serde(default)]
    pub wrong_secret: bool,
    /// Changes to the client assertion (with `client: c3`).
    #[serde(default)]
    pub client_assertion: Option<ClientAssertionChange>,
    /// The `assertion` text; `${jag}` stands for the minted ID-JAG (e.g. `" ${jag}"`).
    #[serde(default)]
    pub assertion: Option<String>,
    /// Form parameters left out (e.g. `grant_type`).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Parameters replacing the standard ones of the same name (e.g. another `grant_type`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Extra parameters appended in order, repeats allowed: `[[name, value], …]`.
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// A `Content-Type` other than `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// GET with the parameters in the query instead of POST.
    #[serde(default)]
    pub method: Option<HttpMethod>,
    /// Send the parameters as a JSON object.
    #[serde(default)]
    pub json_body: bool,
}

impl RequestChange {
    /// One line naming the changes, e.g. `client c3 with an expired client assertion`;
    /// empty when nothing is changed.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        match self.client {
            Some(ClientChoice::C2) => parts.push("authenticated as C2".into()),
            Some(ClientChoice::C3) => parts.push("authenticated as C3 by private_key_jwt".into()),
            Some(ClientChoice::C4) => {
                parts.push("authenticated as C4, a client not enabled for the grant".into())
            }
            _ => {}
        }
        if let Some(m) = self.client_auth {
            let name = serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            parts.push(format!("client auth {name}"));
        }
        if self.wrong_secret {
            parts.push("a wrong client secret".into());
        }
        if let Some(c) = &self.client_assertion {
            if c.expired {
                parts.push("an expired client assertion".into());
            }
            if let Some(id) = &c.client_id_param {
                parts.push(format!("client_id parameter {id}"));
            }
            if c.use_id_jag {
                parts.push("the ID-JAG as client assertion".into());
            }
            if let Some(aud) = &c.aud {
                parts.push(format!(
                    "client assertion aud {}",
                    aud.to_vec().join(" and ")
                ));
            }
            if let Some(t) = &c.assertion_type {
                parts.push(format!("client_assertion_type {t}"));
            }
            if c.reuse {
                parts.push("a client assertion used before".into());
            }
        }
        if let Some(a) = &self.assertion {
            let shown: String = a.chars().take(40).collect();
            parts.push(format!("assertion `{shown}`"));
        }
        for k in &self.remove {
            parts.push(format!("no {k} parameter"));
        }
        for (k, v) in &self.set {
            parts.push(format!("{k} {v}"));
        }
        for (k, v) in &self.params {
            parts.push(format!("an extra {k}={v}"));
        }
        if let Some(ct) = &self.content_type {
            parts.push(format!("content type {ct}"));
        }
        if self.method == Some(HttpMethod::Get) {
            parts.push("sent by GET".into());
        }
        if self.json_body {
            parts.push("a JSON body".into());
        }
        parts.join(", ")
    }
}

/// Which token the resource-API step presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiToken {
    /// The access token the RAS issued.
    #[default]
    AccessToken,
    /// No `Authorization` header.
    None,
    /// The access token with one character changed.
    Tampered,
    /// The ID-JAG itself as a Bearer token.
    IdJag,
    // RFC 9068 §4 (RS-07): forgeries of a JWT access token, made from the one the RAS
    // issued; the step is SKIP when the target's access tokens are not JWTs.
    /// The issued JWT access token unsigned: `alg: none`, no signature.
    JwtAlgNone,
    /// The issued JWT access token's claims signed by the trusted IdP's key, not the RAS's.
    JwtIdpKey,
    /// The issued JWT access token as it is (e.g. at a resource its `aud` does not name).
    JwtAccessToken,
}

/// How the resource-API step sends the token (RFC 6750 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenIn {
    /// `Authorization: Bearer` (§2.1, the method resource servers MUST support).
    #[default]
    Header,
    /// The `access_token` query parameter only (§2.3).
    Query,
    /// The `access_token` form body parameter only (§2.2; not with GET).
    Body,
    /// The header and the query parameter at once (§2: more than one method).
    HeaderAndQuery,
    /// The header and the form body parameter at once (§2: more than one method).
    HeaderAndBody,
}

/// A call to the resource API with the token the check obtained (RFC 6750).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiStep {
    /// The API URL (default `${api.r1}`).
    #[serde(default)]
    pub url: Option<String>,
    /// The token presented.
    #[serde(default)]
    pub token: ApiToken,
    /// `GET` (default), `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default = "HttpMethod::resource_default")]
    pub method: HttpMethod,
    /// The target's write (`api.write` in the target file): its method instead of `method`.
    /// The check is SKIP when the target declares no write.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write: bool,
    /// The status the API must answer.
    pub status: u16,
    /// The `error` the `WWW-Authenticate: Bearer` challenge must carry, if any.
    #[serde(default)]
    pub challenge: Option<String>,
    /// True when the challenge must carry no `error` (RFC 6750 §3: no credentials sent).
    #[serde(default)]
    pub challenge_without_error: bool,
    /// How the token is sent (default the `Authorization: Bearer` header).
    #[serde(default, skip_serializing_if = "is_header")]
    pub token_in: TokenIn,
    /// The method is optional for the server (RFC 6750 §2.2, §2.3): a refusal (401 or 400)
    /// is recorded (INFO), and only an acceptance is held to `status`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

fn is_header(t: &TokenIn) -> bool {
    *t == TokenIn::Header
}

/// IdP endpoints the server must not fetch while the check runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    /// No request may reach this party's endpoints during the check.
    pub no_fetch: IssuerRole,
    /// Level of a fetch (default: the check's level).
    #[serde(default)]
    pub level: Option<Level>,
}

/// Expectations for one profile where the sources disagree (requirements.md §14, §15).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverride {
    /// The level under this profile. A catalogue row states its own profile levels, so a
    /// version-2 scenario sets this only to override its row (with `requirement.why`); once
    /// loaded, it holds the row's profile level too.
    #[serde(default)]
    pub level: Option<Level>,
    /// The expectation under this profile.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// A choice the target file declares that changes what a check may expect (ID-JAG §2.2 allows
/// both choices; the server's declaration decides which one the check holds it to).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TargetPolicy {
    /// `jit_provisioning: true`: the RAS creates an account for an unknown `sub` of a trusted
    /// issuer on first sight.
    JitProvisioning,
}

impl TargetPolicy {
    /// Whether the target declares this policy.
    pub fn holds(self, fixture: &crate::fixture::Fixture) -> bool {
        match self {
            TargetPolicy::JitProvisioning => fixture.jit_provisioning,
        }
    }
}

/// The expectation under a target policy: it replaces the profile's (the policy is the
/// server's declared, allowed choice, which no profile can know).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// The level under the policy.
    #[serde(default)]
    pub level: Option<Level>,
    /// The expectation under the policy.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// When the token is issued, name the principal it represents: as the target's whoami
    /// endpoint reports it, or from the acceptance when there is none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub name_principal: bool,
}

/// One case of a multi-case scenario (`cases:`): a name, and what it changes. Each member it
/// states replaces the scenario's for this case; the others are the scenario's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The case's name, unique in the scenario (e.g. `empty string`); reasons and exchange
    /// roles are prefixed with it.
    pub name: String,
    /// Changes to the valid ID-JAG, instead of the scenario's `jag:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jag: Option<JagMutation>,
    /// Changes to the token request, instead of the scenario's `request:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestChange>,
    /// What the server must do, instead of the scenario's `expect:` (and of its profiles'
    /// expectations; their levels stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The resource-API step, instead of the scenario's `api:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiStep>,
    /// The DPoP block, instead of the scenario's `dpop:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<dpop::DpopStep>,
}

/// The scenario format this build writes and reads (`version: 2`): level and source come
/// from the catalogue row with the scenario's ID. A file without `version` is read in the
/// version-1 form, where `requirement:` states them.
pub const FORMAT_VERSION: u32 = 2;

/// A scenario file's `requirement:`, every member optional: in the version-2 format what is
/// left out comes from the catalogue row with the scenario's ID, and what differs from the
/// row needs `why`. A scenario whose ID is no row (a custom check) gives level and source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredRequirement {
    /// Level of the rule; absent: the row's.
    #[serde(default)]
    pub level: Option<Level>,
    /// Spec sections, e.g. `ID-JAG-04 §4.4.1; RFC 7523 §3 item 3`; absent: the row's.
    #[serde(default)]
    pub source: Option<String>,
    /// Why the scenario departs from its catalogue row (its level, its source, or a level
    /// under a profile); required when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Reads `requirement:` in its declared form (members optional) into the [`Requirement`] it
/// states; a member left out is a placeholder the loader replaces with the catalogue row's.
/// A scenario written back by serde states both, so it reads back unchanged.
fn declared_requirement<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Requirement, D::Error> {
    let declared = DeclaredRequirement::deserialize(d)?;
    Ok(Requirement {
        level: declared.level.unwrap_or(Level::Must),
        source: declared.source.unwrap_or_default(),
    })
}

/// The placeholder for a scenario without `requirement:`, until the loader resolves it.
fn unresolved_requirement() -> Requirement {
    Requirement {
        level: Level::Must,
        source: String::new(),
    }
}

/// One check: what to send and what the server must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario format, `2` today. Absent: the version-1 form, where `requirement:`
    /// repeats level and source (still read, with a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Check ID: the requirement ID of requirements.md, e.g. `JAG-AUD-02`.
    pub id: String,
    /// What the check verifies, as a sentence.
    pub title: String,
    /// Level and source of the rule. Optional in a version-2 file: they come from the
    /// catalogue row with this ID, and an override says why. Once loaded, the level and
    /// source in force.
    #[serde(
        default = "unresolved_requirement",
        deserialize_with = "declared_requirement"
    )]
    #[schemars(with = "DeclaredRequirement")]
    pub requirement: Requirement,
    /// Areas, for filtering and grouping (`claims`, `aud`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Checks that must PASS first; otherwise this one is SKIP.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// How the ID-JAG is obtained.
    #[serde(default)]
    pub obtain: Obtain,
    /// With `obtain: token_exchange`: what the exchange asks the IdP for (another
    /// `audience`); the positive control is then the exchange for this RAS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeRequest>,
    /// Changes to the valid ID-JAG (none: the valid one).
    #[serde(default)]
    pub jag: JagMutation,
    /// The positive control's changes to the valid ID-JAG, for a check about an issuer whose
    /// valid ID-JAG differs from ISS_A's (e.g. one that needs a `sub_id`); none: the valid
    /// ID-JAG. Every case of the check shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_jag: Option<JagMutation>,
    /// Changes to the token request.
    #[serde(default)]
    pub request: RequestChange,
    /// What the server must do.
    pub expect: Expect,
    /// Send the same ID-JAG twice; the first send is the control, the second is judged.
    #[serde(default)]
    pub replay: bool,
    /// The positive control (always sent) and the probe carry the same fresh `jti`, e.g. to
    /// see whether a replay cache is keyed on `iss` and `jti` together.
    #[serde(default)]
    pub share_jti: bool,
    /// For checks that expect acceptance or refusal: if the first probe is refused, wait this
    /// long (e.g. `2s`, at most 30 s) and send a freshly minted one again; the second answer is
    /// judged. It gives a server that rate-limits JWKS refetches time to see a key the IdP has
    /// just published.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Then call the resource API with the token.
    #[serde(default)]
    pub api: Option<ApiStep>,
    /// IdP endpoints that must see no request during the check (run alone, after the rest).
    #[serde(default)]
    pub observe: Option<Observe>,
    /// What the fake IdP serves during the check (run alone, after the rest; restored after).
    #[serde(default)]
    pub idp: Option<IdpCondition>,
    /// Per-profile expectations, keyed by profile name; once loaded, with the levels the
    /// catalogue row sets per profile.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileOverride>,
    /// Expectations under a policy the target declares (e.g. `jit_provisioning`), keyed by
    /// the policy; they win over `profiles` when the target declares the policy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub policies: BTreeMap<TargetPolicy, PolicyOverride>,
    /// Several cases of one check, each run as its own execution (its own positive control
    /// and probe, fresh `jti`s) with the case's `jag:`, `request:` and `expect:` in place of
    /// the scenario's; the check's verdict is the worst case's (see
    /// `oracle::combine_cases`). Empty: the scenario is its one case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<Case>,
    /// A DPoP check (RFC 9449; ID-JAG §9.8): the ID-JAG's binding, the probe's proof, the
    /// resource-API presentation (see [`dpop::DpopStep`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<dpop::DpopStep>,
}

impl Scenario {
    /// True when the check must run alone: it watches or changes the fake IdP, or races
    /// requests against each other.
    pub fn exclusive(&self) -> bool {
        self.observe.is_some()
            || self.idp.is_some()
            || self.expect.runs_alone()
            || self
                .cases
                .iter()
                .any(|c| c.expect.as_ref().is_some_and(Expect::runs_alone))
    }

    /// This scenario with `case` applied: the case's `jag:`, `request:`, `expect:` and `api:` in place
    /// of the scenario's (an `expect:` of the case replaces the profiles' expectations too, so
    /// it holds under every profile; their levels stay), and no cases of its own.
    pub fn with_case(&self, case: &Case) -> Scenario {
        let mut sc = Scenario {
            cases: Vec::new(),
            ..self.clone()
        };
        if let Some(jag) = &case.jag {
            sc.jag = jag.clone();
        }
        if let Some(request) = &case.request {
            sc.request = request.clone();
        }
        if let Some(expect) = &case.expect {
            sc.expect = expect.clone();
            sc.profiles.values_mut().for_each(|o| o.expect = None);
        }
        if let Some(api) = &case.api {
            sc.api = Some(api.clone());
        }
        if let Some(dpop) = &case.dpop {
            sc.dpop = Some(dpop.clone());
        }
        sc
    }

    /// One line naming what this check changes from the valid request.
    pub fn describe(&self) -> String {
        let audience = self.exchange.as_ref().and_then(|e| e.audience.as_deref());
        let jag = if let (Obtain::TokenExchange, Some(a)) = (self.obtain, audience) {
            format!("the ID-JAG the IdP's token exchange issued for audience {a}")
        } else if self.jag.is_baseline() {
            String::new()
        } else {
            self.jag.describe()
        };
        let mut request = self.request.describe();
        if let Some(d) = &self.dpop {
            request = if request.is_empty() {
                d.describe()
            } else {
                format!("{}, {request}", d.describe())
            };
        }
        match (jag.is_empty(), request.is_empty()) {
            (true, true) => "the valid ID-JAG".into(),
            (false, true) => jag,
            (true, false) => request,
            (false, false) => format!("{jag}; {request}"),
        }
    }

    /// What the judged request sends, as verdict reasons name it: [`Scenario::describe`], and
    /// for a replay or a shared `jti` how the probe relates to its control.
    pub fn describe_probe(&self) -> String {
        let what = self.describe();
        if self.replay {
            format!("{what} sent a second time")
        } else if self.share_jti {
            format!("{what}, with the jti of the control just accepted,")
        } else {
            what
        }
    }

    /// The policy override in force for `fixture`'s target, if any (the first the target
    /// declares).
    pub fn policy_for(&self, fixture: &crate::fixture::Fixture) -> Option<&PolicyOverride> {
        self.policies
            .iter()
            .find(|(p, _)| p.holds(fixture))
            .map(|(_, o)| o)
    }

    /// The level and expectation under `profile` for `fixture`'s target: a policy the target
    /// declares overrides the profile's.
    pub fn for_target(&self, profile: &str, fixture: &crate::fixture::Fixture) -> (Level, Expect) {
        let (level, expect) = self.for_profile(profile);
        match self.policy_for(fixture) {
            Some(o) => (o.level.unwrap_or(level), o.expect.clone().unwrap_or(expect)),
            None => (level, expect),
        }
    }

    /// The level and expectation under `profile`.
    pub fn for_profile(&self, profile: &str) -> (Level, Expect) {
        let o = self.profiles.get(profile);
        (
            o.and_then(|o| o.level).unwrap_or(self.requirement.level),
            o.and_then(|o| o.expect.clone())
                .unwrap_or_else(|| self.expect.clone()),
        )
    }
}

/// The JSON Schema of scenario files, for editors (`# yaml-language-server: $schema=…`).
pub fn schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Scenario)).unwrap_or_default();
    // The placeholder default of `requirement` is the loader's business, not the file's.
    if let Some(req) = schema.pointer_mut("/properties/requirement")
        && let Some(obj) = req.as_object_mut()
    {
        obj.remove("default");
    }
    schema
}
