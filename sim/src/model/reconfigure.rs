//! A `configure` line in the model: SEMANTICS.md "Reconfiguration", one
//! rule a statement. The new configuration is in force at once; the state,
//! the period and the calls in flight stay as they are; each policy keeps
//! its counters only when nothing but its threshold changed.

use super::{Model, Phase, keys};
use crate::config::BreakerConfig;

impl Model {
    /// Puts `new` in force (already checked whole); returns the changed keys
    /// as the `configured` event writes them, `None` when no effective value
    /// changed (the configuration is still the new one, as written).
    pub(super) fn reconfigure(&mut self, now: u64, new: BreakerConfig) -> Option<String> {
        // A ramp in progress (under the old D) keeps its tc and takes the
        // new D; one over by now, or a ramp set to none, starts no other.
        self.ramp.reconfigure(now, self.config.ramp, new.ramp);
        let old = std::mem::replace(&mut self.config, new);
        let new = &self.config;
        let counters = &mut self.counters;

        // Consecutive failures: a threshold only, so the run is kept; a
        // policy newly active starts from 0.
        if new.consecutive().is_some() && old.consecutive().is_none() {
            counters.run = 0;
        }
        // Failures within a time: kept for a new `fail_max`, emptied for a
        // new `within` or when newly active (or dropped).
        let within = |c: &BreakerConfig| c.count_window().map(|(_, w)| w);
        if within(new).is_none() || within(new) != within(&old) {
            counters.failures.clear();
        }
        // The rate policies: a new window or min_calls (the default one
        // follows the window) empties both; each newly active one starts
        // empty; the slow-call rate starts empty for a new `slow`.
        let same_window =
            new.rate_window() == old.rate_window() && new.rate_min_calls() == old.rate_min_calls();
        if !(same_window && new.failure_rate.is_some() && old.failure_rate.is_some()) {
            counters.failure_window.clear();
        }
        if !(same_window
            && new.slow_rate.is_some()
            && old.slow_rate.is_some()
            && new.slow == old.slow)
        {
            counters.slow_window.clear();
        }
        // Adaptive throttling: kept for a new K, emptied for a new window.
        let adaptive = |c: &BreakerConfig| c.adaptive_window().map(|(_, w)| w);
        if adaptive(new).is_none() || adaptive(new) != adaptive(&old) {
            counters.buckets.clear();
        }
        // The open period in progress keeps its end; the next opening lasts
        // the new `reset` (an opening from Closed or a trip takes it anyway).
        let periods_differ =
            new.reset != old.reset || new.backoff != old.backoff || new.reset_max != old.reset_max;
        if periods_differ && matches!(self.phase, Phase::Open { .. } | Phase::HalfOpen { .. }) {
            self.restart_period = true;
        }
        // MetricsOnly stays; its dry run follows the same rules.
        if let Some(dry) = self.dry.as_mut() {
            dry.reconfigure(now, self.config.clone());
        }
        // HalfOpen's `success` and `half_open`, and `timeout`, are read
        // where they apply: at the next trial, at the next admission.
        keys::changed(&old, &self.config)
    }
}
