//! "Did you mean": the known word closest to a misspelt one, if it is close
//! enough to be a typo.
//!
//! Closeness is the edit distance (Levenshtein, counted in chars). How far a
//! typo may stray is a [`Tolerance`]: the attribute and the runtime measure
//! it against the key they would suggest, the simulator against the word
//! the user wrote.

use crate::keys::{ATTRIBUTE_KEYS, CONFIG_KEYS, RESERVED};

/// How far from the candidate a typo may be, and which candidate wins a tie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tolerance {
    /// A third of the candidate's length (at least 1); a tie goes to the
    /// alphabetically first. The attribute's and `Config`'s rule.
    OfCandidate,
    /// A third of the misspelt word's length (at least 1); a tie goes to the
    /// candidate given first. The simulator's rule.
    OfWord,
}

/// The candidate closest to `given`, if one is within `tolerance`.
///
/// ```
/// use breaker_vocab::suggest::{closest, Tolerance};
/// assert_eq!(closest("fail_mx", ["fail_max", "reset"], Tolerance::OfWord), Some("fail_max"));
/// assert_eq!(closest("zzzzzz", ["fail_max", "reset"], Tolerance::OfWord), None);
/// ```
pub fn closest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    tolerance: Tolerance,
) -> Option<&'a str> {
    let scored = candidates.into_iter().map(|c| (edit_distance(given, c), c));
    match tolerance {
        Tolerance::OfCandidate => scored
            .filter(|(d, c)| *d <= (c.len() / 3).max(1))
            .min()
            .map(|(_, c)| c),
        Tolerance::OfWord => {
            let limit = (given.chars().count() / 3).max(1);
            scored
                .filter(|(d, _)| *d <= limit)
                .min_by_key(|(d, _)| *d)
                .map(|(_, c)| c)
        }
    }
}

/// The attribute's key (or reserved key) closest to `given`.
pub fn attribute_key(given: &str) -> Option<&'static str> {
    closest(
        given,
        ATTRIBUTE_KEYS.into_iter().chain(RESERVED),
        Tolerance::OfCandidate,
    )
}

/// The breaker's configuration key ([`CONFIG_KEYS`]) closest to `given`.
pub fn config_key(given: &str) -> Option<&'static str> {
    closest(given, CONFIG_KEYS, Tolerance::OfCandidate)
}

/// The edit distance between `a` and `b`: the fewest chars inserted, removed
/// or replaced to turn one into the other.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(attribute_key("fail_mx"), Some("fail_max"));
        assert_eq!(attribute_key("metrics_onl"), Some("metrics_only"));
        assert_eq!(config_key("sucess"), Some("success"));
        assert_eq!(config_key("fallbak"), None);
        assert_eq!(config_key("zzzzzz"), None);
    }

    #[test]
    fn the_tolerances_measure_different_words() {
        // 3 edits: within a third of the 10-char word, not of the 7-char key.
        assert_eq!(
            closest("timeoutxyz", ["timeout"], Tolerance::OfWord),
            Some("timeout")
        );
        assert_eq!(
            closest("timeoutxyz", ["timeout"], Tolerance::OfCandidate),
            None
        );
        assert_eq!(closest("ab", ["ac", "aa"], Tolerance::OfWord), Some("ac"));
        assert_eq!(
            closest("ab", ["ac", "aa"], Tolerance::OfCandidate),
            Some("aa")
        );
    }

    #[test]
    fn edit_distance_counts_chars() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("µs", "us"), 1);
    }
}
