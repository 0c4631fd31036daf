//! The bits of a breaker's `detours` byte: why a call may not take the
//! inlined fast paths. The settings in force set three of them, a recorder
//! the fourth, a close on trials with `ramp` the fifth; the fast paths test
//! the byte, one load.

/// Calls are timed: `slow` is configured.
pub(super) const TIMED: u8 = 1;
/// Outcomes go through the windowed policies, under the lock.
pub(super) const WINDOWED: u8 = 2;
/// A recorder taps the breaker's calls (set once, never cleared).
pub(super) const TAPPED: u8 = 4;
/// Adaptive throttling decides each admission.
pub(super) const ADAPTIVE: u8 = 8;
/// A slow start after recovery may be under way: admission draws.
pub(super) const RAMPING: u8 = 16;
/// The detours that take admission off its fast path.
pub(super) const ACQUIRE_DETOURS: u8 = TIMED | TAPPED | ADAPTIVE | RAMPING;
