//! RESP-07 and RESP-08: obtains the access token a valid ID-JAG gets and, for the claims
//! rule, the RAS's JWKS from its metadata's `jwks_uri` (I/O, so here); the oracle verifies
//! and judges (`oracle::jwt_access_token`).

use serde_json::Value;

use super::RunContext;
use super::request::{access_token_of, json_body, mint_and_present, sent};
use crate::oracle::{
    self, Incomplete, JwtAccessTokenObservation, JwtAccessTokenRule, Outcome, RasJwks,
};
use crate::report::model::{Exchange, SentToken};
use crate::scenario::Scenario;

/// Obtains the access token of the scenario's ID-JAG, and the RAS's JWKS when `rule` needs
/// it and the token is to be judged as a JWT.
pub(super) async fn observe(
    ctx: &RunContext,
    sc: &Scenario,
    rule: JwtAccessTokenRule,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<JwtAccessTokenObservation, Incomplete> {
    let (m, o) = mint_and_present(ctx, sc, &sc.jag, "probe", exchanges).await?;
    *token = Some(sent(&m, &sc.describe()));
    let access_token = access_token_of(&o).to_string();
    let Outcome::Accepted { body } = &o else {
        return Err(Incomplete::ControlNotAccepted(o));
    };
    let declared = ctx.fixture.access_token_format;
    let judged_as_jwt = oracle::jwt_access_token::not_applicable(declared, &access_token).is_none();
    let jwks = if rule == JwtAccessTokenRule::Claims && judged_as_jwt {
        ras_jwks(ctx, exchanges).await
    } else {
        RasJwks::NotFetched
    };
    let resources = match m.claims.get("resource") {
        Some(Value::String(r)) => vec![r.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Ok(JwtAccessTokenObservation {
        declared,
        access_token,
        response: body.clone(),
        issuer: ctx.fixture.ras_issuer.clone(),
        client_id: ctx.fixture.client.id.clone(),
        resources,
        jag_scope: m
            .claims
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_string),
        jwks,
    })
}

/// The RAS's JWKS: the first metadata document found (RFC 8414 path-aware, root, OpenID
/// discovery), its `jwks_uri`, and what that answers.
async fn ras_jwks(ctx: &RunContext, exchanges: &mut Vec<Exchange>) -> RasJwks {
    for (_, url) in super::metadata_locations(&ctx.fixture.ras_issuer) {
        let ex = ctx.http.get("metadata", &url).await;
        if ex.response.is_none() {
            let why = ex.error.clone().unwrap_or_default();
            exchanges.push(ex);
            return RasJwks::NoAnswer(format!("metadata at {url}: {why}"));
        }
        if !oracle::is_metadata_document(&ex) {
            continue;
        }
        let uri = json_body(&ex).and_then(|m| {
            m.get("jwks_uri")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        exchanges.push(ex);
        let Some(uri) = uri else {
            return RasJwks::NoJwksUri;
        };
        let ex = ctx.http.get("jwks", &uri).await;
        let found = match (&ex.response, json_body(&ex)) {
            (None, _) => RasJwks::NoAnswer(ex.error.clone().unwrap_or_default()),
            (Some(_), Some(jwks)) => RasJwks::Found {
                uri,
                jwks: Value::Object(jwks),
            },
            (Some(r), None) => {
                RasJwks::Unreadable(format!("{uri} answered {} without a JSON object", r.status))
            }
        };
        exchanges.push(ex);
        return found;
    }
    RasJwks::NoMetadata
}
