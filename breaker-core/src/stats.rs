//! A snapshot of what a breaker has seen.

use std::time::Duration;

use crate::State;

/// Counters and gauges of one breaker, read without stopping it.
///
/// Its one instant, `opened_at`, is on the breaker's monotonic clock (see
/// [`clock`](crate::clock) for the epoch); durations and counts need no
/// epoch.
///
/// The counters are cumulative over the breaker's life (like Prometheus
/// counters): `reset()` clears the policies' counters, not these. At every
/// instant `admitted = successes + failures + cancelled + in_flight`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// The current state.
    pub state: State,
    /// Calls let through.
    pub admitted: u64,
    /// Calls refused without running.
    pub rejected: u64,
    /// Admitted calls that succeeded (including errors classified as not failures).
    pub successes: u64,
    /// Admitted calls that failed (errors, panics, timeouts).
    pub failures: u64,
    /// Ended calls slower than `slow`, successes and failures alike.
    pub slow: u64,
    /// Admitted calls whose future was dropped before it finished.
    pub cancelled: u64,
    /// Admitted calls still running.
    pub in_flight: u64,
    /// The consecutive-failure run in Closed (0 in other states).
    pub consecutive_failures: u32,
    /// The failure rate (percent) over the rate window, once it holds
    /// `min_calls` outcomes; `None` without a rate policy.
    pub failure_rate: Option<f64>,
    /// The slow-call rate (percent) over the same window.
    pub slow_call_rate: Option<f64>,
    /// When the breaker last opened, on its clock: the time since that
    /// clock's epoch, not a wall-clock time (the real clock counts from the
    /// first time any breaker of the process read it, a
    /// [`ManualClock`](crate::clock::ManualClock) from zero). How long ago:
    /// [`Breaker::now`](crate::Breaker::now) minus this. `None` if it never
    /// opened.
    pub opened_at: Option<Duration>,
    /// Transitions since the breaker was created (dry-run moves excluded).
    pub transitions: u64,
    /// In [`State::MetricsOnly`], the state the dry run is in: where the
    /// breaker would be if it were live.
    pub dry_run: Option<State>,
    /// Calls a dry run admitted that a live breaker would have rejected.
    pub would_reject: u64,
    /// With `adaptive`: the probability that a call arriving now is dropped
    /// (0 outside Closed, where adaptive throttling does not decide). In
    /// MetricsOnly, the dry run's: the probability that it counts the call
    /// in `would_reject`.
    pub drop_probability: Option<f64>,
    /// With `ramp`, during a slow start after recovery: the share of calls
    /// admitted now, from 0.1 to 1 (none outside a slow start).
    pub ramp_share: Option<f64>,
    /// Calls admitted as half-open trials (they count in `admitted` too).
    pub trials: u64,
}
