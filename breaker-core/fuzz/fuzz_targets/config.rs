//! `cargo fuzz run config`: `Config` parsing and validation on untrusted text.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| breaker_core::fuzz::config(data));
