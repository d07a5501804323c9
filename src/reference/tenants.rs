//! The reference's multi-tenant issuers (ID-JAG §6.1, §6.3): one `iss` serves several
//! tenants, so a user is unique by `iss`, `tenant` and `sub` together, never by `iss` and `sub`.

use serde_json::{Map, Value};

use super::Defect;
use super::config::ReferenceConfig;

/// The local account of `sub` when `iss` is a multi-tenant issuer (`None` when it is not):
/// the user of the ID-JAG's `tenant` with that `sub`. Without a `tenant` the subject is not
/// scoped, and a tenant without that user has no account (unless JIT provisioning): both are
/// refused, with the reason. Under `user-lookup-ignores-tenant` the first user with the `sub`
/// in any tenant is taken.
pub fn account(
    cfg: &ReferenceConfig,
    iss: &str,
    claims: &Map<String, Value>,
    sub: &str,
) -> Option<Result<String, &'static str>> {
    let issuer = cfg.multi_tenant.iter().find(|m| m.issuer == iss)?;
    let ignore_tenant = cfg.defects.contains(&Defect::UserLookupIgnoresTenant);
    let tenant = match claims.get("tenant") {
        Some(Value::String(t)) if !t.is_empty() => t.as_str(),
        _ if ignore_tenant => "",
        _ => {
            return Some(Err(
                "an ID-JAG of a multi-tenant issuer needs a tenant claim",
            ));
        }
    };
    let found = issuer
        .users
        .iter()
        .find(|(t, s, _)| s == sub && (ignore_tenant || t == tenant));
    Some(match found {
        Some((_, _, account)) => Ok(account.clone()),
        None if cfg.jit_provisioning => Ok(format!("jit:{iss}:{tenant}:{sub}")),
        None => Err("unknown subject in this tenant"),
    })
}
