//! The reference RAS's registry, built from the same fixture the scenarios use.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Defect;

/// Shortest time between two fetches of one JWKS, so unknown `kid`s cannot force a fetch
/// per request.
pub const MIN_REFETCH: Duration = Duration::from_secs(1);
use crate::fixture::{Fixture, Secret};
use crate::jose::IssuerRole;

/// The JWKS cache time when the fixture names none.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(300);

/// What the reference does with DPoP: its policy, from the fixture.
#[derive(Debug, Clone, Default)]
pub struct DpopPolicy {
    /// Whether the token endpoint asks for a server nonce (RFC 9449 §8).
    pub nonces: bool,
    /// Resources whose resource server requires DPoP-bound tokens.
    pub required_resources: Vec<String>,
}

/// A client registered at the reference RAS.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: Secret,
}

/// An issuer the reference trusts, where its keys are, and the users it vouches for.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// Issuer identifier (compared as a simple string).
    pub issuer: String,
    /// Its JWKS URL.
    pub jwks_uri: String,
    /// `(sub, local account)` pairs.
    pub users: Vec<(String, String)>,
}

/// A multi-tenant issuer the reference trusts (it is among the trusted issuers too, for its
/// keys), with its users by tenant.
#[derive(Debug, Clone)]
pub struct MultiTenantIssuer {
    /// Its issuer identifier.
    pub issuer: String,
    /// `(tenant, sub, local account)`.
    pub users: Vec<(String, String, String)>,
}

/// A trusted issuer whose users are resolved by SAML NameID (it is among the trusted issuers
/// too, for its keys).
#[derive(Debug, Clone)]
pub struct SamlSubjectIssuer {
    /// The ID-JAG issuer identifier.
    pub issuer: String,
    /// The SAML issuer entity identifier configured for it: the only `sub_id.issuer` it takes.
    pub saml_issuer: String,
    /// `(nameid, local account)`.
    pub users: Vec<(String, String)>,
}

/// Everything the reference RAS is configured with.
#[derive(Debug, Clone)]
pub struct ReferenceConfig {
    /// Its issuer identifier: the `aud` it accepts.
    pub issuer: String,
    /// Its token endpoint URL.
    pub token_endpoint: String,
    /// Issuers of other authorization servers (tenants) the same deployment hosts.
    pub other_tenants: Vec<String>,
    /// Registered confidential clients.
    pub clients: Vec<RegisteredClient>,
    /// Clients that authenticate with `private_key_jwt`: id and JWKS URL.
    pub jwt_clients: Vec<(String, String)>,
    /// Trusted issuers, in order; the first is the default namespace.
    pub trusted: Vec<TrustedIssuer>,
    /// Resources it governs.
    pub resources: Vec<String>,
    /// Scopes it defines.
    pub scopes: Vec<String>,
    /// Scopes granted when neither the ID-JAG nor the request names any (RFC 6749 §3.3).
    pub default_scopes: Vec<String>,
    /// Whether an ID-JAG may be used once only (the MCP profile's replay rule).
    pub single_use_jti: bool,
    /// Whether a requested scope beyond the ID-JAG's gets their intersection rather than
    /// `invalid_scope` (the MCP profile's rule, MCP EMA §7.2.1).
    pub intersect_requested_scope: bool,
    /// Allowed clock skew for exp, nbf and iat.
    pub skew_secs: i64,
    /// How long a fetched JWKS is used.
    pub jwks_ttl: Duration,
    /// Access token lifetime in seconds.
    pub token_lifetime_secs: u64,
    /// Requests per second allowed per client at the token endpoint (None: unlimited).
    pub rate_limit: Option<u32>,
    /// The ID-JAG signing algorithms accepted (RFC 8725 §3.1 allow-list): RS256 and ES256
    /// unless a variant narrows it.
    pub accepted_algs: Vec<String>,
    /// Whether an unknown `sub` of a trusted issuer gets an account on first sight (JIT
    /// provisioning, ID-JAG §2.2) instead of a refusal.
    pub jit_provisioning: bool,
    /// Shortest time between two fetches of one JWKS when an unknown `kid` asks for a refetch.
    pub jwks_min_refetch: Duration,
    /// Whether error responses carry `error_description` (RFC 6749 §5.2: OPTIONAL).
    pub error_descriptions: bool,
    /// The base URL of the resource API: `{api_base}/api/{name}` are the governed resources.
    pub api_base: String,
    /// The scope a GET of the resource API needs.
    pub read_scope: String,
    /// The scope a POST to the resource API needs.
    pub write_scope: String,
    /// Whether access tokens are RFC 9068 JWTs signed by the reference's own key (published
    /// at `jwks_uri`), which the resource API verifies (the default, as Okta and Auth0 issue
    /// JWT access tokens), instead of opaque strings (the `opaque-access-tokens` variant).
    pub jwt_access_tokens: bool,
    /// The RFC 9396 authorization detail types it supports (empty: no RAR, and an
    /// `authorization_details` claim is ignored).
    pub rar_types: Vec<String>,
    /// DPoP (RFC 9449): `None` when the reference takes no proofs (its fixture declares no
    /// DPoP support).
    pub dpop: Option<DpopPolicy>,
    /// Registered clients that are not enabled for the jwt-bearer grant: they authenticate,
    /// and are refused the grant with `unauthorized_client` (RFC 6749 §5.2).
    pub clients_without_grant: Vec<String>,
    /// The other RAS issuers the trusted IdP issues ID-JAGs for (its app registry): nothing
    /// this RAS may accept as `aud`; only the `aud-any-idp-audience` defect reads them.
    pub idp_audiences: Vec<String>,
    /// Multi-tenant issuers among the trusted ones, with their users by tenant.
    pub multi_tenant: Vec<MultiTenantIssuer>,
    /// The issuer of its own IdP, when the reference is also the IdP of its trust domain
    /// (ID-JAG §9.3): it issues ID-JAGs at `/idp/token` and must not honour them.
    pub own_idp: Option<String>,
    /// Trusted issuers whose users are resolved by SAML NameID `sub_id`.
    pub saml_subjects: Vec<SamlSubjectIssuer>,
    /// Defects switched on.
    pub defects: BTreeSet<Defect>,
}

impl ReferenceConfig {
    /// Configures the reference for `fixture`: C1 and C2 as clients, U1 under the trusted
    /// issuer and U2 under the second trusted issuer (the same `sub`, another person), U3 under
    /// the second trusted issuer only (`subject_b`), R1 and R2 governed, the fixture's scopes
    /// defined (the first for reading the resource API, the second for writing), RS256 and
    /// ES256 accepted, no JIT provisioning.
    pub fn from_fixture(fixture: &Fixture, defects: BTreeSet<Defect>) -> Self {
        let mut clients = vec![RegisteredClient {
            id: fixture.client.id.clone(),
            secret: fixture.client.secret.clone(),
        }];
        if let Some(c2) = &fixture.client2 {
            clients.push(RegisteredClient {
                id: c2.id.clone(),
                secret: c2.secret.clone(),
            });
        }
        // C4: registered with valid credentials, not enabled for the grant (CAUTH-15).
        let clients_without_grant = fixture.client4.iter().map(|c| c.id.clone()).collect();
        clients.extend(fixture.client4.iter().map(|c| RegisteredClient {
            id: c.id.clone(),
            secret: c.secret.clone(),
        }));
        let trusted = [(IssuerRole::Trusted, "U1"), (IssuerRole::TrustedB, "U2")]
            .into_iter()
            .filter_map(|(role, user)| {
                let issuer = fixture.issuers.get(&role)?.clone();
                let mut users = vec![(fixture.subject.clone(), user.to_string())];
                // U3: known only under the second trusted issuer (JAG-SUB-03).
                if role == IssuerRole::TrustedB
                    && let Some(sub) = &fixture.subject_b
                {
                    users.push((sub.clone(), "U3".to_string()));
                }
                Some(TrustedIssuer {
                    jwks_uri: format!("{issuer}/jwks"),
                    issuer,
                    users,
                })
            })
            .collect();
        let (trusted, multi_tenant) = with_multi_tenant(fixture, trusted);
        let (trusted, saml_subjects) = with_saml_subjects(fixture, trusted);
        let scopes: Vec<String> = fixture
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let jwt_clients = fixture
            .client3
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    crate::fixture::client3_jwks_uri(&fixture.idp_base()),
                )
            })
            .collect();
        let dpop = fixture.dpop.as_ref().map(|d| DpopPolicy {
            nonces: true,
            required_resources: d.required_resource.iter().cloned().collect(),
        });
        let resources: Vec<String> = [&fixture.resource, &fixture.resource2]
            .into_iter()
            .flatten()
            .chain(dpop.iter().flat_map(|d| &d.required_resources))
            .cloned()
            .collect();
        ReferenceConfig {
            dpop,
            jwt_clients,
            issuer: fixture.ras_issuer.clone(),
            token_endpoint: fixture.token_endpoint.clone(),
            other_tenants: vec![fixture.other_ras.clone()],
            default_scopes: scopes.iter().take(1).cloned().collect(),
            single_use_jti: false,
            intersect_requested_scope: false,
            clients,
            trusted,
            resources,
            read_scope: scopes.first().cloned().unwrap_or_else(|| "s.read".into()),
            write_scope: scopes.get(1).cloned().unwrap_or_else(|| "s.write".into()),
            scopes,
            skew_secs: 60,
            jwks_ttl: fixture.jwks_cache_ttl.unwrap_or(DEFAULT_JWKS_TTL),
            token_lifetime_secs: 3600,
            rate_limit: None,
            accepted_algs: vec!["RS256".into(), "ES256".into()],
            jit_provisioning: false,
            jwks_min_refetch: MIN_REFETCH,
            error_descriptions: true,
            api_base: fixture.ras_issuer.clone(),
            jwt_access_tokens: true,
            rar_types: fixture
                .rar
                .as_ref()
                .map(|r| r.types.clone())
                .unwrap_or_default(),
            clients_without_grant,
            idp_audiences: vec![fixture.second_ras.clone()],
            multi_tenant,
            saml_subjects,
            own_idp: fixture.also_idp.as_ref().map(|a| a.issuer.clone()),
            defects,
        }
    }
}

/// The trusted issuers with the multi-tenant issuer ISS_MT added when the fixture declares its
/// tenants: U4 is U1's `sub` in the fixture's tenant there, and no user of it has an account
/// without a tenant (JAG-SUB-04).
fn with_multi_tenant(
    fixture: &Fixture,
    mut trusted: Vec<TrustedIssuer>,
) -> (Vec<TrustedIssuer>, Vec<MultiTenantIssuer>) {
    let (Some(mt), Some(issuer)) = (
        &fixture.multi_tenant,
        fixture.issuers.get(&IssuerRole::MultiTenant),
    ) else {
        return (trusted, Vec::new());
    };
    trusted.push(TrustedIssuer {
        issuer: issuer.clone(),
        jwks_uri: format!("{issuer}/jwks"),
        users: Vec::new(),
    });
    let tenants = MultiTenantIssuer {
        issuer: issuer.clone(),
        users: vec![(mt.tenant.clone(), fixture.subject.clone(), "U4".into())],
    };
    (trusted, vec![tenants])
}

/// The trusted issuers with the SAML NameID issuer ISS_SAML added when the fixture declares
/// how its users are resolved: U5 is U1's NameID within the fixture's SAML issuer. Its `sub`
/// users (U1's `sub` is U5 too) serve only the defect that falls back to `sub` (JAG-SUB-05).
fn with_saml_subjects(
    fixture: &Fixture,
    mut trusted: Vec<TrustedIssuer>,
) -> (Vec<TrustedIssuer>, Vec<SamlSubjectIssuer>) {
    let (Some(saml), Some(issuer)) = (
        &fixture.saml_subjects,
        fixture.issuers.get(&IssuerRole::SamlSubjects),
    ) else {
        return (trusted, Vec::new());
    };
    trusted.push(TrustedIssuer {
        issuer: issuer.clone(),
        jwks_uri: format!("{issuer}/jwks"),
        users: vec![(fixture.subject.clone(), "U5".into())],
    });
    let by_nameid = SamlSubjectIssuer {
        issuer: issuer.clone(),
        saml_issuer: saml.saml_issuer.clone(),
        users: vec![(saml.nameid.clone(), "U5".into())],
    };
    (trusted, vec![by_nameid])
}

impl ReferenceConfig {
    /// Under `trust-own-id-jags`: the reference's own IdP as a trusted issuer (its JWKS at
    /// `{issuer}/jwks`), its subjects the local accounts themselves. `None` when `iss` is not
    /// that IdP.
    pub fn own_idp_as_trusted(&self, iss: &str) -> Option<TrustedIssuer> {
        let own = self.own_idp.as_deref().filter(|own| *own == iss)?;
        let users = self
            .trusted
            .iter()
            .flat_map(|t| t.users.iter())
            .map(|(_, account)| (account.clone(), account.clone()))
            .collect();
        Some(TrustedIssuer {
            issuer: own.to_string(),
            jwks_uri: format!("{own}/jwks"),
            users,
        })
    }
}
