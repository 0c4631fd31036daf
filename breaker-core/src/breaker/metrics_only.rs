//! The dry run of [`State::MetricsOnly`]: where the breaker would be if it
//! were live.
//!
//! A breaker in MetricsOnly admits every call. Beside that, this small state
//! machine (Closed, Open, HalfOpen) follows SEMANTICS.md as the live one does,
//! and decides for each call what it would have been: a call of the Closed
//! state (fed to the policies), a half-open trial, or a rejection (fed to
//! nothing). Its moves are reported as transitions with `dry_run: true`. It
//! lives under the breaker's control lock: a dry run is a rollout tool, so it
//! trades the lock-free fast path for a small, obviously correct machine.

use std::time::Duration;

use crate::config::Config;
use crate::policy::{nanos, reopen_period};
use crate::{Reason, State};

/// The role a call had in the dry run, carried in the high bits of its
/// permit's generation (the word's generation has 29 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Admitted in the dry run's Closed state: its outcome feeds the policies.
    Closed,
    /// A half-open trial of the dry run.
    Trial,
    /// A call the dry run would have rejected: its outcome feeds nothing.
    Rejected,
}

const TRIAL: u32 = 1 << 31;
const REJECTED: u32 = 1 << 30;

impl Role {
    /// `generation` with this role in its high bits.
    pub(crate) fn mark(self, generation: u32) -> u32 {
        match self {
            Role::Closed => generation,
            Role::Trial => generation | TRIAL,
            Role::Rejected => generation | REJECTED,
        }
    }

    /// The role a permit's generation carries (`Closed` for every permit
    /// admitted outside a dry run).
    pub(crate) fn of(generation: u32) -> Role {
        if generation & TRIAL != 0 {
            Role::Trial
        } else if generation & REJECTED != 0 {
            Role::Rejected
        } else {
            Role::Closed
        }
    }
}

/// A move the dry run made: reported, never applied to the breaker's state.
#[derive(Debug)]
pub(crate) struct Move {
    pub(crate) from: State,
    pub(crate) to: State,
    pub(crate) reason: Reason,
}

/// Where the breaker would be. Its Closed state's windows are the breaker's
/// own (unused while the breaker is MetricsOnly).
#[derive(Debug)]
pub(crate) struct DryRun {
    pub(crate) state: State,
    /// The consecutive-failure run, in Closed.
    pub(crate) run: u32,
    /// The end of the open period, in Open.
    deadline: u64,
    /// The length of the current (or next) open period.
    period: u64,
    /// The next opening lasts `reset` (a reconfiguration changed it).
    restart_period: bool,
    in_flight: u32,
    successes: u32,
    /// When trials closed it under a `ramp`: its slow start runs from then
    /// (docs/semantics.md, "Slow start after recovery").
    ramp_from: Option<u64>,
}

impl DryRun {
    /// A dry run starting Closed, as the breaker enters MetricsOnly.
    pub(crate) fn new(config: &Config) -> DryRun {
        DryRun {
            state: State::Closed,
            run: 0,
            deadline: 0,
            period: nanos(config.reset()),
            restart_period: false,
            in_flight: 0,
            successes: 0,
            ramp_from: None,
        }
    }

    /// A call arrives at `now`: its role, and the move it caused (the first
    /// call after the open period moves Open -> HalfOpen and is its first trial).
    pub(crate) fn admit(&mut self, now: u64, config: &Config) -> (Role, Option<Move>) {
        if let Some(expired) = self.expire(now, config) {
            return (Role::Rejected, Some(expired));
        }
        match self.state {
            State::Open if now >= self.deadline => {
                self.state = State::HalfOpen;
                self.in_flight = 1;
                self.successes = 0;
                // In HalfOpen the deadline is when undecided trials expire.
                self.deadline = config
                    .max_half_open_wait()
                    .map_or(u64::MAX, |w| now.saturating_add(nanos(w)));
                let reason = Reason::OpenElapsed {
                    period: Duration::from_nanos(self.period),
                };
                (Role::Trial, Some(self.moved(State::Open, reason)))
            }
            State::Open => (Role::Rejected, None),
            State::HalfOpen if self.in_flight < config.half_open() => {
                self.in_flight += 1;
                (Role::Trial, None)
            }
            State::HalfOpen => (Role::Rejected, None),
            _ => (Role::Closed, None),
        }
    }

    /// The Closed state's policies tripped at `at`: Closed -> Open.
    pub(crate) fn trip(&mut self, at: u64, reason: Reason) -> Move {
        self.open(at);
        self.moved(State::Closed, reason)
    }

    /// A trial ended at `at`: a failure reopens (with backoff), `success`
    /// successes close.
    pub(crate) fn trial_ended(&mut self, at: u64, failure: bool, config: &Config) -> Option<Move> {
        if failure {
            self.reopen(at, config);
            return Some(self.moved(State::HalfOpen, Reason::TrialFailed));
        }
        self.successes += 1;
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.successes < config.success() {
            return None;
        }
        let successes = self.successes;
        *self = DryRun::new(config);
        self.ramp_from = config.ramp().map(|_| at);
        Some(self.moved(State::HalfOpen, Reason::TrialsSucceeded { successes }))
    }

    /// HalfOpen past `max_half_open_wait` at `now`: opens again, as after a
    /// failed trial (a trial ending then is a straggler).
    pub(crate) fn expire(&mut self, now: u64, config: &Config) -> Option<Move> {
        let waited = config.max_half_open_wait()?;
        if self.state != State::HalfOpen || now < self.deadline {
            return None;
        }
        self.reopen(now, config);
        Some(self.moved(State::HalfOpen, Reason::TrialsUndecided { waited }))
    }

    /// How long the slow start under way has run at `now`, while it is under
    /// `ramp` ns; `None` if there is none or it is over.
    pub(crate) fn ramping(&self, now: u64, ramp: u64) -> Option<u64> {
        let elapsed = now.saturating_sub(self.ramp_from?);
        (self.state == State::Closed && elapsed < ramp).then_some(elapsed)
    }

    /// A trial was cancelled: its permit comes back.
    pub(crate) fn trial_cancelled(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The breaker was reconfigured from `old` to `new` while MetricsOnly:
    /// the dry run follows the rules the live breaker does (its windows are
    /// the breaker's, carried over by the caller).
    pub(crate) fn reconfigure(&mut self, now: u64, old: &Config, new: &Config) {
        // A ramp in progress keeps its start and takes the new length; one
        // over by now, or set to none, stays over.
        if self.ramping(now, old.ramp().map_or(0, nanos)).is_none() || new.ramp().is_none() {
            self.ramp_from = None;
        }
        if new.consecutive().is_some() && old.consecutive().is_none() {
            self.run = 0;
        }
        if crate::policy::periods_differ(old, new) {
            match self.state {
                State::Open | State::HalfOpen => self.restart_period = true,
                _ => self.period = nanos(new.reset()),
            }
        }
    }

    /// Opens again after a trial: backoff grows the last period, unless a
    /// reconfiguration restarted it at `reset`.
    fn reopen(&mut self, at: u64, config: &Config) {
        self.period = if std::mem::take(&mut self.restart_period) {
            nanos(config.reset())
        } else {
            reopen_period(config, self.period)
        };
        self.open(at);
    }

    fn open(&mut self, at: u64) {
        self.state = State::Open;
        self.ramp_from = None;
        self.deadline = at.saturating_add(self.period);
    }

    fn moved(&self, from: State, reason: Reason) -> Move {
        Move {
            from,
            to: self.state,
            reason,
        }
    }
}
