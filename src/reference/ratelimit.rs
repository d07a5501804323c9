//! The reference token endpoint's rate limit: one token bucket per client (RFC 6585 §4).
//!
//! Each client may send `rate` requests per second on average, with a burst of one second's
//! worth. A request that finds its bucket empty is answered 429 with `Retry-After` in whole
//! seconds, long enough that a retry after it finds a token again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A per-client token-bucket limiter.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests per second per client (at least 1).
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        RateLimiter {
            rate,
            burst: rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client` at `now`: `Ok` when the request may proceed, otherwise
    /// `Err(retry_after)` in whole seconds (at least 1).
    pub fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let bucket = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate);
            Err(wait.as_secs_f64().ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate_then_retry_after_holds() {
        let l = RateLimiter::new(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.check("a", t0), Ok(()));
        }
        let retry = l.check("a", t0).err();
        assert_eq!(retry, Some(1));
        // Another client has its own bucket.
        assert_eq!(l.check("b", t0), Ok(()));
        // 100 ms later one token is back.
        assert_eq!(l.check("a", t0 + Duration::from_millis(100)), Ok(()));
        assert!(l.check("a", t0 + Duration::from_millis(100)).is_err());
        // After Retry-After the retry succeeds.
        assert_eq!(l.check("a", t0 + Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn steady_state_admits_the_rate() {
        let l = RateLimiter::new(50);
        let t0 = Instant::now();
        // 200 requests per second for 4 seconds: 50 burst + 50 per second.
        let admitted = (0..800)
            .filter(|i| l.check("a", t0 + Duration::from_millis(i * 5)).is_ok())
            .count();
        assert!((240..=252).contains(&admitted), "{admitted}");
    }
}
