//! The vocabulary of breaker's configuration, written once for every crate
//! that reads or writes it.
//!
//! A breaker is configured with the same words in three places: the
//! `#[circuit_breaker(...)]` attribute (read by `breaker-macros` at compile
//! time), operators' text overrides and `Config`'s text form (read by
//! `breaker-core` at run time), and the `breaker` declarations of traces
//! (read by `breaker-sim`). This crate holds what those readers must agree
//! on, and nothing about what a breaker does with the values:
//!
//! - [`keys`]: the table of keys, each with its kind of value, its limits,
//!   its default and one line of doc; the limits as constants.
//! - [`duration`]: the duration grammar (`250ms`, `1.5s`, `1m30s`), parsed
//!   exactly to the nanosecond and formatted back, and exact decimals.
//! - [`suggest`]: the "did you mean" for a misspelt key.
//!
//! Each reader words its own messages (a compile error at a span, an
//! operator's override, a trace line): this crate reports *what* was wrong
//! as values, never as prose.
//!
//! It has no dependencies, so the proc-macro crate can use it without
//! knowing any runtime type.

pub mod duration;
pub mod keys;
pub mod suggest;
