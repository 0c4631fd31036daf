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

/// Why a windowed policy trips: a plain value, so the common answer (no
/// trip) moves no `Reason` (which has drop glue) through the stack.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Trip {
    Consecutive {
        failures: u32,
    },
    FailuresWithin {
        failures: u32,
        within: Duration,
    },
    FailureRate {
        failures: u32,
        calls: u32,
        threshold: Percent,
    },
    SlowCallRate {
        slow: u32,
        calls: u32,
        threshold: Percent,
    },
}

impl From<Trip> for Reason {
    fn from(trip: Trip) -> Reason {
        match trip {
            Trip::Consecutive { failures } => Reason::ConsecutiveFailures { failures },
            Trip::FailuresWithin { failures, within } => {
                Reason::FailuresWithin { failures, within }
            }
            Trip::FailureRate {
                failures,
                calls,
                threshold,
            } => Reason::FailureRate {
                failures,
                calls,
                threshold,
            },
            Trip::SlowCallRate {
                slow,
                calls,
                threshold,
            } => Reason::SlowCallRate {
                slow,
                calls,
                threshold,
            },
        }
    }
}
