//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the properties
//! the fuzz targets check, so an input that once crashed stays fixed.

fn replay(target: &str, check: fn(&[u8])) {
    let dir = package_dir().join("fuzz/corpus").join(target);
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

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
