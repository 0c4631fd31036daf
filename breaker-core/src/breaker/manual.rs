//! What operators do to a breaker: trip it (for its `reset`, or a given
//! time), force it open, disable it, put it in MetricsOnly, reset it. An
//! action takes effect even when the breaker is already in the state it
//! asks for, and is shared with a store like any transition.

use std::time::Duration;

use super::api::Breaker;
use super::machine::Inner;
use crate::State;
use crate::policy::nanos;
use crate::reason::{Action, Reason};

impl Breaker {
    /// Opens the breaker now for `reset`; it recovers as usual. While Open it
    /// restarts the open period (no transition is reported).
    pub fn trip(&self) {
        self.inner.act(Action::Trip);
    }

    /// Opens the breaker now for exactly `open_for` (instead of `reset`), then
    /// recovers as usual: the next call after it is the first half-open trial.
    /// While Open it restarts the open period with that length (no transition
    /// is reported). Reported as a manual trip. If a trial then fails, the
    /// breaker reopens as it would after [`trip`](Breaker::trip): for `reset`,
    /// grown by `backoff`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use breaker_core::{Breaker, Config, State, clock::ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let db = Breaker::with_clock("db", Config::default(), clock.clone());
    /// db.trip_for(Duration::from_secs(300)); // a planned maintenance window
    /// assert_eq!(db.acquire().unwrap_err().retry_after(), Some(Duration::from_secs(300)));
    /// clock.advance(Duration::from_secs(300));
    /// let trial = db.acquire()?;
    /// assert_eq!(db.state(), State::HalfOpen);
    /// # drop(trial);
    /// # Ok::<(), breaker_core::Error>(())
    /// ```
    pub fn trip_for(&self, open_for: Duration) {
        self.inner.act_for(Action::Trip, Some(nanos(open_for)));
    }

    /// Opens the breaker until [`reset`](Breaker::reset): every call is rejected.
    pub fn force_open(&self) {
        self.inner.act(Action::ForceOpen);
    }

    /// Lets every call through until [`reset`](Breaker::reset), counting
    /// statistics but never tripping.
    pub fn disable(&self) {
        self.inner.act(Action::Disable);
    }

    /// Starts a dry run until [`reset`](Breaker::reset): the breaker admits
    /// every call, and runs its policies as if it were live, reporting the
    /// transitions it would make with [`Transition::dry_run`](crate::Transition::dry_run) set, without
    /// making them. How a team rolls a new breaker out: watch what it would
    /// have done (the listeners, tracing, [`Stats::dry_run`](crate::Stats::dry_run) and
    /// [`Stats::would_reject`](crate::Stats::would_reject)) before letting it reject anything.
    ///
    /// ```
    /// use breaker_core::{Breaker, Config, Error, State, clock::ManualClock};
    ///
    /// let db = Breaker::with_clock("db", Config::builder().fail_max(2).build()?, ManualClock::new());
    /// db.metrics_only();
    /// for _ in 0..3 {
    ///     let ran = db.call(|| Err::<(), Error>(Error::timeout("db".into(), Default::default())));
    ///     assert!(!ran.unwrap_err().is_rejected(), "every call runs");
    /// }
    /// let stats = db.stats();
    /// assert_eq!(stats.state, State::MetricsOnly);
    /// assert_eq!(stats.dry_run, Some(State::Open), "it would be open");
    /// assert_eq!(stats.would_reject, 1, "and would have rejected the third call");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics_only(&self) {
        self.inner.act(Action::MetricsOnly);
    }

    /// Closes the breaker and clears its policies' counters (the statistics
    /// stay), restoring the open period to `reset`.
    pub fn reset(&self) {
        self.inner.act(Action::Reset);
    }
}

impl Inner {
    pub(super) fn act(&self, action: Action) {
        self.act_for(action, None);
    }

    /// An operator's action; `open_for`, with `Trip`, replaces `reset` for
    /// this one open period.
    pub(super) fn act_for(&self, action: Action, open_for: Option<u64>) {
        let mut ctl = self.lock();
        let at = self.now();
        if let Some(tap) = self.tap.get() {
            tap.acted(at, action, open_for);
        }
        let reason = Reason::Manual(action);
        loop {
            let w = self.word();
            let target = match action {
                Action::Trip => State::Open,
                Action::ForceOpen => State::ForcedOpen,
                Action::Disable => State::Disabled,
                Action::Reset => State::Closed,
                Action::MetricsOnly => State::MetricsOnly,
            };
            if matches!(action, Action::Trip | Action::Reset) {
                ctl.period = nanos(self.settings().config.reset());
            }
            if let (Action::Trip, Some(open_for)) = (action, open_for) {
                // Restored below, once the opening (and its sharing) used it:
                // backoff then grows from `reset`, as after `trip()`.
                ctl.period = open_for;
            }
            if w.state() == target {
                // No transition, but the action still takes effect.
                match action {
                    Action::Trip => {
                        self.open_until(at, ctl.period);
                        // This opening lasts `reset`: a failed trial after it
                        // grows from there, even after a reconfiguration.
                        ctl.restart_period = false;
                        self.record_opening(at, &reason, None);
                    }
                    Action::Reset => {
                        // The operator closes it outright: no slow start left.
                        self.end_ramp();
                        self.clear_windows(&mut ctl, w.generation());
                        if w.aux() != 0 && !self.cas(w, w.with_aux(0)) {
                            continue;
                        }
                    }
                    _ => {}
                }
                // It takes effect in the other processes sharing the breaker too.
                self.share(&ctl, target, &reason);
                ctl.period = nanos(self.settings().config.reset());
                return;
            }
            if self.transition(&mut ctl, w, w.next(target, 0), at, reason.clone(), None) {
                break;
            }
        }
        if open_for.is_some() {
            ctl.period = nanos(self.settings().config.reset());
        }
        drop(ctl);
        self.deliver();
    }
}
