//! What the reference records of an access token it issued, for its resource API, whoami
//! and introspection (and, for a JWT access token, what the token itself carries).

use std::time::Instant;

/// An access token the reference issued, for the resource API.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The local account.
    pub user: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Resources it is restricted to (empty: none named).
    pub resources: Vec<String>,
    /// When it stops being valid.
    pub expires: Instant,
    /// When it was issued (seconds since the epoch).
    pub issued_at: i64,
    /// The thumbprint of the DPoP key it is bound to (RFC 9449 §6), when it is.
    pub jkt: Option<String>,
}
