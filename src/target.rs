//! `target.yaml`: the RAS under test, how the requesting app is registered there, and where
//! the fake IdP listens. Resolved into the same [`Fixture`] the reference RAS uses.

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fixture::{self, Client, ClientAuthMethod, Fixture, Secret};
use crate::input::{self, InputError, Place};

/// A client as written in the target file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// Client id at the RAS.
    pub id: String,
    /// Client secret; `${VAR}` reads it from the environment (recommended).
    pub secret: String,
    /// How the client authenticates (default `client_secret_basic`).
    #[serde(default)]
    pub auth: ClientAuthMethod,
}

/// A `private_key_jwt` client as written in the target file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Client3Entry {
    /// Client id at the RAS.
    pub id: String,
}

/// Where the fake IdP listens and how the RAS reaches it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpEntry {
    /// Socket address to bind, default `127.0.0.1:7400`.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Base URL the RAS uses to reach the IdP, default `http://{bind}`. Issuers are
    /// `{base}/idp-a` (trusted), `{base}/idp-b` (second trusted), `{base}/idp-x` (untrusted).
    #[serde(default)]
    pub public_url: Option<String>,
    /// A fake IdP already running in `xaa-conform idp serve` (with the same `--keys`): the run
    /// uses it, through its control API, instead of starting its own; `bind` and
    /// `public_url` are then the running IdP's business.
    #[serde(default)]
    pub control: Option<IdpControlEntry>,
}

/// The control API of a running `idp serve`, as written in the target file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpControlEntry {
    /// Its URL, on loopback, e.g. `http://127.0.0.1:7401` (`idp serve` prints it).
    pub url: String,
    /// A file holding its bearer token (`idp serve --control-token-file`), relative to this
    /// file.
    pub token_file: String,
}

impl Default for IdpEntry {
    fn default() -> Self {
        IdpEntry {
            bind: default_bind(),
            public_url: None,
            control: None,
        }
    }
}

fn default_bind() -> String {
    "127.0.0.1:7400".into()
}

/// The resource APIs behind the governed resources.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiEntry {
    /// An endpoint of R1 that answers 200 to a valid Bearer token.
    #[serde(default)]
    pub r1: Option<String>,
    /// An endpoint of R2.
    #[serde(default)]
    pub r2: Option<String>,
    /// A write on R1's endpoint and the scope it needs, e.g. `{ method: POST, scope:
    /// todos.write }` (RS-06 sends a token without that scope; SKIP without it).
    #[serde(default)]
    pub write: Option<fixture::ApiWrite>,
}

/// The whoami endpoint: a URL, or `{ url, principal }` where `principal` is a JSON pointer
/// (RFC 6901, e.g. `/userId`) naming the member that holds the principal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum WhoamiEntry {
    /// The URL alone: the principal is in `sub` (or `username`, `user`, `user_id`, `id`).
    Url(String),
    /// The URL and where its answer names the principal.
    Object {
        /// The whoami URL.
        url: String,
        /// A JSON pointer to the member naming the principal, e.g. `/userId` or `/user/id`.
        #[serde(default)]
        principal: Option<String>,
    },
}

/// The RFC 7662 introspection endpoint as written in the target file: its URL and the client
/// credentials it takes (default C1, `client`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionEntry {
    /// The introspection endpoint URL (`introspection_endpoint` of RFC 8414 metadata).
    pub url: String,
    /// The client that authenticates to it, e.g. a resource server's registration (default:
    /// C1, the `client` of this file).
    #[serde(default)]
    pub client: Option<ClientEntry>,
}

/// RFC 9396 rich authorization requests as the target file declares them: the RAS's
/// authorization detail types and one entry it grants as it is (the RAR checks, JAG-RAR-01,
/// JAG-RAR-02 and RESP-10, are SKIP without it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RarEntry {
    /// The authorization detail types the RAS supports, e.g. `[todo_access]`.
    pub types: Vec<String>,
    /// One authorization detail object the RAS grants as it is to the target's client and
    /// subject, e.g. `{ type: todo_access, actions: [read] }`; its `type` is one of `types`.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub example: serde_json::Map<String, serde_json::Value>,
}

/// The target file (see the README for a commented example).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// The RAS token endpoint.
    pub token_endpoint: String,
    /// The plain-http address of the https token endpoint, when something answers there, e.g.
    /// `http://ras.example.com/oauth/token` (REQ-10 sends the valid request, C1's credentials
    /// included, in cleartext and expects no token; SKIP without it).
    #[serde(default)]
    pub token_endpoint_http: Option<String>,
    /// The RAS issuer identifier, exactly as in its RFC 8414 metadata: a valid ID-JAG's `aud`.
    pub issuer: String,
    /// Another authorization server's issuer, which the RAS must refuse as `aud` (default
    /// `https://other-ras.example/`; another tenant of the same deployment makes a sharper test).
    #[serde(default)]
    pub other_issuer: Option<String>,
    /// C1: the requesting app's registration at the RAS.
    pub client: ClientEntry,
    /// C2: a second registered client (checks that need one are skipped without it).
    #[serde(default)]
    pub client2: Option<ClientEntry>,
    /// C4: a client registered with valid credentials but not enabled for the jwt-bearer
    /// grant (CAUTH-15 presents its own valid ID-JAG and expects `unauthorized_client`; SKIP
    /// without it).
    #[serde(default)]
    pub client4: Option<ClientEntry>,
    /// The issuer of a second RAS (default `https://second-ras.example/`): the fake IdP
    /// issues ID-JAGs for it too, and JAG-AUD-08 presents one obtained for it here.
    #[serde(default)]
    pub second_ras: Option<String>,
    /// The RAS trusts the fake IdP's multi-tenant issuer (`{idp}/idp-mt`), where the user
    /// with U1's `sub` in `tenant` is U1: `{ tenant, other_tenant }` (JAG-SUB-04 sends that
    /// `sub` with `other_tenant`, which must not resolve to U1; SKIP without it).
    #[serde(default)]
    pub multi_tenant: Option<fixture::MultiTenant>,
    /// The RAS trusts the fake IdP's issuer `{idp}/idp-saml` and resolves its users by a SAML
    /// NameID `sub_id` (ID-JAG §3.2): `{ saml_issuer, nameid }`, U1 being `nameid` within the
    /// SAML issuer `saml_issuer` (JAG-SUB-05 sends broken `sub_id`s; SKIP without it).
    #[serde(default)]
    pub saml_subjects: Option<fixture::SamlSubjects>,
    /// The RAS product is also the IdP of the same trust domain: `{ issuer, token_endpoint }`
    /// of that IdP, where C1 exchanges an access token of this RAS for an ID-JAG (JAG-ISS-05
    /// presents it, and it must be refused; SKIP without it).
    #[serde(default)]
    pub also_idp: Option<fixture::AlsoIdp>,
    /// C3: a client registered for `private_key_jwt` with the fake IdP's
    /// `{idp}/clients/c3/jwks` as its `jwks_uri` (checks that need one are skipped without it).
    #[serde(default)]
    pub client3: Option<Client3Entry>,
    /// U1: a `sub` the RAS knows under the trusted issuer.
    pub subject: String,
    /// A `sub` the RAS does not know (default `ghost`).
    #[serde(default)]
    pub unknown_subject: Option<String>,
    /// A `sub` the RAS knows only under the second trusted issuer (ISS_B), not under the
    /// trusted one (JAG-SUB-03 sends it from the trusted issuer; SKIP without it).
    #[serde(default)]
    pub subject_b: Option<String>,
    /// R1: a resource the RAS governs; the valid ID-JAG's `resource`.
    #[serde(default)]
    pub resource: Option<String>,
    /// R2: a second governed resource.
    #[serde(default)]
    pub resource2: Option<String>,
    /// R_FOREIGN: a resource the RAS does not govern (default `https://foreign.example/api`).
    #[serde(default)]
    pub foreign_resource: Option<String>,
    /// The valid ID-JAG's `scope`.
    #[serde(default)]
    pub scope: Option<String>,
    /// The resource APIs (checks of the resource step are SKIP without them).
    #[serde(default)]
    pub api: ApiEntry,
    /// A "whoami" URL: a GET with the access token as Bearer answers a JSON object naming
    /// whom the token represents in `sub` (or `username`, `user`, `user_id`, `id`), with
    /// `client_id` and `scope` if it can (RS-11, JAG-SUB-02 and JAG-SUB-03 use it when no
    /// `introspection` is declared; SKIP without either); or
    /// `{ url, principal: "/userId" }` with a JSON pointer to the member naming the principal.
    /// An `iss` (or `issuer`) member in the answer is part of the principal.
    #[serde(default)]
    pub whoami: Option<WhoamiEntry>,
    /// RFC 7662 introspection: `{ url, client: { id, secret, auth } }` (client default C1).
    /// The standard way the suite learns whom an issued token represents (`active`, `sub` or
    /// `username`, `client_id`, `scope`, `aud`); declared, it is used before `whoami`.
    /// Without it the metadata's `introspection_endpoint` is used with C1 when the target
    /// declares no `whoami`, and by RS-12 in any case.
    #[serde(default)]
    pub introspection: Option<IntrospectionEntry>,
    /// The fake IdP.
    #[serde(default)]
    pub idp: IdpEntry,
    /// Per-request timeout, e.g. `10s` (default).
    #[serde(default)]
    pub timeout: Option<String>,
    /// How long the RAS caches an issuer's JWKS before fetching it again, e.g. `5m`
    /// (JAG-SIG-14 waits that long after the IdP removes a key, and is SKIP without it).
    #[serde(default)]
    pub jwks_cache_ttl: Option<String>,
    /// The shortest time between two fetches of an issuer's JWKS, e.g. `5s`, when the RAS
    /// refuses to refetch it sooner for an unknown `kid` (an allowed protection): JAG-SIG-13
    /// waits that long before its retry, so that its refetch is not refused for a fetch of
    /// the preflight or of an earlier check.
    #[serde(default)]
    pub jwks_refetch_interval: Option<String>,
    /// The most requests per second the RAS takes from one client, e.g. `5/s` (Auth0's XAA
    /// Beta): every request to the RAS is paced under it.
    #[serde(default)]
    pub max_rate: Option<String>,
    /// `true` when the RAS creates an account for an unknown `sub` of a trusted issuer on
    /// first sight (ID-JAG §2.2 allows it); an unknown subject is then recorded, not refused.
    #[serde(default)]
    pub jit_provisioning: bool,
    /// A PEM file of certificate authorities to trust for the RAS, its API and the IdP's
    /// `public_url` (a RAS on a private CA, an IdP behind a TLS front), relative to this file;
    /// added to the system's, never instead of verification.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// The ID-JAG signature algorithms the RAS accepts, the default first (default
    /// `[RS256, ES256]`): positive controls are signed with the first; a check about another
    /// algorithm first sends its own control in it and is SKIP when that is refused.
    #[serde(default)]
    pub accepted_algs: Option<Vec<crate::jose::KeyAlg>>,
    /// The RFC 9396 authorization detail types the RAS supports and an entry it grants:
    /// `{ types: [todo_access], example: { type: todo_access, actions: [read] } }`.
    #[serde(default)]
    pub authorization_details: Option<RarEntry>,
    /// `jwt` when the RAS issues RFC 9068 JWT access tokens, `opaque` when it does not
    /// (RESP-07, RESP-08 and RS-07 are then SKIP). Absent: each issued token is judged by its
    /// form (a JWS whose header `typ` is `at+jwt` or `application/at+jwt` is one).
    #[serde(default)]
    pub access_token_format: Option<fixture::AccessTokenFormat>,
    /// What the RAS does with DPoP (RFC 9449; ID-JAG §9.8): `supported` (it takes DPoP proofs,
    /// binds access tokens to their key and serves key-bound ID-JAGs) or `none`. Absent or
    /// `none`: the DPoP checks are SKIP. Whether it asks for nonces is read from its answers.
    #[serde(default)]
    pub dpop: Option<DpopSupport>,
    /// With `dpop: supported`: a resource the RAS governs whose resource server requires
    /// DPoP-bound tokens (ID-JAG §9.8.1.2.4 step 2), e.g. an API configured so; DPOP-06 sends
    /// an unbound ID-JAG for it without a proof, and is SKIP without it.
    #[serde(default)]
    pub dpop_required_resource: Option<String>,
    /// The text the file was parsed from, so that errors found later name their position.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Option<std::sync::Arc<str>>,
}

/// The target file's `dpop`: whether the RAS supports DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DpopSupport {
    /// The RAS does not support DPoP: the DPoP checks are SKIP.
    None,
    /// The RAS takes DPoP proofs at its token endpoint (RFC 9449 §5).
    Supported,
}

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default R_FOREIGN.
pub const DEFAULT_FOREIGN_RESOURCE: &str = "https://foreign.example/api";

/// Expands `${VAR}` from the environment in a secret.
fn expand_env(at: &Place, field: &str, value: &str) -> Result<Secret, InputError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| at.error(field, "unclosed ${ in the value"))?;
        let var = &after[..end];
        let v = std::env::var(var)
            .map_err(|_| at.error(field, format!("environment variable {var} is not set")))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Secret::new(out))
}

/// Reads `ca_file` (relative to the target file's folder): PEM text holding at least one
/// certificate.
fn read_ca_file(at: &Place, file: &str) -> Result<String, InputError> {
    let path = Path::new(at.origin)
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| at.error("ca_file", format!("cannot read {}: {e}", path.display())))?;
    let certs = pem::parse_many(&text)
        .map_err(|e| at.error("ca_file", format!("{}: {e}", path.display())))?
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .count();
    if certs == 0 {
        return Err(at.error(
            "ca_file",
            format!("{} holds no PEM CERTIFICATE", path.display()),
        ));
    }
    Ok(text)
}

impl TargetFile {
    /// Reads a target file.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let text = input::read_text(path)?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses a target file's text; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self, InputError> {
        let mut file: TargetFile = input::parse_yaml(origin, text)?;
        file.source = Some(text.into());
        Ok(file)
    }

    /// The running IdP's control API, when `idp.control` names one: its URL (an `http` URL on
    /// loopback) and the token read from `token_file` (relative to this file's folder).
    pub fn idp_control(&self, origin: &str) -> Result<Option<(String, Secret)>, InputError> {
        let Some(c) = &self.idp.control else {
            return Ok(None);
        };
        let at = &Place {
            origin,
            text: self.source.as_deref(),
        };
        let loopback = match url::Url::parse(&c.url) {
            Ok(u) if u.scheme() == "http" => match u.host() {
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            },
            Ok(u) => {
                return Err(at.error(
                    "idp.control.url",
                    format!(
                        "`{}` is a {} URL; the control API speaks http",
                        c.url,
                        u.scheme()
                    ),
                ));
            }
            Err(e) => {
                return Err(at.error("idp.control.url", format!("`{}` is not a URL: {e}", c.url)));
            }
        };
        if !loopback {
            return Err(at.error(
                "idp.control.url",
                format!(
                    "`{}` is not on loopback: the control API listens on 127.0.0.1 or [::1] only",
                    c.url
                ),
            ));
        }
        let path = Path::new(at.origin)
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(&c.token_file);
        let token = std::fs::read_to_string(&path).map_err(|e| {
            at.error(
                "idp.control.token_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(at.error(
                "idp.control.token_file",
                format!("{} is empty", path.display()),
            ));
        }
        Ok(Some((c.url.clone(), Secret::new(token))))
    }

    /// The fake IdP's public base URL.
    pub fn idp_base_url(&self) -> String {
        self.idp
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.idp.bind))
    }

    /// Resolves the file into the fixture: secrets read from the environment, defaults filled.
    pub fn to_fixture(&self, origin: &str) -> Result<Fixture, InputError> {
        let at = &Place {
            origin,
            text: self.source.as_deref(),
        };
        let client = |field: &str, c: &ClientEntry| -> Result<Client, InputError> {
            Ok(Client {
                id: c.id.clone(),
                secret: expand_env(at, field, &c.secret)?,
                auth: c.auth,
            })
        };
        for (field, url) in [
            ("token_endpoint", &self.token_endpoint),
            ("issuer", &self.issuer),
        ] {
            url::Url::parse(url)
                .map_err(|e| at.error(field, format!("`{url}` is not a URL: {e}")))?;
        }
        self.check_idp(at)?;
        self.check_api_write(at)?;
        if let Some(u) = &self.token_endpoint_http
            && !u.starts_with("http://")
        {
            return Err(at.error(
                "token_endpoint_http",
                format!("`{u}` is not a plain http:// URL"),
            ));
        }
        if let Some(own) = &self.also_idp {
            http_url(at, "also_idp.token_endpoint", &own.token_endpoint)?;
        }
        let (whoami, whoami_principal) = self.whoami(at)?;
        let c1 = client("client.secret", &self.client)?;
        let introspection = self
            .introspection
            .as_ref()
            .map(|i| -> Result<_, InputError> {
                http_url(at, "introspection.url", &i.url)?;
                Ok(fixture::Introspection {
                    url: i.url.clone(),
                    client: match &i.client {
                        Some(c) => {
                            if c.id.is_empty() {
                                return Err(at.error("introspection.client.id", "empty"));
                            }
                            client("introspection.client.secret", c)?
                        }
                        None => c1.clone(),
                    },
                })
            })
            .transpose()?;
        Ok(Fixture {
            ras_issuer: self.issuer.clone(),
            token_endpoint: self.token_endpoint.clone(),
            other_ras: self
                .other_issuer
                .clone()
                .unwrap_or_else(|| fixture::DEFAULT_OTHER_RAS.into()),
            client: c1,
            client3: self.client3.as_ref().map(|c| c.id.clone()),
            client2: self
                .client2
                .as_ref()
                .map(|c| client("client2.secret", c))
                .transpose()?,
            subject: self.subject.clone(),
            unknown_subject: self
                .unknown_subject
                .clone()
                .unwrap_or_else(|| "ghost".into()),
            subject_b: self.subject_b.clone(),
            resource: self.resource.clone(),
            resource2: self.resource2.clone(),
            foreign_resource: self
                .foreign_resource
                .clone()
                .unwrap_or_else(|| DEFAULT_FOREIGN_RESOURCE.into()),
            scope: self.scope.clone(),
            issuers: fixture::issuer_urls(&self.idp_base_url()),
            api_r1: self.api.r1.clone(),
            api_r2: self.api.r2.clone(),
            whoami,
            whoami_principal,
            introspection,
            timeout: duration(at, "timeout", &self.timeout, "10s")?.unwrap_or(DEFAULT_TIMEOUT),
            jwks_cache_ttl: duration(at, "jwks_cache_ttl", &self.jwks_cache_ttl, "5m")?,
            jwks_refetch_interval: duration(
                at,
                "jwks_refetch_interval",
                &self.jwks_refetch_interval,
                "5s",
            )?,
            api_write: self.api.write.clone(),
            max_rate: self
                .max_rate
                .as_deref()
                .map(|r| crate::pace::parse_rate(r).map_err(|e| at.error("max_rate", e)))
                .transpose()?,
            jit_provisioning: self.jit_provisioning,
            ca_pem: self
                .ca_file
                .as_deref()
                .map(|f| read_ca_file(at, f))
                .transpose()?,
            accepted_algs: self.accepted_algs(at)?,
            rar: self
                .authorization_details
                .as_ref()
                .map(|r| {
                    fixture::rar::Rar::new(r.types.clone(), r.example.clone())
                        .map_err(|(field, why)| at.error(field, why))
                })
                .transpose()?,
            access_token_format: self.access_token_format,
            dpop: self.dpop(at)?,
            second_ras: self
                .second_ras
                .clone()
                .unwrap_or_else(|| fixture::DEFAULT_SECOND_RAS.into()),
            multi_tenant: self.multi_tenant.clone(),
            saml_subjects: self.saml_subjects.clone(),
            also_idp: self.also_idp.clone(),
            token_endpoint_http: self.token_endpoint_http.clone(),
            client4: self
                .client4
                .as_ref()
                .map(|c| client("client4.secret", c))
                .transpose()?,
        })
    }

    /// `dpop` and `dpop_required_resource` as the fixture holds them.
    fn dpop(&self, at: &Place) -> Result<Option<fixture::Dpop>, InputError> {
        if let Some(r) = &self.dpop_required_resource {
            http_url(at, "dpop_required_resource", r)?;
            if self.dpop != Some(DpopSupport::Supported) {
                return Err(at.error(
                    "dpop_required_resource",
                    "needs `dpop: supported` (a resource requiring DPoP-bound tokens on a RAS without DPoP)",
                ));
            }
        }
        Ok(
            (self.dpop == Some(DpopSupport::Supported)).then(|| fixture::Dpop {
                required_resource: self.dpop_required_resource.clone(),
            }),
        )
    }

    /// `idp.bind` is an `ip:port` socket address, and `idp.public_url` an http(s) URL.
    fn check_idp(&self, at: &Place) -> Result<(), InputError> {
        if self.idp.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(at.error(
                "idp.bind",
                format!(
                    "`{}` is not an ip:port socket address such as 127.0.0.1:7400 (port 0: any \
                     free port)",
                    self.idp.bind
                ),
            ));
        }
        if let Some(u) = &self.idp.public_url {
            http_url(at, "idp.public_url", u)?;
        }
        Ok(())
    }

    /// `api.write` names an HTTP method and one of the target's scopes.
    fn check_api_write(&self, at: &Place) -> Result<(), InputError> {
        let Some(w) = &self.api.write else {
            return Ok(());
        };
        if w.method.is_empty() || !w.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(at.error(
                "api.write.method",
                format!("`{}` is not an HTTP method such as POST or PUT", w.method),
            ));
        }
        let declared = self.scope.as_deref().unwrap_or_default();
        if !declared.split(' ').any(|s| s == w.scope) {
            return Err(at.error(
                "api.write.scope",
                format!(
                    "`{}` is not one of the target's scopes (`{declared}`)",
                    w.scope
                ),
            ));
        }
        Ok(())
    }

    /// The whoami URL and the JSON pointer of its principal member, if the target names one.
    fn whoami(&self, at: &Place) -> Result<(Option<String>, Option<String>), InputError> {
        match &self.whoami {
            None => Ok((None, None)),
            Some(WhoamiEntry::Url(url)) => Ok((Some(url.clone()), None)),
            Some(WhoamiEntry::Object { url, principal }) => {
                if let Some(p) = principal
                    && !p.is_empty()
                    && !p.starts_with('/')
                {
                    return Err(at.error(
                        "whoami.principal",
                        format!("`{p}` is no JSON pointer (RFC 6901): write `/{p}`"),
                    ));
                }
                Ok((Some(url.clone()), principal.clone()))
            }
        }
    }

    /// The accepted algorithms, the default first; at least one.
    fn accepted_algs(&self, at: &Place) -> Result<Vec<crate::jose::KeyAlg>, InputError> {
        match &self.accepted_algs {
            Some(algs) if algs.is_empty() => Err(at.error(
                "accepted_algs",
                "name at least one algorithm (RS256, ES256)",
            )),
            Some(algs) => Ok(algs.clone()),
            None => Ok(fixture::DEFAULT_ACCEPTED_ALGS.to_vec()),
        }
    }
}

/// A field that must be an `http` or `https` URL.
fn http_url(at: &Place, field: &str, value: &str) -> Result<(), InputError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(at.error(
            field,
            format!("`{value}` is a {} URL, not http or https", u.scheme()),
        )),
        Err(e) => Err(at.error(field, format!("`{value}` is not a URL: {e}"))),
    }
}

/// A duration field of the target file (`10s`, `5m`), or `None` when it is absent; a value
/// humantime cannot read is bad input naming the field and an example.
fn duration(
    at: &Place,
    field: &str,
    value: &Option<String>,
    example: &str,
) -> Result<Option<Duration>, InputError> {
    value
        .as_deref()
        .map(|t| {
            humantime::parse_duration(t)
                .map_err(|e| at.error(field, format!("`{t}`: {e} (for example {example})")))
        })
        .transpose()
}
