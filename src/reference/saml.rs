//! The reference's issuers whose users it resolves by SAML NameID (ID-JAG §3.2): the ID-JAG's
//! `sub_id` in the `saml-nameid` format names the user, within the SAML issuer that local
//! configuration associates with the ID-JAG's `iss` (§3.2.2, §9.5).

use serde_json::{Map, Value};

use super::Defect;
use super::config::ReferenceConfig;

/// The Subject Identifier Format of a SAML NameID `sub_id` (ID-JAG §3.2.1).
pub const SAML_NAMEID_FORMAT: &str = "saml-nameid";

/// The local account of the ID-JAG's subject when `iss` resolves users by SAML NameID
/// (`None` when it does not): refused (§3.2.2) when `sub_id` is missing, malformed, in
/// another format, or names a SAML issuer not associated with `iss`, or no user has the
/// NameID. Under `saml-subject-falls-back-to-sub` a missing or unusable `sub_id` gives `None`
/// (the `sub` is looked up instead); under `saml-nameid-alone` `sub_id.issuer` is not compared.
pub fn account(
    cfg: &ReferenceConfig,
    iss: &str,
    claims: &Map<String, Value>,
) -> Option<Result<String, &'static str>> {
    let issuer = cfg.saml_subjects.iter().find(|s| s.issuer == iss)?;
    let has = |d: Defect| cfg.defects.contains(&d);
    let usable = match claims.get("sub_id") {
        None => Err("this issuer's subjects are SAML NameIDs: the ID-JAG has no sub_id"),
        Some(Value::Object(id)) => match id.get("format").and_then(Value::as_str) {
            Some(SAML_NAMEID_FORMAT) => {
                match (
                    id.get("issuer").and_then(Value::as_str),
                    id.get("nameid").and_then(Value::as_str),
                ) {
                    (Some(saml_issuer), Some(nameid)) => Ok((saml_issuer, nameid)),
                    _ => Err("sub_id is malformed: a saml-nameid needs issuer and nameid strings"),
                }
            }
            _ => Err("sub_id is in a Subject Identifier Format this server does not support"),
        },
        Some(_) => Err("sub_id is malformed: not a JSON object"),
    };
    let (saml_issuer, nameid) = match usable {
        Ok(found) => found,
        Err(_) if has(Defect::SamlSubjectFallsBackToSub) => return None,
        Err(why) => return Some(Err(why)),
    };
    if saml_issuer != issuer.saml_issuer && !has(Defect::SamlNameidAlone) {
        return Some(Err(
            "sub_id.issuer is not the SAML issuer associated with this ID-JAG issuer",
        ));
    }
    Some(
        issuer
            .users
            .iter()
            .find(|(n, _)| n == nameid)
            .map(|(_, account)| account.clone())
            .ok_or("unknown subject"),
    )
}
