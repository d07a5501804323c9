//! The reference RAS's ID-JAG validation (ID-JAG §4.4.1, RFC 7523 §3), one step per rule so
//! that each defect can change exactly one of them.
//!
//! Signatures are verified with jsonwebtoken's decoder against keys fetched over HTTP from
//! the issuer's JWKS; the suite's own minting code plays no part.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::Defect;
use super::config::{ReferenceConfig, TrustedIssuer};
use crate::jose::keys::{rsa_spki_der, spki_pem};

/// A refusal: the RFC 6749 §5.2 error code and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `error`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

fn invalid_grant(description: impl Into<String>) -> Refusal {
    refuse("invalid_grant", description)
}

/// What a valid ID-JAG grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The local account.
    pub user: String,
    /// Scopes in the ID-JAG.
    pub scopes: Vec<String>,
    /// The `resource` claim as sent (string or array), when present.
    pub resource: Option<Value>,
}

struct CachedJwks {
    set: JwkSet,
    fetched: Instant,
}

/// JWKS per URL, cached for the configured TTL and refetched once on an unknown `kid`.
pub struct JwksCache {
    http: reqwest::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, CachedJwks>>,
}

/// Shortest time between two fetches of one JWKS, so unknown `kid`s cannot force a fetch
/// per request.
const MIN_REFETCH: Duration = Duration::from_secs(1);

impl JwksCache {
    /// An empty cache.
    pub fn new(http: reqwest::Client, ttl: Duration) -> Self {
        JwksCache {
            http,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, uri: &str) -> Result<JwkSet, Refusal> {
        let resp = self
            .http
            .get(uri)
            .send()
            .await
            .map_err(|e| invalid_grant(format!("cannot fetch the issuer's JWKS: {e}")))?;
        if !resp.status().is_success() {
            return Err(invalid_grant(format!(
                "the issuer's JWKS answered {}",
                resp.status()
            )));
        }
        resp.json::<JwkSet>()
            .await
            .map_err(|e| invalid_grant(format!("the issuer's JWKS is not a JWK Set: {e}")))
    }

    /// The key `kid` (or the only key for `alg` when there is no `kid`) of the JWKS at `uri`.
    pub async fn key(&self, uri: &str, kid: Option<&str>, alg: &str) -> Result<Jwk, Refusal> {
        let mut entries = self.entries.lock().await;
        let fresh = entries
            .get(uri)
            .is_some_and(|c| c.fetched.elapsed() < self.ttl);
        if !fresh {
            let set = self.fetch(uri).await?;
            entries.insert(
                uri.to_string(),
                CachedJwks {
                    set,
                    fetched: Instant::now(),
                },
            );
        }
        let find = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(k) => set.find(k).cloned(),
                None => {
                    let same_family: Vec<&Jwk> =
                        set.keys.iter().filter(|j| jwk_fits_alg(j, alg)).collect();
                    if same_family.len() == 1 {
                        Some(same_family[0].clone())
                    } else {
                        None
                    }
                }
            }
        };
        if let Some(k) = entries.get(uri).and_then(|c| find(&c.set)) {
            return Ok(k);
        }
        // Unknown kid: the issuer may have rotated; refetch, but not more than once a second.
        if entries
            .get(uri)
            .is_some_and(|c| c.fetched.elapsed() >= MIN_REFETCH)
        {
            let set = self.fetch(uri).await?;
            entries.insert(
                uri.to_string(),
                CachedJwks {
                    set,
                    fetched: Instant::now(),
                },
            );
            if let Some(k) = entries.get(uri).and_then(|c| find(&c.set)) {
                return Ok(k);
            }
        }
        Err(invalid_grant(match kid {
            Some(k) => format!("no key {k} in the issuer's JWKS"),
            None => "no kid, and the issuer has no single key for that alg".to_string(),
        }))
    }
}

fn jwk_fits_alg(jwk: &Jwk, alg: &str) -> bool {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            alg.starts_with("RS") || alg.starts_with("PS") || alg == "HS256"
        }
        AlgorithmParameters::EllipticCurve(_) => alg.starts_with("ES"),
        _ => false,
    }
}

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

/// `typ` equivalence per RFC 7515 §4.1.9: an `application/` prefix may be omitted, and media
/// types are case-insensitive.
fn typ_is_id_jag(typ: &str) -> bool {
    let t = typ.to_ascii_lowercase();
    t == "oauth-id-jag+jwt" || t == "application/oauth-id-jag+jwt"
}

/// How the signature will be checked, decided from the header before any key is fetched.
enum SigPlan {
    Asymmetric(Algorithm),
    Hs256Confusion,
    Unsigned,
}

/// The issuer's trust entry, or under `trust-any-issuer` one made up from its discovery.
async fn resolve_issuer(
    cfg: &ReferenceConfig,
    http: &reqwest::Client,
    iss: &str,
) -> Result<TrustedIssuer, Refusal> {
    if let Some(t) = cfg.trusted.iter().find(|t| t.issuer == iss) {
        return Ok(t.clone());
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

fn verify_with(token: &str, key: &DecodingKey, alg: Algorithm) -> Result<(), Refusal> {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = Default::default();
    jsonwebtoken::decode::<Value>(token, key, &v)
        .map(|_| ())
        .map_err(|e| invalid_grant(format!("signature check failed: {e}")))
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, Refusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid_grant(format!("{name} is not a NumericDate"))),
        Some(_) => Err(invalid_grant(format!("{name} is not a NumericDate"))),
    }
}

/// Validates an ID-JAG presented by the authenticated client `client_id`.
pub async fn validate(
    cfg: &ReferenceConfig,
    cache: &JwksCache,
    http: &reqwest::Client,
    token: &str,
    client_id: &str,
) -> Result<Grant, Refusal> {
    let defects: &BTreeSet<Defect> = &cfg.defects;
    let has = |d: Defect| defects.contains(&d);

    // Structure: a compact JWS of three segments.
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, _sig] = parts.as_slice() else {
        return Err(invalid_grant("the assertion is not a compact JWS"));
    };
    let header = b64_json(h, "JWT header")?;
    let claims = b64_json(p, "JWT payload")?;

    // typ (ID-JAG §3.1, RFC 8725 §3.11).
    if !has(Defect::IgnoreTyp) {
        match header.get("typ").and_then(Value::as_str) {
            Some(t) if typ_is_id_jag(t) => {}
            Some(t) => return Err(invalid_grant(format!("typ {t} is not oauth-id-jag+jwt"))),
            None => return Err(invalid_grant("no typ header; oauth-id-jag+jwt is required")),
        }
    }

    // alg: an allow-list of asymmetric algorithms (RFC 8725 §3.1, §3.2).
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_grant("no alg header"))?;
    let plan = match alg {
        "RS256" => SigPlan::Asymmetric(Algorithm::RS256),
        "ES256" => SigPlan::Asymmetric(Algorithm::ES256),
        a if a.eq_ignore_ascii_case("none") && has(Defect::AcceptAlgNone) => SigPlan::Unsigned,
        "HS256" if has(Defect::Hs256KeyConfusion) => SigPlan::Hs256Confusion,
        other => return Err(invalid_grant(format!("alg {other} is not accepted"))),
    };

    // iss: a configured trusted issuer (ID-JAG §4.1).
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_grant("no iss claim"))?;
    let issuer = resolve_issuer(cfg, http, iss).await?;

    // Key and signature (RFC 7523 §3 item 9).
    let kid = header.get("kid").and_then(Value::as_str);
    match plan {
        SigPlan::Unsigned => {}
        SigPlan::Asymmetric(a) => {
            let jwk = cache.key(&issuer.jwks_uri, kid, alg).await?;
            if let Some(key_alg) = &jwk.common.key_algorithm
                && key_alg.to_string() != alg
            {
                return Err(invalid_grant(format!(
                    "key {} is for {key_alg}, not {alg}",
                    kid.unwrap_or("?")
                )));
            }
            if !has(Defect::SkipSignatureCheck) {
                let key = DecodingKey::from_jwk(&jwk)
                    .map_err(|e| invalid_grant(format!("unusable key: {e}")))?;
                verify_with(token, &key, a)?;
            }
        }
        SigPlan::Hs256Confusion => {
            let jwk = cache.key(&issuer.jwks_uri, kid, alg).await?;
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
            )?;
        }
    }

    // aud: exactly this RAS's issuer identifier, or a one-element array of it (ID-JAG §4.4.1).
    if !has(Defect::AcceptAnyAud) {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == cfg.issuer,
            Some(Value::Array(a)) => a.len() == 1 && a[0].as_str() == Some(cfg.issuer.as_str()),
            _ => false,
        };
        if !ok {
            return Err(invalid_grant("aud does not name this authorization server"));
        }
    }

    // Times (RFC 7523 §3 items 4–6), with clock skew.
    let now = now_secs();
    let skew = cfg.skew_secs as f64;
    if !has(Defect::IgnoreExp) {
        match number(&claims, "exp")? {
            None => return Err(invalid_grant("no exp claim")),
            Some(exp) if now > exp + skew => return Err(invalid_grant("the ID-JAG has expired")),
            Some(_) => {}
        }
    }
    if let Some(nbf) = number(&claims, "nbf")?
        && now + skew < nbf
    {
        return Err(invalid_grant("the ID-JAG is not valid yet (nbf)"));
    }
    match number(&claims, "iat")? {
        None => return Err(invalid_grant("no iat claim")),
        Some(iat) if iat > now + skew => return Err(invalid_grant("iat is in the future")),
        Some(_) => {}
    }

    // sub: a user this issuer vouches for (identity-chaining §2.4.2).
    let sub = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => return Err(invalid_grant("no sub claim")),
    };
    let user = match issuer.users.iter().find(|(s, _)| s == sub) {
        Some((_, u)) => u.clone(),
        None if has(Defect::AcceptUnknownSub) => format!("jit:{iss}:{sub}"),
        None => return Err(invalid_grant("unknown subject")),
    };

    // client_id: the authenticated client (ID-JAG §4.4.1).
    if !has(Defect::IgnoreClientId)
        && claims.get("client_id").and_then(Value::as_str) != Some(client_id)
    {
        return Err(invalid_grant(
            "client_id does not match the authenticated client",
        ));
    }

    // resource: only resources this RAS governs (ID-JAG §4.4.1, RFC 8707 §2).
    let resource = claims.get("resource").cloned();
    if !has(Defect::IgnoreResource)
        && let Some(r) = &resource
    {
        let list: Vec<&str> = match r {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) if !a.is_empty() => a
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid_grant("resource must hold strings"))?,
            _ => return Err(invalid_grant("resource must be a URI or an array of URIs")),
        };
        if let Some(bad) = list.iter().find(|r| !cfg.resources.iter().any(|g| g == *r)) {
            return Err(invalid_grant(format!(
                "resource {bad} is not governed by this authorization server"
            )));
        }
    }

    // scope: a space-separated string (ID-JAG §3.1).
    let scopes = match claims.get("scope") {
        None => Vec::new(),
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect(),
        Some(_) => return Err(invalid_grant("scope must be a space-separated string")),
    };

    Ok(Grant {
        user,
        scopes,
        resource: if has(Defect::IgnoreResource) {
            None
        } else {
            resource
        },
    })
}
