//! What a breaker is configured with, built in code or from text, and checked
//! before any breaker uses it.
//!
//! `Config` itself is in `validated.rs`; `builder.rs` gathers values,
//! `set.rs` reads them from the attribute and from text, `rules.rs` checks
//! them all at once, `text.rs` writes and reads a whole configuration.

// This file only says what the crate sees. Its children never import it:
// what they share (the builder's fields, the value types) is in siblings.

mod builder;
mod error;
mod keys;
mod limits;
mod rules;
mod set;
#[cfg(test)]
mod tests;
mod text;
mod units;
mod validated;

pub use builder::ConfigBuilder;
pub use error::ConfigError;
pub use keys::{KEYS, Value, suggest};
pub use limits::{MAX_BACKOFF, MAX_COUNT, MAX_DURATION, MAX_TRIALS};
pub use units::{Factor, Percent, Window};
pub use validated::Config;
