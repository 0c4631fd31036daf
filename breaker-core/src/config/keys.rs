//! The keys a configuration has, as the runtime sees the vocabulary: their
//! names, the typed value the attribute hands over for each, and the
//! suggestion for a mistyped one.

/// Every key a breaker can be configured with, in the order of SEMANTICS.md.
pub const KEYS: [&str; 15] = breaker_vocab::keys::CONFIG_KEYS;

/// A value of one of [`KEYS`] as the attribute wrote it, already in the type
/// the key takes: the attribute's expansion hands it to the runtime as is
/// (`__private::Site`), so nothing it wrote is read back from text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A whole number: `fail_max`, `min_calls`, `success`, `half_open`, or a
    /// count `window`.
    Count(u32),
    /// A duration in nanoseconds: `within`, `slow`, `reset`, `reset_max`,
    /// `timeout`, `max_half_open_wait`, or a time `window`.
    Nanos(u64),
    /// A percentage in hundredths: `failure_rate`, `slow_rate`.
    Hundredths(u32),
    /// A factor in millionths: `backoff`, `adaptive`.
    Millionths(u64),
}

/// The known key closest to `given`, if one is close enough to be a typo.
pub fn suggest(given: &str) -> Option<&'static str> {
    breaker_vocab::suggest::config_key(given)
}
