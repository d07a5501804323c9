//! JAG-ISS-05's conduct: a valid ID-JAG obtains an access token, the target's own IdP
//! (`also_idp`) exchanges that access token for an ID-JAG addressed to the RAS (RFC 8693),
//! and that ID-JAG is presented; the oracle judges ([`oracle::judge_own_id_jag`]).

use serde_json::Value;

use super::RunContext;
use super::request::{
    CLIENT_SECRET_ENV, access_token_of, json_body, mint_and_present, present, token_request,
};
use crate::client::ClientCredentials;
use crate::jose::JagMutation;
use crate::oracle::{self, BuildError, Incomplete, Outcome, OwnIdJagObservation};
use crate::protocol::{ID_JAG_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::report::model::{Exchange, SentToken};
use crate::scenario::Scenario;

/// RFC 8693 §3: the token type of an OAuth access token given as `subject_token`.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Sends the control (a valid ID-JAG), exchanges its access token at the target's own IdP,
/// and presents the ID-JAG it issues. SKIP (not applicable) when the target declares no
/// `also_idp`.
pub(super) async fn own_id_jag(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
    token: &mut Option<SentToken>,
) -> Result<OwnIdJagObservation, Incomplete> {
    let f = &ctx.fixture;
    let own = f.also_idp.as_ref().ok_or_else(|| {
        BuildError::NotApplicable(
            "the target declares no also_idp (`also_idp: { issuer, token_endpoint }`: the RAS \
             product is also the IdP of its own trust domain)"
                .into(),
        )
    })?;
    let (_, control) =
        mint_and_present(ctx, sc, &JagMutation::default(), "control", exchanges).await?;
    if !matches!(control, Outcome::Accepted { .. }) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    let access_token = access_token_of(&control);
    let mut pairs = vec![
        ("grant_type".to_string(), TOKEN_EXCHANGE.to_string()),
        ("requested_token_type".into(), ID_JAG_TOKEN_TYPE.into()),
        ("audience".into(), f.ras_issuer.clone()),
        ("subject_token".into(), access_token.to_string()),
        ("subject_token_type".into(), ACCESS_TOKEN_TYPE.into()),
    ];
    if let Some(r) = &f.resource {
        pairs.push(("resource".into(), r.clone()));
    }
    if let Some(s) = &f.scope {
        pairs.push(("scope".into(), s.clone()));
    }
    let c1 = ClientCredentials {
        id: f.client.id.clone(),
        secret: f.client.secret.clone(),
        method: f.client.auth.into(),
        secret_env: CLIENT_SECRET_ENV.into(),
    };
    let ex = ctx
        .http
        .post_form(
            "own-idp-token-exchange",
            &own.token_endpoint,
            &pairs,
            Some(&c1),
        )
        .await;
    let body = json_body(&ex);
    let summary = oracle::summarize(&oracle::classify(&ex));
    exchanges.push(ex);
    let jag = body.as_ref().and_then(|b| {
        (b.get("issued_token_type").and_then(Value::as_str) == Some(ID_JAG_TOKEN_TYPE))
            .then(|| b.get("access_token").and_then(Value::as_str))
            .flatten()
            .map(str::to_string)
    });
    let Some(jag) = jag else {
        return Ok(OwnIdJagObservation::NotIssued(summary));
    };
    let (header, claims) = crate::jose::jws::decode_for_display(&jag);
    *token = Some(SentToken {
        token: jag.clone(),
        header,
        claims,
        mutation: format!("issued by the target's own IdP {}", own.issuer),
    });
    let (ex, probe) = present(ctx, "probe", &token_request(ctx, sc, &jag, None)?).await;
    exchanges.push(ex);
    Ok(OwnIdJagObservation::Probed(probe))
}
