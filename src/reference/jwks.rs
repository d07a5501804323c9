//! The reference RAS's JWKS cache: each issuer's key set, fetched over HTTP, kept for the
//! configured time, refetched once on an unknown `kid` (at most once per `min_refetch`), and
//! fail-closed when the issuer's JWKS is slow (LOAD-06).
//!
//! Fetches go one at a time, behind one lock, and that lock is never what a request with a
//! known key waits on: the key sets themselves sit behind a short synchronous lock. When the
//! issuer is slow:
//!
//! - a request whose key is in a set past its cache time waits at most [`STALE_WAIT`] for
//!   the refresh (none when a fetch is already under way), then verifies with the keys the
//!   issuer last published, so valid ID-JAGs keep being served;
//! - a fetch that timed out (the HTTP client's five seconds, or a refresh given up after
//!   [`STALE_WAIT`]) is not tried again for `min_refetch`: an unknown `kid` in that time is
//!   refused at once with [`JWKS_TIMEOUT`], so requests never queue one fetch timeout after
//!   another, and no token is issued on keys that could not be had.
//!
//! With a JWKS that answers in time this is the plain cache: fetch when the copy is older
//! than the cache time, refetch on an unknown `kid` when the copy is older than
//! `min_refetch`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};

use super::refusal::{Refusal, invalid_grant};

/// The description of the refusal given when the issuer's JWKS did not answer in time (the
/// `jwks-timeout-fails-open` defect looks for it).
pub const JWKS_TIMEOUT: &str = "the issuer's JWKS did not answer in time";

/// Longest a request whose key is cached (past its cache time) waits for a refresh before it
/// uses the keys the issuer last published.
pub const STALE_WAIT: Duration = Duration::from_secs(1);

struct CachedJwks {
    set: JwkSet,
    fetched: Instant,
}

/// What is known of one JWKS URL.
#[derive(Default)]
struct Slot {
    /// The last set fetched.
    cached: Option<CachedJwks>,
    /// When a fetch last timed out (cleared by a fetch that succeeds).
    timed_out: Option<Instant>,
}

/// JWKS per URL, cached for the configured TTL and refetched once on an unknown `kid`.
pub struct JwksCache {
    http: reqwest::Client,
    ttl: Duration,
    min_refetch: Duration,
    keep_removed: bool,
    /// Under `jwks-fetch-blocks-all`: every lookup waits for the fetch lock, and a copy past
    /// its cache time is refetched whatever the last fetch did.
    blocking: bool,
    slots: Mutex<HashMap<String, Slot>>,
    /// Held for the length of a fetch: one at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// One look at a URL's slot.
struct Seen {
    /// The copy is younger than the cache time.
    fresh: bool,
    /// The key asked for, in the copy (whatever its age).
    key: Option<Jwk>,
    /// The copy is older than `min_refetch` (or there is none).
    may_refetch: bool,
    /// A fetch timed out less than `min_refetch` ago.
    recently_timed_out: bool,
    /// There is a copy.
    cached: bool,
}

impl JwksCache {
    /// An empty cache; a refetched JWKS is kept at least `min_refetch`.
    pub fn new(http: reqwest::Client, ttl: Duration, min_refetch: Duration) -> Self {
        JwksCache {
            http,
            ttl,
            min_refetch,
            keep_removed: false,
            blocking: false,
            slots: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Under `never-evict-removed-keys`: a refetched JWKS is merged into the cached one, so a
    /// key the issuer removed stays trusted.
    pub fn keep_removed_keys(mut self, keep: bool) -> Self {
        self.keep_removed = keep;
        self
    }

    /// Under `jwks-fetch-blocks-all` (a load defect): one lock over the cache for the length
    /// of every fetch, as a plain mutex-guarded map does, so a slow JWKS holds up every token
    /// request, a known key or not.
    pub fn block_on_fetch(mut self, blocking: bool) -> Self {
        self.blocking = blocking;
        self
    }

    fn look(&self, uri: &str, kid: Option<&str>, alg: &str) -> Seen {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.get(uri);
        let cached = slot.and_then(|s| s.cached.as_ref());
        Seen {
            fresh: cached.is_some_and(|c| c.fetched.elapsed() < self.ttl),
            key: cached.and_then(|c| find_key(&c.set, kid, alg)),
            may_refetch: cached.is_none_or(|c| c.fetched.elapsed() >= self.min_refetch),
            recently_timed_out: slot
                .and_then(|s| s.timed_out)
                .is_some_and(|t| t.elapsed() < self.min_refetch),
            cached: cached.is_some(),
        }
    }

    fn timed_out(&self, uri: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(uri.to_string()).or_default().timed_out = Some(Instant::now());
    }

    /// Fetches the JWKS at `uri` and caches it (under `keep_removed`, with the keys cached
    /// before added); a timeout is remembered. Called with `fetching` held.
    async fn fetch(&self, uri: &str) -> Result<(), Refusal> {
        let old: Vec<Jwk> = if self.keep_removed {
            self.all_keys(uri).await
        } else {
            Vec::new()
        };
        // Dropped unfinished (a refresh given up after STALE_WAIT) counts as a timeout.
        let mut pending = TimeoutOnDrop(Some((self, uri)));
        let fetched = fetch_jwks(&self.http, uri).await;
        pending.0 = None;
        let mut set = match fetched {
            Ok(set) => set,
            Err(e) => {
                if e.description == JWKS_TIMEOUT {
                    self.timed_out(uri);
                }
                return Err(e);
            }
        };
        for k in old {
            let kid = k.common.key_id.as_deref();
            if kid.is_none_or(|kid| set.find(kid).is_none()) {
                set.keys.push(k);
            }
        }
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        *slots.entry(uri.to_string()).or_default() = Slot {
            cached: Some(CachedJwks {
                set,
                fetched: Instant::now(),
            }),
            timed_out: None,
        };
        Ok(())
    }

    /// The key `kid` (or the only key for `alg` when there is no `kid`) of the JWKS at `uri`;
    /// `None` when there is no such key even after a refetch.
    /// With `refetch` false an unknown `kid` is never looked up again before the TTL.
    pub async fn key(
        &self,
        uri: &str,
        kid: Option<&str>,
        alg: &str,
        refetch: bool,
    ) -> Result<Option<Jwk>, Refusal> {
        if self.blocking {
            let guard = self.fetching.lock().await;
            return self.locked_key(guard, uri, kid, alg, refetch).await;
        }
        let seen = self.look(uri, kid, alg);
        match seen.key {
            Some(k) if seen.fresh => return Ok(Some(k)),
            // Past its cache time: refreshed, but the issuer's last keys serve while it is
            // slow.
            Some(k) => {
                if seen.recently_timed_out {
                    return Ok(Some(k));
                }
                let Ok(guard) = self.fetching.try_lock() else {
                    return Ok(Some(k));
                };
                return match tokio::time::timeout(
                    STALE_WAIT,
                    self.locked_key(guard, uri, kid, alg, refetch),
                )
                .await
                {
                    Ok(found) => found,
                    Err(_) => Ok(Some(k)),
                };
            }
            None => {}
        }
        let guard = self.fetching.lock().await;
        self.locked_key(guard, uri, kid, alg, refetch).await
    }

    /// [`JwksCache::key`] with the fetch lock held: the copy refreshed when it is past its
    /// cache time, then refetched once when the key is not in it.
    async fn locked_key(
        &self,
        _fetching: tokio::sync::MutexGuard<'_, ()>,
        uri: &str,
        kid: Option<&str>,
        alg: &str,
        refetch: bool,
    ) -> Result<Option<Jwk>, Refusal> {
        let mut seen = self.look(uri, kid, alg);
        if self.blocking {
            seen.recently_timed_out = false;
        }
        if !seen.fresh {
            if seen.recently_timed_out && seen.cached {
                if seen.key.is_some() {
                    return Ok(seen.key);
                }
            } else {
                self.fetch(uri).await?;
                seen = self.look(uri, kid, alg);
            }
        }
        if seen.key.is_some() {
            return Ok(seen.key);
        }
        // Unknown kid: the issuer may have rotated. Refetch, but a copy is kept at least
        // `min_refetch` however it was fetched, so a flood of unknown kids (or a short cache
        // time) cannot cause a fetch per request; nor is a fetch that timed out tried again
        // sooner.
        if !refetch || !seen.may_refetch {
            return Ok(None);
        }
        if seen.recently_timed_out {
            return Err(jwks_timeout());
        }
        self.fetch(uri).await?;
        Ok(self.look(uri, kid, alg).key)
    }

    /// Every key cached for `uri` (empty when none was fetched yet).
    pub async fn all_keys(&self, uri: &str) -> Vec<Jwk> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .get(uri)
            .and_then(|s| s.cached.as_ref())
            .map(|c| c.set.keys.clone())
            .unwrap_or_default()
    }
}

/// Records a timeout for the URL unless disarmed (its fetch finished).
struct TimeoutOnDrop<'a>(Option<(&'a JwksCache, &'a str)>);

impl Drop for TimeoutOnDrop<'_> {
    fn drop(&mut self) {
        if let Some((cache, uri)) = self.0 {
            cache.timed_out(uri);
        }
    }
}

/// The refusal when the issuer's JWKS did not answer in time (see [`JwksCache`]).
pub(super) fn jwks_timeout() -> Refusal {
    invalid_grant(JWKS_TIMEOUT)
}

/// Fetches a JWK Set; a timeout is refused with [`JWKS_TIMEOUT`].
pub(super) async fn fetch_jwks(http: &reqwest::Client, uri: &str) -> Result<JwkSet, Refusal> {
    let resp = http
        .get(uri)
        .send()
        .await
        .map_err(|e| match e.is_timeout() {
            true => jwks_timeout(),
            false => invalid_grant(format!("cannot fetch the issuer's JWKS: {e}")),
        })?;
    if !resp.status().is_success() {
        return Err(invalid_grant(format!(
            "the issuer's JWKS answered {}",
            resp.status()
        )));
    }
    resp.json::<JwkSet>()
        .await
        .map_err(|e| match e.is_timeout() {
            true => jwks_timeout(),
            false => invalid_grant(format!("the issuer's JWKS is not a JWK Set: {e}")),
        })
}

/// The key `kid` of `set`, or without a `kid` the only signing key for `alg`.
pub(super) fn find_key(set: &JwkSet, kid: Option<&str>, alg: &str) -> Option<Jwk> {
    match kid {
        Some(k) => set.find(k).cloned(),
        None => {
            let same_family: Vec<&Jwk> = set
                .keys
                .iter()
                .filter(|j| jwk_fits_alg(j, alg))
                .filter(|j| {
                    j.common.public_key_use != Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
                })
                .collect();
            if same_family.len() == 1 {
                Some(same_family[0].clone())
            } else {
                None
            }
        }
    }
}

/// Whether `jwk` is of the key family `alg` needs.
pub(super) fn jwk_fits_alg(jwk: &Jwk, alg: &str) -> bool {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            alg.starts_with("RS") || alg.starts_with("PS") || alg == "HS256"
        }
        AlgorithmParameters::EllipticCurve(_) => alg.starts_with("ES"),
        _ => false,
    }
}
