//! The windowed policies of one breaker, fed together under its control lock:
//! failures within a time, the failure- and slow-call rates, and adaptive
//! throttling's accepted calls.

use super::adaptive::Adaptive;
use super::outcome::{Outcome, Trip};
use super::period::nanos;
use super::rate::RateWindow;
use super::within::FailuresWithin;
use crate::config::Config;
use crate::jitter::Jitter;

/// The windowed policies of one breaker, cleared whenever it enters Closed.
pub(crate) struct Windows {
    within: Option<FailuresWithin>,
    rate: Option<RateWindow>,
    adaptive: Option<Adaptive>,
}

impl Windows {
    /// `None` when the config has no windowed policy.
    pub(crate) fn for_config(config: &Config) -> Option<Windows> {
        let within = config
            .failures_within()
            .map(|(n, w)| FailuresWithin::new(n, w));
        let rate = config.has_rate_policy().then(|| RateWindow::new(config));
        let adaptive = config
            .adaptive()
            .zip(config.adaptive_window())
            .map(|(k, window)| Adaptive::new(k, nanos(window)));
        (within.is_some() || rate.is_some() || adaptive.is_some()).then_some(Windows {
            within,
            rate,
            adaptive,
        })
    }

    /// Adaptive throttling's answer for a call arriving at `now`: whether to
    /// drop it (never without `adaptive`).
    pub(crate) fn throttle(&mut self, now: u64, random: &Jitter) -> bool {
        self.adaptive.as_mut().is_some_and(|a| a.admit(now, random))
    }

    /// Adaptive throttling's drop probability at `now`.
    pub(crate) fn drop_probability(&self, now: u64) -> Option<f64> {
        self.adaptive.as_ref().map(|a| a.drop_probability(now))
    }

    /// Feeds one outcome to policies 2 to 4 of SEMANTICS.md, in that order;
    /// returns why the first that trips does.
    #[inline(always)]
    pub(crate) fn record(&mut self, outcome: Outcome) -> Option<Trip> {
        // Every policy sees every outcome, even after one tripped.
        if let Some(adaptive) = &mut self.adaptive {
            if !outcome.failure {
                adaptive.accepted(outcome.at);
            }
        }
        let within = self.within.as_mut().and_then(|w| w.record(outcome));
        let rate = self.rate.as_mut().and_then(|r| r.record(outcome));
        within.or(rate)
    }

    /// Whether the count window holds its K outcomes.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.rate.as_ref().is_some_and(RateWindow::is_full)
    }

    /// Successes batched while the count window was full, in one step.
    #[inline]
    pub(crate) fn successes(&mut self, count: u32) {
        if let Some(rate) = &mut self.rate {
            rate.successes(count);
        }
    }

    pub(crate) fn clear(&mut self) {
        if let Some(within) = &mut self.within {
            within.clear();
        }
        if let Some(rate) = &mut self.rate {
            rate.clear();
        }
        if let Some(adaptive) = &mut self.adaptive {
            adaptive.clear();
        }
    }

    /// The failure and slow-call rates (percent) over the window, each once
    /// its policy counts `min_calls` outcomes.
    pub(crate) fn rates(&self, now: u64) -> (Option<f64>, Option<f64>) {
        self.rate.as_ref().map_or((None, None), |r| r.rates(now))
    }

    /// The windows for `new`, carried over from those of `old` (SEMANTICS.md,
    /// "Reconfiguration"): a policy whose threshold alone changed keeps its
    /// outcomes; one with another parameter changed, or newly active, starts
    /// empty; one no longer active is dropped.
    pub(crate) fn reconfigure(
        windows: Option<Windows>,
        old: &Config,
        new: &Config,
    ) -> Option<Windows> {
        let Some(mut carried) = windows else {
            return Windows::for_config(new);
        };
        let mut fresh = Windows::for_config(new)?;
        if let (Some(within), Some((max, w)), Some((_, old_w))) = (
            carried.within.take(),
            new.failures_within(),
            old.failures_within(),
        ) {
            if w == old_w {
                fresh.within = Some(within.with_max(max));
            }
        }
        if let (Some(mut rate), true) = (carried.rate.take(), new.has_rate_policy()) {
            if RateWindow::keeps(old, new) {
                rate.reconfigure(old, new);
                fresh.rate = Some(rate);
            }
        }
        if let (Some(adaptive), Some(k)) = (carried.adaptive.take(), new.adaptive()) {
            if old.adaptive_window() == new.adaptive_window() {
                fresh.adaptive = Some(adaptive.with_k(k));
            }
        }
        Some(fresh)
    }
}
