//! JAG-ISS-05: an ID-JAG the RAS's own IdP issued in the same trust domain (ID-JAG §9.3: "the
//! IdP MUST NOT issue access tokens in response to an ID-JAG it issued itself in the same
//! domain").

use crate::spec::{Level, Verdict};

use super::classify::Outcome;
use super::expect::OwnIdJag;
use super::refusal::judge_negative;
use super::{Judgement, judged};

/// What the check observed once its control (a valid ID-JAG) obtained an access token.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnIdJagObservation {
    /// The target's own IdP issued no ID-JAG for that access token: the answer, summarized.
    NotIssued(String),
    /// The ID-JAG it issued was presented to the RAS: its answer.
    Probed(Outcome),
}

/// Judges [`OwnIdJagObservation`]: an own IdP that issues no ID-JAG leaves nothing to
/// present (SKIP, with its answer); the ID-JAG it issued (`what` names it) must be refused
/// with the rules' codes (another code is the code's finding), and an access token for it
/// violates the level.
pub fn judge_own_id_jag(
    level: Level,
    rules: &OwnIdJag,
    seen: &OwnIdJagObservation,
    what: &str,
) -> Judgement {
    match seen {
        OwnIdJagObservation::NotIssued(answer) => judged(
            Verdict::Skip,
            format!(
                "the target's own IdP (also_idp) issued no ID-JAG for this RAS's access token: \
                 {answer}"
            ),
        ),
        OwnIdJagObservation::Probed(probe) => {
            let accepted = Outcome::Accepted {
                body: Default::default(),
            };
            judge_negative(level, &rules.reject.to_vec(), &accepted, probe, what)
        }
    }
}
