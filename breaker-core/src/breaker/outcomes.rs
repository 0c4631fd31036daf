//! It succeeded; it failed. What an outcome changes in each state: the
//! consecutive run kept lock-free in the word, the windowed policies under
//! the lock, the half-open trials' tally, the dry run's policies in
//! MetricsOnly, and a cancelled call's permit given back. Whether a Closed
//! outcome opens the breaker is `policy::decide_closed`'s answer.

use std::time::Duration;

use super::machine::{Control, Inner, UNTIMED};
use super::metrics_only::Role;
use super::permit::Recorded;
use crate::State;
use crate::counter::Count;
use crate::policy::{Outcome, Trip, Windows, decide_closed, nanos};
use crate::reason::Reason;
use crate::state::Word;
use crate::sync::MutexGuard;
use crate::tap::Ticket;

impl Inner {
    #[inline(never)]
    pub(super) fn end(
        &self,
        generation: u32,
        ticket: Ticket,
        started: u64,
        failure: bool,
        message: impl FnOnce() -> String,
    ) -> Recorded {
        let tap = self.tap.get().filter(|_| ticket != Ticket::NONE);
        let settings = self.settings();
        let now = (settings.dated || tap.is_some()).then(|| self.now());
        let latency = match now {
            Some(now) if started != UNTIMED => Some(now.saturating_sub(started)),
            _ => None,
        };
        if let (Some(tap), Some(latency)) = (tap, latency) {
            tap.ended(ticket, latency, failure);
        }
        let slow = match (settings.config.slow(), latency) {
            (Some(slow), Some(latency)) => latency > nanos(slow),
            _ => false,
        };
        if failure {
            self.counters.bump(Count::Failures);
            if let Some(link) = self.link.get() {
                if link.counts_failures()
                    && self.word().is_period(generation)
                    && self.word().is(State::Closed)
                {
                    link.failure();
                }
            }
        } else {
            self.counters.bump(Count::Successes);
        }
        if slow {
            self.counters.bump(Count::Slow);
        }
        let w = self.word();
        let current = w.is_period(generation)
            && match w.state() {
                // Undated outcomes (count windows only) carry time 0: their
                // windows never look at it.
                State::Closed if settings.windowed => {
                    (!failure
                        && !slow
                        && settings.batch_successes
                        && self.batched.add(w.generation()))
                        || self.feed_windows(generation, failure, slow, now.unwrap_or(0), message)
                }
                State::Closed => self.feed_consecutive(generation, failure, message),
                State::HalfOpen => self.feed_trial(generation, failure, message),
                State::MetricsOnly => self.feed_dry_run(generation, failure, slow, message),
                _ => true,
            };
        Recorded {
            latency: latency.map(Duration::from_nanos),
            slow,
            straggler: !current,
        }
    }

    /// An outcome in Closed when only the consecutive policy is active: a
    /// lock-free update of the run in the word, and the lock only to trip.
    /// `false` if the period is over.
    #[inline]
    pub(super) fn feed_consecutive(
        &self,
        generation: u32,
        failure: bool,
        message: impl FnOnce() -> String,
    ) -> bool {
        let mut message = Some(message);
        self.update_or_move(
            generation,
            State::Closed,
            |w| {
                let (run, trip) = self.settings().consecutive.record(w.aux(), failure);
                if trip.is_some() {
                    return Err(run);
                }
                // Only write when the run changes: a success on a clean run
                // writes nothing, so successes do not bounce the line.
                Ok(run == w.aux() || self.cas(w, w.with_aux(run)))
            },
            |ctl, w, at, run| {
                let reason = Reason::ConsecutiveFailures { failures: run };
                self.open(ctl, w, at, reason, message.take().map(|m| m()))
            },
        )
    }

    /// An outcome in Closed with a windowed policy: every policy, in the order
    /// of SEMANTICS.md, under the lock.
    pub(super) fn feed_windows(
        &self,
        generation: u32,
        failure: bool,
        slow: bool,
        at: u64,
        message: impl FnOnce() -> String,
    ) -> bool {
        let Some((mut ctl, w)) = self.lock_in(generation, State::Closed) else {
            return false;
        };
        self.take_batched(&mut ctl, w.generation());
        let settings = self.settings();
        let outcome = Outcome { at, failure, slow };
        let (run, trip) =
            decide_closed(settings.consecutive, w.aux(), ctl.windows.as_mut(), outcome);
        // Under the lock nothing else writes a Closed word, so these
        // compare-and-swaps cannot fail.
        match trip {
            Some(trip) => {
                let message = failure.then(message);
                self.open_for_window(ctl, w, at, trip, message);
            }
            None => {
                if run != w.aux() {
                    self.cas(w, w.with_aux(run));
                }
                if settings.batch_successes && ctl.windows.as_ref().is_some_and(Windows::is_full) {
                    self.batched.window_full(w.generation());
                }
            }
        }
        true
    }

    /// Clears the policies' windows, and the successes batched for them, for
    /// the period `generation` that starts with them empty.
    pub(super) fn clear_windows(&self, ctl: &mut Control, generation: u32) {
        if let Some(windows) = &mut ctl.windows {
            windows.clear();
        }
        if self.settings().batch_successes {
            self.batched.clear(generation);
        }
    }

    /// Takes the successes batched for `generation` into the window. Under
    /// the lock, before anything else reads or feeds the window.
    #[inline]
    pub(super) fn take_batched(&self, ctl: &mut Control, generation: u32) {
        if !self.settings().batch_successes {
            return;
        }
        let count = self.batched.take(generation);
        if count > 0 {
            if let Some(windows) = &mut ctl.windows {
                windows.successes(count);
            }
        }
    }

    /// Opens a Closed word for a policy of `feed_windows`; releases the lock.
    #[cold]
    pub(super) fn open_for_window(
        &self,
        mut ctl: MutexGuard<'_, Control>,
        w: Word,
        at: u64,
        trip: Trip,
        message: Option<String>,
    ) {
        // Count windows do not date their outcomes; the opening needs a time.
        let at = if self.settings().dated {
            at
        } else {
            self.now()
        };
        let opened = self.open(&mut ctl, w, at, trip.into(), message);
        drop(ctl);
        if opened {
            self.deliver();
        }
    }

    /// A trial's outcome in HalfOpen. `false` if the period is over.
    pub(super) fn feed_trial(
        &self,
        generation: u32,
        failure: bool,
        message: impl FnOnce() -> String,
    ) -> bool {
        let mut message = Some(message);
        let mut reopened = None;
        if self.settings().half_open_wait > 0 && self.trials_expired(generation) {
            return false;
        }
        self.update_or_move(
            generation,
            State::HalfOpen,
            |w| {
                let successes = w.trial_successes() + u32::from(!failure);
                if failure || successes >= self.settings().config.success() {
                    return Err(successes);
                }
                let in_flight = w.trials_in_flight().saturating_sub(1);
                let written = self.cas(w, w.with_aux(Word::trials(in_flight, successes)));
                if written {
                    self.give_back_trial(true);
                }
                Ok(written)
            },
            |ctl, w, at, successes| {
                if failure {
                    // The lock is held from here on, so the period read once stays
                    // the one to grow, however often the compare-and-swap retries.
                    let period = *reopened.get_or_insert_with(|| self.reopen_period(ctl));
                    ctl.period = period;
                    let message = message.take().map(|m| m());
                    self.open(ctl, w, at, Reason::TrialFailed, message)
                } else {
                    let reason = Reason::TrialsSucceeded { successes };
                    self.transition(ctl, w, w.next(State::Closed, 0), at, reason, None)
                }
            },
        )
    }

    /// The lock and the word, while the word is in `state` in period
    /// `generation`: what an outcome fed under the lock starts from.
    fn lock_in(&self, generation: u32, state: State) -> Option<(MutexGuard<'_, Control>, Word)> {
        let ctl = self.lock();
        let w = self.word();
        (w.is_period(generation) && w.state() == state).then_some((ctl, w))
    }

    /// The loop of an outcome that mostly changes the word lock-free and
    /// takes the lock only to move it. While the word is in `state`, in
    /// period `generation`, `update` either writes it (`Ok(true)`; `Ok(false)`
    /// when its compare-and-swap lost, to read it again) or asks to move
    /// (`Err`), which `moved` does under the lock (taken the first time it
    /// is asked for, then the word is read again) at the clock's time; the
    /// event goes out after the lock. `false` if the period is over.
    #[inline(always)]
    fn update_or_move<T>(
        &self,
        generation: u32,
        state: State,
        mut update: impl FnMut(Word) -> Result<bool, T>,
        mut moved: impl FnMut(&mut Control, Word, u64, T) -> bool,
    ) -> bool {
        let mut ctl: Option<MutexGuard<'_, Control>> = None;
        loop {
            let w = self.word();
            if !w.is_period(generation) || w.state() != state {
                return false;
            }
            let asked = match update(w) {
                Ok(true) => return true,
                Ok(false) => continue,
                Err(asked) => asked,
            };
            let Some(guard) = ctl.as_mut() else {
                ctl = Some(self.lock());
                continue;
            };
            if moved(guard, w, self.now(), asked) {
                drop(ctl);
                self.deliver();
                return true;
            }
        }
    }

    pub(super) fn cancel(&self, generation: u32, ticket: Ticket, started: u64) {
        self.counters.bump(Count::Cancelled);
        if let Some(tap) = self.tap.get().filter(|_| ticket != Ticket::NONE) {
            tap.cancelled(ticket, self.now().saturating_sub(started));
        }
        if Role::of(generation) == Role::Trial {
            // A dry run's trial: its permit goes back to the dry run.
            let mut ctl = self.lock();
            let w = self.word();
            if w.is_period(generation) && w.state() == State::MetricsOnly {
                ctl.dry_run.trial_cancelled();
            }
            return;
        }
        loop {
            let w = self.word();
            if !w.is_period(generation) || w.state() != State::HalfOpen {
                return;
            }
            let in_flight = w.trials_in_flight().saturating_sub(1);
            if self.cas(w, w.with_aux(Word::trials(in_flight, w.trial_successes()))) {
                self.give_back_trial(true);
                return;
            }
        }
    }

    /// An outcome in MetricsOnly, fed to the dry run. `false` if the period
    /// (of the breaker or of the dry run) is over.
    pub(super) fn feed_dry_run(
        &self,
        generation: u32,
        failure: bool,
        slow: bool,
        message: impl FnOnce() -> String,
    ) -> bool {
        let Some((mut guard, w)) = self.lock_in(generation, State::MetricsOnly) else {
            return false;
        };
        let at = self.now();
        let ctl = &mut *guard;
        let settings = self.settings();
        if Role::of(generation) == Role::Trial {
            // Decided too late: the dry run's trials expired first.
            if let Some(m) = ctl.dry_run.expire(at, &settings.config) {
                self.dry_move(w, at, m);
                drop(guard);
                self.deliver();
                return false;
            }
        }
        let moved = match Role::of(generation) {
            Role::Rejected => None,
            Role::Trial => ctl.dry_run.trial_ended(at, failure, &settings.config),
            Role::Closed => {
                let outcome = Outcome { at, failure, slow };
                let (run, trip) = decide_closed(
                    settings.consecutive,
                    ctl.dry_run.run,
                    ctl.windows.as_mut(),
                    outcome,
                );
                ctl.dry_run.run = run;
                trip.map(|trip| ctl.dry_run.trip(at, trip.into()))
            }
        };
        let Some(m) = moved else { return true };
        if m.to == State::Closed || m.from == State::Closed {
            self.clear_windows(ctl, w.generation());
        }
        // The message of the failure is only kept for live openings.
        drop(message);
        self.dry_move(w, at, m);
        drop(guard);
        self.deliver();
        true
    }
}
