//! Defect switches of the reference RAS: each changes one named validation step, the way a
//! real server gets it wrong, and declares exactly which checks it breaks.
//!
//! A defect never looks at scenario IDs or test values. The matrix test runs the suite
//! against each one and asserts that exactly its declared checks leave PASS.

use std::fmt;
use std::str::FromStr;

use crate::spec::Verdict;

/// A way the reference RAS can be made wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Defect {
    /// Skips the `aud` comparison (ID-JAG §4.4.1).
    AcceptAnyAud,
    /// Looks up the key but never verifies the signature.
    SkipSignatureCheck,
    /// Takes `alg: none` tokens as valid without a signature.
    AcceptAlgNone,
    /// Verifies HS256 tokens with the issuer's RSA public key (PEM) as the HMAC secret.
    Hs256KeyConfusion,
    /// Does not refuse unlisted issuers: fetches their keys from their own discovery
    /// document and resolves their subjects in the first trusted issuer's namespace.
    TrustAnyIssuer,
    /// Skips the `typ` header check (ID-JAG §3.1, RFC 8725 §3.11).
    IgnoreTyp,
    /// Skips the `exp` check.
    IgnoreExp,
    /// Provisions a new account for an unknown `sub` instead of refusing.
    AcceptUnknownSub,
    /// Skips the `client_id` claim versus authenticated client comparison.
    IgnoreClientId,
    /// Ignores the `resource` claim.
    IgnoreResource,
    /// Leaves `Cache-Control: no-store` off token responses.
    NoCacheControl,
    /// Issues a refresh token with the access token.
    IssueRefreshToken,
    /// Answers `token_type: N_A` (the token-exchange value) instead of `Bearer`.
    TokenTypeNA,
}

impl Defect {
    /// Every defect.
    pub const ALL: [Defect; 13] = [
        Defect::AcceptAnyAud,
        Defect::SkipSignatureCheck,
        Defect::AcceptAlgNone,
        Defect::Hs256KeyConfusion,
        Defect::TrustAnyIssuer,
        Defect::IgnoreTyp,
        Defect::IgnoreExp,
        Defect::AcceptUnknownSub,
        Defect::IgnoreClientId,
        Defect::IgnoreResource,
        Defect::NoCacheControl,
        Defect::IssueRefreshToken,
        Defect::TokenTypeNA,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Defect::AcceptAnyAud => "accept-any-aud",
            Defect::SkipSignatureCheck => "skip-signature-check",
            Defect::AcceptAlgNone => "accept-alg-none",
            Defect::Hs256KeyConfusion => "hs256-key-confusion",
            Defect::TrustAnyIssuer => "trust-any-issuer",
            Defect::IgnoreTyp => "ignore-typ",
            Defect::IgnoreExp => "ignore-exp",
            Defect::AcceptUnknownSub => "accept-unknown-sub",
            Defect::IgnoreClientId => "ignore-client-id",
            Defect::IgnoreResource => "ignore-resource",
            Defect::NoCacheControl => "no-cache-control",
            Defect::IssueRefreshToken => "issue-refresh-token",
            Defect::TokenTypeNA => "token-type-n-a",
        }
    }

    /// What the server wrongly does, in one line.
    pub fn description(self) -> &'static str {
        match self {
            Defect::AcceptAnyAud => "accepts an ID-JAG whatever its aud",
            Defect::SkipSignatureCheck => "finds the key but never verifies the signature",
            Defect::AcceptAlgNone => "accepts unsigned alg-none tokens",
            Defect::Hs256KeyConfusion => {
                "verifies HS256 with the issuer's RSA public key PEM as HMAC secret"
            }
            Defect::TrustAnyIssuer => {
                "trusts any issuer, fetching its keys from its own discovery document"
            }
            Defect::IgnoreTyp => "does not check the typ header",
            Defect::IgnoreExp => "does not check exp",
            Defect::AcceptUnknownSub => "provisions an account for an unknown sub",
            Defect::IgnoreClientId => {
                "does not compare the client_id claim with the authenticated client"
            }
            Defect::IgnoreResource => "ignores the resource claim",
            Defect::NoCacheControl => "omits Cache-Control: no-store on token responses",
            Defect::IssueRefreshToken => "issues a refresh token",
            Defect::TokenTypeNA => "answers token_type N_A instead of Bearer",
        }
    }

    /// The checks this defect moves off PASS, with the verdict each must get.
    pub fn breaks(self) -> &'static [(&'static str, Verdict)] {
        match self {
            Defect::AcceptAnyAud => &[("JAG-AUD-02", Verdict::Fail)],
            Defect::SkipSignatureCheck => &[("JAG-SIG-03", Verdict::Fail)],
            Defect::AcceptAlgNone => &[("JAG-SIG-01", Verdict::Fail)],
            Defect::Hs256KeyConfusion => &[("JAG-SIG-04", Verdict::Fail)],
            Defect::TrustAnyIssuer => &[("JAG-ISS-02", Verdict::Fail)],
            Defect::IgnoreTyp => &[("JAG-HDR-02", Verdict::Fail), ("JAG-HDR-05", Verdict::Fail)],
            Defect::IgnoreExp => &[("JAG-TIME-02", Verdict::Fail)],
            Defect::AcceptUnknownSub => &[("JAG-SUB-02", Verdict::Fail)],
            Defect::IgnoreClientId => &[("JAG-CID-01", Verdict::Fail)],
            Defect::IgnoreResource => &[("JAG-RES-01", Verdict::Fail)],
            Defect::NoCacheControl => &[("BASE-02", Verdict::Fail)],
            Defect::IssueRefreshToken => &[("BASE-05", Verdict::Warn)],
            // BASE-02 and BASE-05 depend on BASE-01, so they are SKIP when it fails.
            Defect::TokenTypeNA => &[
                ("BASE-01", Verdict::Fail),
                ("BASE-02", Verdict::Skip),
                ("BASE-05", Verdict::Skip),
            ],
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Defect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Defect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
                format!("unknown defect `{s}`; valid defects: {}", names.join(", "))
            })
    }
}
