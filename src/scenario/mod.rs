//! Scenarios: one check each, written in YAML, loaded with file:line:column diagnostics.
//!
//! The catalogue under `scenarios/` is compiled into the binary; `--scenarios DIR` loads
//! another folder instead.

mod load;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fixture::ClientAuthMethod;
use crate::jose::JagMutation;
use crate::oracle::Expect;
use crate::spec::Requirement;

pub use load::{LoadedScenario, embedded, filter, load_dir};

/// How the requesting app obtains the ID-JAG it sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Obtain {
    /// Minted by the suite with the trusted issuer's key (the default; fast).
    #[default]
    Mint,
    /// The real way: sign in at the fake IdP, then exchange the ID token at its RFC 8693
    /// token endpoint for an ID-JAG.
    TokenExchange,
}

/// Changes to the token request itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestChange {
    /// Authenticate this way instead of the target's default.
    #[serde(default)]
    pub client_auth: Option<ClientAuthMethod>,
    /// Extra form parameters (placeholders allowed).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// One check: what to send and what the server must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Check ID: the requirement ID of requirements.md, e.g. `JAG-AUD-02`.
    pub id: String,
    /// What the check verifies, as a sentence.
    pub title: String,
    /// Level and source of the rule.
    pub requirement: Requirement,
    /// Areas, for filtering and grouping (`claims`, `aud`, …).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Checks that must PASS first; otherwise this one is SKIP.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// How the ID-JAG is obtained.
    #[serde(default)]
    pub obtain: Obtain,
    /// Changes to the valid ID-JAG (none: the valid one).
    #[serde(default)]
    pub jag: JagMutation,
    /// Changes to the token request.
    #[serde(default)]
    pub request: RequestChange,
    /// What the server must do.
    pub expect: Expect,
}

/// The JSON Schema of scenario files, for editors (`# yaml-language-server: $schema=…`).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).unwrap_or_default()
}
