//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the properties
//! the fuzz targets check, so an input that once crashed stays fixed.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{} crashes the `{target}` target",
            path.display()
        );
        inputs += 1;
    }
    assert!(
        inputs >= 10,
        "the `{target}` corpus has only {inputs} inputs"
    );
}

#[test]
fn duration_corpus_replays_clean() {
    replay("duration", breaker_core::fuzz::duration);
}

#[test]
fn config_corpus_replays_clean() {
    replay("config", breaker_core::fuzz::config);
}
