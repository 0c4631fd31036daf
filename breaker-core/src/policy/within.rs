//! `fail_max = N, within = W`: open when N failures of this Closed period
//! ended in (t - W, t].

use std::collections::VecDeque;
use std::time::Duration;

use super::outcome::{Outcome, Trip};
use super::period::nanos;

pub(crate) struct FailuresWithin {
    max: u32,
    within: Duration,
    /// End times of the failures still inside the window, oldest first.
    failures: VecDeque<u64>,
}

impl FailuresWithin {
    pub(crate) fn new(max: u32, within: Duration) -> Self {
        FailuresWithin {
            max,
            within,
            failures: VecDeque::new(),
        }
    }

    pub(crate) fn record(&mut self, outcome: Outcome) -> Option<Trip> {
        if !outcome.failure {
            return None;
        }
        self.failures.push_back(outcome.at);
        let horizon = outcome.at.saturating_sub(nanos(self.within));
        // (t - W, t]: a failure exactly W ago has left the window. Before W has
        // passed since the clock's epoch nothing can have left it.
        if outcome.at >= nanos(self.within) {
            while self.failures.front().is_some_and(|&t| t <= horizon) {
                self.failures.pop_front();
            }
        }
        (self.failures.len() >= self.max as usize).then_some(Trip::FailuresWithin(
            self.failures.len() as u32,
            self.within,
        ))
    }

    /// The same failures, counted against a new threshold.
    pub(crate) fn with_max(self, max: u32) -> Self {
        FailuresWithin { max, ..self }
    }

    pub(crate) fn clear(&mut self) {
        self.failures.clear();
    }
}
