//! Defect switches of the reference RAS: each changes one named validation step, the way a
//! real server gets it wrong, and declares exactly which checks it breaks.
//!
//! A defect never looks at scenario IDs or test values. The matrix test runs the suite
//! against each one and asserts that exactly its declared checks leave PASS.

use std::fmt;
use std::str::FromStr;

use crate::spec::Verdict;
use crate::spec::Verdict::{Fail, Pass, Skip, Warn};

macro_rules! defects {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $desc:literal, [$(($check:literal, $verdict:expr)),+ $(,)?]; )+) => {
        /// A way the reference RAS can be made wrong on purpose.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Defect {
            $( $(#[$doc])* $variant, )+
        }

        impl Defect {
            /// Every defect.
            pub const ALL: &'static [Defect] = &[$(Defect::$variant),+];

            /// The kebab-case name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Defect::$variant => $name,)+ }
            }

            /// What the server wrongly does, in one line.
            pub fn description(self) -> &'static str {
                match self { $(Defect::$variant => $desc,)+ }
            }

            /// The checks this defect moves off PASS, with the verdict each must get.
            pub fn breaks(self) -> &'static [(&'static str, Verdict)] {
                match self { $(Defect::$variant => &[$(($check, $verdict)),+],)+ }
            }
        }
    };
}

defects! {
    // Header: typ, crit, kid.
    /// Accepts a missing `typ`; checks it only when present.
    TypOptional = "typ-optional", "accepts an ID-JAG without a typ header", [("JAG-HDR-01", Fail)];
    /// Accepts the generic `JWT` type as well (a JWT library's default).
    AcceptTypJwt = "accept-typ-jwt", "accepts typ JWT as well as oauth-id-jag+jwt", [("JAG-HDR-02", Fail), ("JAG-HDR-05", Fail)];
    /// Accepts any `…+jwt` media type.
    TypSuffixMatch = "typ-suffix-match", "accepts any typ ending in +jwt", [("JAG-HDR-03", Fail)];
    /// Accepts any `typ` starting with `oauth-id-jag`.
    TypPrefixMatch = "typ-prefix-match", "accepts any typ starting with oauth-id-jag", [("JAG-HDR-04", Fail)];
    /// Compares `typ` byte for byte (no `application/` prefix, no case folding).
    TypExactBytes = "typ-exact-bytes", "compares typ byte for byte, refusing equivalent spellings", [("JAG-HDR-06", Warn), ("JAG-HDR-07", Warn)];
    /// Ignores the `crit` header.
    IgnoreCrit = "ignore-crit", "ignores crit, accepting extensions it does not understand", [("JAG-HDR-08", Fail)];
    /// Answers 500 when the header is not JSON.
    ServerErrorOnBadHeader = "server-error-on-bad-header", "answers 500 when the JWT header is not JSON", [("JAG-HDR-10", Fail), ("ERR-07", Fail)];
    /// Answers 500 when `kid` is not a string.
    ServerErrorOnNumericKid = "server-error-on-numeric-kid", "answers 500 when kid is a number", [("JAG-HDR-12", Warn), ("ERR-07", Fail)];

    // Signature, algorithms, keys.
    /// Ignores the result of RSA signature verification (the key is still loaded by its
    /// crypto library, which refuses RSA keys under 2048 bits).
    SkipSignatureCheck = "skip-signature-check", "ignores the result of RSA signature verification", [("JAG-SIG-02", Fail), ("JAG-SIG-03", Fail), ("JAG-HDR-11", Warn)];
    /// Accepts unsigned `alg: none` tokens.
    AcceptAlgNone = "accept-alg-none", "accepts unsigned alg-none tokens", [("JAG-SIG-01", Fail)];
    /// Verifies HS256 with the issuer's RSA public key (PEM) as the HMAC secret.
    Hs256KeyConfusion = "hs256-key-confusion", "verifies HS256 with the issuer's RSA public key PEM as HMAC secret", [("JAG-SIG-04", Fail)];
    /// Verifies HS256 with the authenticated client's secret.
    Hs256ClientSecret = "hs256-client-secret", "verifies HS256 ID-JAGs with the client's own secret", [("JAG-SIG-05", Fail)];
    /// Accepts ASN.1 DER ECDSA signatures as well as raw r‖s.
    AcceptDerEcdsa = "accept-der-ecdsa", "accepts DER-encoded ECDSA signatures", [("JAG-SIG-07", Fail)];
    /// ECDSA verification that accepts r = s = 0 (CVE-2022-21449).
    PsychicSignature = "psychic-signature", "accepts an ECDSA signature with r = s = 0", [("JAG-SIG-08", Fail)];
    /// Fetches the key from the `jku` URL and trusts it.
    FetchJku = "fetch-jku", "fetches keys from the jku header and trusts them", [("JAG-SIG-09", Fail)];
    /// Trusts a key embedded in the `jwk` header.
    TrustEmbeddedJwk = "trust-embedded-jwk", "verifies with the key embedded in the jwk header", [("JAG-SIG-10", Fail)];
    /// Looks a `kid` up in every trusted issuer's JWKS.
    KidLookupAcrossIssuers = "kid-lookup-across-issuers", "finds the kid in any trusted issuer's JWKS, not only the token issuer's", [("JAG-SIG-11", Fail)];
    /// Without a `kid`, tries every trusted issuer's key when the issuer's own does not verify.
    KidlessTriesEveryIssuer = "kidless-tries-every-issuer", "without a kid, verifies with any trusted issuer's key, not only the token issuer's", [("JAG-HDR-11", Warn)];
    /// When no key matches the `kid`, tries every key of the issuer instead of refusing.
    UnknownKidTriesAllKeys = "unknown-kid-tries-all-keys", "tries all the issuer's keys when the kid matches none", [("JAG-SIG-15", Fail)];

    /// Never refetches the JWKS for an unknown `kid` before its cache time is up, and keeps
    /// the five-minute cache time of its default configuration whatever it is configured with.
    NoRefetchOnUnknownKid = "no-refetch-on-unknown-kid", "does not refetch the JWKS when a kid is unknown, and caches it five minutes whatever its configured cache time", [("JAG-SIG-13", Warn), ("JAG-SIG-14", Fail)];
    /// Merges every refetched JWKS into the cached one: a key the issuer removed stays trusted.
    NeverEvictRemovedKeys = "never-evict-removed-keys", "keeps every key it ever fetched: a key the issuer removed stays trusted", [("JAG-SIG-14", Fail)];
    /// Refetches the JWKS for every unknown `kid`, however many arrive.
    RefetchEveryUnknownKid = "refetch-every-unknown-kid", "refetches the JWKS for every unknown kid (an amplification vector)", [("LOAD-05", Warn)];
    /// Accepts tokens unverified when the issuer's JWKS cannot be fetched.
    FailOpenOnJwksError = "fail-open-on-jwks-error", "accepts tokens unverified when the JWKS cannot be fetched", [("JAG-SIG-16", Fail)];

    /// Verifies with a key whatever its `use`.
    IgnoreKeyUse = "ignore-key-use", "verifies signatures with a key the issuer publishes for encryption (use enc)", [("JAG-SIG-17", Warn)];

    /// Accepts an algorithm other than the one the key is published for.
    KeyAlgNotEnforced = "key-alg-not-enforced", "accepts PS256 signatures by a key published for RS256", [("JAG-SIG-06", Warn)];

    // Payload.
    /// Keeps the first of duplicate claims.
    FirstDuplicateWins = "first-duplicate-wins", "keeps the first of duplicate claim names", [("JAG-DUP-01", Fail)];
    /// Answers 500 when the payload is not a JSON object.
    ServerErrorOnArrayPayload = "server-error-on-array-payload", "answers 500 when the payload is a JSON array", [("JAG-JSON-01", Fail), ("ERR-07", Fail)];
    /// Reads unknown claims into a typed map without booleans or null (say `email_verified:
    /// true`): such a claim is a 500. `xaa-conform fuzz` finds it too.
    PanicOnOddClaimType = "panic-on-odd-claim-type", "answers 500 when a claim it does not know holds a boolean or null", [("BASE-08", Fail)];

    // iss.
    /// Does not refuse unlisted issuers: fetches their keys from their own discovery
    /// document and resolves their subjects in the first trusted issuer's namespace.
    TrustAnyIssuer = "trust-any-issuer", "trusts any issuer, fetching its keys from its own discovery document", [("JAG-ISS-02", Fail), ("JAG-SIG-12", Fail)];
    /// Is also the IdP of its trust domain and honours the ID-JAGs its own IdP issues.
    TrustOwnIdJags = "trust-own-id-jags", "issues access tokens for ID-JAGs its own IdP issued in the same trust domain", [("JAG-ISS-05", Fail)];
    /// Takes a missing `iss` as the first trusted issuer.
    IssOptional = "iss-optional", "takes a missing iss as the default issuer", [("JAG-ISS-01", Fail)];
    /// Answers 500 when `iss` is not a string.
    ServerErrorOnNumericIss = "server-error-on-numeric-iss", "answers 500 when iss is a number", [("JAG-ISS-04", Fail), ("ERR-07", Fail)];
    /// Compares issuers after trimming trailing slashes.
    IssNormalizedCompare = "iss-normalized-compare", "compares iss after trimming trailing slashes", [("JAG-ISS-03", Fail)];

    // aud.
    /// Accepts an ID-JAG addressed to any authorization server (tenant) the deployment
    /// hosts, not only this one.
    AcceptAnyAud = "accept-any-aud", "accepts an ID-JAG addressed to another authorization server of the same deployment", [("JAG-AUD-02", Fail)];
    /// Accepts a missing `aud`.
    AudOptional = "aud-optional", "accepts an ID-JAG without aud", [("JAG-AUD-01", Fail)];
    /// Accepts an `aud` array that contains this issuer among others.
    AudArrayAny = "aud-array-any", "accepts an aud array that merely contains its issuer", [("JAG-AUD-03", Fail)];
    /// Accepts its token endpoint URL as `aud` (RFC 7523 allows it; ID-JAG does not).
    AudAcceptsTokenEndpoint = "aud-accepts-token-endpoint", "accepts its token endpoint URL as aud", [("JAG-AUD-04", Fail)];
    /// Compares `aud` after normalizing (trailing slash, case, default port).
    AudNormalizedCompare = "aud-normalized-compare", "compares aud after trimming trailing slashes", [("JAG-AUD-05", Fail)];
    /// Accepts a governed resource URL as `aud`.
    AudAcceptsResource = "aud-accepts-resource", "accepts one of its resource URLs as aud", [("JAG-AUD-06", Fail)];
    /// Skips the `aud` check when `aud` is neither a string nor an array.
    AudLenientTypes = "aud-lenient-types", "skips the aud check when aud is not a string or an array", [("JAG-AUD-07", Fail)];
    /// Takes its `aud` allow-list from the IdP's app registry: accepts as `aud` any RAS the
    /// trusted IdP issues ID-JAGs for (an ID-JAG legitimately obtained for another RAS).
    AudAnyIdpAudience = "aud-any-idp-audience", "accepts as aud any authorization server the trusted IdP issues ID-JAGs for, so an ID-JAG obtained for another RAS is honoured", [("JAG-AUD-08", Fail)];
    /// Accepts `aud` only as a string.
    AudStringOnly = "aud-string-only", "refuses an aud array even with the single right element", [("BASE-10", Fail)];

    // sub.
    /// Provisions a new account for an unknown `sub` instead of refusing.
    AcceptUnknownSub = "accept-unknown-sub", "provisions an account for an unknown sub", [("JAG-SUB-02", Fail)];
    /// Finds the account by `sub` across every trusted issuer (accounts keyed on `sub` alone).
    UserLookupIgnoresIssuer = "user-lookup-ignores-issuer", "finds the user by sub across all trusted issuers, so one issuer's sub maps to another issuer's user", [("JAG-SUB-03", Fail)];
    /// Keys a multi-tenant issuer's accounts on `iss` and `sub` alone, ignoring `tenant`.
    UserLookupIgnoresTenant = "user-lookup-ignores-tenant", "finds a multi-tenant issuer's user by iss and sub alone, ignoring tenant, so another tenant's sub maps to this tenant's user", [("JAG-SUB-04", Fail)];
    /// Resolves a SAML NameID `sub_id` by its `nameid` alone, whatever SAML issuer it names.
    SamlNameidAlone = "saml-nameid-alone", "resolves a SAML NameID sub_id by nameid alone, not comparing sub_id.issuer with the SAML issuer associated with iss", [("JAG-SUB-05", Fail)];
    /// Falls back to `sub` when the `sub_id` it requires is missing, malformed or in another
    /// format.
    SamlSubjectFallsBackToSub = "saml-subject-falls-back-to-sub", "resolves the user by sub when the SAML NameID sub_id it requires is missing, malformed or in another format", [("JAG-SUB-05", Fail)];
    /// Maps a missing `sub` to the client's own service account.
    SubOptional = "sub-optional", "maps a missing sub to the client's service account", [("JAG-SUB-01", Fail)];

    // client_id.
    /// Does not compare the `client_id` claim with the authenticated client.
    IgnoreClientId = "ignore-client-id", "does not compare the client_id claim with the authenticated client", [("JAG-CID-01", Fail), ("JAG-CID-03", Fail)];
    /// Accepts an ID-JAG without `client_id`.
    ClientIdOptional = "client-id-optional", "accepts an ID-JAG without client_id", [("JAG-CID-02", Fail)];
    /// Accepts a `client_id` array that contains the client.
    ClientIdArrayAny = "client-id-array-any", "accepts a client_id array containing the client", [("JAG-CID-04", Fail)];
    /// Lets a confidential client through on its `client_id` alone when the ID-JAG names it.
    AllowUnauthenticatedClient = "allow-unauthenticated-client", "accepts a confidential client without credentials when the ID-JAG names it", [("JAG-CID-05", Fail)];

    // jti.
    /// Refuses a second use of an ID-JAG (single use, as the MCP profile requires).
    /// (A choice the generic profile allows, so besides JAG-JTI-01's WARN it moves LOAD-02
    /// from INFO, reuse allowed, to PASS: single use held under concurrency.)
    SingleUseJti = "single-use-jti", "refuses an ID-JAG's second use within its lifetime", [("JAG-JTI-01", Warn), ("LOAD-02", Pass)];
    /// Accepts an ID-JAG without `jti`.
    JtiOptional = "jti-optional", "accepts an ID-JAG without jti", [("JAG-JTI-02", Warn)];
    /// Answers 500 when `jti` is not a string (an unhashable cache key).
    ServerErrorOnObjectJti = "server-error-on-object-jti", "answers 500 when jti is an object", [("JAG-JTI-03", Warn), ("ERR-07", Fail)];
    /// Single use enforced by a lookup, a round trip, then an insert: not atomic (mcp-ema).
    ReplayCheckRace = "replay-check-race", "checks its replay cache, awaits a round trip, then records the jti: identical requests at once all pass (under mcp-ema)", [("LOAD-02", Fail)];
    /// The replay cache is keyed on `jti` alone, not on (`iss`, `jti`) (mcp-ema).
    ReplayCacheIgnoresIssuer = "replay-cache-ignores-issuer", "keys its replay cache on jti alone, refusing another issuer's ID-JAG that shares a jti (under mcp-ema)", [("JAG-JTI-04", Warn)];

    // exp, nbf, iat.
    /// Does not compare `exp` with the clock.
    IgnoreExp = "ignore-exp", "does not compare exp with the clock", [("JAG-TIME-02", Fail)];
    /// Accepts an ID-JAG without `exp`.
    ExpOptional = "exp-optional", "accepts an ID-JAG without exp", [("JAG-TIME-01", Fail)];
    /// Parses numeric strings as NumericDates.
    LenientNumericDates = "lenient-numeric-dates", "accepts exp written as a numeric string", [("JAG-TIME-04", Fail)];
    /// Does not check `nbf`.
    IgnoreNbf = "ignore-nbf", "does not check nbf", [("JAG-TIME-06", Fail)];
    /// Accepts an ID-JAG without `iat`.
    IatOptional = "iat-optional", "accepts an ID-JAG without iat", [("JAG-TIME-08", Warn)];
    /// Accepts an `iat` in the future.
    AcceptFutureIat = "accept-future-iat", "accepts an iat in the future", [("JAG-TIME-09", Warn)];
    /// Checks `iat` only when it is a number.
    IatUncheckedType = "iat-unchecked-type", "ignores an iat that is not a number", [("JAG-TIME-11", Fail)];
    /// Accepts only integer NumericDates.
    IntegerDatesOnly = "integer-dates-only", "refuses a non-integer NumericDate", [("BASE-09", Warn)];

    // resource.
    /// Ignores whether the `resource` is governed here.
    IgnoreResource = "ignore-resource", "does not check that resource is governed here", [("JAG-RES-01", Fail), ("JAG-RES-02", Warn), ("JAG-RES-03", Warn)];
    /// Issues the token for the `resource` request parameter over the ID-JAG's.
    ResourceParamOverrides = "resource-param-overrides", "issues the token for the resource parameter instead of the ID-JAG's", [("JAG-RES-05", Warn)];
    /// Issues access tokens valid at every resource.
    UnrestrictedAccessTokens = "unrestricted-access-tokens", "issues access tokens that every resource accepts", [("JAG-RES-06", Warn), ("RS-05", Warn), ("RS-07", Fail)];
    /// Accepts `resource` only as a string.
    ResourceStringOnly = "resource-string-only", "refuses a resource array", [("JAG-RES-07", Fail)];
    /// Ignores a `resource` that is neither a string nor an array.
    IgnoreResourceType = "ignore-resource-type", "ignores a resource claim of the wrong type", [("JAG-RES-08", Warn)];

    // scope.
    /// With no `scope` in the ID-JAG, grants the requested scope as asked, defined or not.
    GrantRequestedScopeWithoutClaim = "grant-requested-scope-without-claim", "grants the requested scope as asked, defined or not, when the ID-JAG has no scope", [("JAG-SCP-08", Fail)];
    /// Refuses a requested scope beyond the ID-JAG's where the MCP profile wants their
    /// intersection issued.
    ScopeBeyondGrantRefused = "scope-beyond-grant-refused", "refuses a requested scope beyond the ID-JAG's with invalid_scope instead of issuing their intersection (under mcp-ema)", [("JAG-SCP-07", Fail)];
    /// Grants the requested scope without capping it at the ID-JAG's.
    GrantRequestedScope = "grant-requested-scope", "grants the requested scope beyond the ID-JAG's", [("JAG-SCP-01", Fail)];
    /// Ignores the `scope` request parameter in what the token carries, while the response
    /// names the scope requested: only introspection shows the token's real scope.
    ScopeParamIgnoredSilently = "scope-param-ignored-silently", "issues a token with the ID-JAG's whole scope whatever was requested, and answers with the scope requested", [("JAG-SCP-02", Fail)];
    /// Ignores the `scope` request parameter.
    IgnoreScopeParam = "ignore-scope-param", "grants the ID-JAG's whole scope whatever was requested", [("JAG-SCP-02", Fail)];
    /// Grants scopes it does not define.
    GrantUndefinedScopes = "grant-undefined-scopes", "grants scopes it does not define", [("JAG-SCP-03", Warn)];
    /// Accepts `scope` as a JSON array.
    ScopeArrayAccepted = "scope-array-accepted", "accepts scope as a JSON array", [("JAG-SCP-04", Warn)];
    /// Answers 500 when neither the ID-JAG nor the request names a scope.
    ServerErrorWithoutScope = "server-error-without-scope", "answers 500 when no scope is named anywhere", [("JAG-SCP-05", Fail), ("ERR-07", Fail)];

    // Token response.
    /// Leaves `Cache-Control: no-store` off token responses.
    NoCacheControl = "no-cache-control", "omits Cache-Control: no-store on token responses", [("BASE-02", Fail)];
    /// Issues a refresh token with the access token.
    IssueRefreshToken = "issue-refresh-token", "issues a refresh token", [("BASE-05", Warn)];
    /// Answers `token_type: N_A` (the token-exchange value) instead of `Bearer`.
    TokenTypeNA = "token-type-n-a", "answers token_type N_A instead of Bearer", [("BASE-01", Fail), ("BASE-02", Skip), ("BASE-05", Skip)];
    /// Leaves `expires_in` out.
    NoExpiresIn = "no-expires-in", "omits expires_in", [("BASE-03", Warn)];
    /// Leaves the granted `scope` out of the response.
    OmitGrantedScope = "omit-granted-scope", "omits the granted scope from the response", [("BASE-04", Fail)];
    /// Leaves the granted `resource` out of the response.
    OmitGrantedResource = "omit-granted-resource", "omits the granted resource from the response", [("BASE-06", Warn)];
    /// Refuses requests with parameters it does not know.
    RejectUnknownParams = "reject-unknown-params", "refuses unknown request parameters", [("BASE-07", Fail)];
    /// Refuses ID-JAGs with claims it does not know.
    RejectUnknownClaims = "reject-unknown-claims", "refuses ID-JAGs with claims it does not know", [("BASE-08", Fail)];

    // Client authentication.
    /// Does not form-urldecode Basic credentials (RFC 6749 App. B).
    BasicWithoutFormDecoding = "basic-without-form-decoding", "does not form-urldecode Basic credentials", [("CAUTH-01", Fail)];
    /// Answers `invalid_client` to Basic without a `WWW-Authenticate` header.
    NoWwwAuthenticate = "no-www-authenticate", "answers invalid_client to Basic without WWW-Authenticate", [("CAUTH-03", Fail)];
    /// Answers `invalid_client` to body credentials (or none) with a 401 without a challenge.
    NoChallengeForBodyCredentials = "no-challenge-for-body-credentials", "answers invalid_client to body credentials with a 401 without WWW-Authenticate", [("ERR-08", Fail)];
    /// Accepts any `client_secret` in the body.
    NoSecretCheckForPost = "no-secret-check-for-post", "accepts any client_secret sent in the body", [("CAUTH-04", Fail)];
    /// Accepts more than one client authentication method in a request.
    AllowMultipleAuthMethods = "allow-multiple-auth-methods", "accepts Basic and a body secret together", [("CAUTH-05", Fail)];
    /// Ignores a body `client_id` that differs from the Basic one.
    IgnoreBodyClientId = "ignore-body-client-id", "ignores a body client_id that differs from the authenticated client", [("CAUTH-06", Fail)];

    // Which clients may use the grant (RFC 6749 §5.2 unauthorized_client).
    /// Issues tokens to any authenticated client, whether or not it is enabled for the grant.
    IgnoreClientGrants = "ignore-client-grants", "issues tokens to a client that is not enabled for the jwt-bearer grant", [("CAUTH-15", Warn)];
    /// Refuses a client not enabled for the grant with `invalid_grant`, blaming the ID-JAG.
    UnauthorizedClientAsInvalidGrant = "unauthorized-client-as-invalid-grant", "refuses a client not enabled for the jwt-bearer grant with invalid_grant instead of unauthorized_client", [("CAUTH-15", Warn)];

    /// Does not support `private_key_jwt`.
    NoPrivateKeyJwt = "no-private-key-jwt", "does not support private_key_jwt client authentication", [("CAUTH-07", Fail), ("CAUTH-12", Skip)];
    /// Does not check a client assertion's `exp`.
    ClientAssertionNoExpCheck = "client-assertion-no-exp-check", "accepts an expired client assertion", [("CAUTH-08", Fail)];
    /// Ignores a `client_id` parameter that names another client than the assertion.
    IgnoreClientIdParam = "ignore-client-id-param", "ignores a client_id parameter that contradicts the client assertion", [("CAUTH-09", Fail)];
    /// Accepts a client assertion twice.
    ClientAssertionReplayOk = "client-assertion-replay-ok", "accepts the same client assertion twice", [("CAUTH-12", Warn)];
    /// Takes the client from `client_id`/`sub` and any trusted key as proof.
    ClientAssertionAnyTrustedKey = "client-assertion-any-trusted-key", "accepts any JWT signed by a trusted issuer as a client assertion", [("CAUTH-13", Fail)];
    /// Accepts a client assertion whose `aud` array names other audiences too.
    ClientAssertionAudAny = "client-assertion-aud-any", "accepts a client assertion whose aud array also names other servers", [("CAUTH-11", Warn)];
    /// Ignores `client_assertion_type`.
    IgnoreClientAssertionType = "ignore-client-assertion-type", "ignores client_assertion_type", [("CAUTH-14", Fail)];

    // Request format.
    /// Serves the token endpoint on its plain-http address as well.
    TokenOverCleartext = "token-over-cleartext", "issues tokens on the plain-http address of its token endpoint too", [("REQ-10", Fail)];
    /// Takes a missing `grant_type` as jwt-bearer.
    DefaultGrantType = "default-grant-type", "takes a missing grant_type as jwt-bearer", [("REQ-01", Fail)];
    /// Matches `grant_type` by prefix.
    GrantTypePrefixMatch = "grant-type-prefix-match", "accepts any grant_type starting with the jwt-bearer URN", [("REQ-02", Fail)];
    /// Answers 500 when `assertion` is missing or empty.
    ServerErrorOnMissingAssertion = "server-error-on-missing-assertion", "answers 500 when assertion is missing or empty", [("REQ-03", Fail), ("REQ-04", Fail), ("ERR-07", Fail)];
    /// Uses the first of repeated parameters (an invalid first assertion is then refused with
    /// invalid_grant where the repetition is due invalid_request: ERR-04's finding).
    FirstParamWins = "first-param-wins", "uses the first of repeated parameters", [("REQ-05", Fail), ("ERR-04", Warn)];
    /// Uses the last of repeated parameters (an invalid last assertion is then refused with
    /// invalid_grant where the repetition is due invalid_request: ERR-04's finding).
    LastParamWins = "last-param-wins", "uses the last of repeated parameters", [("REQ-05", Fail), ("ERR-04", Warn)];
    /// Answers 500 when the assertion is not a JWT.
    ServerErrorOnMalformedAssertion = "server-error-on-malformed-assertion", "answers 500 when the assertion is not a JWT", [("REQ-06", Fail), ("ERR-07", Fail), ("JAG-HDR-13", Fail)];
    /// Serves the token endpoint on GET with the parameters in the URL.
    AcceptGet = "accept-get", "issues tokens on GET with the assertion in the URL", [("REQ-07", Warn)];
    /// Accepts a JSON request body.
    AcceptJsonBody = "accept-json-body", "accepts the parameters as a JSON body", [("REQ-08", Warn)];
    /// Accepts only the exact `application/x-www-form-urlencoded` content type.
    StrictContentType = "strict-content-type", "refuses a form content type with a charset parameter", [("REQ-09", Fail)];

    // Error responses.
    /// Answers an expired ID-JAG with HTTP 401.
    ExpiredAs401 = "expired-as-401", "answers an expired ID-JAG with 401 instead of 400", [("ERR-01", Warn), ("ERR-08", Fail)];
    /// Answers a failed signature check with its own code, `invalid_signature`.
    SignatureErrorCode = "signature-error-code", "answers a failed signature check with invalid_signature instead of invalid_grant", [("ERR-04", Warn)];
    /// Leaves `Cache-Control: no-store` off error responses.
    ErrorWithoutNoStore = "error-without-no-store", "omits Cache-Control: no-store on error responses", [("ERR-05", Warn)];
    /// Answers an unsupported grant type with an HTML page.
    HtmlErrorForUnknownGrant = "html-error-for-unknown-grant", "answers an unsupported grant type with an HTML page", [("ERR-02", Fail)];
    /// Echoes the assertion in `error_description`.
    EchoAssertionInErrors = "echo-assertion-in-errors", "echoes the assertion in error_description", [("ERR-06", Warn)];

    // Metadata (RFC 8414, ID-JAG §7.2).
    /// Publishes its issuer with a trailing slash added.
    MetadataIssuerSlash = "metadata-issuer-slash", "publishes its issuer in metadata with a trailing slash added", [("META-01", Fail)];
    /// Has an issuer with a path but serves its metadata only at the root well-known
    /// location, without that path (the OpenID-style placement RFC 8414 §3 replaces).
    MetadataOnlyAtRoot = "metadata-only-at-root", "serves its metadata only at the root, not at its issuer's path-aware location", [("META-08", Fail)];
    /// Publishes `authorization_grant_profiles_supported` as a string.
    ProfilesAsString = "profiles-as-string", "publishes authorization_grant_profiles_supported as a string", [("META-02", Fail), ("META-03", Warn)];
    /// Does not advertise the ID-JAG grant profile.
    NoGrantProfile = "no-grant-profile", "does not advertise the id-jag grant profile", [("META-03", Warn)];
    /// Leaves jwt-bearer out of `grant_types_supported`.
    NoJwtBearerGrantType = "no-jwt-bearer-grant-type", "leaves jwt-bearer out of grant_types_supported", [("META-04", Fail)];
    /// Lists its trusted issuers in `authorization_grant_profiles_supported`.
    ProfilesListIssuers = "profiles-list-issuers", "discloses its trusted issuers in authorization_grant_profiles_supported", [("META-05", Fail)];

    // Resource API.
    /// The resource API refuses tokens that are restricted to a resource.
    ApiRefusesRestrictedTokens = "api-refuses-restricted-tokens", "the resource API refuses audience-restricted tokens, its own included", [("RS-01", Fail), ("RS-06", Warn), ("RS-08", Skip)];
    /// The resource API answers a request without a token with a bare 401.
    ApiChallengeMissing = "api-challenge-missing", "the resource API answers a request without a token with no challenge", [("RS-02", Fail)];
    /// The resource API accepts any Bearer token.
    ApiAcceptsAnyToken = "api-accepts-any-token", "the resource API accepts any Bearer token", [("RS-03", Fail), ("RS-04", Fail), ("RS-07", Fail)];
    /// The resource API does not check scopes.
    ApiIgnoresScope = "api-ignores-scope", "the resource API does not check scopes", [("RS-06", Warn)];

    // Introspection (RFC 7662).
    /// Introspection names the client that asks as the token's `client_id`.
    IntrospectionReportsCaller = "introspection-reports-caller", "introspection reports the client that asks as the token's client_id, not the client it was issued to", [("RS-12", Fail)];
    /// Introspection says any token it does not know is active.
    IntrospectionActiveForUnknown = "introspection-active-for-unknown", "introspection answers active true for a token it never issued", [("RS-12", Fail)];
    /// Introspection reports its own issuer as `aud` instead of the resources the token is for.
    IntrospectionAudIsIssuer = "introspection-aud-is-issuer", "introspection reports its own issuer as aud, not the resource the token was granted for", [("RS-12", Warn)];

    // Rich authorization requests (RFC 9396, ID-JAG §4.4.1), JWS serializations, weak keys.
    /// Takes `authorization_details` as a string holding JSON, or an object as the one entry.
    AuthorizationDetailsNotArray = "authorization-details-not-array", "accepts authorization_details as a string of JSON text or a lone object, not only as a JSON array", [("JAG-RAR-01", Fail)];
    /// Drops `authorization_details` entries without a `type` instead of refusing them.
    IgnoreUntypedRarEntries = "ignore-untyped-rar-entries", "drops authorization_details entries without a type instead of refusing the ID-JAG", [("JAG-RAR-01", Fail)];
    /// Grants `authorization_details` entries of types it does not support.
    GrantUnknownRarTypes = "grant-unknown-rar-types", "grants authorization_details entries of types it does not support", [("JAG-RAR-02", Warn)];
    /// Leaves the granted `authorization_details` out of the token response.
    OmitGrantedAuthorizationDetails = "omit-granted-authorization-details", "omits the granted authorization_details from the token response", [("RESP-10", Fail)];
    /// Reads an assertion in the JWS JSON serialization (flattened or general), verifies it
    /// and goes on.
    AcceptJwsJsonSerialization = "accept-jws-json-serialization", "accepts an ID-JAG in the JWS JSON serialization (flattened or general), not only the compact one", [("JAG-HDR-13", Fail)];
    /// Verifies RS256 with RSA keys under 2048 bits (with the `rsa` crate, where aws-lc-rs
    /// refuses them).
    AcceptWeakRsaKeys = "accept-weak-rsa-keys", "verifies RS256 signatures by RSA keys under 2048 bits", [("JAG-SIG-18", Warn)];
    // RFC 9068 JWT access tokens (issued by `jwt_at`), the token response's members, and
    // RFC 6750 §2's token methods at the resource API.
    /// Issues JWT access tokens typed `JWT` (a JWT library's default), not `at+jwt`; its
    /// resource API takes them.
    AtTypJwt = "at-typ-jwt", "issues JWT access tokens with typ JWT instead of at+jwt (and its resource API takes them)", [("RESP-07", Fail)];
    /// Leaves `client_id` out of its JWT access tokens.
    AtWithoutClientId = "at-without-client-id", "issues JWT access tokens without a client_id claim", [("RESP-07", Fail)];
    /// Adds its own issuer to the `aud` of its JWT access tokens, beside the resource.
    AtAudAddsIssuer = "at-aud-adds-issuer", "adds its own issuer to the aud of JWT access tokens, beside the resource asked for", [("RESP-08", Warn)];
    /// The resource API takes an unsigned `alg: none` JWT access token.
    ApiAcceptsUnsignedAt = "api-accepts-unsigned-at", "the resource API accepts unsigned alg-none JWT access tokens", [("RS-07", Fail)];
    /// The resource API verifies JWT access tokens with every key it trusts, the IdP's too.
    ApiTrustsIdpKeys = "api-trusts-idp-keys", "the resource API verifies JWT access tokens with the trusted IdP's keys as well as the RAS's", [("RS-07", Fail)];
    /// Puts `"error": null` beside the access token in a token response (a response
    /// envelope with an empty error slot).
    SuccessWithErrorMember = "success-with-error-member", "answers a token response with an error member (null) beside the access token", [("RESP-03", Fail)];
    /// Returns several granted resources as one space-separated string, as `scope` is.
    ResourcesJoinedBySpaces = "resources-joined-by-spaces", "returns several granted resources as one space-separated string, as scope is", [("RESP-06", Warn)];
    /// Wraps `error_description` in double quotes (a JSON string encoded twice), outside
    /// the RFC 6749 §5.2 charset.
    ErrorDescriptionDoubleQuoted = "error-description-double-quoted", "wraps error_description in double quotes (encoded twice), outside the RFC 6749 §5.2 charset", [("ERR-02", Fail)];
    /// The resource API takes a token sent by two methods at once (it reads the header).
    ApiAcceptsTwoTokenMethods = "api-accepts-two-token-methods", "the resource API accepts a token sent in the header and the query or body at once", [("RS-09", Warn)];
    /// The resource API takes `?access_token=` without `Cache-Control: private`.
    ApiQueryTokenCacheable = "api-query-token-cacheable", "the resource API accepts ?access_token= and answers without Cache-Control: private", [("RS-10", Warn)];
    // DPoP (RFC 9449; ID-JAG §9.8.1.2): the token endpoint, then the resource API.
    /// Ignores `cnf`, serving key-bound ID-JAGs without proof of possession.
    IgnoreCnf = "ignore-cnf", "ignores cnf, serving key-bound ID-JAGs without proof of possession, or with a proof by any key", [("JAG-CNF-01", Fail), ("DPOP-02", Fail), ("DPOP-03", Fail)];
    /// Compares `cnf.jkt` with the proof's key only when a proof comes.
    DpopProofOptionalForBoundJag = "dpop-proof-optional-for-bound-jag", "accepts a key-bound ID-JAG without a DPoP proof (it checks cnf.jkt only when a proof comes)", [("JAG-CNF-01", Fail), ("DPOP-03", Fail)];
    /// Validates the proof but never compares its key with `cnf.jkt`.
    DpopJktNotCompared = "dpop-jkt-not-compared", "validates the DPoP proof but does not compare its key with the ID-JAG's cnf.jkt", [("DPOP-02", Fail)];
    /// Does not compare the proof's `htu` with the request URL.
    DpopIgnoresHtu = "dpop-ignores-htu", "does not compare a DPoP proof's htu with the request's URL", [("DPOP-04", Fail)];
    /// Keeps no record of proof `jti`s.
    DpopProofReplayOk = "dpop-proof-replay-ok", "accepts a DPoP proof whose jti it has seen before", [("DPOP-04", Fail)];
    /// Asks for a nonce, then takes any nonce.
    DpopNonceAnyValue = "dpop-nonce-any-value", "asks for a DPoP nonce, then accepts a proof with any nonce", [("DPOP-07", Fail)];
    /// Issues tokens for a resource that requires DPoP-bound tokens without a proof.
    DpopNotRequiredForResource = "dpop-not-required-for-resource", "issues an unbound token without a proof for a resource whose server requires DPoP-bound tokens", [("DPOP-06", Fail)];
    /// Takes the proof, then issues an access token bound to no key.
    DpopUnboundAccessToken = "dpop-unbound-access-token", "validates the DPoP proof, then issues an unbound Bearer access token (ID-JAG §9.8.1.2.1 step 5: it SHOULD be bound to the key)", [("DPOP-01", Warn), ("RS-08", Skip)];
    /// Answers `token_type: Bearer` for a token it binds to the proof's key.
    BearerTokenTypeForBoundToken = "bearer-token-type-for-bound-token", "answers token_type Bearer for an access token it binds to the DPoP key", [("RESP-02", Fail), ("RS-08", Skip), ("DPOP-01", Warn)];
    /// The resource API takes a DPoP-bound token under the Bearer scheme.
    ApiAcceptsBoundTokenAsBearer = "api-accepts-bound-token-as-bearer", "the resource API accepts a DPoP-bound access token presented as a Bearer token", [("RS-08", Fail)];
    /// The resource API does not compare the proof's `ath` with the token.
    ApiIgnoresAth = "api-ignores-ath", "the resource API does not check a DPoP proof's ath against the access token", [("RS-08", Fail)];

    // Load (proven by `xaa-conform load`, not the `run` catalogue: see [`Defect::proof`]).
    /// Never answers 429, whatever `--reference-rate-limit` says.
    RateLimitOff = "rate-limit-off", "never rate-limits the token endpoint (no 429 however fast requests come; a WARN under auth0, whose profile names a 5/s limit)", [("LOAD-01", Warn)];
    // Load: faults that show only under concurrency or sustained traffic (tests/load_defects.rs
    // proves each with `xaa-conform load`, and that `run` sees none of them).
    /// Skips the time checks once busy (seconds of sustained load): expired ID-JAGs get tokens.
    ExpSkippedWhenBusy = "exp-skipped-when-busy", "skips the exp check as a fast path once busy (seconds of sustained load), so an expired ID-JAG gets a token under load only", [("LOAD-08", Fail)];
    /// Accepts an ID-JAG unverified when the issuer's JWKS does not answer in time.
    JwksTimeoutFailsOpen = "jwks-timeout-fails-open", "accepts an ID-JAG unverified when its issuer's JWKS fetch timed out (or would be tried again too soon after one that did)", [("LOAD-06", Fail)];
    /// Holds one lock over its JWKS cache for the length of a fetch.
    JwksFetchBlocksAll = "jwks-fetch-blocks-all", "holds one lock over its JWKS cache for the length of every fetch, so while the JWKS is slow every token request waits for it (fails closed, but stops serving)", [("LOAD-06", Warn)];
    /// Serializes requests behind a bad signature.
    BadSignatureGlobalLock = "bad-signature-global-lock", "every request passes one global lock, held 300 ms after a signature that does not verify (a synchronous audit write), so invalid requests slow valid ones", [("LOAD-07", Warn)];
}

/// Which command proves a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The `run` catalogue: the defect matrix runs it and sees its checks move.
    Run,
    /// `xaa-conform load` (its checks are load checks); the matrix skips it and a load test
    /// proves it instead.
    Load,
}

impl Defect {
    /// Which command proves this defect.
    pub fn proof(self) -> Proof {
        match self {
            Defect::RateLimitOff
            | Defect::ExpSkippedWhenBusy
            | Defect::JwksTimeoutFailsOpen
            | Defect::JwksFetchBlocksAll
            | Defect::BadSignatureGlobalLock => Proof::Load,
            _ => Proof::Run,
        }
    }
}

/// The defects that prove the check `id`: those whose declared breaks move it to FAIL or
/// WARN (a defect that only turns it SKIP, its positive control failing, proves nothing
/// about the check itself).
pub fn proving(id: &str) -> Vec<Defect> {
    Defect::ALL
        .iter()
        .copied()
        .filter(|d| {
            d.breaks().iter().any(|(check, verdict)| {
                *check == id && matches!(verdict, Verdict::Fail | Verdict::Warn)
            })
        })
        .collect()
}

impl Defect {
    /// The profile under which the defect shows (the matrix runs it under that profile): the
    /// replay-cache defects matter only where single use is enforced, under `mcp-ema`; a
    /// missing rate limit only where the profile names one, under `auth0`.
    pub fn profile(self) -> Option<&'static str> {
        match self {
            Defect::ReplayCheckRace
            | Defect::ReplayCacheIgnoresIssuer
            | Defect::ScopeBeyondGrantRefused => Some("mcp-ema"),
            Defect::RateLimitOff => Some("auth0"),
            _ => None,
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
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
                match crate::names::did_you_mean(s, &names) {
                    Some(hint) => format!(
                        "unknown defect `{s}`; {hint} (`xaa-conform list --defects` lists them)"
                    ),
                    None => {
                        format!("unknown defect `{s}` (`xaa-conform list --defects` lists them)")
                    }
                }
            })
    }
}
