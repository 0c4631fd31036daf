//! Open periods in the policies' unit: how long the next one lasts after a
//! failed trial (backoff), in clock nanoseconds.

use std::time::Duration;

use crate::config::Config;

/// The open period after a failed (or undecided) trial, given the previous
/// one: grown by `backoff` up to `reset_max`, or `reset` without backoff.
pub(crate) fn reopen_period(config: &Config, previous: u64) -> u64 {
    match config.backoff() {
        Some(factor) => {
            let cap = config.reset_max().map_or(u64::MAX, nanos);
            factor.apply(previous).min(cap)
        }
        None => nanos(config.reset()),
    }
}

/// Whether the open periods `new` gives differ from `old`'s: `reset`,
/// `backoff` or `reset_max` changed, so the next opening lasts the new `reset`.
pub(crate) fn periods_differ(old: &Config, new: &Config) -> bool {
    old.reset() != new.reset()
        || old.backoff() != new.backoff()
        || old.reset_max() != new.reset_max()
}

/// A duration in clock nanoseconds, saturating (the policies' unit).
pub(crate) fn nanos(d: Duration) -> u64 {
    crate::clock::saturating_nanos(d)
}
