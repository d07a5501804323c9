//! What the run is doing right now, for the heartbeat of a CI log: the checks in flight and
//! the long waits among them ("JAG-SIG-14: waiting for the RAS's 5m JWKS cache, 3m 10s
//! left"), so that a log with nothing new for minutes still says why.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The checks in flight, shared between the runner (which records) and the command line
/// (which reads every few seconds).
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<Mutex<BTreeMap<String, Doing>>>);

#[derive(Debug, Clone)]
struct Doing {
    since: Instant,
    wait: Option<(String, Instant)>,
}

/// One check in flight, as the heartbeat reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The check ID.
    pub id: String,
    /// How long it has run.
    pub running: Duration,
    /// What it is waiting for, and how long is left, when it waits.
    pub wait: Option<(String, Duration)>,
}

impl Activity {
    /// `id` has started.
    pub fn started(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                id.to_string(),
                Doing {
                    since: Instant::now(),
                    wait: None,
                },
            );
        }
    }

    /// `id` has finished (or was cancelled).
    pub fn finished(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }

    /// `id` waits for `what` until `until` (a later call replaces it; [`Activity::done_waiting`]
    /// ends it).
    pub fn waiting(&self, id: &str, what: impl Into<String>, until: Instant) {
        if let Ok(mut m) = self.0.lock()
            && let Some(d) = m.get_mut(id)
        {
            d.wait = Some((what.into(), until));
        }
    }

    /// `id` no longer waits.
    pub fn done_waiting(&self, id: &str) {
        if let Ok(mut m) = self.0.lock()
            && let Some(d) = m.get_mut(id)
        {
            d.wait = None;
        }
    }

    /// The checks in flight now, by ID.
    pub fn snapshot(&self) -> Vec<InFlight> {
        let now = Instant::now();
        self.0
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(id, d)| InFlight {
                        id: id.clone(),
                        running: now.saturating_duration_since(d.since),
                        wait: d
                            .wait
                            .as_ref()
                            .map(|(w, until)| (w.clone(), until.saturating_duration_since(now))),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The heartbeat line for the checks in flight: each wait with the time left, else the checks
/// still running; `None` when nothing is in flight.
pub fn heartbeat(in_flight: &[InFlight]) -> Option<String> {
    if in_flight.is_empty() {
        return None;
    }
    let waits: Vec<String> = in_flight
        .iter()
        .filter_map(|f| {
            f.wait
                .as_ref()
                .map(|(what, left)| format!("{}: {what}, {} left", f.id, short(*left)))
        })
        .collect();
    if !waits.is_empty() {
        return Some(waits.join("; "));
    }
    let running: Vec<String> = in_flight
        .iter()
        .map(|f| format!("{} ({})", f.id, short(f.running)))
        .collect();
    Some(format!("still running: {}", running.join(", ")))
}

/// A duration to the second, as `3m 10s` or `42s`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_names_waits_first_then_what_runs() {
        let a = Activity::default();
        assert_eq!(heartbeat(&a.snapshot()), None);
        a.started("JAG-SIG-14");
        a.started("BASE-01");
        let line = heartbeat(&a.snapshot()).unwrap_or_default();
        assert!(
            line.starts_with("still running: BASE-01 (0s), JAG-SIG-14"),
            "{line}"
        );
        a.waiting(
            "JAG-SIG-14",
            "waiting for the RAS's 5m JWKS cache",
            Instant::now() + Duration::from_secs(190),
        );
        let line = heartbeat(&a.snapshot()).unwrap_or_default();
        assert!(
            line.starts_with("JAG-SIG-14: waiting for the RAS's 5m JWKS cache, 3m 9s left")
                || line.starts_with("JAG-SIG-14: waiting for the RAS's 5m JWKS cache, 3m 10s left"),
            "{line}"
        );
        a.done_waiting("JAG-SIG-14");
        a.finished("BASE-01");
        a.finished("JAG-SIG-14");
        assert!(a.snapshot().is_empty());
        assert_eq!(short(Duration::from_secs(120)), "2m");
    }
}
