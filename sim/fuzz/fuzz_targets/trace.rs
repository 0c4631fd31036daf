//! `cargo fuzz run trace`: the trace parser (and the replay of what parses)
//! on untrusted text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| breaker_sim::fuzz::trace(data));
