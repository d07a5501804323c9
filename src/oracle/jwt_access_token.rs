//! RFC 9068 JWT access tokens: whether the checks about them apply to a target (its
//! `access_token_format`, or the form of the token it issued), and the judgements of RESP-07
//! (the token verifies against the RAS's JWKS and carries the claims RFC 9068 §2.2 requires,
//! with the values of this grant) and RESP-08 (its `aud` is the resource asked for, §3).
//!
//! The JWKS is fetched by the runner (from the metadata's `jwks_uri`); verifying the JWS
//! against it is pure and happens here, with jsonwebtoken, never with the suite's minting
//! code.

use std::collections::BTreeSet;
use std::str::FromStr;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fixture::AccessTokenFormat;
use crate::jose::jws;
use crate::spec::{Level, Verdict};

use super::{Judgement, judged};

/// The `typ` of an RFC 9068 access token (§2.1), and its full media type.
const AT_TYPS: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// Which RFC 9068 rule a check judges (`expect: { jwt_access_token: { rule } }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JwtAccessTokenRule {
    /// RESP-07: the header (`typ`, `alg`, `kid`), the signature against the RAS's JWKS and
    /// the claims (`iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`, `scope`).
    Claims,
    /// RESP-08: `aud` is exactly the resource the ID-JAG asked for.
    Audience,
}

/// The expectation: one rule of RFC 9068 about the access token a valid ID-JAG obtains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtAccessTokenRules {
    /// The rule judged.
    pub rule: JwtAccessTokenRule,
}

/// The RAS's JWKS as the runner found it.
#[derive(Debug, Clone, PartialEq)]
pub enum RasJwks {
    /// The JWKS document at the metadata's `jwks_uri`.
    Found {
        /// The `jwks_uri`.
        uri: String,
        /// The document.
        jwks: Value,
    },
    /// The metadata document names no `jwks_uri`.
    NoJwksUri,
    /// No metadata document was found at any location.
    NoMetadata,
    /// `jwks_uri` answered, but not with a JSON object: why.
    Unreadable(String),
    /// `jwks_uri` gave no answer: why.
    NoAnswer(String),
    /// Not fetched (the rule does not need it).
    NotFetched,
}

/// What RESP-07 and RESP-08 observed: the access token a valid ID-JAG obtained, what the
/// grant was, and the RAS's JWKS.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtAccessTokenObservation {
    /// The target's `access_token_format`, if it declares one.
    pub declared: Option<AccessTokenFormat>,
    /// The access token.
    pub access_token: String,
    /// The token response.
    pub response: Map<String, Value>,
    /// The RAS's issuer identifier.
    pub issuer: String,
    /// C1, the client the token was issued to.
    pub client_id: String,
    /// The resources the ID-JAG named (`resource`), in order; empty when it named none.
    pub resources: Vec<String>,
    /// The ID-JAG's `scope`.
    pub jag_scope: Option<String>,
    /// The RAS's JWKS.
    pub jwks: RasJwks,
}

/// The decoded header and payload of a compact JWS, when it is one (three segments, the
/// first two base64url JSON objects).
fn decode(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, _] = parts.as_slice() else {
        return None;
    };
    let object = |seg: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice(&jws::b64_decode(seg)?).ok()
    };
    Some((object(h)?, object(p)?))
}

/// Whether a `typ` value names an RFC 9068 access token (media types compare
/// case-insensitively, RFC 7515 §4.1.9).
fn is_at_typ(typ: Option<&Value>) -> bool {
    typ.and_then(Value::as_str)
        .is_some_and(|t| AT_TYPS.iter().any(|a| a.eq_ignore_ascii_case(t)))
}

/// Whether `token` presents itself as an RFC 9068 access token: a JWS whose header `typ` is
/// `at+jwt` or `application/at+jwt`.
pub fn looks_like_jwt_access_token(token: &str) -> bool {
    decode(token).is_some_and(|(h, _)| is_at_typ(h.get("typ")))
}

/// SKIP, naming the target-file key, when the checks about JWT access tokens do not apply:
/// the target declares `access_token_format: opaque`, or declares nothing and `token` is no
/// JWS typed `at+jwt`. `None`: they apply (declared `jwt`, or detected).
pub fn not_applicable(declared: Option<AccessTokenFormat>, token: &str) -> Option<Judgement> {
    match declared {
        Some(AccessTokenFormat::Jwt) => None,
        Some(AccessTokenFormat::Opaque) => Some(judged(
            Verdict::Skip,
            "not applicable: the target declares opaque access tokens (`access_token_format: opaque`); RFC 9068 applies to JWT access tokens only",
        )),
        None if looks_like_jwt_access_token(token) => None,
        None => Some(judged(
            Verdict::Skip,
            "not applicable: the access token issued is no JWS typed at+jwt, and the target does not declare `access_token_format` (`access_token_format: jwt | opaque`); declare `jwt` to have it judged as an RFC 9068 access token",
        )),
    }
}

/// The `aud` claim as a list of strings, or why it is not one.
fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, String> {
    match claims.get("aud") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("aud is {}, not strings", Value::Array(a.clone()))),
        Some(other) => Err(format!(
            "aud is {other}, not a string or an array of strings"
        )),
        None => Err("no aud".into()),
    }
}

/// The space-separated scopes of a value, as a set.
fn scope_set(s: &str) -> BTreeSet<&str> {
    s.split(' ').filter(|x| !x.is_empty()).collect()
}

/// The scope this grant gave: the token response's `scope`, else (RFC 6749 §5.1: absent
/// means the one requested) the ID-JAG's.
fn granted_scope(seen: &JwtAccessTokenObservation) -> Option<String> {
    match seen.response.get("scope") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => seen.jag_scope.clone(),
    }
}

/// The header's problems (RFC 9068 §2.1, §4): `typ`, `alg`.
fn header_problems(header: &Map<String, Value>) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_at_typ(header.get("typ")) {
        problems.push(match header.get("typ") {
            Some(t) => format!("header typ is {t}, not at+jwt (RFC 9068 §2.1)"),
            None => "no typ header (at+jwt, RFC 9068 §2.1)".into(),
        });
    }
    match header.get("alg").and_then(Value::as_str) {
        Some(a) if a.eq_ignore_ascii_case("none") => {
            problems.push("alg is none: an unsigned access token (RFC 9068 §2.1)".into())
        }
        Some(_) => {}
        None => problems.push("no alg header".into()),
    }
    problems
}

/// Whether the token's signature verifies with a key of the RAS's JWKS (the one its `kid`
/// names, else any), or why not.
fn signature_problem(token: &str, header: &Map<String, Value>, jwks: &RasJwks) -> Option<String> {
    let (uri, jwks) = match jwks {
        RasJwks::Found { uri, jwks } => (uri, jwks),
        RasJwks::NoJwksUri => {
            return Some(
                "the signature cannot be verified: the RAS's metadata names no jwks_uri (RFC 9068 §4: resource servers take the keys from it)".into(),
            );
        }
        RasJwks::Unreadable(why) => {
            return Some(format!("the RAS's jwks_uri gives no JWKS: {why}"));
        }
        // Told apart by the judge before (SKIP, ERROR), or not needed.
        RasJwks::NoMetadata | RasJwks::NoAnswer(_) | RasJwks::NotFetched => return None,
    };
    let set: JwkSet = match serde_json::from_value(jwks.clone()) {
        Ok(s) => s,
        Err(e) => return Some(format!("the JWKS at {uri} is not a JWK set: {e}")),
    };
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Ok(alg) = Algorithm::from_str(alg_name) else {
        return Some(format!(
            "alg {alg_name} is no JWS algorithm a JWKS can verify"
        ));
    };
    if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Some(format!(
            "alg {alg_name} is symmetric: no resource server can verify it with the JWKS at {uri}"
        ));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let keys: Vec<&Jwk> = match kid {
        Some(k) => set
            .keys
            .iter()
            .filter(|j| j.common.key_id.as_deref() == Some(k))
            .collect(),
        None => set.keys.iter().collect(),
    };
    if keys.is_empty() {
        return Some(match kid {
            Some(k) => format!("kid {k} is not in the RAS's JWKS at {uri}"),
            None => format!("the RAS's JWKS at {uri} has no key"),
        });
    }
    let Some((message, signature)) = token.rsplit_once('.') else {
        return Some("the access token is no compact JWS".into());
    };
    let verified = keys.iter().any(|jwk| {
        DecodingKey::from_jwk(jwk).is_ok_and(|key| {
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg).unwrap_or(false)
        })
    });
    (!verified).then(|| {
        format!(
            "the signature ({alg_name}) does not verify with {} of the RAS's JWKS at {uri}",
            match kid {
                Some(k) => format!("its key {k}"),
                None => "any key".into(),
            }
        )
    })
}

/// The claims' problems (RFC 9068 §2.2): `iss` the RAS, `exp` a future NumericDate, `iat`,
/// `jti`, `sub`, `client_id` C1, `aud` naming each resource asked for, `scope` the granted.
fn claim_problems(
    claims: &Map<String, Value>,
    seen: &JwtAccessTokenObservation,
    now: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    match claims.get("iss") {
        Some(Value::String(i)) if *i == seen.issuer => {}
        Some(other) => problems.push(format!(
            "iss is {other}, not the RAS's issuer {}",
            seen.issuer
        )),
        None => problems.push("no iss".into()),
    }
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp > now as f64 => {}
        Some(exp) => problems.push(format!("exp {exp} has passed in a token just issued")),
        None => problems.push("no numeric exp".into()),
    }
    if claims.get("iat").and_then(Value::as_f64).is_none() {
        problems.push("no numeric iat".into());
    }
    for member in ["jti", "sub"] {
        match claims.get(member) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => problems.push(format!("{member} is {other}, not a non-empty string")),
            None => problems.push(format!("no {member}")),
        }
    }
    match claims.get("client_id") {
        Some(Value::String(c)) if *c == seen.client_id => {}
        Some(other) => problems.push(format!(
            "client_id is {other}, not the client it was issued to ({})",
            seen.client_id
        )),
        None => problems.push("no client_id".into()),
    }
    match audiences(claims) {
        Ok(aud) => {
            let missing: Vec<&str> = seen
                .resources
                .iter()
                .filter(|r| !aud.contains(r))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "aud {} does not name the resource granted ({})",
                    aud.join(" "),
                    missing.join(" ")
                ));
            }
        }
        Err(why) => problems.push(why),
    }
    if let Some(granted) = granted_scope(seen).filter(|g| !scope_set(g).is_empty()) {
        match claims.get("scope") {
            Some(Value::String(s)) if scope_set(s) == scope_set(&granted) => {}
            Some(other) => problems.push(format!(
                "scope is {other}, not the scope granted ({granted})"
            )),
            None => problems.push(format!("no scope claim (granted: {granted})")),
        }
    }
    problems
}

/// Judges the observation by `rule` at `level`, `now` in seconds since the epoch.
pub fn judge_jwt_access_token(
    level: Level,
    rule: JwtAccessTokenRule,
    seen: &JwtAccessTokenObservation,
    now: i64,
) -> Judgement {
    if let Some(skip) = not_applicable(seen.declared, &seen.access_token) {
        return skip;
    }
    let Some((header, claims)) = decode(&seen.access_token) else {
        return match rule {
            JwtAccessTokenRule::Claims => judged(
                level.violation(),
                "the access token is no JWS (three base64url segments, the first two JSON objects), though the target declares JWT access tokens",
            ),
            JwtAccessTokenRule::Audience => judged(
                Verdict::Skip,
                "not applicable: the access token is no JWS, so it has no aud (RESP-07 judges its form)",
            ),
        };
    };
    match rule {
        JwtAccessTokenRule::Claims => {
            match &seen.jwks {
                RasJwks::NoMetadata => {
                    return judged(
                        Verdict::Skip,
                        "not applicable: no metadata document, so no jwks_uri to verify the access token with (META-01 judges the metadata)",
                    );
                }
                RasJwks::NoAnswer(why) => {
                    return judged(
                        Verdict::Error,
                        format!("the RAS's jwks_uri: no answer: {why}"),
                    );
                }
                _ => {}
            }
            let mut problems = header_problems(&header);
            let alg_none = header
                .get("alg")
                .and_then(Value::as_str)
                .is_some_and(|a| a.eq_ignore_ascii_case("none"));
            if !alg_none {
                problems.extend(signature_problem(&seen.access_token, &header, &seen.jwks));
            }
            problems.extend(claim_problems(&claims, seen, now));
            if problems.is_empty() {
                judged(
                    Verdict::Pass,
                    "the JWT access token verifies against the RAS's JWKS, typ at+jwt, with iss, exp, aud, sub, client_id, iat, jti and scope as granted (RFC 9068 §2)",
                )
            } else {
                judged(level.violation(), problems.join("; "))
            }
        }
        JwtAccessTokenRule::Audience => {
            if seen.resources.is_empty() {
                return judged(
                    Verdict::Skip,
                    "not applicable: the valid ID-JAG names no resource (`resource` in the target file)",
                );
            }
            let want: BTreeSet<&str> = seen.resources.iter().map(String::as_str).collect();
            match audiences(&claims) {
                Ok(aud) if aud.iter().map(String::as_str).collect::<BTreeSet<_>>() == want => {
                    judged(
                        Verdict::Pass,
                        format!("aud is the resource asked for ({})", aud.join(" ")),
                    )
                }
                Ok(aud) => judged(
                    level.violation(),
                    format!(
                        "aud is {}, not the resource asked for ({}) (RFC 9068 §3)",
                        aud.join(" "),
                        seen.resources.join(" ")
                    ),
                ),
                Err(why) => judged(level.violation(), format!("{why} (RFC 9068 §3)")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jose::keys::{KeyAlg, SigningKey};
    use crate::jose::mint::sign_jwt;

    const ISS: &str = "https://ras.example";
    const R1: &str = "https://ras.example/api/r1";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "iss": ISS, "aud": R1, "exp": NOW + 600, "iat": NOW, "jti": "j1",
            "sub": "U1", "client_id": "c1", "scope": "s.read s.write",
        }) else {
            unreachable!()
        };
        m
    }

    fn seen(key: &SigningKey, token: String) -> JwtAccessTokenObservation {
        JwtAccessTokenObservation {
            declared: Some(AccessTokenFormat::Jwt),
            access_token: token,
            response: Map::new(),
            issuer: ISS.into(),
            client_id: "c1".into(),
            resources: vec![R1.into()],
            jag_scope: Some("s.write s.read".into()),
            jwks: RasJwks::Found {
                uri: format!("{ISS}/jwks"),
                jwks: json!({ "keys": [key.public_jwk()] }),
            },
        }
    }

    fn judge(rule: JwtAccessTokenRule, seen: &JwtAccessTokenObservation) -> Judgement {
        judge_jwt_access_token(Level::Must, rule, seen, NOW)
    }

    #[test]
    fn a_compliant_token_passes_both_rules() {
        let key = SigningKey::generate(KeyAlg::RS256).expect("key");
        let s = seen(
            &key,
            sign_jwt(&key, Some("at+jwt"), &claims()).expect("jwt"),
        );
        assert_eq!(
            judge(JwtAccessTokenRule::Claims, &s).verdict,
            Verdict::Pass,
            "{:?}",
            judge(JwtAccessTokenRule::Claims, &s)
        );
        assert_eq!(
            judge(JwtAccessTokenRule::Audience, &s).verdict,
            Verdict::Pass
        );
        // application/at+jwt, any case, is the same type.
        let s = seen(
            &key,
            sign_jwt(&key, Some("Application/AT+JWT"), &claims()).expect("jwt"),
        );
        assert_eq!(judge(JwtAccessTokenRule::Claims, &s).verdict, Verdict::Pass);
    }

    #[test]
    fn each_departure_fails_the_claims_rule() {
        let key = SigningKey::generate(KeyAlg::RS256).expect("key");
        let other = SigningKey::generate(KeyAlg::RS256).expect("key");
        let mut no_client = claims();
        no_client.remove("client_id");
        let mut issuer_aud = claims();
        issuer_aud.insert("aud".into(), json!(ISS));
        let mut narrow = claims();
        narrow.insert("scope".into(), json!("s.read"));
        let cases = [
            (sign_jwt(&key, Some("JWT"), &claims()).expect("jwt"), "typ"),
            (
                sign_jwt(&key, Some("at+jwt"), &no_client).expect("jwt"),
                "client_id",
            ),
            (
                sign_jwt(&key, Some("at+jwt"), &issuer_aud).expect("jwt"),
                "aud",
            ),
            (
                sign_jwt(&key, Some("at+jwt"), &narrow).expect("jwt"),
                "scope",
            ),
            (
                sign_jwt(&other, Some("at+jwt"), &claims()).expect("jwt"),
                "not in the RAS's JWKS",
            ),
        ];
        for (token, what) in cases {
            let j = judge(JwtAccessTokenRule::Claims, &seen(&key, token));
            assert_eq!(j.verdict, Verdict::Fail, "{what}: {j:?}");
            assert!(j.reason.contains(what), "{what}: {}", j.reason);
        }
        // alg none, unsigned.
        let token = format!(
            "{}.{}.",
            jws::b64(r#"{"alg":"none","typ":"at+jwt"}"#),
            jws::b64(Value::Object(claims()).to_string())
        );
        let j = judge(JwtAccessTokenRule::Claims, &seen(&key, token));
        assert!(
            j.verdict == Verdict::Fail && j.reason.contains("alg is none"),
            "{j:?}"
        );
    }

    #[test]
    fn audience_is_warned_when_it_names_more_and_skipped_without_a_resource() {
        let key = SigningKey::generate(KeyAlg::RS256).expect("key");
        let mut more = claims();
        more.insert("aud".into(), json!([R1, ISS]));
        let s = seen(&key, sign_jwt(&key, Some("at+jwt"), &more).expect("jwt"));
        assert_eq!(judge(JwtAccessTokenRule::Claims, &s).verdict, Verdict::Pass);
        let j = judge_jwt_access_token(Level::Should, JwtAccessTokenRule::Audience, &s, NOW);
        assert_eq!(j.verdict, Verdict::Warn, "{j:?}");
        let mut none = s.clone();
        none.resources.clear();
        assert_eq!(
            judge(JwtAccessTokenRule::Audience, &none).verdict,
            Verdict::Skip
        );
    }

    #[test]
    fn applicability_follows_the_declaration_then_the_token() {
        let key = SigningKey::generate(KeyAlg::RS256).expect("key");
        let jwt = sign_jwt(&key, Some("at+jwt"), &claims()).expect("jwt");
        let typ_jwt = sign_jwt(&key, Some("JWT"), &claims()).expect("jwt");
        assert!(not_applicable(None, &jwt).is_none());
        let skip = not_applicable(None, &typ_jwt).expect("skip");
        assert!(skip.verdict == Verdict::Skip && skip.reason.contains("`access_token_format"));
        assert!(not_applicable(None, "opaque-random").is_some());
        let opaque = not_applicable(Some(AccessTokenFormat::Opaque), &jwt).expect("skip");
        assert!(opaque.reason.contains("access_token_format: opaque"));
        assert!(not_applicable(Some(AccessTokenFormat::Jwt), "opaque-random").is_none());
        // Declared jwt, but no JWS: the claims rule fails.
        let mut s = seen(&key, "opaque-random".into());
        s.declared = Some(AccessTokenFormat::Jwt);
        assert_eq!(judge(JwtAccessTokenRule::Claims, &s).verdict, Verdict::Fail);
        assert_eq!(
            judge(JwtAccessTokenRule::Audience, &s).verdict,
            Verdict::Skip
        );
    }
}
