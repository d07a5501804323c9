//! The scenario's `dpop:` block: a DPoP check (RFC 9449; ID-JAG §9.8) states whether the
//! ID-JAG is bound to the requesting app's DPoP key, which proof the probe carries and by
//! which key, and what the resource-API step presents.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::jose::dpop::ProofChoice;

/// Which key signs the probe's proof.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofKey {
    /// The requesting app's DPoP key K, the one a bound ID-JAG names (default).
    #[default]
    Own,
    /// Another key K′: a valid proof of a key the ID-JAG is not bound to.
    Other,
}

/// How the resource-API step presents a DPoP-bound access token (RFC 9449 §7). The step first
/// presents it correctly (`Authorization: DPoP` and a proof with `ath`), which must be
/// accepted, then as named here, which must be refused with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiPresentation {
    /// `Authorization: Bearer` and no proof.
    Bearer,
    /// The DPoP scheme, with a proof by another key.
    OtherKey,
    /// The DPoP scheme, with a proof whose `ath` is another token's hash.
    WrongAth,
    /// The DPoP scheme, with a proof without `ath`.
    NoAth,
    /// The DPoP scheme, without a proof.
    NoProof,
}

impl ApiPresentation {
    /// What the presentation is, for reasons.
    pub fn describe(self) -> &'static str {
        match self {
            ApiPresentation::Bearer => "the DPoP-bound token as a Bearer token",
            ApiPresentation::OtherKey => "the DPoP-bound token with a proof by another key",
            ApiPresentation::WrongAth => {
                "the DPoP-bound token with a proof for another token (ath)"
            }
            ApiPresentation::NoAth => "the DPoP-bound token with a proof without ath",
            ApiPresentation::NoProof => "the DPoP-bound token without a proof",
        }
    }
}

/// What a DPoP check sends. The check is SKIP when the target declares no DPoP support
/// (`dpop: supported`), unless `any_target`. Its positive control keeps the probe's ID-JAG
/// changes and binding, and sends a valid proof by K with the standard request; a nonce the
/// RAS asks for (`use_dpop_nonce` and `DPoP-Nonce`, RFC 9449 §8) is sent in one retry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DpopStep {
    /// The ID-JAG carries `cnf: { jkt }`, the thumbprint of the requesting app's DPoP key K
    /// (ID-JAG §9.8.1.1): minted so, or obtained so from the fake IdP's token exchange.
    #[serde(default)]
    pub bind: bool,
    /// The DPoP proof the probe carries (default a valid one).
    #[serde(default)]
    pub proof: ProofChoice,
    /// The key that signs the probe's proof (default K).
    #[serde(default)]
    pub key: ProofKey,
    /// The check runs against a target without DPoP too: its positive control is then the
    /// valid ID-JAG, unbound and without a proof.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_target: bool,
    /// After the token is issued, present it at the resource API (`api.r1`) this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiPresentation>,
    /// The access token should be bound to the proof's key (`token_type: DPoP`): WARN when it
    /// is not (ID-JAG §9.8.1.2.1 step 5: it SHOULD be bound to the same key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bound_token: bool,
    /// Judge the `token_type` of the answer (RFC 9449 §5; RESP-02): `DPoP` or `Bearer`, and
    /// a token said to be `Bearer` must work as one at the resource API.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_type: bool,
}

impl DpopStep {
    /// One line naming what the probe sends, e.g. `a key-bound ID-JAG with no DPoP proof`.
    pub fn describe(&self) -> String {
        let jag = if self.bind {
            "a key-bound ID-JAG (cnf.jkt)"
        } else {
            "an unbound ID-JAG"
        };
        let key = match (self.key, self.proof) {
            (_, ProofChoice::None) | (ProofKey::Own, _) => "",
            (ProofKey::Other, _) => " by another key",
        };
        format!("{jag} with {}{key}", self.proof.describe())
    }
}
