//! The phase a load run is in (preflight, replay race, conformance lane, main load, each step
//! of the limit search), for the live line on a terminal and the progress lines of a CI log:
//! the phases set it, a ticker shows it, so the line never freezes while a phase without
//! goose runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The current phase, shared by the phases and the ticker that shows it.
#[derive(Clone, Default)]
pub struct PhaseBoard(Arc<Mutex<Option<(String, Instant)>>>);

impl std::fmt::Debug for PhaseBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PhaseBoard").field(&self.now()).finish()
    }
}

impl PhaseBoard {
    /// The run is now in `phase` (e.g. `limit search: step 3/6 at 40/s`).
    pub fn set(&self, phase: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            *p = Some((phase.into(), Instant::now()));
        }
    }

    /// The phase and how long it has lasted, when one was set.
    pub fn now(&self) -> Option<(String, Duration)> {
        self.0
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(|(s, t)| (s.clone(), t.elapsed())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_phase_set_is_shown() {
        let b = PhaseBoard::default();
        assert!(b.now().is_none());
        b.set("replay race");
        b.clone().set("main load");
        assert_eq!(b.now().map(|(p, _)| p).as_deref(), Some("main load"));
    }
}
