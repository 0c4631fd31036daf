//! The failure-rate and slow-call-rate policies over one shared window: the
//! last K outcomes of this Closed period, or those that ended in (t - W, t].

use std::collections::VecDeque;

use super::{Outcome, nanos};
use crate::Reason;
use crate::config::{Config, Percent, Window};

/// The outcomes inside the window, with running totals.
pub(crate) struct RateWindow {
    kind: Window,
    min_calls: u32,
    failure_rate: Option<Percent>,
    slow_rate: Option<Percent>,
    /// Outcomes, oldest first: (end time, failure, slow).
    outcomes: VecDeque<(u64, bool, bool)>,
    failures: u32,
    slow: u32,
}

impl RateWindow {
    pub(crate) fn new(config: &Config) -> Self {
        let capacity = match config.window() {
            Window::Calls(k) => k as usize,
            Window::Time(_) => 0,
        };
        RateWindow {
            kind: config.window(),
            min_calls: config.min_calls(),
            failure_rate: config.failure_rate(),
            slow_rate: config.slow_rate(),
            outcomes: VecDeque::with_capacity(capacity),
            failures: 0,
            slow: 0,
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, failure, slow)) = self.outcomes.pop_front() {
            self.failures -= u32::from(failure);
            self.slow -= u32::from(slow);
        }
    }

    fn expire(&mut self, now: u64) {
        if let Window::Time(w) = self.kind {
            let w = nanos(w);
            if now >= w {
                let horizon = now - w;
                while self.outcomes.front().is_some_and(|o| o.0 <= horizon) {
                    self.pop_oldest();
                }
            }
        }
    }

    pub(crate) fn record(&mut self, outcome: Outcome) -> Option<Reason> {
        if let Window::Calls(k) = self.kind {
            if self.outcomes.len() == k as usize {
                self.pop_oldest();
            }
        }
        self.outcomes
            .push_back((outcome.at, outcome.failure, outcome.slow));
        self.failures += u32::from(outcome.failure);
        self.slow += u32::from(outcome.slow);
        self.expire(outcome.at);

        let calls = self.outcomes.len() as u32;
        if calls < self.min_calls {
            return None;
        }
        // failures * 100 >= P * calls, with P in hundredths of a percent.
        let reached = |count: u32, p: Percent| {
            u64::from(count) * 10_000 >= u64::from(p.hundredths()) * u64::from(calls)
        };
        if let Some(p) = self.failure_rate {
            if reached(self.failures, p) {
                return Some(Reason::FailureRate {
                    failures: self.failures,
                    calls,
                    threshold: p,
                });
            }
        }
        if let Some(p) = self.slow_rate {
            if reached(self.slow, p) {
                return Some(Reason::SlowCallRate {
                    slow: self.slow,
                    calls,
                    threshold: p,
                });
            }
        }
        None
    }

    pub(crate) fn clear(&mut self) {
        self.outcomes.clear();
        self.failures = 0;
        self.slow = 0;
    }

    pub(crate) fn rates(&self, now: u64) -> Option<(f64, f64)> {
        let horizon = match self.kind {
            Window::Time(w) if now >= nanos(w) => Some(now - nanos(w)),
            _ => None,
        };
        let (mut calls, mut failures, mut slow) = (0u32, 0u32, 0u32);
        for &(at, failure, is_slow) in &self.outcomes {
            if horizon.is_some_and(|h| at <= h) {
                continue;
            }
            calls += 1;
            failures += u32::from(failure);
            slow += u32::from(is_slow);
        }
        (calls >= self.min_calls && calls > 0).then(|| {
            (
                f64::from(failures) * 100.0 / f64::from(calls),
                f64::from(slow) * 100.0 / f64::from(calls),
            )
        })
    }
}
