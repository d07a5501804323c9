//! REQ-10's conduct: the valid token request over the token endpoint (the control), then the
//! same request, with a fresh ID-JAG, to its plain-http address (`token_endpoint_http`).

use super::RunContext;
use super::request::{mint_jag, present, token_request};
use crate::jose::JagMutation;
use crate::jose::mint::unix_now as now_secs;
use crate::oracle::{BuildError, Incomplete, Outcome, classify};
use crate::report::model::Exchange;
use crate::scenario::Scenario;

/// Sends the control and the cleartext probe; returns the plain-http URL and the probe's
/// answer. SKIP (not applicable) when the target declares no `token_endpoint_http`.
pub(super) async fn cleartext(
    ctx: &RunContext,
    sc: &Scenario,
    exchanges: &mut Vec<Exchange>,
) -> Result<(String, Outcome), Incomplete> {
    let url = ctx.fixture.token_endpoint_http.clone().ok_or_else(|| {
        BuildError::NotApplicable(
            "the target declares no token_endpoint_http (the plain-http address of its https \
             token endpoint, when one answers)"
                .into(),
        )
    })?;
    let mint = || {
        mint_jag(ctx, &JagMutation::default(), now_secs())
            .map_err(|e| BuildError::Internal(format!("could not mint the ID-JAG: {e}")))
    };
    let valid = mint()?;
    let (ex, control) = present(ctx, "control", &token_request(ctx, sc, &valid.token, None)?).await;
    exchanges.push(ex);
    if !matches!(control, Outcome::Accepted { .. }) {
        return Err(Incomplete::ControlNotAccepted(control));
    }
    let probe = mint()?;
    let req = token_request(ctx, sc, &probe.token, None)?;
    let ex = ctx.http.token_request("probe", &url, &req).await;
    let outcome = classify(&ex);
    exchanges.push(ex);
    Ok((url, outcome))
}
