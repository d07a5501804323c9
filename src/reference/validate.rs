//! The reference RAS's ID-JAG validation (ID-JAG §4.4.1, RFC 7523 §3), one step per rule so
//! that each defect changes exactly one of them.
//!
//! Signatures are verified with jsonwebtoken's decoder (and aws-lc-rs for the DER-ECDSA
//! defect) against keys fetched over HTTP from the issuer's JWKS; the suite's own minting code
//! plays no part.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::Defect;
use super::config::{ReferenceConfig, TrustedIssuer};
use crate::jose::keys::{rsa_spki_der, spki_pem};

pub use super::refusal::Refusal;
use super::refusal::{invalid_grant, server_error};

/// What a valid ID-JAG grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The local account.
    pub user: String,
    /// Scopes in the ID-JAG.
    pub scopes: Vec<String>,
    /// Resources in the ID-JAG (empty: none named).
    pub resources: Vec<String>,
    /// The `resource` claim as sent, for the response.
    pub resource_claim: Option<Value>,
    /// The granted authorization details (RFC 9396), when the ID-JAG carried some.
    pub authorization_details: Option<Vec<Value>>,
    /// The `cnf.jkt` of a key-bound ID-JAG (ID-JAG §9.8.1.1): the DPoP key it needs a proof by.
    pub cnf_jkt: Option<String>,
}

pub use super::jwks::JwksCache;
use super::jwks::{fetch_jwks, find_key, jwk_fits_alg};

/// `jti` values already used, with the time each stops mattering (its `exp` plus skew).
#[derive(Default)]
pub struct ReplayCache {
    seen: std::sync::Mutex<HashMap<(String, String), f64>>,
}

impl ReplayCache {
    /// Records `(iss, jti)`; false when it was already there and not yet expired.
    fn first_use(&self, iss: &str, jti: &str, until: f64, now: f64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        seen.retain(|_, exp| *exp > now);
        seen.insert((iss.to_string(), jti.to_string()), until)
            .is_none()
    }

    /// The `replay-check-race` defect: looks `(iss, jti)` up, then (as after a round trip to
    /// a remote store) waits, then records it. Requests arriving in that window all pass.
    async fn first_use_check_then_insert(
        &self,
        iss: &str,
        jti: &str,
        until: f64,
        now: f64,
    ) -> bool {
        let key = (iss.to_string(), jti.to_string());
        let seen_before = match self.seen.lock() {
            Ok(mut seen) => {
                seen.retain(|_, exp| *exp > now);
                seen.contains_key(&key)
            }
            Err(_) => false,
        };
        if seen_before {
            return false;
        }
        tokio::time::sleep(REPLAY_STORE_DELAY).await;
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key, until);
        }
        true
    }
}

/// The round trip the `replay-check-race` defect spends between its lookup and its insert.
const REPLAY_STORE_DELAY: Duration = Duration::from_millis(100);

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn b64_json(segment: &str, what: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| invalid_grant(format!("the {what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid_grant(format!("the {what} is not a JSON object"))),
    }
}

/// The JWT payload as a JSON object. Duplicate members: the last wins, as serde_json does
/// (RFC 7519 §4 allows that or rejection); under `first-duplicate-wins`, the first.
fn payload_json(segment: &str, first_wins: bool) -> Result<Map<String, Value>, Refusal> {
    if !first_wins {
        return b64_json(segment, "JWT payload");
    }
    struct FirstWins(Map<String, Value>);
    impl<'de> serde::Deserialize<'de> for FirstWins {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = FirstWins;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<FirstWins, A::Error> {
                    let mut m = Map::new();
                    while let Some((k, v)) = a.next_entry::<String, Value>()? {
                        m.entry(k).or_insert(v);
                    }
                    Ok(FirstWins(m))
                }
            }
            d.deserialize_map(V)
        }
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| invalid_grant("the JWT payload is not base64url"))?;
    serde_json::from_slice::<FirstWins>(&bytes)
        .map(|f| f.0)
        .map_err(|_| invalid_grant("the JWT payload is not a JSON object"))
}

/// `typ` equivalence per RFC 7515 §4.1.9: an `application/` prefix may be omitted, and media
/// types are case-insensitive.
fn typ_is_id_jag(typ: &str) -> bool {
    let t = typ.to_ascii_lowercase();
    t == "oauth-id-jag+jwt" || t == "application/oauth-id-jag+jwt"
}

/// Claims this RAS acts on; with `reject-unknown-claims` any other claim is refused.
const CORE_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "client_id",
    "jti",
    "iat",
    "exp",
    "nbf",
    "resource",
    "scope",
    "authorization_details",
    // Read for the multi-tenant and the SAML NameID issuers' users.
    "tenant",
    "sub_id",
];

/// How the signature will be checked, decided from the header before any key is fetched.
enum SigPlan {
    Asymmetric(Algorithm),
    Hs256Confusion,
    Hs256ClientSecret,
    Unsigned,
}

/// The issuer's trust entry, or under `trust-any-issuer` one made up from its discovery.
async fn resolve_issuer(
    cfg: &ReferenceConfig,
    http: &reqwest::Client,
    iss: &str,
) -> Result<TrustedIssuer, Refusal> {
    let norm = |s: &str| s.trim_end_matches('/').to_string();
    let found = cfg.trusted.iter().find(|t| {
        t.issuer == iss
            || (cfg.defects.contains(&Defect::IssNormalizedCompare) && norm(&t.issuer) == norm(iss))
    });
    if let Some(t) = found {
        return Ok(t.clone());
    }
    // Under `trust-own-id-jags` its own IdP's ID-JAGs are honoured (ID-JAG §9.3 forbids it).
    if cfg.defects.contains(&Defect::TrustOwnIdJags)
        && let Some(own) = cfg.own_idp_as_trusted(iss)
    {
        return Ok(own);
    }
    if !cfg.defects.contains(&Defect::TrustAnyIssuer) {
        return Err(invalid_grant(format!("issuer {iss} is not trusted")));
    }
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        iss.trim_end_matches('/')
    );
    let meta: Value = match http.get(&discovery).send().await {
        Ok(r) => r
            .json()
            .await
            .map_err(|e| invalid_grant(format!("issuer discovery failed: {e}")))?,
        Err(e) => return Err(invalid_grant(format!("issuer discovery failed: {e}"))),
    };
    if meta.get("issuer").and_then(Value::as_str) != Some(iss) {
        return Err(invalid_grant(
            "the discovered metadata names another issuer (RFC 8414 §3.3)",
        ));
    }
    let jwks_uri = meta
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_grant("issuer discovery has no jwks_uri"))?;
    let users = cfg
        .trusted
        .first()
        .map(|t| t.users.clone())
        .unwrap_or_default();
    Ok(TrustedIssuer {
        issuer: iss.to_string(),
        jwks_uri: jwks_uri.to_string(),
        users,
    })
}

/// Verifies the JWS signature of `token` with jsonwebtoken. Only the signature: the claims
/// are this module's job, step by step.
fn verify_with(token: &str, key: &DecodingKey, alg: Algorithm) -> Result<(), Refusal> {
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| invalid_grant("not a JWS"))?;
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg) {
        Ok(true) => Ok(()),
        Ok(false) => Err(invalid_grant("signature check failed")),
        Err(e) => Err(invalid_grant(format!("signature check failed: {e}"))),
    }
}

/// ECDSA P-256 verification of a DER signature, for the `accept-der-ecdsa` defect.
fn verify_der_ecdsa(jwk: &Jwk, signing_input: &[u8], sig: &[u8]) -> bool {
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        return false;
    };
    let (Ok(x), Ok(y)) = (URL_SAFE_NO_PAD.decode(&ec.x), URL_SAFE_NO_PAD.decode(&ec.y)) else {
        return false;
    };
    let mut point = vec![0x04];
    point.extend(x);
    point.extend(y);
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        point,
    )
    .verify(signing_input, sig)
    .is_ok()
}

/// A claim as a NumericDate: a JSON number (or, under `lenient-numeric-dates`, a numeric
/// string). `Ok(None)` when absent, `Err` when present but not a date.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &str,
    defects: &BTreeSet<Defect>,
) -> Result<Option<f64>, Refusal> {
    let bad = || invalid_grant(format!("{name} is not a NumericDate"));
    let n = match claims.get(name) {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) if defects.contains(&Defect::LenientNumericDates) => {
            s.parse::<f64>().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if !n.is_finite() {
        return Err(bad());
    }
    if defects.contains(&Defect::IntegerDatesOnly) && n.fract() != 0.0 {
        return Err(invalid_grant(format!("{name} must be an integer")));
    }
    Ok(Some(n))
}

/// What the validation needs besides the token.
pub struct Context<'a> {
    /// The configuration.
    pub cfg: &'a ReferenceConfig,
    /// JWKS cache.
    pub cache: &'a JwksCache,
    /// Used `jti`s.
    pub replay: &'a ReplayCache,
    /// Validations per second (the load defects' trigger).
    pub busy: &'a super::busy::Busy,
    /// For discovery, `jku`.
    pub http: &'a reqwest::Client,
    /// The authenticated client.
    pub client_id: &'a str,
    /// Its secret (for the HS256-with-client-secret defect).
    pub client_secret: &'a str,
}

/// A compact JWS split into its segments, with the header decoded.
struct Jws<'t> {
    /// The header segment as sent (base64url).
    header_segment: &'t str,
    /// The payload segment as sent (base64url).
    payload_segment: &'t str,
    /// The signature segment as sent (base64url).
    signature_segment: &'t str,
    /// The decoded JOSE header.
    header: Map<String, Value>,
}

impl Jws<'_> {
    /// The JWS signing input, `header.payload` (RFC 7515 §5.2).
    fn signing_input(&self) -> String {
        format!("{}.{}", self.header_segment, self.payload_segment)
    }

    /// The decoded signature bytes (empty when they are not base64url).
    fn signature(&self) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(self.signature_segment)
            .unwrap_or_default()
    }
}

/// Times read from the claims, for the replay step.
#[derive(Clone, Copy)]
struct Times {
    /// When the validation started (seconds since the epoch).
    now: f64,
    /// The `exp` in force (under `exp-optional`, five minutes from now when absent).
    exp: f64,
}

/// Validates an ID-JAG presented by the authenticated client: each step below checks one
/// rule, in this order, and refuses with the first rule broken.
pub async fn validate(cx: &Context<'_>, token: &str) -> Result<Grant, Refusal> {
    let cfg = cx.cfg;
    // Under `accept-jws-json-serialization`: a JWS JSON serialization read as if compact.
    let compact = super::jws_json::to_compact(token)
        .filter(|_| cfg.defects.contains(&Defect::AcceptJwsJsonSerialization));
    let token = compact.as_deref().unwrap_or(token);
    let jws = split_jws(cfg, token)?;
    check_crit(cfg, &jws.header)?;
    check_typ(cfg, &jws.header)?;
    let (alg, plan) = signature_plan(cfg, &jws.header)?;
    let kid = key_id(cfg, &jws.header)?;
    let claims = claims(cfg, jws.payload_segment)?;
    let iss = iss_claim(cfg, &claims)?;
    let issuer = resolve_issuer(cfg, cx.http, &iss).await?;
    let verified = verify_signature(cx, token, &jws, &issuer, alg, kid, plan).await;
    // Under `bad-signature-global-lock` (a load defect) every request passes one lock, held a
    // while after a signature that does not verify.
    if cfg.defects.contains(&Defect::BadSignatureGlobalLock) {
        cx.busy.through_global_lock(verified.is_err()).await;
    }
    verified.map_err(
        |r| match cfg.defects.contains(&Defect::SignatureErrorCode) {
            true => Refusal {
                error: "invalid_signature",
                ..r
            },
            false => r,
        },
    )?;
    check_aud(cfg, &claims)?;
    let times = match busy_shortcut(cx, &claims) {
        Some(times) => times,
        None => check_times(cfg, &claims)?,
    };
    check_jti(cx, &claims, &iss, times).await?;
    let user = subject_account(cx, &claims, &issuer, &iss)?;
    let cnf_jkt = check_cnf(cfg, &claims)?;
    check_client_id(cx, &claims)?;
    let (resources, resource_claim) = resource_claim(cfg, &claims)?;
    let scopes = scope_claim(cfg, &claims)?;
    let authorization_details = super::rar::granted(cfg, &claims).map_err(invalid_grant)?;
    Ok(Grant {
        user,
        scopes,
        resources,
        resource_claim,
        authorization_details,
        cnf_jkt,
    })
}

/// Structure: a compact JWS of three segments whose header is a JSON object (RFC 7515 §7.1).
fn split_jws<'t>(cfg: &ReferenceConfig, token: &'t str) -> Result<Jws<'t>, Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        if has(Defect::ServerErrorOnMalformedAssertion) {
            return Err(server_error("index out of range"));
        }
        return Err(invalid_grant("the assertion is not a compact JWS"));
    };
    let header = match b64_json(h, "JWT header") {
        Ok(hd) => hd,
        Err(_) if has(Defect::ServerErrorOnBadHeader) => {
            return Err(server_error("header parse failure"));
        }
        Err(e) => return Err(e),
    };
    Ok(Jws {
        header_segment: h,
        payload_segment: p,
        signature_segment: s,
        header,
    })
}

/// crit: no extension is understood here (RFC 7515 §4.1.11).
fn check_crit(cfg: &ReferenceConfig, header: &Map<String, Value>) -> Result<(), Refusal> {
    if !cfg.defects.contains(&Defect::IgnoreCrit) && header.contains_key("crit") {
        return Err(invalid_grant(
            "crit lists extensions this server does not understand",
        ));
    }
    Ok(())
}

/// typ: `oauth-id-jag+jwt` (ID-JAG §3.1, RFC 8725 §3.11).
fn check_typ(cfg: &ReferenceConfig, header: &Map<String, Value>) -> Result<(), Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    match header.get("typ") {
        None if has(Defect::TypOptional) => Ok(()),
        None => Err(invalid_grant("no typ header; oauth-id-jag+jwt is required")),
        Some(Value::String(t)) => {
            let lower = t.to_ascii_lowercase();
            let ok = if has(Defect::TypExactBytes) {
                t == "oauth-id-jag+jwt"
            } else {
                typ_is_id_jag(t)
            } || (has(Defect::AcceptTypJwt) && lower == "jwt")
                || (has(Defect::TypSuffixMatch) && lower.ends_with("+jwt"))
                || (has(Defect::TypPrefixMatch) && lower.starts_with("oauth-id-jag"));
            if ok {
                Ok(())
            } else {
                Err(invalid_grant(format!("typ {t} is not oauth-id-jag+jwt")))
            }
        }
        Some(_) => Err(invalid_grant("typ is not a string")),
    }
}

/// alg: an allow-list of asymmetric algorithms (RFC 8725 §3.1, §3.2), narrowed by the
/// configuration's accepted algorithms. Returns the `alg` as sent and how to verify it.
fn signature_plan<'h>(
    cfg: &ReferenceConfig,
    header: &'h Map<String, Value>,
) -> Result<(&'h str, SigPlan), Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    let accepts = |a: &str| cfg.accepted_algs.iter().any(|x| x == a);
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_grant("no alg header"))?;
    let plan = match alg {
        "RS256" if accepts("RS256") => SigPlan::Asymmetric(Algorithm::RS256),
        "ES256" if accepts("ES256") => SigPlan::Asymmetric(Algorithm::ES256),
        "PS256" if has(Defect::KeyAlgNotEnforced) => SigPlan::Asymmetric(Algorithm::PS256),
        a if a.eq_ignore_ascii_case("none") && has(Defect::AcceptAlgNone) => SigPlan::Unsigned,
        "HS256" if has(Defect::Hs256KeyConfusion) => SigPlan::Hs256Confusion,
        "HS256" if has(Defect::Hs256ClientSecret) => SigPlan::Hs256ClientSecret,
        other => return Err(invalid_grant(format!("alg {other} is not accepted"))),
    };
    Ok((alg, plan))
}

/// kid: absent or a string (RFC 7515 §4.1.4).
fn key_id<'h>(
    cfg: &ReferenceConfig,
    header: &'h Map<String, Value>,
) -> Result<Option<&'h str>, Refusal> {
    match header.get("kid") {
        None => Ok(None),
        Some(Value::String(k)) => Ok(Some(k.as_str())),
        Some(_) if cfg.defects.contains(&Defect::ServerErrorOnNumericKid) => {
            Err(server_error("kid type error"))
        }
        Some(_) => Err(invalid_grant("kid is not a string")),
    }
}

/// The claims: a JSON object (RFC 7519 §7.2), with no claim this RAS cannot read.
fn claims(cfg: &ReferenceConfig, payload_segment: &str) -> Result<Map<String, Value>, Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    let claims = match payload_json(payload_segment, has(Defect::FirstDuplicateWins)) {
        Ok(c) => c,
        Err(_) if has(Defect::ServerErrorOnArrayPayload) => {
            return Err(server_error("payload is not a map"));
        }
        Err(e) => return Err(e),
    };
    if has(Defect::PanicOnOddClaimType)
        && let Some(extra) = claims.iter().find(|(k, v)| {
            !CORE_CLAIMS.contains(&k.as_str()) && matches!(v, Value::Bool(_) | Value::Null)
        })
    {
        return Err(server_error(format!("cannot read claim {}", extra.0)));
    }
    // A server with DPoP knows `cnf` (RFC 9449 §6.1).
    let known = |k: &str| CORE_CLAIMS.contains(&k) || (k == "cnf" && cfg.dpop.is_some());
    if has(Defect::RejectUnknownClaims)
        && let Some(extra) = claims.keys().find(|k| !known(k.as_str()))
    {
        return Err(invalid_grant(format!("unsupported claim {extra}")));
    }
    Ok(claims)
}

/// iss: a string naming the issuer (ID-JAG §4.1); whether it is trusted is
/// [`resolve_issuer`]'s part.
fn iss_claim(cfg: &ReferenceConfig, claims: &Map<String, Value>) -> Result<String, Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    match claims.get("iss") {
        None if has(Defect::IssOptional) => Ok(cfg
            .trusted
            .first()
            .map(|t| t.issuer.clone())
            .unwrap_or_default()),
        None => Err(invalid_grant("no iss claim")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) if has(Defect::ServerErrorOnNumericIss) => Err(server_error("iss type error")),
        Some(_) => Err(invalid_grant("iss is not a string")),
    }
}

/// Key and signature (RFC 7523 §3 item 9, RFC 8725 §3.8), as the header's `alg` planned.
async fn verify_signature(
    cx: &Context<'_>,
    token: &str,
    jws: &Jws<'_>,
    issuer: &TrustedIssuer,
    alg: &str,
    kid: Option<&str>,
    plan: SigPlan,
) -> Result<(), Refusal> {
    match plan {
        SigPlan::Unsigned => Ok(()),
        SigPlan::Asymmetric(a) => match asymmetric_key(cx, &jws.header, issuer, alg, kid).await? {
            KeyLookup::FailOpen => Ok(()),
            KeyLookup::Missing => verify_with_any_cached_key(cx, token, issuer, alg, kid, a).await,
            KeyLookup::Found(jwk) => match verify_asymmetric(cx.cfg, token, jws, &jwk, alg, kid, a)
            {
                Err(refused)
                    if kid.is_none()
                        && cx.cfg.defects.contains(&Defect::KidlessTriesEveryIssuer) =>
                {
                    verify_kidless_across_issuers(cx, token, issuer, alg, a)
                        .await
                        .map_err(|_| refused)
                }
                verified => verified,
            },
        },
        SigPlan::Hs256Confusion => verify_hs256_with_rsa_key(cx, token, issuer, alg, kid).await,
        SigPlan::Hs256ClientSecret => verify_with(
            token,
            &DecodingKey::from_secret(cx.client_secret.as_bytes()),
            Algorithm::HS256,
        ),
    }
}

/// What the key lookup found.
enum KeyLookup {
    /// The key to verify with.
    Found(Box<Jwk>),
    /// No such key.
    Missing,
    /// Under `fail-open-on-jwks-error`: the JWKS could not be had, so nothing is verified.
    FailOpen,
}

/// The verification key: the issuer's JWKS key for `kid` (refetched once when unknown), or
/// under defects a key from the header's `jwk` or `jku`, or another issuer's.
async fn asymmetric_key(
    cx: &Context<'_>,
    header: &Map<String, Value>,
    issuer: &TrustedIssuer,
    alg: &str,
    kid: Option<&str>,
) -> Result<KeyLookup, Refusal> {
    let cfg = cx.cfg;
    let has = |d: Defect| cfg.defects.contains(&d);
    let found = |k: Option<Jwk>| k.map_or(KeyLookup::Missing, |k| KeyLookup::Found(Box::new(k)));
    if let Some(j) = header.get("jwk").filter(|_| has(Defect::TrustEmbeddedJwk)) {
        return Ok(found(serde_json::from_value::<Jwk>(j.clone()).ok()));
    }
    if let Some(url) = header
        .get("jku")
        .and_then(Value::as_str)
        .filter(|_| has(Defect::FetchJku))
    {
        let set = fetch_jwks(cx.http, url).await.ok();
        return Ok(found(set.and_then(|set| find_key(&set, kid, alg))));
    }
    let refetch = !has(Defect::NoRefetchOnUnknownKid);
    let (mut key, fail_open) = match cx.cache.key(&issuer.jwks_uri, kid, alg, refetch).await {
        Ok(f) => (f, false),
        // Fail open: no keys to be had, so no verification at all.
        Err(_) if has(Defect::FailOpenOnJwksError) => (None, true),
        // Fail open only when the JWKS is slow: a load defect (`run` never makes it slow).
        Err(e)
            if has(Defect::JwksTimeoutFailsOpen) && e.description == super::jwks::JWKS_TIMEOUT =>
        {
            (None, true)
        }
        Err(e) => return Err(e),
    };
    if key.is_none() && has(Defect::KidLookupAcrossIssuers) {
        for other in cfg.trusted.iter().filter(|t| t.jwks_uri != issuer.jwks_uri) {
            if let Some(k) = cx.cache.key(&other.jwks_uri, kid, alg, refetch).await? {
                key = Some(k);
                break;
            }
        }
    }
    Ok(match key {
        Some(k) => KeyLookup::Found(Box::new(k)),
        None if fail_open => KeyLookup::FailOpen,
        None => KeyLookup::Missing,
    })
}

/// No key for `kid`: refused, or under `unknown-kid-tries-all-keys` accepted when any cached
/// key of the issuer verifies the signature.
async fn verify_with_any_cached_key(
    cx: &Context<'_>,
    token: &str,
    issuer: &TrustedIssuer,
    alg: &str,
    kid: Option<&str>,
    a: Algorithm,
) -> Result<(), Refusal> {
    if cx.cfg.defects.contains(&Defect::UnknownKidTriesAllKeys)
        && cx.cache.all_keys(&issuer.jwks_uri).await.iter().any(|k| {
            jwk_fits_alg(k, alg)
                && DecodingKey::from_jwk(k).is_ok_and(|key| verify_with(token, &key, a).is_ok())
        })
    {
        return Ok(());
    }
    Err(invalid_grant(format!(
        "no key {} for this issuer",
        kid.unwrap_or("(no kid)")
    )))
}

/// Without a `kid`, under `kidless-tries-every-issuer`: the issuer's key did not verify the
/// signature, so the other trusted issuers' keys for `alg` are tried too. The key must come
/// from the token issuer's JWKS alone (RFC 7523 §3 item 9, OIDC Core §10.1).
async fn verify_kidless_across_issuers(
    cx: &Context<'_>,
    token: &str,
    issuer: &TrustedIssuer,
    alg: &str,
    a: Algorithm,
) -> Result<(), Refusal> {
    for other in cx
        .cfg
        .trusted
        .iter()
        .filter(|t| t.jwks_uri != issuer.jwks_uri)
    {
        if let Some(k) = cx.cache.key(&other.jwks_uri, None, alg, true).await?
            && DecodingKey::from_jwk(&k).is_ok_and(|key| verify_with(token, &key, a).is_ok())
        {
            return Ok(());
        }
    }
    Err(invalid_grant("signature check failed"))
}

/// The signature with the key found: a key for signing (RFC 7517 §4.2) and for this `alg`
/// (RFC 7517 §4.4), then the signature itself.
fn verify_asymmetric(
    cfg: &ReferenceConfig,
    token: &str,
    jws: &Jws<'_>,
    jwk: &Jwk,
    alg: &str,
    kid: Option<&str>,
    a: Algorithm,
) -> Result<(), Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    // A key published for encryption signs nothing (RFC 7517 §4.2).
    if jwk.common.public_key_use == Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        && !has(Defect::IgnoreKeyUse)
    {
        return Err(invalid_grant(format!(
            "key {} is published for encryption (use enc)",
            kid.unwrap_or("?")
        )));
    }
    if let Some(key_alg) = &jwk.common.key_algorithm
        && key_alg.to_string() != alg
        && !has(Defect::KeyAlgNotEnforced)
    {
        return Err(invalid_grant(format!(
            "key {} is for {key_alg}, not {alg}",
            kid.unwrap_or("?")
        )));
    }
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| invalid_grant(format!("unusable key: {e}")))?;
    let verified = verify_with(token, &key, a);
    let sig = jws.signature();
    // `skip-signature-check` ignores the verification's result, not the key: its crypto
    // library still refuses to load an RSA key under 2048 bits.
    let excused = (a == Algorithm::RS256
        && has(Defect::SkipSignatureCheck)
        && super::weak_rsa::modulus_bits(jwk).is_some_and(|b| b >= 2048))
        || (a == Algorithm::ES256
            && has(Defect::AcceptDerEcdsa)
            && verify_der_ecdsa(jwk, jws.signing_input().as_bytes(), &sig))
        || (a == Algorithm::ES256
            && has(Defect::PsychicSignature)
            && sig.len() == 64
            && sig.iter().all(|b| *b == 0))
        || (a == Algorithm::RS256
            && has(Defect::AcceptWeakRsaKeys)
            && super::weak_rsa::verifies_rs256(jwk, jws.signing_input().as_bytes(), &sig));
    if excused { Ok(()) } else { verified }
}

/// Under `hs256-key-confusion`: HS256 verified with the issuer's RSA public key (its PEM
/// text) as the HMAC secret.
async fn verify_hs256_with_rsa_key(
    cx: &Context<'_>,
    token: &str,
    issuer: &TrustedIssuer,
    alg: &str,
    kid: Option<&str>,
) -> Result<(), Refusal> {
    let jwk = cx
        .cache
        .key(&issuer.jwks_uri, kid, alg, true)
        .await?
        .ok_or_else(|| invalid_grant("no such key"))?;
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(invalid_grant("HS256 needs an RSA key"));
    };
    let n = URL_SAFE_NO_PAD
        .decode(&rsa.n)
        .map_err(|_| invalid_grant("bad key"))?;
    let e = URL_SAFE_NO_PAD
        .decode(&rsa.e)
        .map_err(|_| invalid_grant("bad key"))?;
    let pem = rsa_spki_der(&n, &e)
        .map(|d| spki_pem(&d))
        .ok_or_else(|| invalid_grant("bad key"))?;
    verify_with(
        token,
        &DecodingKey::from_secret(pem.as_bytes()),
        Algorithm::HS256,
    )
}

/// aud: exactly this RAS's issuer identifier, or a one-element array of it (ID-JAG §4.4.1).
fn check_aud(cfg: &ReferenceConfig, claims: &Map<String, Value>) -> Result<(), Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    match claims.get("aud") {
        None if has(Defect::AudOptional) => Ok(()),
        None => Err(invalid_grant("no aud claim")),
        Some(Value::String(a)) => {
            let ok = *a == cfg.issuer
                || (has(Defect::AudAcceptsTokenEndpoint) && *a == cfg.token_endpoint)
                || (has(Defect::AudNormalizedCompare)
                    && !a.is_empty()
                    && a.trim_end_matches('/') == cfg.issuer.trim_end_matches('/'))
                || (has(Defect::AudAcceptsResource) && cfg.resources.contains(a))
                || (has(Defect::AcceptAnyAud) && cfg.other_tenants.contains(a))
                || (has(Defect::AudAnyIdpAudience) && cfg.idp_audiences.contains(a));
            if ok {
                Ok(())
            } else {
                Err(invalid_grant("aud does not name this authorization server"))
            }
        }
        Some(Value::Array(list)) => {
            let ok = !has(Defect::AudStringOnly)
                && ((list.len() == 1 && list[0].as_str() == Some(cfg.issuer.as_str()))
                    || (has(Defect::AudArrayAny)
                        && list.iter().any(|v| v.as_str() == Some(cfg.issuer.as_str()))));
            if ok {
                Ok(())
            } else {
                Err(invalid_grant(
                    "aud must be this issuer, or an array of exactly that one element",
                ))
            }
        }
        Some(_) if has(Defect::AudLenientTypes) => Ok(()),
        Some(_) => Err(invalid_grant("aud is neither a string nor an array")),
    }
}

/// Times (RFC 7523 §3 items 4–6), with clock skew: `exp` required and not past, `nbf` not
/// ahead, `iat` required and not in the future.
fn check_times(cfg: &ReferenceConfig, claims: &Map<String, Value>) -> Result<Times, Refusal> {
    let defects = &cfg.defects;
    let has = |d: Defect| defects.contains(&d);
    let now = now_secs();
    let skew = cfg.skew_secs as f64;
    let exp = match numeric_date(claims, "exp", defects)? {
        None if has(Defect::ExpOptional) => now + 300.0,
        None => return Err(invalid_grant("no exp claim")),
        Some(exp) => exp,
    };
    if !has(Defect::IgnoreExp) && now > exp + skew {
        let status = if has(Defect::ExpiredAs401) { 401 } else { 400 };
        return Err(Refusal {
            status,
            ..invalid_grant("the ID-JAG has expired")
        });
    }
    if let Some(nbf) = numeric_date(claims, "nbf", defects)?
        && !has(Defect::IgnoreNbf)
        && now + skew < nbf
    {
        return Err(invalid_grant("the ID-JAG is not valid yet (nbf)"));
    }
    let iat = match numeric_date(claims, "iat", defects) {
        // Present but not a number: ignored under `iat-unchecked-type`.
        Err(_) if has(Defect::IatUncheckedType) => Some(now),
        other => other?,
    };
    match iat {
        None if has(Defect::IatOptional) => {}
        None => return Err(invalid_grant("no iat claim")),
        Some(iat) if iat > now + skew && !has(Defect::AcceptFutureIat) => {
            return Err(invalid_grant("iat is in the future"));
        }
        Some(_) => {}
    }
    Ok(Times { now, exp })
}

/// Under `exp-skipped-when-busy` (a load defect): once the server is busy (seconds of
/// sustained load, [`super::busy`]), the time checks are skipped as a fast path, so an
/// expired ID-JAG gets a token under load only. `None`: the checks apply.
fn busy_shortcut(cx: &Context<'_>, claims: &Map<String, Value>) -> Option<Times> {
    if !cx.cfg.defects.contains(&Defect::ExpSkippedWhenBusy) || !cx.busy.record() {
        return None;
    }
    let now = now_secs();
    let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(now);
    Some(Times { now, exp })
}

/// jti: required, a string; single use where the configuration demands it (RFC 7523 §3
/// item 7), remembered until `exp` plus skew.
async fn check_jti(
    cx: &Context<'_>,
    claims: &Map<String, Value>,
    iss: &str,
    times: Times,
) -> Result<(), Refusal> {
    let cfg = cx.cfg;
    let has = |d: Defect| cfg.defects.contains(&d);
    let skew = cfg.skew_secs as f64;
    match claims.get("jti") {
        None if has(Defect::JtiOptional) => Ok(()),
        None => Err(invalid_grant("no jti claim")),
        Some(Value::String(jti)) => {
            if !(cfg.single_use_jti || has(Defect::SingleUseJti)) {
                return Ok(());
            }
            // Under `replay-cache-ignores-issuer` the cache is keyed on jti alone.
            let scope = if has(Defect::ReplayCacheIgnoresIssuer) {
                ""
            } else {
                iss
            };
            let until = times.exp + skew;
            let first = if has(Defect::ReplayCheckRace) {
                cx.replay
                    .first_use_check_then_insert(scope, jti, until, times.now)
                    .await
            } else {
                cx.replay.first_use(scope, jti, until, times.now)
            };
            if first {
                Ok(())
            } else {
                Err(invalid_grant("this ID-JAG was already used"))
            }
        }
        Some(_) if has(Defect::ServerErrorOnObjectJti) => Err(server_error("unhashable jti")),
        Some(_) => Err(invalid_grant("jti is not a string")),
    }
}

/// sub: a user this issuer vouches for (identity-chaining §2.4.2); with JIT provisioning
/// (ID-JAG §2.2) an unknown subject of a trusted issuer gets an account of its own.
fn subject_account(
    cx: &Context<'_>,
    claims: &Map<String, Value>,
    issuer: &TrustedIssuer,
    iss: &str,
) -> Result<String, Refusal> {
    let cfg = cx.cfg;
    let has = |d: Defect| cfg.defects.contains(&d);
    match claims.get("sub") {
        None if has(Defect::SubOptional) => Ok(format!("service:{}", cx.client_id)),
        Some(Value::String(sub)) if !sub.is_empty() => {
            // A multi-tenant issuer's users are told apart by tenant (ID-JAG §6.3).
            if let Some(found) = super::tenants::account(cfg, iss, claims, sub) {
                return found.map_err(invalid_grant);
            }
            // A SAML NameID issuer's users are named by sub_id (ID-JAG §3.2.2).
            if let Some(found) = super::saml::account(cfg, iss, claims) {
                return found.map_err(invalid_grant);
            }
            // Under `user-lookup-ignores-issuer` accounts are keyed on `sub` alone: the first
            // trusted issuer that has the `sub` decides the account.
            let found = if has(Defect::UserLookupIgnoresIssuer) {
                cfg.trusted
                    .iter()
                    .flat_map(|t| t.users.iter())
                    .find(|(s, _)| s == sub)
            } else {
                issuer.users.iter().find(|(s, _)| s == sub)
            };
            match found {
                Some((_, u)) => Ok(u.clone()),
                None if cfg.jit_provisioning || has(Defect::AcceptUnknownSub) => {
                    Ok(format!("jit:{iss}:{sub}"))
                }
                None => Err(invalid_grant("unknown subject")),
            }
        }
        _ => Err(invalid_grant("no sub claim")),
    }
}

/// cnf: a key-bound ID-JAG needs proof of possession (ID-JAG §9.8.1). A RAS with DPoP reads
/// its `jkt` (RFC 9449 §6.1), which the token endpoint compares with the proof's key; one
/// without DPoP can never see it satisfied. Under `ignore-cnf` it is not read at all.
fn check_cnf(
    cfg: &ReferenceConfig,
    claims: &Map<String, Value>,
) -> Result<Option<String>, Refusal> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    if cfg.defects.contains(&Defect::IgnoreCnf) {
        return Ok(None);
    }
    if cfg.dpop.is_none() {
        return Err(invalid_grant(
            "the ID-JAG is key-bound (cnf) and this server takes no DPoP proof",
        ));
    }
    match cnf.get("jkt").and_then(Value::as_str) {
        Some(jkt) if !jkt.is_empty() => Ok(Some(jkt.to_string())),
        _ => Err(invalid_grant(
            "the ID-JAG's cnf names no DPoP key (jkt) this server can check",
        )),
    }
}

/// client_id: the authenticated client (ID-JAG §4.4.1).
fn check_client_id(cx: &Context<'_>, claims: &Map<String, Value>) -> Result<(), Refusal> {
    let has = |d: Defect| cx.cfg.defects.contains(&d);
    match claims.get("client_id") {
        None if has(Defect::ClientIdOptional) => Ok(()),
        Some(Value::String(c)) if c == cx.client_id || has(Defect::IgnoreClientId) => Ok(()),
        Some(Value::Array(list))
            if has(Defect::ClientIdArrayAny)
                && list.iter().any(|v| v.as_str() == Some(cx.client_id)) =>
        {
            Ok(())
        }
        _ => Err(invalid_grant(
            "client_id does not match the authenticated client",
        )),
    }
}

/// resource: only resources this RAS governs (ID-JAG §4.4.1, RFC 8707 §2). Returns the
/// resources named and the claim as sent (for the response).
fn resource_claim(
    cfg: &ReferenceConfig,
    claims: &Map<String, Value>,
) -> Result<(Vec<String>, Option<Value>), Refusal> {
    let has = |d: Defect| cfg.defects.contains(&d);
    let mut resource_claim = claims.get("resource").cloned();
    let resources: Vec<String> = match &resource_claim {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() && !has(Defect::ResourceStringOnly) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid_grant("resource must hold strings"))?,
        Some(Value::Array(_)) => return Err(invalid_grant("resource must be a URI")),
        Some(_) if has(Defect::IgnoreResourceType) => {
            resource_claim = None;
            Vec::new()
        }
        Some(_) => return Err(invalid_grant("resource must be a URI or an array of URIs")),
    };
    if !has(Defect::IgnoreResource)
        && let Some(bad) = resources.iter().find(|r| !cfg.resources.contains(r))
    {
        return Err(invalid_grant(format!(
            "resource {bad} is not governed by this authorization server"
        )));
    }
    Ok((resources, resource_claim))
}

/// scope: a space-separated string (ID-JAG §3.1).
fn scope_claim(cfg: &ReferenceConfig, claims: &Map<String, Value>) -> Result<Vec<String>, Refusal> {
    match claims.get("scope") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(a)) if cfg.defects.contains(&Defect::ScopeArrayAccepted) => Ok(a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()),
        Some(_) => Err(invalid_grant("scope must be a space-separated string")),
    }
}

/// What client-assertion validation needs.
pub struct ClientAssertionContext<'a> {
    /// The configuration.
    pub cfg: &'a ReferenceConfig,
    /// JWKS cache (client keys are fetched like issuer keys).
    pub cache: &'a JwksCache,
    /// Used `jti`s.
    pub replay: &'a ReplayCache,
}

/// Validates a `private_key_jwt` client assertion and returns the client id (RFC 7523 §3).
pub async fn client_assertion(
    cx: &ClientAssertionContext<'_>,
    token: &str,
) -> Result<String, Refusal> {
    let cfg = cx.cfg;
    let has = |d: Defect| cfg.defects.contains(&d);
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, _] = parts.as_slice() else {
        return Err(invalid_grant("the client assertion is not a compact JWS"));
    };
    let header = b64_json(h, "client assertion header")?;
    let claims = b64_json(p, "client assertion payload")?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        _ => return Err(invalid_grant("unsupported client assertion alg")),
    };
    let alg_name = if alg == Algorithm::RS256 {
        "RS256"
    } else {
        "ES256"
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);

    // Under `client-assertion-any-trusted-key` the client is whoever `client_id`/`sub` names,
    // and any trusted issuer's key will do.
    if has(Defect::ClientAssertionAnyTrustedKey)
        && let Some(id) = text("client_id").or_else(|| text("sub"))
    {
        for t in &cfg.trusted {
            if let Some(jwk) = cx.cache.key(&t.jwks_uri, kid, alg_name, true).await?
                && let Ok(key) = DecodingKey::from_jwk(&jwk)
                && verify_with(token, &key, alg).is_ok()
            {
                return Ok(id);
            }
        }
    }

    let (iss, sub) = (text("iss"), text("sub"));
    let Some(id) = sub.filter(|s| Some(s) == iss.as_ref()) else {
        return Err(invalid_grant(
            "client assertion iss and sub must both name the client",
        ));
    };
    let Some((_, jwks_uri)) = cfg.jwt_clients.iter().find(|(c, _)| *c == id) else {
        return Err(invalid_grant("unknown client"));
    };
    let aud_ok = |a: &str| a == cfg.issuer || a == cfg.token_endpoint;
    let aud_fits = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        // draft-ietf-oauth-rfc7523bis §4: the issuer as the sole value; an array of one is
        // the same, one with others is audience injection.
        Some(Value::Array(list)) if has(Defect::ClientAssertionAudAny) => {
            list.iter().filter_map(Value::as_str).any(aud_ok)
        }
        Some(Value::Array(list)) => list.len() == 1 && list[0].as_str().is_some_and(aud_ok),
        _ => false,
    };
    if !aud_fits {
        return Err(invalid_grant(
            "client assertion aud does not name this server",
        ));
    }
    let now = now_secs();
    match numeric_date(&claims, "exp", &cfg.defects)? {
        None => return Err(invalid_grant("client assertion without exp")),
        Some(exp)
            if now > exp + cfg.skew_secs as f64 && !has(Defect::ClientAssertionNoExpCheck) =>
        {
            return Err(invalid_grant("the client assertion has expired"));
        }
        Some(_) => {}
    }
    let jwk = cx
        .cache
        .key(jwks_uri, kid, alg_name, true)
        .await?
        .ok_or_else(|| invalid_grant("no such client key"))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| invalid_grant(format!("unusable client key: {e}")))?;
    verify_with(token, &key, alg)?;
    let jti = text("jti").ok_or_else(|| invalid_grant("client assertion without jti"))?;
    if !has(Defect::ClientAssertionReplayOk)
        && !cx
            .replay
            .first_use(&format!("client:{id}"), &jti, now + 600.0, now)
    {
        return Err(invalid_grant("this client assertion was already used"));
    }
    Ok(id)
}
