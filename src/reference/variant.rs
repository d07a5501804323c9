//! Compliant configurations of the reference RAS that differ from its default world: each a
//! choice the specifications allow a real server to make (other scope names, one signing
//! algorithm, JIT provisioning, an issuer with a path, …). Running the catalogue against
//! them shows what the suite still assumes about the server (issue 9 §4).

use std::time::Duration;

use super::config::ReferenceConfig;
use crate::fixture::Fixture;

/// A compliant reference configuration other than the default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferenceVariant {
    /// Scopes `todos.read todos.write` instead of `s.read s.write`, for the API too.
    OtherScopes,
    /// Only RS256 ID-JAGs are accepted.
    Rs256Only,
    /// Only ES256 ID-JAGs are accepted.
    Es256Only,
    /// Unknown subjects of a trusted issuer get an account on first sight (ID-JAG §2.2).
    JitProvisioning,
    /// The issuer identifier has a path; metadata at the RFC 8414 path-aware location.
    IssuerPath,
    /// The issuer identifier ends in `/`.
    IssuerSlash,
    /// One registered client: no client2, no `private_key_jwt` client3, no client4 without
    /// the grant.
    SingleClient,
    /// JWKS cached 5 minutes; an unknown `kid` refetches at most every 5 s.
    JwksCache5m,
    /// Every ID-JAG is single use (`jti`), under the default profile too.
    SingleUseJti,
    /// Error responses carry `error` only, no `error_description`.
    TerseErrors,
    /// At most 5 token requests per second per client (429 with `Retry-After` above).
    RateLimit5,
    /// Access tokens are opaque random strings, which only the RAS (its resource API and
    /// introspection) can read, instead of the default RFC 9068 JWTs.
    OpaqueAccessTokens,
    /// No rich authorization requests (RFC 9396): an `authorization_details` claim is ignored,
    /// and the target declares no `authorization_details`.
    NoRar,
    /// No DPoP: DPoP proofs are ignored and key-bound ID-JAGs refused (`dpop` left out).
    NoDpop,
    /// DPoP without server nonces (RFC 9449 §8 makes them the server's choice).
    DpopNoNonce,
}

/// Where the target.yaml printed for a variant takes the client secrets from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsIn {
    /// `${XAA_CLIENT_SECRET}` and `${XAA_CLIENT2_SECRET}`: what a user writes.
    Environment,
    /// The secrets themselves, for a file a test writes and deletes.
    Inline,
}

/// The issuer path of [`ReferenceVariant::IssuerPath`].
pub const ISSUER_PATH: &str = "/tenants/acme";

/// The scopes of [`ReferenceVariant::OtherScopes`]: read first, write second.
pub const OTHER_SCOPES: &str = "todos.read todos.write";

/// The authorization detail type of [`ReferenceVariant::OtherScopes`].
pub const OTHER_RAR_TYPE: &str = "todo_access";

impl ReferenceVariant {
    /// Every variant, in the order they are listed and tested.
    pub const ALL: [ReferenceVariant; 15] = [
        ReferenceVariant::OtherScopes,
        ReferenceVariant::Rs256Only,
        ReferenceVariant::Es256Only,
        ReferenceVariant::JitProvisioning,
        ReferenceVariant::IssuerPath,
        ReferenceVariant::IssuerSlash,
        ReferenceVariant::SingleClient,
        ReferenceVariant::JwksCache5m,
        ReferenceVariant::SingleUseJti,
        ReferenceVariant::TerseErrors,
        ReferenceVariant::RateLimit5,
        ReferenceVariant::OpaqueAccessTokens,
        ReferenceVariant::NoRar,
        ReferenceVariant::NoDpop,
        ReferenceVariant::DpopNoNonce,
    ];

    /// The kebab-case name (`--variant NAME`).
    pub fn name(self) -> &'static str {
        match self {
            ReferenceVariant::OtherScopes => "other-scopes",
            ReferenceVariant::Rs256Only => "rs256-only",
            ReferenceVariant::Es256Only => "es256-only",
            ReferenceVariant::JitProvisioning => "jit-provisioning",
            ReferenceVariant::IssuerPath => "issuer-path",
            ReferenceVariant::IssuerSlash => "issuer-slash",
            ReferenceVariant::SingleClient => "single-client",
            ReferenceVariant::JwksCache5m => "jwks-cache-5m",
            ReferenceVariant::SingleUseJti => "single-use-jti",
            ReferenceVariant::TerseErrors => "terse-errors",
            ReferenceVariant::RateLimit5 => "rate-limit-5",
            ReferenceVariant::OpaqueAccessTokens => "opaque-access-tokens",
            ReferenceVariant::NoRar => "no-rar",
            ReferenceVariant::NoDpop => "no-dpop",
            ReferenceVariant::DpopNoNonce => "dpop-no-nonce",
        }
    }

    /// One line: the choice this variant makes and where the specifications allow it.
    pub fn description(self) -> &'static str {
        match self {
            ReferenceVariant::OtherScopes => {
                "scopes todos.read todos.write instead of s.read s.write, for the resource API too (RFC 6749 §3.3: the server defines its scopes), and the authorization detail type todo_access (RFC 9396 §2: the server defines its types)"
            }
            ReferenceVariant::Rs256Only => {
                "only RS256 ID-JAGs are accepted (RFC 8725 §3.1: an allow-list of algorithms)"
            }
            ReferenceVariant::Es256Only => {
                "only ES256 ID-JAGs are accepted (RFC 8725 §3.1: an allow-list of algorithms)"
            }
            ReferenceVariant::JitProvisioning => {
                "an unknown subject of a trusted issuer gets an account on first sight (ID-JAG §2.2)"
            }
            ReferenceVariant::IssuerPath => {
                "the issuer identifier has a path; metadata at the path-aware location (RFC 8414 §3.1)"
            }
            ReferenceVariant::IssuerSlash => {
                "the issuer identifier ends in / (RFC 8414 §2 allows it; it is compared as a string)"
            }
            ReferenceVariant::SingleClient => {
                "one registered client: no second client_secret client, no private_key_jwt client, no client without the grant"
            }
            ReferenceVariant::JwksCache5m => {
                "the issuer's JWKS is cached 5 minutes; an unknown kid refetches it at most every 5 s"
            }
            ReferenceVariant::SingleUseJti => {
                "every ID-JAG is single use under the default profile too (RFC 7523 §3 item 7 allows it)"
            }
            ReferenceVariant::TerseErrors => {
                "error responses carry error only, no error_description (RFC 6749 §5.2: OPTIONAL)"
            }
            ReferenceVariant::RateLimit5 => {
                "at most 5 token requests per second per client, 429 with Retry-After above (RFC 6585 §4)"
            }
            ReferenceVariant::OpaqueAccessTokens => {
                "access tokens are opaque random strings, not RFC 9068 JWTs (RFC 6749 §1.4: the format is the server's choice)"
            }
            ReferenceVariant::NoRar => {
                "no rich authorization requests: authorization_details is an unknown claim, ignored (RFC 7519 §4; RFC 9396 is optional)"
            }
            ReferenceVariant::NoDpop => {
                "no DPoP: proofs are ignored and key-bound ID-JAGs refused (DPoP is an optional feature of ID-JAG §9.8)"
            }
            ReferenceVariant::DpopNoNonce => {
                "DPoP without server nonces (RFC 9449 §8: nonces are the server's choice)"
            }
        }
    }

    /// The variant named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Changes the world the reference is built from: its issuer, scopes, clients, JWKS
    /// cache time. `base_url` is where the reference listens.
    pub fn adjust_fixture(self, fixture: &mut Fixture, base_url: &str) {
        match self {
            ReferenceVariant::OtherScopes => {
                fixture.scope = Some(OTHER_SCOPES.into());
                fixture.api_write =
                    OTHER_SCOPES
                        .split(' ')
                        .nth(1)
                        .map(|write| crate::fixture::ApiWrite {
                            method: "POST".into(),
                            scope: write.into(),
                        });
                fixture.rar = Some(crate::fixture::rar::Rar {
                    types: vec![OTHER_RAR_TYPE.into()],
                    example: match serde_json::json!({
                        "type": OTHER_RAR_TYPE,
                        "actions": ["read", "write"],
                        "locations": [fixture.resource.clone().unwrap_or_default()],
                    }) {
                        serde_json::Value::Object(m) => m,
                        _ => serde_json::Map::new(),
                    },
                });
            }
            ReferenceVariant::NoRar => fixture.rar = None,
            ReferenceVariant::JitProvisioning => fixture.jit_provisioning = true,
            ReferenceVariant::RateLimit5 => fixture.max_rate = Some(5.0),
            ReferenceVariant::IssuerPath => fixture.ras_issuer = format!("{base_url}{ISSUER_PATH}"),
            ReferenceVariant::IssuerSlash => fixture.ras_issuer = format!("{base_url}/"),
            ReferenceVariant::SingleClient => {
                fixture.client2 = None;
                fixture.client3 = None;
                fixture.client4 = None;
                // The one client introspects too.
                if let Some(i) = &mut fixture.introspection {
                    i.client = fixture.client.clone();
                }
            }
            ReferenceVariant::JwksCache5m => {
                fixture.jwks_cache_ttl = Some(Duration::from_secs(300));
                fixture.jwks_refetch_interval = Some(Duration::from_secs(5));
            }
            ReferenceVariant::Rs256Only => fixture.accepted_algs = vec![crate::jose::KeyAlg::RS256],
            ReferenceVariant::Es256Only => fixture.accepted_algs = vec![crate::jose::KeyAlg::ES256],
            ReferenceVariant::OpaqueAccessTokens => {
                fixture.access_token_format = Some(crate::fixture::AccessTokenFormat::Opaque)
            }
            ReferenceVariant::NoDpop => fixture.dpop = None,
            _ => {}
        }
    }

    /// Changes the reference's behaviour beyond its world.
    pub fn configure(self, cfg: &mut ReferenceConfig) {
        match self {
            ReferenceVariant::Rs256Only => cfg.accepted_algs = vec!["RS256".into()],
            ReferenceVariant::Es256Only => cfg.accepted_algs = vec!["ES256".into()],
            ReferenceVariant::JitProvisioning => cfg.jit_provisioning = true,
            ReferenceVariant::JwksCache5m => {
                cfg.jwks_ttl = Duration::from_secs(300);
                cfg.jwks_min_refetch = Duration::from_secs(5);
            }
            ReferenceVariant::SingleUseJti => cfg.single_use_jti = true,
            ReferenceVariant::TerseErrors => cfg.error_descriptions = false,
            ReferenceVariant::RateLimit5 => cfg.rate_limit = Some(5),
            ReferenceVariant::OpaqueAccessTokens => cfg.jwt_access_tokens = false,
            ReferenceVariant::DpopNoNonce => {
                if let Some(d) = &mut cfg.dpop {
                    d.nonces = false;
                }
            }
            _ => {}
        }
    }

    /// The target.yaml lines that declare this variant's choice with fields the suite does
    /// not read yet (issue 9 §1), or that would make the run impractically long. They are
    /// printed as comments.
    pub fn pending_fields(self) -> &'static [&'static str] {
        match self {
            ReferenceVariant::JwksCache5m => {
                &["jwks_cache_ttl: 5m   # read today, but JAG-SIG-14 would then wait 5.5 min"]
            }
            ReferenceVariant::SingleUseJti => &["single_use_jti: true"],
            _ => &[],
        }
    }
}

impl std::fmt::Display for ReferenceVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ReferenceVariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
            match crate::names::did_you_mean(s, &names) {
                Some(hint) => format!("unknown reference variant `{s}`; {hint}"),
                None => format!(
                    "unknown reference variant `{s}`; the variants: {}",
                    names.join(", ")
                ),
            }
        })
    }
}

/// A YAML double-quoted scalar (JSON string syntax, which YAML 1.2 reads the same).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The complete target.yaml for the reference whose world is `fixture` (as
/// [`super::ReferenceRas::start`] returned it), served as `variant` with the fake IdP at
/// `idp_bind`. `header` is the first comment line.
pub fn target_yaml(
    fixture: &Fixture,
    variant: Option<ReferenceVariant>,
    idp_bind: &str,
    secrets: SecretsIn,
    header: &str,
) -> String {
    let idp = format!("{{ bind: {} }}", quoted(idp_bind));
    target_yaml_with_idp(fixture, variant, &idp, secrets, header)
}

/// [`target_yaml`] with the `idp` section given as a YAML flow mapping, e.g. one naming a
/// running IdP's `public_url` and `control`.
pub fn target_yaml_with_idp(
    fixture: &Fixture,
    variant: Option<ReferenceVariant>,
    idp: &str,
    secrets: SecretsIn,
    header: &str,
) -> String {
    let mut y = String::new();
    let mut line = |s: String| {
        y.push_str(&s);
        y.push('\n');
    };
    line(format!("# {header}"));
    if let Some(v) = variant {
        line(format!("# variant {}: {}", v.name(), v.description()));
    }
    let secret = |env: &str, value: &crate::fixture::Secret| match secrets {
        SecretsIn::Environment => quoted(&format!("${{{env}}}")),
        SecretsIn::Inline => quoted(value.expose()),
    };
    line(format!(
        "token_endpoint: {}",
        quoted(&fixture.token_endpoint)
    ));
    line(format!("issuer: {}", quoted(&fixture.ras_issuer)));
    if let Some(u) = &fixture.token_endpoint_http {
        line(format!("token_endpoint_http: {}", quoted(u)));
    }
    line(format!(
        "client: {{ id: {}, secret: {}, auth: client_secret_basic }}",
        quoted(&fixture.client.id),
        secret(CLIENT_SECRET_ENV, &fixture.client.secret)
    ));
    if let Some(c2) = &fixture.client2 {
        line(format!(
            "client2: {{ id: {}, secret: {} }}",
            quoted(&c2.id),
            secret(CLIENT2_SECRET_ENV, &c2.secret)
        ));
    }
    if let Some(c3) = &fixture.client3 {
        line(format!("client3: {{ id: {} }}", quoted(c3)));
    }
    // C4 shares C1's secret: `reference serve` registers it with XAA_CLIENT_SECRET too.
    if let Some(c4) = &fixture.client4 {
        line(format!(
            "client4: {{ id: {}, secret: {} }}",
            quoted(&c4.id),
            secret(CLIENT_SECRET_ENV, &c4.secret)
        ));
    }
    line(format!("second_ras: {}", quoted(&fixture.second_ras)));
    if let Some(own) = &fixture.also_idp {
        line(format!(
            "also_idp: {{ issuer: {}, token_endpoint: {} }}",
            quoted(&own.issuer),
            quoted(&own.token_endpoint)
        ));
    }
    if let Some(saml) = &fixture.saml_subjects {
        line(format!(
            "saml_subjects: {{ saml_issuer: {}, nameid: {} }}",
            quoted(&saml.saml_issuer),
            quoted(&saml.nameid)
        ));
    }
    if let Some(mt) = &fixture.multi_tenant {
        line(format!(
            "multi_tenant: {{ tenant: {}, other_tenant: {} }}",
            quoted(&mt.tenant),
            quoted(&mt.other_tenant)
        ));
    }
    line(format!("subject: {}", quoted(&fixture.subject)));
    let optional = [
        ("subject_b", &fixture.subject_b),
        ("whoami", &fixture.whoami),
        ("resource", &fixture.resource),
        ("resource2", &fixture.resource2),
    ];
    for (field, value) in optional {
        if let Some(v) = value {
            line(format!("{field}: {}", quoted(v)));
        }
    }
    if let Some(i) = &fixture.introspection {
        let client = if i.client.id == fixture.client.id {
            String::new()
        } else {
            let secret = if fixture
                .client2
                .as_ref()
                .is_some_and(|c| c.id == i.client.id)
            {
                secret(CLIENT2_SECRET_ENV, &i.client.secret)
            } else {
                secret("XAA_INTROSPECTION_CLIENT_SECRET", &i.client.secret)
            };
            format!(
                ", client: {{ id: {}, secret: {} }}",
                quoted(&i.client.id),
                secret
            )
        };
        line(format!(
            "introspection: {{ url: {}{client} }}",
            quoted(&i.url)
        ));
    }
    let mut api: Vec<String> = [("r1", &fixture.api_r1), ("r2", &fixture.api_r2)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {}", quoted(v))))
        .collect();
    if let Some(w) = &fixture.api_write {
        api.push(format!(
            "write: {{ method: {}, scope: {} }}",
            w.method,
            quoted(&w.scope)
        ));
    }
    if !api.is_empty() {
        line(format!("api: {{ {} }}", api.join(", ")));
    }
    if let Some(scope) = &fixture.scope {
        line(format!("scope: {}", quoted(scope)));
    }
    line(format!("idp: {idp}"));
    if fixture.jit_provisioning {
        line("jit_provisioning: true".into());
    }
    if let Some(rate) = fixture.max_rate {
        line(format!("max_rate: {rate}/s"));
    }
    if let Some(rar) = &fixture.rar {
        let types: Vec<String> = rar.types.iter().map(|t| quoted(t)).collect();
        line(format!(
            "authorization_details: {{ types: [{}], example: {} }}",
            types.join(", "),
            serde_json::Value::Object(rar.example.clone())
        ));
    }
    if let Some(d) = &fixture.dpop {
        line("dpop: supported".into());
        if let Some(r) = &d.required_resource {
            line(format!("dpop_required_resource: {}", quoted(r)));
        }
    }
    if fixture.accepted_algs != crate::fixture::DEFAULT_ACCEPTED_ALGS {
        let names: Vec<&str> = fixture.accepted_algs.iter().map(|a| a.name()).collect();
        line(format!("accepted_algs: [{}]", names.join(", ")));
    }
    if let Some(format) = fixture.access_token_format {
        line(format!(
            "access_token_format: {}",
            match format {
                crate::fixture::AccessTokenFormat::Jwt => "jwt",
                crate::fixture::AccessTokenFormat::Opaque => "opaque",
            }
        ));
    }
    let pending = variant.map(ReferenceVariant::pending_fields).unwrap_or(&[]);
    let ttl_pending = pending.iter().any(|p| p.starts_with("jwks_cache_ttl"));
    if let Some(ttl) = fixture.jwks_cache_ttl
        && !ttl_pending
    {
        line(format!(
            "jwks_cache_ttl: {}",
            humantime::format_duration(ttl)
        ));
    }
    if let Some(interval) = fixture.jwks_refetch_interval {
        line(format!(
            "jwks_refetch_interval: {}",
            humantime::format_duration(interval)
        ));
    }
    if !pending.is_empty() {
        line("# This variant's choice, in fields the suite does not read yet (or that make the run long):".into());
        for p in pending {
            line(format!("# {p}"));
        }
    }
    y
}

/// The environment variable the printed target.yaml reads C1's secret from: the one the
/// runner documents (`runner::CLIENT_SECRET_ENV`), named here so that the reference does not
/// import the runner.
pub const CLIENT_SECRET_ENV: &str = "XAA_CLIENT_SECRET";

/// The environment variable the printed target.yaml reads C2's secret from.
pub const CLIENT2_SECRET_ENV: &str = "XAA_CLIENT2_SECRET";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_variant_gets_the_nearest_name() {
        let name = ReferenceVariant::ALL[0].name();
        let typo = format!("{name}x");
        let err = typo.parse::<ReferenceVariant>().expect_err("not a variant");
        assert_eq!(
            err,
            format!("unknown reference variant `{typo}`; did you mean `{name}`?")
        );
        let far = "zzzzzzzzzzzzzzzzzzzzzzzz".parse::<ReferenceVariant>();
        assert!(far.is_err_and(|e| e.contains("the variants: ")));
    }

    #[test]
    fn names_are_unique_kebab_case_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for v in ReferenceVariant::ALL {
            assert!(seen.insert(v.name()), "{v} twice");
            assert!(
                v.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{v}"
            );
            assert_eq!(v.name().parse::<ReferenceVariant>(), Ok(v));
            assert!(!v.description().is_empty());
        }
        assert!("nope".parse::<ReferenceVariant>().is_err());
    }
}
