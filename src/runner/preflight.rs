//! The preflight's conduct: before any check, one valid ID-JAG for C1 with the default
//! algorithm, while the fake IdP's log shows whether the RAS fetched the trusted issuer's
//! JWKS. The decision is [`crate::preflight::diagnose`]'s.

use super::RunContext;
use super::request::{redact_issued_tokens, token_request_for};
use crate::jose::mint::{mint, unix_now};
use crate::jose::{IssuerRole, JagMutation};
use crate::oracle::classify;
use crate::oracle::{Preflight, PreflightObservation, diagnose};
use crate::report::model::Exchange;
use crate::scenario::RequestChange;

/// Sends the valid ID-JAG and decides; the exchange (tokens redacted) is the evidence.
pub async fn run(ctx: &RunContext) -> (Preflight, Option<Exchange>) {
    let f = &ctx.fixture;
    let valid = JagMutation {
        alg: Some(f.default_alg()),
        ..Default::default()
    };
    let minted = match mint(&ctx.keyring, &f.baseline(), &valid, unix_now()) {
        Ok(m) => m,
        Err(e) => {
            return (
                Preflight::Stop {
                    diagnosis: format!("cannot mint the valid ID-JAG: {e}"),
                },
                None,
            );
        }
    };
    let request = match token_request_for(ctx, &RequestChange::default(), &minted.token, None) {
        Ok(r) => r,
        Err(e) => {
            return (
                Preflight::Stop {
                    diagnosis: format!("cannot build the valid token request: {e}"),
                },
                None,
            );
        }
    };
    let mark = match &ctx.hits {
        Some(h) => h.mark().await.ok(),
        None => None,
    };
    let mut exchange = ctx
        .http
        .token_request("preflight", &f.token_endpoint, &request)
        .await;
    let trusted = f
        .issuers
        .get(&IssuerRole::Trusted)
        .cloned()
        .unwrap_or_default();
    let jwks_url = format!("{trusted}/jwks");
    let issuer_path = format!("/{}", IssuerRole::Trusted.path());
    // Without the IdP's log nothing can be said about fetches: assume the best, so that the
    // run goes on rather than stopping on a guess.
    let (fetched_jwks, contacted_issuer) = match (&ctx.hits, mark) {
        (Some(hits), Some(mark)) => {
            let seen = hits.since(mark).await.unwrap_or_default();
            (
                seen.iter()
                    .any(|h| h.path.ends_with(&format!("{issuer_path}/jwks"))),
                seen.iter().any(|h| h.path.contains(&issuer_path)),
            )
        }
        _ => (true, true),
    };
    let outcome = classify(&exchange);
    let decision = diagnose(&PreflightObservation {
        exchange: &exchange,
        outcome: &outcome,
        fetched_jwks,
        contacted_issuer,
        trusted_issuer: &trusted,
        jwks_url: &jwks_url,
        client_id: &f.client.id,
        ras_issuer: &f.ras_issuer,
        subject: &f.subject,
    });
    redact_issued_tokens(std::slice::from_mut(&mut exchange));
    (decision, Some(exchange))
}
