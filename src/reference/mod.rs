//! The reference resource authorization server: compliant by default, the suite's own proof.
//!
//! Every check must PASS against it; each [`Defect`] switches one validation step wrong, and
//! the matrix test shows the suite catching exactly that.

mod bearer;
mod busy;
mod cleartext;
mod config;
mod defects;
mod dpop;
mod introspect;
mod issued;
mod jwks;
mod jws_json;
mod jwt_at;
mod own_idp;
mod rar;
mod ratelimit;
mod refusal;
mod saml;
mod tenants;
mod token;
mod validate;
mod variant;
mod weak_rsa;
mod whoami;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use config::{DpopPolicy, ReferenceConfig, RegisteredClient, TrustedIssuer};
pub use defects::{Defect, Proof, proving as proving_defects};
pub use ratelimit::RateLimiter;
pub use variant::{
    CLIENT_SECRET_ENV, CLIENT2_SECRET_ENV, ReferenceVariant, SecretsIn, target_yaml,
    target_yaml_with_idp,
};

use crate::fixture::{Client, ClientAuthMethod, Fixture, Secret};
use crate::jose::IssuerRole;
use crate::server::{self, ServeError, ServerHandle};

pub(crate) struct RasState {
    cfg: ReferenceConfig,
    http: reqwest::Client,
    cache: validate::JwksCache,
    replay: validate::ReplayCache,
    /// Validations per second, for the defects that show only under load.
    busy: busy::Busy,
    tokens: std::sync::Mutex<std::collections::HashMap<String, token::IssuedToken>>,
    /// The per-client rate limit, when one is configured (and not switched off by a defect).
    limiter: Option<RateLimiter>,
    /// The key that signs JWT access tokens, when it issues them (`jwt_access_tokens`).
    at_key: Option<crate::jose::keys::SigningKey>,
    /// The DPoP nonce and the proof `jti`s seen.
    dpop: dpop::DpopState,
    /// The key its own IdP signs ID-JAGs with, when it is also an IdP (`own_idp`).
    own_idp_key: Option<crate::jose::keys::SigningKey>,
}

/// How the reference behaves beyond its fixture.
#[derive(Debug, Clone, Default)]
pub struct ReferenceOptions {
    /// Defects switched on.
    pub defects: BTreeSet<Defect>,
    /// Refuse a second use of an ID-JAG (the MCP profile's rule).
    pub single_use_jti: bool,
    /// Issue the intersection of a requested scope beyond the ID-JAG's (the MCP profile's
    /// rule) rather than refuse it.
    pub intersect_requested_scope: bool,
    /// A CA certificate (PEM) to trust, alone, when fetching from the fake IdP over HTTPS.
    pub idp_ca_pem: Option<String>,
    /// Requests per second allowed per client (token bucket, burst of one second); above it
    /// the token endpoint answers 429 with `Retry-After`. None: unlimited.
    pub rate_limit: Option<u32>,
    /// A compliant configuration other than the default world (scopes, algorithms,
    /// provisioning, issuer form, …); applied after the options above.
    pub variant: Option<ReferenceVariant>,
}

impl ReferenceOptions {
    /// The reference that is compliant under `profile`, with `defects` on.
    pub fn for_profile(profile: &str, defects: BTreeSet<Defect>) -> Self {
        ReferenceOptions {
            defects,
            single_use_jti: profile == "mcp-ema",
            intersect_requested_scope: profile == "mcp-ema",
            ..Default::default()
        }
    }
}

/// The SAML issuer entity identifier the embedded reference associates with the SAML NameID
/// issuer ISS_SAML.
pub const SAML_ISSUER: &str = "https://saml.idp.example/";

/// The JWKS cache time of the reference in the embedded run (and in the fixture built by
/// [`embedded_fixture`]): short, so that JAG-SIG-14 sees a removed key go within a second.
pub const EMBEDDED_JWKS_TTL: Duration = Duration::from_secs(1);

/// A running reference RAS; dropping it stops the server.
pub struct ReferenceRas {
    handle: ServerHandle,
    base_url: String,
    /// The plain-http address of its token endpoint (REQ-10), a listener of its own.
    cleartext: ServerHandle,
}

/// Builds the embedded fixture for a reference RAS at `base_url` trusting the fake IdP
/// issuers `issuers`: fresh client secrets (C2's with the `:` `+` `%` characters that client
/// authentication must form-encode, RFC 6749 App. B), `u1`, `u3` (known only under the second
/// trusted issuer), R1/R2 and their APIs under `/api/`, `/api/whoami`, and RFC 7662
/// introspection at `/introspect`, called as C2; C4, registered but not enabled for the
/// jwt-bearer grant; and a second RAS the fake IdP issues ID-JAGs for.
pub fn embedded_fixture(
    base_url: &str,
    issuers: &std::collections::BTreeMap<IssuerRole, String>,
    timeout: Duration,
) -> Fixture {
    let plain = Secret::random();
    let special = Secret::new(format!("{}:+% x", Secret::random().expose()));
    let client2 = Client {
        id: "agent-c2".into(),
        secret: special,
        auth: ClientAuthMethod::ClientSecretBasic,
    };
    Fixture {
        ras_issuer: base_url.to_string(),
        token_endpoint: format!("{base_url}/token"),
        other_ras: crate::fixture::DEFAULT_OTHER_RAS.into(),
        client: Client {
            id: "agent-c1".into(),
            secret: plain,
            auth: ClientAuthMethod::ClientSecretBasic,
        },
        // C2 introspects, as a resource server with its own registration would.
        introspection: Some(crate::fixture::Introspection {
            url: format!("{base_url}/introspect"),
            client: client2.clone(),
        }),
        client2: Some(client2),
        client3: Some("agent-c3".into()),
        subject: "u1".into(),
        unknown_subject: "ghost".into(),
        subject_b: Some("u3".into()),
        resource: Some(format!("{base_url}/api/r1")),
        resource2: Some(format!("{base_url}/api/r2")),
        foreign_resource: crate::target::DEFAULT_FOREIGN_RESOURCE.into(),
        scope: Some("s.read s.write".into()),
        issuers: issuers.clone(),
        api_r1: Some(format!("{base_url}/api/r1")),
        api_r2: Some(format!("{base_url}/api/r2")),
        whoami: Some(format!("{base_url}/api/whoami")),
        whoami_principal: None,
        timeout,
        jwks_cache_ttl: Some(EMBEDDED_JWKS_TTL),
        jwks_refetch_interval: None,
        api_write: Some(crate::fixture::ApiWrite {
            method: "POST".into(),
            scope: "s.write".into(),
        }),
        max_rate: None,
        jit_provisioning: false,
        ca_pem: None,
        accepted_algs: crate::fixture::DEFAULT_ACCEPTED_ALGS.to_vec(),
        rar: Some(rar::embedded()),
        access_token_format: Some(crate::fixture::AccessTokenFormat::Jwt),
        // DPoP supported, with nonces, and R_DPOP (`/api/dpop`) requiring bound tokens.
        dpop: Some(crate::fixture::Dpop {
            required_resource: Some(format!("{base_url}/api/dpop")),
        }),
        second_ras: crate::fixture::DEFAULT_SECOND_RAS.into(),
        // U1's sub is a user of tenant-a under the multi-tenant issuer (JAG-SUB-04).
        multi_tenant: Some(crate::fixture::MultiTenant {
            tenant: "tenant-a".into(),
            other_tenant: "tenant-b".into(),
        }),
        // Filled by `ReferenceRas::start`, which binds the cleartext port.
        token_endpoint_http: None,
        // Also the IdP of its own trust domain (JAG-ISS-05).
        also_idp: Some(crate::fixture::AlsoIdp {
            issuer: own_idp::issuer(base_url),
            token_endpoint: format!("{}/token", own_idp::issuer(base_url)),
        }),
        // U1 is a SAML NameID under the SAML NameID issuer (JAG-SUB-05).
        saml_subjects: Some(crate::fixture::SamlSubjects {
            saml_issuer: SAML_ISSUER.into(),
            nameid: "u1@tables.fake".into(),
        }),
        // C4: registered, but not enabled for the jwt-bearer grant (CAUTH-15).
        client4: Some(Client {
            id: "agent-c4".into(),
            secret: Secret::random(),
            auth: ClientAuthMethod::ClientSecretBasic,
        }),
    }
}

/// Where the metadata of `issuer` is served (RFC 8414 §3.1): the well-known path between the
/// host and the issuer's path, with a terminating `/` of that path removed.
fn metadata_path(issuer: &str) -> String {
    let path = url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    format!("/.well-known/oauth-authorization-server{path}")
}

impl ReferenceRas {
    /// Binds `bind`, builds the fixture for the bound base URL with `make_fixture`, and serves
    /// a reference configured from it with `defects` on. Returns the server and the fixture.
    pub async fn start(
        bind: &str,
        options: ReferenceOptions,
        make_fixture: impl FnOnce(&str) -> Fixture,
    ) -> Result<(Self, Fixture), ServeError> {
        let listener = server::bind(bind).await?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: bind.to_string(),
            source,
        })?;
        let base_url = format!("http://{addr}");
        // The cleartext port of the token endpoint, on the same host (REQ-10).
        let cleartext_bind = std::net::SocketAddr::new(addr.ip(), 0).to_string();
        let cleartext_listener = server::bind(&cleartext_bind).await?;
        let cleartext_addr =
            cleartext_listener
                .local_addr()
                .map_err(|source| ServeError::Bind {
                    addr: cleartext_bind.clone(),
                    source,
                })?;
        let mut fixture = make_fixture(&base_url);
        fixture.token_endpoint_http = Some(format!("http://{cleartext_addr}/token"));
        if let Some(v) = options.variant {
            v.adjust_fixture(&mut fixture, &base_url);
        }
        // The root location differs from the path-aware one only for an issuer with a path.
        if options.defects.contains(&Defect::MetadataOnlyAtRoot)
            && metadata_path(&fixture.ras_issuer) == metadata_path(&base_url)
        {
            fixture.ras_issuer = format!("{base_url}{}", variant::ISSUER_PATH);
        }
        let mut cfg = ReferenceConfig::from_fixture(&fixture, options.defects);
        cfg.single_use_jti = options.single_use_jti;
        cfg.intersect_requested_scope = options.intersect_requested_scope;
        cfg.rate_limit = options.rate_limit;
        cfg.api_base = base_url.clone();
        if let Some(v) = options.variant {
            v.configure(&mut cfg);
        }
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = &options.idp_ca_pem {
            let ca =
                reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| ServeError::Bind {
                    addr: bind.to_string(),
                    source: std::io::Error::other(e),
                })?;
            builder = builder.tls_certs_only([ca]);
        }
        let http = builder
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServeError::Bind {
                addr: bind.to_string(),
                source: std::io::Error::other(e),
            })?;
        let state = Arc::new(RasState {
            cache: validate::JwksCache::new(
                http.clone(),
                if cfg.defects.contains(&Defect::NoRefetchOnUnknownKid) {
                    cfg.jwks_ttl.max(config::DEFAULT_JWKS_TTL)
                } else {
                    cfg.jwks_ttl
                },
                if cfg.defects.contains(&Defect::RefetchEveryUnknownKid) {
                    Duration::ZERO
                } else {
                    cfg.jwks_min_refetch
                },
            )
            .keep_removed_keys(cfg.defects.contains(&Defect::NeverEvictRemovedKeys))
            .block_on_fetch(cfg.defects.contains(&Defect::JwksFetchBlocksAll)),
            replay: validate::ReplayCache::default(),
            busy: busy::Busy::default(),
            limiter: cfg
                .rate_limit
                .filter(|_| !cfg.defects.contains(&Defect::RateLimitOff))
                .map(RateLimiter::new),
            at_key: if cfg.jwt_access_tokens {
                Some(jwt_at::generate_key().ok_or_else(|| ServeError::Bind {
                    addr: bind.to_string(),
                    source: std::io::Error::other("cannot make the access-token signing key"),
                })?)
            } else {
                None
            },
            own_idp_key: cfg.own_idp.as_ref().and_then(|_| jwt_at::generate_key()),
            cfg,
            http,
            tokens: Default::default(),
            dpop: Default::default(),
        });
        let metadata_path = if state.cfg.defects.contains(&Defect::MetadataOnlyAtRoot) {
            metadata_path("")
        } else {
            metadata_path(&state.cfg.issuer)
        };
        let router = Router::new()
            .route("/token", post(token::token).get(token::token))
            .route(&metadata_path, get(token::metadata))
            .route("/api/whoami", get(whoami::whoami))
            .route("/introspect", post(introspect::introspect))
            .route("/jwks", get(token::jwks))
            .route("/idp/token", post(own_idp::token_exchange))
            .route("/idp/jwks", get(own_idp::jwks))
            .route(
                "/api/{resource}",
                get(token::resource_api).post(token::resource_api),
            )
            .with_state(state.clone());
        let handle = server::spawn(listener, router)?;
        let cleartext = server::spawn(cleartext_listener, cleartext::router(state))?;
        Ok((
            ReferenceRas {
                handle,
                base_url,
                cleartext,
            },
            fixture,
        ))
    }

    /// The base URL, which is also its issuer identifier.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops the server and its cleartext listener.
    pub async fn stop(self) {
        self.cleartext.stop().await;
        self.handle.stop().await;
    }

    /// Runs until the process is stopped.
    pub async fn wait(self) {
        self.handle.wait().await;
    }
}
