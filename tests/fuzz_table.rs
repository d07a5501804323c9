//! The fuzz table (`oracle::fuzz`) judges as `run` does: every catalogue row it names that a
//! built-in scenario checks has that scenario's level under every profile, so one behaviour
//! gets one verdict from both commands.

use xaa_conform::oracle::fuzz::{DEPARTURES, Effect, FuzzWorld, STEPS, level_of};
use xaa_conform::spec::PROFILES;

#[test]
fn the_tables_levels_are_the_built_in_scenarios() {
    let scenarios = xaa_conform::scenario::embedded().expect("built-in scenarios");
    for (id, level, ..) in DEPARTURES {
        let s = scenarios
            .iter()
            .find(|s| s.scenario.id == *id)
            .unwrap_or_else(|| panic!("no scenario {id}"));
        assert_eq!(s.scenario.requirement.level, *level, "{id}");
    }
    let mut compared = 0;
    for row in STEPS {
        let (Effect::Breaks(ids) | Effect::Keeps(ids)) = row.effect else {
            continue;
        };
        for id in ids {
            let Some(s) = scenarios.iter().find(|s| s.scenario.id == *id) else {
                continue;
            };
            for &profile in PROFILES {
                let world = FuzzWorld {
                    profile,
                    jit_provisioning: false,
                    body_auth: false,
                };
                let theirs = s
                    .scenario
                    .profiles
                    .get(profile)
                    .and_then(|p| p.level)
                    .unwrap_or(s.scenario.requirement.level);
                assert_eq!(level_of(id, &world), theirs, "{id} under {profile}");
                compared += 1;
            }
        }
    }
    assert!(compared > 150, "only {compared} comparisons");
}
