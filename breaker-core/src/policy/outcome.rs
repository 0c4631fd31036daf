//! What the policies are fed and what they answer: one outcome in, at most
//! one reason to trip out. Its own module so that every policy can name these
//! without importing the folder that gathers them.

use std::time::Duration;

use crate::Reason;
use crate::config::Percent;

/// One outcome as the policies see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// When the call ended, in clock nanoseconds.
    pub(crate) at: u64,
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

/// Why a policy trips: a plain value, so the common answer (no trip) moves
/// no `Reason` (which has drop glue) through the stack. Each variant holds
/// the fields of the [`Reason`] of the same name, in their order; what they
/// mean is said there.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Trip {
    /// `Reason::ConsecutiveFailures`: the run.
    Consecutive(u32),
    /// `Reason::FailuresWithin`: the failures, the window.
    FailuresWithin(u32, Duration),
    /// `Reason::FailureRate`: the failures, the calls, the threshold.
    FailureRate(u32, u32, Percent),
    /// `Reason::SlowCallRate`: the slow calls, the calls, the threshold.
    SlowCallRate(u32, u32, Percent),
}

impl From<Trip> for Reason {
    fn from(trip: Trip) -> Reason {
        match trip {
            Trip::Consecutive(failures) => Reason::ConsecutiveFailures { failures },
            Trip::FailuresWithin(failures, within) => Reason::FailuresWithin { failures, within },
            Trip::FailureRate(failures, calls, threshold) => Reason::FailureRate {
                failures,
                calls,
                threshold,
            },
            Trip::SlowCallRate(slow, calls, threshold) => Reason::SlowCallRate {
                slow,
                calls,
                threshold,
            },
        }
    }
}
