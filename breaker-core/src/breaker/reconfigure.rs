//! A new configuration for a live breaker, without a restart and without
//! losing its state (SEMANTICS.md, "Reconfiguration").
//!
//! It is applied under the control lock, so it falls between two decisions
//! made under it, and it swaps the settings whole, so a lock-free decision
//! sees the old ones or the new ones. It moves no state and ends no period:
//! calls in flight stay current. What each part keeps:
//! - the consecutive run, unless that policy is newly active (it starts at 0);
//! - each windowed policy's outcomes when only its threshold changed
//!   (`policy::Windows::reconfigure` decides);
//! - the open period in progress: a new `reset`, `backoff` or `reset_max`
//!   takes effect at the next opening, which lasts the new `reset`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::detours::{ADAPTIVE, TIMED, WINDOWED};
use super::machine::Inner;
use crate::State;
use crate::config::Config;
use crate::event::Configured;
use crate::policy::{Windows, nanos, periods_differ};
use crate::state::Word;

impl Inner {
    /// Puts in force what `patch` makes of the configuration in force, if it
    /// is valid; returns the keys whose effective value changed (none: nothing
    /// is reported).
    /// `shared`: a change made here, which the breaker's store (if it joined
    /// one) shares with the other processes; a change adopted from the store
    /// is not sent back.
    pub(super) fn reconfigure<E>(
        &self,
        patch: impl FnOnce(&Config) -> Result<Config, E>,
        shared: bool,
    ) -> Result<Vec<&'static str>, E> {
        let mut ctl = self.lock();
        let old = &self.settings().config;
        let new = patch(old)?;
        if new == *old {
            return Ok(Vec::new());
        }
        let changed = old.changes_to(&new);
        let at = self.now();
        let w = self.word();

        // The successes counted without the lock belong to the windows as
        // they were: in first, then the batch starts again, empty.
        let batched = self.batched.restart(w.generation());
        if let (State::Closed, true, Some(windows)) = (w.state(), batched > 0, &mut ctl.windows) {
            windows.successes(batched);
        }
        ctl.windows = Windows::reconfigure(ctl.windows.take(), old, &new);
        if new.consecutive().is_some() && old.consecutive().is_none() {
            // The run kept while the policy was off starts again.
            self.restart_run(w);
        }
        if w.state() == State::MetricsOnly {
            ctl.dry_run.reconfigure(at, old, &new);
        }
        if periods_differ(old, &new) {
            match w.state() {
                // `period` is the one in progress: it keeps its end.
                State::Open | State::HalfOpen => ctl.restart_period = true,
                _ => ctl.period = nanos(new.reset()),
            }
        }

        // A slow start over by the old `ramp` is over, whatever the new one
        // says: a ramp lasts while t < tc + D.
        self.end_ramp_if_over(at, self.settings().ramp);
        let settings = self.settings.set(new);
        let bits = settings.detours();
        self.detours
            .fetch_and(!(TIMED | WINDOWED | ADAPTIVE) | bits, Ordering::Release);
        self.detours.fetch_or(bits, Ordering::Release);

        let keys = changed.iter().map(|(key, _)| *key).collect();
        if !changed.is_empty() {
            let configured = Configured {
                name: self.name.clone(),
                at: Duration::from_nanos(at),
                changed,
            };
            if let (true, Some(link)) = (shared, self.link.get()) {
                link.configured(&configured);
            }
            self.dispatch.push_configured(configured);
        }
        drop(ctl);
        self.deliver();
        Ok(keys)
    }

    /// Sets the consecutive run of a Closed word to 0, under the lock (where
    /// only lock-free outcomes race with it, and they retry).
    fn restart_run(&self, mut w: Word) {
        while w.state() == State::Closed && w.aux() != 0 && !self.cas(w, w.with_aux(0)) {
            w = self.word();
        }
    }
}
