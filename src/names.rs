//! Near names for a mistyped one: the suggestions of "unknown … ; did you mean …?" messages
//! (check IDs, reference defects, profiles, file keys). Pure.

/// Up to three of `names` nearest to `name` (edit distance, ignoring case), nearest first,
/// within a distance of a third of its length (at least 2).
pub fn nearest<'a>(name: &str, names: &[&'a str]) -> Vec<&'a str> {
    let wanted = name.to_ascii_uppercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = names
        .iter()
        .map(|c| (edit_distance(&wanted, &c.to_ascii_uppercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// `did you mean `a`?` (or `` `a`, `b` or `c` ``) for the names nearest to `name`, those at
/// the smallest distance only; `None` when none is near.
pub fn did_you_mean(name: &str, names: &[&str]) -> Option<String> {
    let wanted = name.to_ascii_uppercase();
    let distance = |n: &str| edit_distance(&wanted, &n.to_ascii_uppercase());
    let mut near = nearest(name, names);
    let best = near.first().map(|n| distance(n))?;
    near.retain(|n| distance(n) == best);
    let quoted: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean {one}?")),
        [init @ .., last] => Some(format!("did you mean {} or {last}?", init.join(", "))),
    }
}

/// Levenshtein distance between `a` and `b`, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_several_suggestions_read_as_a_question() {
        let names = ["accept-any-aud", "accept-any-iss", "ignore-nbf"];
        assert_eq!(
            did_you_mean("accept-any-audd", &names).as_deref(),
            Some("did you mean `accept-any-aud`?")
        );
        assert_eq!(
            did_you_mean("accept-any-xxx", &names).as_deref(),
            Some("did you mean `accept-any-aud` or `accept-any-iss`?")
        );
        assert_eq!(did_you_mean("zzzzzzzz", &names), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
