//! The property the `trace` fuzz target checks (`sim/fuzz/`), kept here so
//! that the corpus replay test (`tests/fuzz_corpus.rs`) checks the very same
//! one on stable Rust. A panic is a found bug.

/// A trace from untrusted bytes: parsing never panics; an error names a line
/// and column inside the text; what parses replays through the reference
/// model and through breaker-core, and both write the same log.
pub fn trace(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::trace::parse("fuzz.trace", &text) {
        Ok(trace) => {
            let model = crate::model::replay(&trace);
            if let Ok(real) = crate::subject::real::replay("fuzz.trace", &trace) {
                assert!(model == real, "model and breaker-core disagree on {text:?}");
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.lines().count().max(1), "{e}");
            assert!(e.column >= 1, "{e}");
        }
    }
}
