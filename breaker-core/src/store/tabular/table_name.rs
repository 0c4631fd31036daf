//! The names a table-backed store accepts for its table: a plain identifier,
//! so that it is safe in SQL without quoting rules, and keeps its case in
//! every database (the stores quote it).

/// `Ok` for letters, digits and `_`, not starting with a digit, at most
/// `max` of them; otherwise the message that says what would be right.
pub(crate) fn check(table: &str, max: usize) -> Result<(), String> {
    let mut chars = table.chars();
    let starts = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts && table.len() <= max && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "invalid table name {table:?}: expected letters, digits and `_`, \
             not starting with a digit, at most {max} (such as `breaker_state`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn only_plain_identifiers_within_the_length_pass() {
        for good in ["breaker_state", "_t", "T2"] {
            assert_eq!(check(good, 63), Ok(()), "{good}");
        }
        for bad in ["", "2t", "a-b", "a b", "x\"; DROP TABLE y", "é"] {
            assert!(check(bad, 63).is_err(), "{bad}");
        }
        assert!(check(&"a".repeat(63), 63).is_ok());
        assert!(check(&"a".repeat(64), 63).is_err());
    }
}
