//! The consecutive policy, the default and the one most users meet first:
//! open after `fail_max` failures in a row.
//!
//! It keeps no window: its run is one number, which the live breaker keeps in
//! its state word (so that it counts lock-free) and the dry run keeps in its
//! own state. This module decides; the keeper of the run stores it.

use super::outcome::Trip;
use crate::config::Config;

/// The consecutive policy of one breaker: its threshold, 0 when it is off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Consecutive {
    threshold: u32,
}

impl Consecutive {
    /// The policy `config` asks for (off without `fail_max`).
    pub(crate) fn for_config(config: &Config) -> Consecutive {
        Consecutive {
            threshold: config.consecutive().unwrap_or(0),
        }
    }

    /// Whether the policy is on.
    #[inline]
    pub(crate) fn is_on(self) -> bool {
        self.threshold > 0
    }

    /// The run after one outcome (a failure lengthens it, a success ends it),
    /// and the trip when it reaches the threshold.
    #[inline]
    pub(crate) fn record(self, run: u32, failure: bool) -> (u32, Option<Trip>) {
        let run = if failure { run + 1 } else { 0 };
        let trip = (self.threshold > 0 && run >= self.threshold).then_some(Trip::Consecutive(run));
        (run, trip)
    }
}
