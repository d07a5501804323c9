//! How politely the requesting app talks to the RAS: one pace (`max_rate`) and one answer to
//! 429 Too Many Requests, shared by `run`, `fuzz` and the preflight.
//!
//! A RAS may limit how fast a client exchanges ID-JAGs (Auth0's XAA Beta: 5 requests per
//! second). A conformance verdict must never be the rate limiter's: requests to the RAS are
//! spaced to stay under the declared rate, and a 429 is waited out (RFC 6585 §4, RFC 9110
//! §10.2.3 `Retry-After`) and retried a bounded number of times; when the server still answers
//! 429, the exchange is reported as having no usable answer (an ERROR naming the 429s).

use std::time::{Duration, SystemTime};

/// The wait assumed when a 429 has no usable `Retry-After`.
pub const DEFAULT_RETRY_WAIT: Duration = Duration::from_secs(1);

/// The longest `Retry-After` honoured: a longer one is cut to this.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Retries after a 429 before the exchange is given up as rate-limited.
pub const MAX_RETRIES: u32 = 3;

/// How the error of an exchange that stayed rate-limited after the retries begins.
pub const RATE_LIMITED: &str = "rate-limited";

/// Whether an exchange's error says it stayed rate-limited (429) after the retries.
pub fn is_rate_limited(error: &str) -> bool {
    error.starts_with(RATE_LIMITED)
}

/// What a `Retry-After` value says (RFC 9110 §10.2.3: delta-seconds or an HTTP date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long (a date in the future, as the time left to it).
    Wait(Duration),
    /// An HTTP date that has passed.
    Past,
    /// Neither delta-seconds nor an HTTP date (a negative number, words).
    Unusable,
}

/// Reads one `Retry-After` value at `now`; the one parser of the header for `run`'s 429
/// policy, `load`'s counts and the absurd-value report.
pub fn read_retry_after(raw: &str, now: SystemTime) -> RetryAfter {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return RetryAfter::Wait(Duration::from_secs(secs));
    }
    match httpdate::parse_http_date(raw) {
        Ok(date) => date
            .duration_since(now)
            .map_or(RetryAfter::Past, RetryAfter::Wait),
        Err(_) => RetryAfter::Unusable,
    }
}

/// How long a 429 asks to wait, read from its `Retry-After` value (delta-seconds or an HTTP
/// date, RFC 9110 §10.2.3), with a note saying what was found. Absent, negative, unparsable or
/// past values mean [`DEFAULT_RETRY_WAIT`]; anything over [`MAX_RETRY_WAIT`] is cut to it.
pub fn retry_wait(value: Option<&str>, now: SystemTime) -> (Duration, String) {
    let Some(raw) = value.map(str::trim) else {
        return (DEFAULT_RETRY_WAIT, "no Retry-After".into());
    };
    let asked = match read_retry_after(raw, now) {
        RetryAfter::Wait(d) => Some(d),
        RetryAfter::Past | RetryAfter::Unusable => None,
    };
    match asked {
        None => (
            DEFAULT_RETRY_WAIT,
            format!("Retry-After `{raw}` unusable, waited 1 s"),
        ),
        Some(d) if d > MAX_RETRY_WAIT => (
            MAX_RETRY_WAIT,
            format!("Retry-After `{raw}` cut to {} s", MAX_RETRY_WAIT.as_secs()),
        ),
        Some(d) => (d, format!("Retry-After `{raw}`")),
    }
}

/// A `Retry-After` longer than this is absurd for a token endpoint's rate limit.
pub const ABSURD_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a `Retry-After` value is absurd (RFC 9110 §10.2.3: delta-seconds or an HTTP date in
/// the future), or `None` when it is a usable wait.
pub fn absurd_retry_after(raw: &str, now: SystemTime) -> Option<&'static str> {
    match read_retry_after(raw, now) {
        RetryAfter::Wait(wait) => {
            (wait > ABSURD_RETRY_AFTER).then_some("asks to wait over an hour")
        }
        RetryAfter::Past => Some("a date in the past"),
        RetryAfter::Unusable => Some("neither delta-seconds nor an HTTP date"),
    }
}

/// The `Retry-After` values of a run's 429s as written, with how often each came: at most
/// [`RetryAfterValues::DISTINCT`] distinct values are kept, the rest counted under `…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryAfterValues(pub std::collections::BTreeMap<String, u64>);

impl RetryAfterValues {
    /// Distinct values kept.
    pub const DISTINCT: usize = 16;
    /// The key counting values beyond [`Self::DISTINCT`].
    pub const OTHERS: &'static str = "…";

    /// Counts `n` answers with `raw` (cut to 64 characters).
    pub fn add(&mut self, raw: &str, n: u64) {
        let raw: String = raw.trim().chars().take(64).collect();
        let key = if self.0.contains_key(&raw) || self.0.len() < Self::DISTINCT {
            raw
        } else {
            Self::OTHERS.to_string()
        };
        *self.0.entry(key).or_default() += n;
    }

    /// Adds another run's values.
    pub fn merge(&mut self, other: &RetryAfterValues) {
        for (k, n) in &other.0 {
            self.add(k, *n);
        }
    }

    /// The absurd values, each with why.
    pub fn absurd(&self, now: SystemTime) -> Vec<(String, &'static str)> {
        self.0
            .keys()
            .filter(|k| k.as_str() != Self::OTHERS)
            .filter_map(|k| absurd_retry_after(k, now).map(|why| (k.clone(), why)))
            .collect()
    }

    /// One line for reports: `` `1` on 118, `soon` on 2 (absurd: neither delta-seconds nor
    /// an HTTP date); none on 3 ``.
    pub fn describe(&self, missing: u64, now: SystemTime) -> String {
        let mut parts: Vec<String> = self
            .0
            .iter()
            .map(
                |(k, n)| match absurd_retry_after(k, now).filter(|_| k != Self::OTHERS) {
                    Some(why) => format!("`{k}` on {n} (absurd: {why})"),
                    None => format!("`{k}` on {n}"),
                },
            )
            .collect();
        let without = missing.saturating_sub(
            self.0
                .iter()
                .filter(|(k, _)| {
                    k.as_str() != Self::OTHERS && read_retry_after(k, now) == RetryAfter::Unusable
                })
                .map(|(_, n)| n)
                .sum(),
        );
        if without > 0 {
            parts.push(format!("none on {without}"));
        }
        if parts.is_empty() {
            "no 429".into()
        } else {
            format!("Retry-After {}", parts.join(", "))
        }
    }
}

/// Parses a rate such as `5/s`, `300/m`, `5` (per second) into requests per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, per) = match t.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (t, "s"),
    };
    let seconds = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use /s, /m or /h, e.g. 5/s)"
            ));
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a rate such as 5/s"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("`{text}`: the rate must be above 0"));
    }
    Ok(n / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_wait(None, now).0, DEFAULT_RETRY_WAIT);
        assert_eq!(retry_wait(Some("2"), now).0, Duration::from_secs(2));
        assert_eq!(retry_wait(Some(" 0 "), now).0, Duration::ZERO);
        assert_eq!(retry_wait(Some("-5"), now).0, DEFAULT_RETRY_WAIT);
        assert_eq!(retry_wait(Some("soon"), now).0, DEFAULT_RETRY_WAIT);
        assert_eq!(retry_wait(Some("3600"), now).0, MAX_RETRY_WAIT);
        let in_3s = httpdate::fmt_http_date(now + Duration::from_secs(3));
        assert_eq!(retry_wait(Some(&in_3s), now).0, Duration::from_secs(3));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_wait(Some(&past), now).0, DEFAULT_RETRY_WAIT);
        assert!(retry_wait(Some("3600"), now).1.contains("cut to 10 s"));
    }

    #[test]
    fn absurd_values_are_named() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(absurd_retry_after("1", now), None);
        assert_eq!(absurd_retry_after("3600", now), None);
        assert!(absurd_retry_after("86400", now).is_some());
        assert!(absurd_retry_after("-1", now).is_some());
        assert!(absurd_retry_after("soon", now).is_some());
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(absurd_retry_after(&past, now), Some("a date in the past"));
        let mut v = RetryAfterValues::default();
        v.add("1", 118);
        v.add("soon", 2);
        assert_eq!(
            v.describe(5, now),
            "Retry-After `1` on 118, `soon` on 2 (absurd: neither delta-seconds nor an HTTP \
             date), none on 3"
        );
        for i in 0..40 {
            v.add(&i.to_string(), 1);
        }
        assert_eq!(v.0.len(), RetryAfterValues::DISTINCT + 1);
        assert_eq!(v.0[RetryAfterValues::OTHERS], 25);
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("5/s"), Ok(5.0));
        assert_eq!(parse_rate("5"), Ok(5.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("5/fortnight").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
