//! "Did you mean" hints for misspelt names, by breaker-vocab's suggestion
//! with the simulator's tolerance (a third of the misspelt word).

use breaker_vocab::suggest::{Tolerance, closest};

pub use breaker_vocab::suggest::edit_distance;

/// `"; did you mean `x`?"` for the closest candidate within a small distance, or `""`.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates, Tolerance::OfWord)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name() {
        assert_eq!(
            did_you_mean("fail_mx", ["fail_max", "reset"]),
            "; did you mean `fail_max`?"
        );
        assert_eq!(did_you_mean("zzzzzz", ["fail_max", "reset"]), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
