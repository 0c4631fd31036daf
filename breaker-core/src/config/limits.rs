//! The largest value each kind of setting accepts, from the vocabulary
//! (`breaker-vocab`), so the attribute, the builder and the docs agree.

use std::time::Duration;

use breaker_vocab::keys;

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::from_nanos(keys::MAX_DURATION_NANOS);
/// The largest `fail_max`, count `window` and `min_calls`.
pub const MAX_COUNT: u32 = keys::MAX_COUNT;
/// The largest `success` and `half_open`.
pub const MAX_TRIALS: u32 = keys::MAX_TRIALS;
/// The largest `backoff` factor.
pub const MAX_BACKOFF: f64 = keys::MAX_FACTOR as f64;
