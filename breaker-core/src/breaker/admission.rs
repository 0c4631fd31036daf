//! May this call go? The admission decision in every state: the Closed fast
//! path, the cheap Open rejection on the coarse clock, half-open trial
//! permits (the store's too), adaptive throttling, and the dry run's roles in
//! MetricsOnly. A refusal is counted and recorded here; the error it becomes
//! is built in the caller's frame (see `reject`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::detours::{ACQUIRE_DETOURS, RAMPING};
use super::link::Trial;
use super::machine::{Inner, Refusal, UNTIMED};
use super::metrics_only::Role;
use super::permit::{Mark, Permit};
use super::ramp::ramp_draw;
use crate::counter::Count;
use crate::error::Shedding;
use crate::state::Word;
use crate::tap::{Tap, Ticket};
use crate::{Error, State};

impl Inner {
    #[inline]
    pub(super) fn admit(&self, generation: u32, now: Option<u64>) -> Permit<'_> {
        self.counters.bump(Count::Admitted);
        let tap = self.tap.get();
        let (started, ticket) = if self.settings().timed || tap.is_some() {
            let now = now.unwrap_or_else(|| self.now());
            (now, tap.map_or(Ticket::NONE, |tap| tap.admitted(now)))
        } else {
            (UNTIMED, Ticket::NONE)
        };
        Permit {
            here: None,
            inner: self,
            mark: Mark::new(generation, ticket),
            started,
        }
    }

    /// Counts and records a refused call; the caller builds the `Error`.
    /// Inlined into the slow path, where rejections are the common case.
    #[inline(always)]
    pub(super) fn refuse(&self, state: State, retry_after: Option<u64>) -> Refusal {
        self.count_refusal(state, retry_after);
        Refusal {
            state,
            retry_after,
            shedding: None,
        }
    }

    /// Counts and records a refused call.
    #[inline(always)]
    fn count_refusal(&self, state: State, retry_after: Option<u64>) {
        self.counters.bump(Count::Rejected);
        if let Some(tap) = self.tap.get() {
            self.tap_rejected(tap, state, retry_after);
        }
    }

    /// Counts and records a call a Closed breaker sheds, and why.
    #[cold]
    pub(super) fn shed(&self, shedding: Shedding) -> Refusal {
        Refusal {
            shedding: Some(shedding),
            ..self.refuse(State::Closed, None)
        }
    }

    #[cold]
    pub(super) fn tap_rejected(&self, tap: &Arc<dyn Tap>, state: State, retry_after: Option<u64>) {
        // In Open the caller read the clock to decide; elsewhere it did not.
        let at = match (state, retry_after) {
            (State::Open, Some(after)) => self
                .hot
                .deadline
                .load(Ordering::Acquire)
                .saturating_sub(after),
            _ => self.now(),
        };
        tap.rejected(at);
    }

    /// The error of a refused call. Inlined into the caller, so the error is
    /// written once, where the caller keeps it: a copy out of the slow path
    /// reads it back with wider loads than its fields were stored with, and
    /// stalls on store forwarding.
    #[inline]
    pub(super) fn reject(&self, refusal: Refusal) -> Error {
        Error::Rejected {
            state: refusal.state,
            retry_after: refusal.retry_after.map(Duration::from_nanos),
            opening: self.opening.get(),
            shedding: refusal.shedding,
        }
    }

    // Always inlined, also where the compiler would not: a rejection's
    // `Error` is then built in the caller's frame (see `reject`). The Closed
    // permit keeps this thread's stripe (`Permit::here`); a caller that hands
    // the permit out clears it (`Permit::anywhere`).
    #[inline(always)]
    pub(super) fn acquire(&self) -> Result<Permit<'_>, Error> {
        // The common case first, small enough to inline: Closed, untimed.
        let w = self.word();
        if w.is(State::Closed) && self.detours.load(Ordering::Relaxed) & ACQUIRE_DETOURS == 0 {
            let here = self.counters.bump_here(Count::Admitted);
            return Ok(Permit {
                here,
                inner: self,
                mark: Mark::new(w.generation(), Ticket::NONE),
                started: UNTIMED,
            });
        }
        // Most of the rest are rejections in Open, well before the deadline:
        // settled by a small function whose answer comes back in registers,
        // so the error is built here from values, not read back from memory.
        // The word read again: one test of the first reading lets the Closed
        // case through, where a second made the compiler test Open first.
        if self.word().is(State::Open) {
            if let Some(after) = self.open_retry_after() {
                return Err(self.reject(Refusal {
                    state: State::Open,
                    retry_after: Some(after),
                    shedding: None,
                }));
            }
        }
        self.admit_or_refuse()
            .map_err(|refusal| self.reject(refusal))
    }

    /// In Open: how long until a trial, when a cheap reading of the clock
    /// proves the period is still running (the rejection is then counted
    /// and recorded); `None` when the state machine must decide.
    #[inline(never)]
    pub(super) fn open_retry_after(&self) -> Option<u64> {
        // A cheap reading settles most; `retry_after` is then at most `lag`
        // long (exact on a manual clock, where `lag` is 0).
        let (early, lag) = self.env.clock.coarse_ns();
        let deadline = self.hot.deadline.load(Ordering::Acquire);
        // Now is past the period's start (written before its deadline, just
        // read), so `retry_after` never exceeds the period; a reading from
        // before a period that began since is raised to its start.
        let early = early.max(self.hot.since.load(Ordering::Relaxed));
        if early.saturating_add(lag) >= deadline {
            return None;
        }
        let after = deadline - early;
        self.count_refusal(State::Open, Some(after));
        Some(after)
    }

    /// Every admission decision but the Closed fast path and the cheap Open
    /// rejection: the state machine proper.
    #[inline(never)]
    pub(super) fn admit_or_refuse(&self) -> Result<Permit<'_>, Refusal> {
        loop {
            // Each pass decides with the settings in force when it starts.
            let settings = self.settings();
            let w = self.word();
            match w.state() {
                State::Closed if settings.adaptive => {
                    let now = self.now();
                    if self
                        .lock()
                        .windows
                        .as_mut()
                        .is_some_and(|windows| windows.throttle(now, &self.random))
                    {
                        return Err(self.shed(Shedding::Adaptive));
                    }
                    return Ok(self.admit(w.generation(), Some(now)));
                }
                State::Closed if self.detours.load(Ordering::Acquire) & RAMPING != 0 => {
                    let now = self.now();
                    return match self.ramp_sheds(w, now, settings.ramp) {
                        None => Ok(self.admit(w.generation(), Some(now))),
                        Some(shedding) => Err(self.shed(shedding)),
                    };
                }
                State::Closed | State::Disabled => return Ok(self.admit(w.generation(), None)),
                State::HalfOpen => {
                    if settings.half_open_wait > 0 && self.trials_expired(w.generation()) {
                        continue;
                    }
                    let in_flight = w.trials_in_flight();
                    if in_flight >= settings.config.half_open() {
                        return Err(self.refuse(State::HalfOpen, None));
                    }
                    let shared = self.shared_trial()?;
                    let taken = w.with_aux(Word::trials(in_flight + 1, w.trial_successes()));
                    if self.cas(w, taken) {
                        self.counters.bump(Count::Trials);
                        return Ok(self.admit(w.generation(), None));
                    }
                    self.give_back_trial(shared);
                }
                State::Open => {
                    // Near the deadline (or after it, or after a race with
                    // the opening): the precise clock decides.
                    let deadline = self.hot.deadline.load(Ordering::Acquire);
                    let now = self.now();
                    if now < deadline {
                        return Err(self.refuse(State::Open, Some(deadline - now)));
                    }
                    let shared = self.shared_trial()?;
                    if let Some(generation) = self.begin_trials(w, now) {
                        self.counters.bump(Count::Trials);
                        return Ok(self.admit(generation, Some(now)));
                    }
                    self.give_back_trial(shared);
                }
                State::ForcedOpen => return Err(self.refuse(State::ForcedOpen, None)),
                State::MetricsOnly => {
                    if let Some(permit) = self.dry_run_admit() {
                        return Ok(permit);
                    }
                }
            }
        }
    }

    /// With a store: takes one of the cluster's trial permits for a call about
    /// to start a trial, or rejects the call when they are all taken. `true`
    /// when a permit was taken (to give back if the call is not admitted).
    #[cold]
    pub(super) fn shared_trial(&self) -> Result<bool, Refusal> {
        match self.link.get().map(|link| link.acquire_trial()) {
            Some(Trial::Granted) => Ok(true),
            Some(Trial::Denied) => Err(self.refuse(State::HalfOpen, None)),
            Some(Trial::Local) | None => Ok(false),
        }
    }

    /// Gives back a cluster trial permit taken by [`shared_trial`](Inner::shared_trial).
    #[cold]
    pub(super) fn give_back_trial(&self, taken: bool) {
        if taken {
            if let Some(link) = self.link.get() {
                link.release_trial();
            }
        }
    }

    /// A call in MetricsOnly: always admitted, in the role the dry run gives
    /// it (kept in the permit's generation). `None` if the breaker left
    /// MetricsOnly meanwhile.
    #[cold]
    pub(super) fn dry_run_admit(&self) -> Option<Permit<'_>> {
        let mut ctl = self.lock();
        // Under the lock a MetricsOnly word does not change: only transitions
        // and dry-run moves (both under the lock) write it.
        let w = self.word();
        if w.state() != State::MetricsOnly {
            return None;
        }
        let now = self.now();
        let settings = self.settings();
        let (mut role, moved) = ctl.dry_run.admit(now, &settings.config);
        // Adaptive throttling decides in the dry run's Closed state as it
        // would live, from the same dice: a call it would drop runs, and
        // feeds nothing.
        if role == Role::Closed
            && settings.adaptive
            && ctl
                .windows
                .as_mut()
                .is_some_and(|windows| windows.throttle(now, &self.random))
        {
            role = Role::Rejected;
        }
        // So does its slow start after a close on trials, from the same dice
        // (the two are never configured together).
        if role == Role::Closed
            && ctl
                .dry_run
                .ramping(now, settings.ramp)
                .is_some_and(|elapsed| ramp_draw(&self.random, elapsed, settings.ramp).is_some())
        {
            role = Role::Rejected;
        }
        let generation = match moved {
            Some(m) => self.dry_move(w, now, m).generation(),
            None => w.generation(),
        };
        if role == Role::Rejected {
            self.counters.bump(Count::WouldReject);
        }
        drop(ctl);
        self.deliver();
        Some(self.admit(role.mark(generation), Some(now)))
    }
}
