//! The state swaps themselves: the one compare-and-swap every transition
//! goes through (under the control lock, so each is reported once and in
//! order), the openings, half-open periods starting and expiring, the dry
//! run's reported moves, and the transitions shared with a store or adopted
//! from one.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::link::{Change, Remote};
use super::machine::{Control, Inner};
use super::metrics_only::{DryRun, Move};
use crate::State;
use crate::event::Transition;
use crate::policy::{nanos, reopen_period};
use crate::reason::{OpenReason, Reason};
use crate::state::Word;

impl Inner {
    /// Shares a transition or an action with the store, unless it came from
    /// the store. Under the control lock, with `ctl.period` the open period.
    pub(super) fn share(&self, ctl: &Control, to: State, reason: &Reason) {
        let Some(link) = self.link.get() else { return };
        if matches!(reason, Reason::Remote { .. }) || to == State::HalfOpen {
            return;
        }
        link.publish(&Change {
            to,
            open_for: Duration::from_nanos(ctl.period),
            reason: reason.clone(),
            manual: matches!(reason, Reason::Manual(_)),
        });
    }

    /// After adopting a remote close on trials: ramps (with `ramp`) from the
    /// time the other process closed, so the fleet returns gradually.
    fn ramp_as(&self, remote: &Remote, at: u64) {
        let ramp = self.settings().ramp;
        let Some(ago) = remote.recovered_ago.filter(|_| ramp > 0) else {
            return;
        };
        let ago = nanos(ago);
        if ago < ramp {
            self.start_ramp(at.saturating_sub(ago));
        }
    }

    /// Applies a state learned from the store (see [`Breaker::adopt`]).
    pub(super) fn adopt(&self, remote: &Remote) -> bool {
        let mut ctl = self.lock();
        let at = self.now();
        let reason = Reason::Remote {
            reason: remote.reason.clone(),
        };
        let period = nanos(remote.period).max(1);
        let left = nanos(remote.remaining);
        loop {
            let w = self.word();
            match remote.state {
                State::HalfOpen => return false,
                State::Open if w.state() == State::Open => {
                    // Joined, not reset: the shared period decides when it ends.
                    ctl.period = period;
                    self.open_until(at, left);
                    return false;
                }
                target if w.state() == target => return false,
                State::Open => {
                    // `transition` sets the deadline from `ctl.period`: the time
                    // left, then the full period for backoff and reporting.
                    ctl.period = left;
                    let moved = self.transition(
                        &mut ctl,
                        w,
                        w.next(State::Open, 0),
                        at,
                        reason.clone(),
                        None,
                    );
                    ctl.period = period;
                    if moved {
                        break;
                    }
                }
                target => {
                    if self.transition(&mut ctl, w, w.next(target, 0), at, reason.clone(), None) {
                        self.ramp_as(remote, at);
                        break;
                    }
                }
            }
        }
        drop(ctl);
        self.deliver();
        true
    }

    /// The open period after a failed (or undecided) trial: the last one
    /// grown by backoff, or the `reset` a reconfiguration put in force since.
    pub(super) fn reopen_period(&self, ctl: &mut Control) -> u64 {
        let config = &self.settings().config;
        if std::mem::take(&mut ctl.restart_period) {
            nanos(config.reset())
        } else {
            reopen_period(config, ctl.period)
        }
    }

    /// With `max_half_open_wait`: whether half-open period `generation` is
    /// over, because its trials had not decided in time (it then reopens it,
    /// now, as a failed trial would) or because it ended otherwise.
    #[cold]
    pub(super) fn trials_expired(&self, generation: u32) -> bool {
        let now = self.now();
        if now < self.hot.deadline.load(Ordering::Acquire) {
            return false;
        }
        let mut ctl = self.lock();
        let w = self.word();
        if !w.is_period(generation) || w.state() != State::HalfOpen {
            return true;
        }
        // Read under the lock: the deadline the transition to HalfOpen set.
        if now < self.hot.deadline.load(Ordering::Acquire) {
            return false;
        }
        // Under the lock the word stays in this period: only the trial counts
        // move (lock-free), which the retries below absorb.
        ctl.period = self.reopen_period(&mut ctl);
        let waited = Duration::from_nanos(self.settings().half_open_wait);
        loop {
            let w = self.word();
            if self.open(&mut ctl, w, now, Reason::TrialsUndecided { waited }, None) {
                drop(ctl);
                self.deliver();
                return true;
            }
        }
    }

    /// Open -> HalfOpen for a call at `now`, past the open period; the call
    /// takes the first trial permit. `None` if the word moved meanwhile.
    #[cold]
    pub(super) fn begin_trials(&self, open: Word, now: u64) -> Option<u32> {
        let mut ctl = self.lock();
        if self.word() != open || now < self.hot.deadline.load(Ordering::Acquire) {
            return None;
        }
        // The period that passed: `reset`, grown by backoff, a `trip_for`'s
        // own length, or what was left of a period adopted from a store.
        let period =
            self.hot.deadline.load(Ordering::Acquire) - self.hot.since.load(Ordering::Relaxed);
        let trial = open.next(State::HalfOpen, Word::trials(1, 0));
        let moved = self.transition(
            &mut ctl,
            open,
            trial,
            now,
            Reason::OpenElapsed {
                period: Duration::from_nanos(period),
            },
            None,
        );
        drop(ctl);
        moved.then(|| {
            self.deliver();
            trial.generation()
        })
    }

    /// Moves the word from `from` to `to` (a new period) and does what
    /// entering `to` requires. Under the control lock; `false` if the word
    /// changed since `from` was read.
    pub(super) fn transition(
        &self,
        ctl: &mut Control,
        from: Word,
        to: Word,
        at: u64,
        reason: Reason,
        message: Option<String>,
    ) -> bool {
        let settings = self.settings();
        match to.state() {
            State::Open => self.open_until(at, ctl.period),
            // In HalfOpen the deadline is when undecided trials expire.
            State::HalfOpen if settings.half_open_wait > 0 => self.hot.deadline.store(
                at.saturating_add(settings.half_open_wait),
                Ordering::Release,
            ),
            _ => {}
        }
        // A slow start begins when trials close the breaker, and only then;
        // any other move ends one in progress. It is set before the word says
        // Closed, so no call of the new period takes the fast path unramped.
        let ramps = matches!(reason, Reason::TrialsSucceeded { .. }) && settings.ramp > 0;
        if ramps {
            self.start_ramp(at);
        }
        if !self.cas(from, to) {
            return false;
        }
        if settings.batch_successes && from.state() == State::Closed {
            // Successes that ended before the move belong to the period that
            // ends; later ones go through the lock, and find they are late.
            self.take_batched(ctl, from.generation());
            self.batched.clear(to.generation());
        }
        match to.state() {
            State::Open | State::ForcedOpen => {
                // This opening used the period a reconfiguration restarted.
                ctl.restart_period = false;
                self.record_opening(at, &reason, message);
            }
            State::Closed => {
                self.clear_windows(ctl, to.generation());
                ctl.period = nanos(settings.config.reset());
                ctl.restart_period = false;
            }
            State::MetricsOnly => {
                self.clear_windows(ctl, to.generation());
                ctl.dry_run = DryRun::new(&settings.config);
            }
            _ => {}
        }
        if !ramps {
            self.end_ramp();
        }
        self.share(ctl, to.state(), &reason);
        self.transitions.fetch_add(1, Ordering::Relaxed);
        self.dispatch.push(Transition {
            name: self.name.clone(),
            from: from.state(),
            to: to.state(),
            at: Duration::from_nanos(at),
            reason,
            dry_run: false,
        });
        true
    }

    /// Reports a move of the dry run and starts a new period of the word, so
    /// that calls of the dry run's previous state end as stragglers.
    pub(super) fn dry_move(&self, w: Word, at: u64, m: Move) -> Word {
        let next = w.next(State::MetricsOnly, 0);
        // Under the lock, nothing else writes a MetricsOnly word.
        let _ = self.cas(w, next);
        self.dispatch.push(Transition {
            name: self.name.clone(),
            from: m.from,
            to: m.to,
            at: Duration::from_nanos(at),
            reason: m.reason,
            dry_run: true,
        });
        next
    }

    pub(super) fn record_opening(&self, at: u64, reason: &Reason, message: Option<String>) {
        self.opened_at.store(at, Ordering::Relaxed);
        self.opening.open(OpenReason {
            reason: reason.clone(),
            at: Duration::from_nanos(at),
            last_failure: message.filter(|m| !m.is_empty()),
        });
    }

    /// Opens a Closed (or other) word for `reason`, with the open period the
    /// caller put in `ctl.period`.
    pub(super) fn open(
        &self,
        ctl: &mut Control,
        from: Word,
        at: u64,
        reason: Reason,
        message: Option<String>,
    ) -> bool {
        self.transition(ctl, from, from.next(State::Open, 0), at, reason, message)
    }
}
