//! The trace parser never panics, and every error it reports has a place.

use proptest::prelude::*;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("breaker".to_string()),
        Just("db".to_string()),
        Just("ok".to_string()),
        Just("err".to_string()),
        Just("trip".to_string()),
        Just("#".to_string()),
        Just("+".to_string()),
        Just("fail_max=".to_string()),
        Just("window=".to_string()),
        Just("retry=3".to_string()),
        Just("retry_backoff=".to_string()),
        "(ok|err|panic|x|1s|é)?(,(ok|err|ignored|1ms|2x|é)?){0,3}",
        Just("=".to_string()),
        "[0-9]{1,22}(\\.[0-9]{0,12})?(ns|us|ms|s|m|h|x|é)?",
        "[a-z_=.0-9]{1,12}",
        any::<String>(),
    ]
}

// Seeded, so every run checks the same cases; set PROPTEST_RNG_SEED to explore others.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7)), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(lines in proptest::collection::vec(proptest::collection::vec(word(), 0..6), 0..8)) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        match breaker_sim::trace::parse("f.trace", &text) {
            Ok(trace) => {
                // What parses also replays without panicking.
                let _ = breaker_sim::model::replay(&trace);
            }
            Err(e) => {
                prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1));
                prop_assert!(e.column >= 1);
                prop_assert!(e.to_string().starts_with("f.trace:"));
            }
        }
    }
}
