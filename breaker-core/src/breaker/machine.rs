//! What a breaker is made of: the packed state word and the open period on
//! their own cache lines, the data only touched under the control lock, and
//! the few steps every part of the state machine takes on them (read the
//! word, compare-and-swap it, read the clock, take the lock, deliver events).
//!
//! The state lives in one packed atomic word (see `state::Word`). Admission
//! and the outcomes that change nothing but a counter are lock-free
//! compare-and-swaps on that word. Every transition is made under the control
//! lock, so that transitions are totally ordered and each is reported once; it
//! is still a compare-and-swap, because lock-free updates race with it. A
//! transition bumps the word's generation, which is how an outcome knows its
//! period is over and it is a straggler.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use super::environment::Environment;
use super::link::Link;
use super::metrics_only::DryRun;
use super::settings::{Settings, SettingsCell};
use crate::State;
use crate::counter::Counters;
use crate::error::Shedding;
use crate::event::{Dispatch, Listeners};
use crate::opening::OpeningCell;
use crate::policy::{Batched, Windows};
use crate::reason::OpenReason;
use crate::state::Word;
use crate::sync::{AtomicU64, Mutex, MutexGuard};
use crate::tap::Tap;

/// `Permit::started` when the breaker does not time its calls.
pub(super) const UNTIMED: u64 = u64::MAX;
/// `opened_at` of a breaker that never opened.
pub(super) const NEVER: u64 = u64::MAX;

/// What every call reads, alone on its cache lines.
#[repr(align(128))]
pub(super) struct Hot {
    pub(super) word: AtomicU64,
    /// End of the current open period (valid while the word says Open). Written
    /// before the compare-and-swap that publishes Open.
    pub(super) deadline: AtomicU64,
    /// Start of the open period `deadline` ends, written just before it: a
    /// reader that sees a deadline sees its start too.
    pub(super) since: AtomicU64,
}

/// A call the slow path refused: what the rejection error will say.
#[derive(Clone, Copy)]
pub(super) struct Refusal {
    pub(super) state: State,
    pub(super) retry_after: Option<u64>,
    pub(super) shedding: Option<Shedding>,
}

/// What is only touched under the control lock.
pub(super) struct Control {
    /// The length of the current (or next) open period: `reset`, grown by backoff.
    pub(super) period: u64,
    /// Set by a reconfiguration of `reset`, `backoff` or `reset_max` while
    /// Open or HalfOpen: the next opening lasts the new `reset`, where it
    /// would have grown the last period.
    pub(super) restart_period: bool,
    pub(super) windows: Option<Windows>,
    /// Where the breaker would be, while it is MetricsOnly.
    pub(super) dry_run: DryRun,
}

pub(super) struct Inner {
    pub(super) hot: Hot,
    pub(super) name: Arc<str>,
    /// The configuration in force and what follows from it (`settings`).
    pub(super) settings: SettingsCell,
    /// The successes counted without the lock, for the window to take in.
    pub(super) batched: Batched,
    /// Adaptive throttling's dice: seedable, so a replay drops the same calls.
    pub(super) random: crate::jitter::Jitter,
    /// `TIMED | WINDOWED | TAPPED`: one byte the fast paths test, so they
    /// read one field, and a recorder can join a live breaker.
    pub(super) detours: AtomicU8,
    /// Where its calls are recorded, once a recorder taps it (`tap` module).
    pub(super) tap: OnceLock<Arc<dyn Tap>>,
    pub(super) counters: Counters,
    pub(super) control: Mutex<Control>,
    /// Why it last opened, shared by its rejections.
    pub(super) opening: OpeningCell,
    pub(super) opened_at: AtomicU64,
    /// When the breaker last closed on its trials: the start of its slow
    /// start (`ramp`), valid while `detours` has `RAMPING`.
    pub(super) ramp_from: AtomicU64,
    pub(super) transitions: AtomicU64,
    pub(super) env: Arc<Environment>,
    pub(super) listeners: Listeners,
    pub(super) dispatch: Dispatch,
    /// The breaker's link to a shared-state store, once it joined one
    /// (`store` module). Read only off the Closed fast paths.
    pub(super) link: OnceLock<Arc<dyn Link>>,
}

impl Inner {
    #[inline]
    pub(super) fn word(&self) -> Word {
        Word(self.hot.word.load(Ordering::Acquire))
    }

    #[inline]
    pub(super) fn cas(&self, current: Word, new: Word) -> bool {
        self.hot
            .word
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The settings in force: read once per decision.
    #[inline]
    pub(super) fn settings(&self) -> &Settings {
        self.settings.get()
    }

    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.env.clock.now_ns()
    }

    /// Starts an open period of `period` at `at` (before the word says Open,
    /// or while it does).
    pub(super) fn open_until(&self, at: u64, period: u64) {
        self.hot.since.store(at, Ordering::Relaxed);
        self.hot
            .deadline
            .store(at.saturating_add(period), Ordering::Release);
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Control> {
        // A panic never happens under this lock by design; if one did, the
        // control data is still consistent (every write to it is a single step).
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn deliver(&self) {
        self.dispatch.deliver(&self.listeners, &self.env.listeners);
    }

    pub(super) fn open_reason(&self) -> Option<Arc<OpenReason>> {
        self.opening.reason()
    }
}
