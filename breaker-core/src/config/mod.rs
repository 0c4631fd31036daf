//! What a breaker is configured with, built in code or from text, and checked
//! before any breaker uses it.
//!
//! Every key, from the value given to the value the runtime reads, is in
//! `keys.rs`: the builder's fields, setting a key by name (the attribute's
//! typed values and text), the rules `build` checks, and `Config` itself.
//! `builder.rs` builds in code, one typed method a key; `text.rs` writes and
//! reads a whole configuration; `units.rs`, `limits.rs` and `error.rs` hold
//! the types of values, the limits and the mistakes.

// This file only says what the crate sees. Its children never import it:
// what they share (the builder's fields, the value types) is in siblings.

mod builder;
mod error;
mod keys;
mod limits;
#[cfg(test)]
mod tests;
mod text;
mod units;

pub use error::ConfigError;
pub use keys::{Config, ConfigBuilder, KEYS, Value, suggest};
pub use limits::{MAX_BACKOFF, MAX_COUNT, MAX_DURATION, MAX_TRIALS};
pub use units::{Factor, Percent, Window};
