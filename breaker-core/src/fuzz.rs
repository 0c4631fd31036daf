//! The properties the fuzz targets check (`breaker-core/fuzz/`), kept here so
//! that the corpus replay test (`tests/fuzz_corpus.rs`) checks the very same
//! ones on stable Rust. Each takes untrusted bytes; a panic is a found bug.

use crate::{Config, format_duration, parse_duration};

/// Durations: parsing never panics, and what parses prints back to itself.
pub fn duration(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = parse_duration(&text) {
        let printed = format_duration(d);
        assert_eq!(parse_duration(&printed), Ok(d), "{text:?} -> {printed:?}");
    }
}

/// Configs from text: parsing and validation never panic, and a valid config
/// written back as keys reads back equal.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match text.parse::<Config>() {
        Ok(config) => {
            let keys = config.to_keys();
            assert_eq!(keys.parse::<Config>(), Ok(config), "{text:?} -> {keys:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
