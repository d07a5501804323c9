//! The refusal of a token request by the reference's validation: status, RFC 6749 §5.2 error
//! code and description (its own module so that the validation steps and the JWKS cache share
//! it without importing each other).

/// A refusal: HTTP status, the RFC 6749 §5.2 error code and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status (400 unless a defect says otherwise).
    pub status: u16,
    /// `error`.
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

/// `invalid_grant` (400).
pub(super) fn invalid_grant(description: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        error: "invalid_grant",
        description: description.into(),
    }
}

/// `server_error` (500).
pub(super) fn server_error(description: impl Into<String>) -> Refusal {
    Refusal {
        status: 500,
        error: "server_error",
        description: description.into(),
    }
}
