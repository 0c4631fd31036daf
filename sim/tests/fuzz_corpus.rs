//! Replays the fuzz corpus (`fuzz/corpus/trace/`) through the property the
//! `trace` fuzz target checks, so an input that once crashed stays fixed.

mod support;

#[test]
fn trace_corpus_replays_clean() {
    let dir = support::package_dir().join("fuzz/corpus/trace");
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| breaker_sim::fuzz::trace(&data));
        assert!(
            outcome.is_ok(),
            "{} crashes the `trace` target",
            path.display()
        );
        inputs += 1;
    }
    assert!(inputs >= 10, "the corpus has only {inputs} inputs");
}
