//! `cargo fuzz run duration`: the duration parser on untrusted text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| breaker_core::fuzz::duration(data));
