//! The control API of a fake IdP started by `idp serve`, so that `run --target` can use an
//! IdP that is already running (one the RAS is configured for) and still set the conditions
//! its checks need (key rotation, JWKS faults) and read who fetched what.
//!
//! The API listens on loopback only and takes a bearer token made at start. [`server`] serves
//! it over the IdP's state; [`client`] is the run's side, and [`IdpLog`] is what checks use,
//! the same for the IdP a run starts itself and for a running one.

pub mod client;
pub mod server;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use client::{ControlError, RemoteIdp};

use crate::idp::{Hit, HitLog};
use crate::jose::KeyAlg;
use crate::protocol::{IdpCondition, IssuerRole};

/// What a running IdP says about itself (`GET /state`): where its issuers live, the `kid`s
/// of its keys (the run must sign with the same ones), the requesting app's registration and
/// the CA that signed its HTTPS certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlState {
    /// The base URL its issuers are under.
    pub base_url: String,
    /// Every issuer identifier.
    pub issuers: BTreeMap<IssuerRole, String>,
    /// File name and `kid` of every key it was started with (see `Keyring::file_kids`).
    pub kids: Vec<(String, String)>,
    /// The requesting app's client id at the IdP.
    pub app_client_id: String,
    /// The requesting app's secret at the IdP.
    pub app_secret: String,
    /// The CA certificate (PEM) of its HTTPS certificate, when it serves HTTPS.
    pub ca_pem: Option<String>,
}

/// `GET /hits?since=N`: the requests after the `N`th, and how many there are in all.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HitsSince {
    /// How many requests the IdP has received (the next mark).
    pub total: usize,
    /// The requests after the mark.
    pub hits: Vec<Hit>,
}

/// `PUT /audience`: an audience the token exchange issues ID-JAGs for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Audience {
    /// The RAS issuer.
    pub audience: String,
    /// The requesting app's client id there.
    pub client_id: String,
}

/// `PUT /jag-alg`: the algorithm of the token exchange's ID-JAGs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JagAlg {
    /// The algorithm.
    pub alg: KeyAlg,
}

/// The fake IdP as checks see it: its request log and its conditions, whether the run
/// started it in-process or it runs in `idp serve` behind its control API.
#[derive(Clone)]
pub enum IdpLog {
    /// The IdP this process serves.
    Local(HitLog),
    /// A running IdP, through its control API.
    Remote(RemoteIdp),
}

impl IdpLog {
    /// The current end of the request log.
    pub async fn mark(&self) -> Result<usize, ControlError> {
        match self {
            IdpLog::Local(h) => Ok(h.mark()),
            IdpLog::Remote(r) => r.hits_since(usize::MAX).await.map(|h| h.total),
        }
    }

    /// The requests received after `mark`.
    pub async fn since(&self, mark: usize) -> Result<Vec<Hit>, ControlError> {
        match self {
            IdpLog::Local(h) => Ok(h.since(mark)),
            IdpLog::Remote(r) => r.hits_since(mark).await.map(|h| h.hits),
        }
    }

    /// Serves `condition` until [`IdpLog::reset`]; applied when this returns.
    pub async fn set_condition(&self, condition: IdpCondition) -> Result<(), ControlError> {
        match self {
            IdpLog::Local(h) => {
                h.set_condition(condition);
                Ok(())
            }
            IdpLog::Remote(r) => r.set_condition(condition).await,
        }
    }

    /// Restores the normal IdP. A running IdP is told in order: a condition set after this
    /// call is applied after the reset.
    pub fn reset(&self) {
        match self {
            IdpLog::Local(h) => h.reset(),
            IdpLog::Remote(r) => r.reset(),
        }
    }
}
