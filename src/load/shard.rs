//! `--shard i/N`: one of N load generators driving the same target together.
//!
//! goose 0.19 has no distributed mode, so a large test is N independent processes (for
//! example the pods of a Kubernetes Indexed Job, `i` = `JOB_COMPLETION_INDEX`), each sending
//! its share of the rate with `jti`s no other shard can produce, each writing its own
//! `load.json`; `xaa-conform load merge` adds them up exactly afterwards ([`super::merge`]).
//!
//! Shards are numbered from 0, like `JOB_COMPLETION_INDEX`: `0/4`, `1/4`, `2/4`, `3/4`.

use std::fmt;
use std::str::FromStr;

/// This process's place among the shards of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    /// 0-based index, below `count`.
    pub index: u32,
    /// How many shards the test has (at least 1).
    pub count: u32,
}

/// The most shards a test may have; more is surely a typo.
pub const MAX_SHARDS: u32 = 10_000;

/// A `--shard` value that is not `i/N` with `0 <= i < N` (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad --shard `{value}`: {reason} (write i/N with shards numbered 0 to N-1, e.g. 0/4)")]
pub struct ShardError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Shard {
    /// The whole test in one process: shard `0/1`.
    pub const SINGLE: Shard = Shard { index: 0, count: 1 };

    /// Parses and validates `i/N`.
    pub fn parse(value: &str) -> Result<Shard, ShardError> {
        let err = |reason: String| ShardError {
            value: value.to_string(),
            reason,
        };
        let (i, n) = value
            .trim()
            .split_once('/')
            .ok_or_else(|| err("no `/`".into()))?;
        let number = |what: &str, s: &str| {
            s.trim().parse::<u32>().map_err(|_| {
                err(format!(
                    "the {what} `{}` is not a whole number{}",
                    s.trim(),
                    if s.contains('$') {
                        " (was an environment variable left unexpanded? In Kubernetes write \
                         $(JOB_COMPLETION_INDEX) in args)"
                    } else {
                        ""
                    }
                ))
            })
        };
        let index = number("shard index", i)?;
        let count = number("shard count", n)?;
        if count == 0 {
            return Err(err("the shard count must be at least 1".into()));
        }
        if count > MAX_SHARDS {
            return Err(err(format!("more than {MAX_SHARDS} shards")));
        }
        if index >= count {
            return Err(err(format!("index {index} is not below the count {count}")));
        }
        Ok(Shard { index, count })
    }

    /// The prefix of every `jti` this shard mints (`s2of4-`): no two shards of a test can
    /// mint the same `jti`, so a RAS's replay detection never confuses shards, and a `jti`
    /// seen in the server's logs names the pod that sent it. Empty for a single process.
    pub fn jti_prefix(&self) -> String {
        if self.count == 1 {
            String::new()
        } else {
            format!("s{}of{}-", self.index, self.count)
        }
    }

    /// A `jti` of this shard: its prefix and `unique` (a UUID or a sequence number).
    pub fn jti(&self, unique: &str) -> String {
        format!("{}{unique}", self.jti_prefix())
    }

    /// Whether `jti` was minted by this shard (always true for a single process).
    pub fn owns_jti(&self, jti: &str) -> bool {
        self.count == 1 || jti.starts_with(&self.jti_prefix())
    }

    /// This shard's share of a total rate (requests per second): an even split.
    pub fn share_of_rate(&self, total_per_s: f64) -> f64 {
        total_per_s / f64::from(self.count)
    }

    /// This shard's share of a whole number (requests, users): `total / N`, the remainder
    /// going one each to the lowest shards, so the shares add up to `total` exactly.
    pub fn share_of_count(&self, total: u64) -> u64 {
        let n = u64::from(self.count);
        let i = u64::from(self.index);
        total / n + u64::from(i < total % n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Shard::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(" 3 / 4 ".parse::<Shard>(), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(Shard::parse("0/1"), Ok(Shard::SINGLE));
        assert_eq!(
            Shard::parse("2/4").map(|s| s.to_string()),
            Ok("2/4".to_string())
        );
        for (bad, why) in [
            ("4/4", "not below the count 4"),
            ("1/0", "at least 1"),
            ("1", "no `/`"),
            ("-1/4", "not a whole number"),
            ("a/4", "not a whole number"),
            ("1/4/2", "not a whole number"),
            ("$JOB_COMPLETION_INDEX/4", "left unexpanded"),
            ("0/10001", "more than"),
        ] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.reason.contains(why), "{bad}: {e}");
            assert!(e.to_string().contains("numbered 0 to N-1"), "{e}");
        }
    }

    #[test]
    fn jti_spaces_are_disjoint() {
        let shards: Vec<Shard> = (0..12)
            .map(|i| Shard {
                index: i,
                count: 12,
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for s in &shards {
            for n in 0..50 {
                // The same unique part in every shard still gives distinct jtis.
                assert!(seen.insert(s.jti(&n.to_string())));
            }
            for other in &shards {
                assert_eq!(other.owns_jti(&s.jti("x")), other == s, "{other} vs {s}");
            }
        }
        // `s1of12-` is no prefix of `s10of12-`'s jtis and vice versa.
        assert!(!shards[1].owns_jti(&shards[10].jti("x")));
        assert_eq!(Shard::SINGLE.jti("abc"), "abc");
        assert!(Shard::SINGLE.owns_jti("anything"));
    }

    #[test]
    fn shares_add_up() {
        for n in 1..=7u32 {
            for total in [0u64, 1, 5, 100, 101, 1_003] {
                let sum: u64 = (0..n)
                    .map(|i| Shard { index: i, count: n }.share_of_count(total))
                    .sum();
                assert_eq!(sum, total, "{total} over {n}");
            }
            let rate: f64 = (0..n)
                .map(|i| Shard { index: i, count: n }.share_of_rate(300.0))
                .sum();
            assert!((rate - 300.0).abs() < 1e-9);
        }
        assert_eq!(Shard { index: 0, count: 3 }.share_of_count(10), 4);
        assert_eq!(Shard { index: 2, count: 3 }.share_of_count(10), 3);
    }
}
