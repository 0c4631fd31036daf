//! Slow start after recovery (`ramp`): when one is under way, from when, the
//! share of calls it admits, and its end (docs/semantics.md pins the draw).
//!
//! A ramp is the `RAMPING` bit of the `detours` byte (so the fast paths,
//! which test that byte already, pay nothing for it) and the time it started
//! from. It starts on a close on trials, here or adopted from a store; it
//! ends when the breaker leaves Closed, on `reset()`, or once it has run its
//! length.

use std::sync::atomic::Ordering;

use super::detours::RAMPING;
use super::machine::Inner;
use crate::error::Shedding;
use crate::jitter::Jitter;
use crate::state::Word;

impl Inner {
    /// Starts a slow start from `from` (before the word says Closed, so no
    /// call of the new period takes the fast path unramped).
    pub(super) fn start_ramp(&self, from: u64) {
        self.ramp_from.store(from, Ordering::Relaxed);
        self.detours.fetch_or(RAMPING, Ordering::Release);
    }

    /// Ends the slow start, if one is under way.
    pub(super) fn end_ramp(&self) {
        self.detours.fetch_and(!RAMPING, Ordering::Release);
    }

    /// How long the slow start under way has run at `now`; `None` if there
    /// is none.
    pub(super) fn ramp_elapsed(&self, now: u64) -> Option<u64> {
        (self.detours.load(Ordering::Acquire) & RAMPING != 0)
            .then(|| now.saturating_sub(self.ramp_from.load(Ordering::Relaxed)))
    }

    /// The share of calls a slow start of `ramp` ns admits at `now`, from
    /// 0.1 to 1 (`None` when none is under way or it has run its length).
    pub(super) fn ramp_share(&self, now: u64, ramp: u64) -> Option<f64> {
        let elapsed = self.ramp_elapsed(now).filter(|&e| e < ramp)?;
        Some(share_at(elapsed, ramp))
    }

    /// Ends a slow start that has run `ramp` ns by `now` (under the lock, as a
    /// reconfiguration does before it changes `ramp`: a ramp over stays over,
    /// whether or not a call came to see it end).
    pub(super) fn end_ramp_if_over(&self, now: u64, ramp: u64) {
        if self.ramp_elapsed(now).is_some_and(|e| e >= ramp) {
            self.end_ramp();
        }
    }

    /// A call at `now` in Closed period `w` during a slow start of `ramp` ns:
    /// admitted with probability `(ramp + 9 e) / (10 ramp)`, `e` the time
    /// since the close; past the ramp, the ramp ends and every call is
    /// admitted. `None` when the call is admitted; otherwise why it is shed.
    #[cold]
    pub(super) fn ramp_sheds(&self, w: Word, now: u64, ramp: u64) -> Option<Shedding> {
        let elapsed = now.saturating_sub(self.ramp_from.load(Ordering::Relaxed));
        if elapsed >= ramp {
            // Under the lock, where ramps start: one that began since (a
            // new close on trials) is not ended by this late call.
            let _ctl = self.lock();
            if self.word().is_period(w.generation()) {
                self.end_ramp();
            }
            return None;
        }
        ramp_draw(&self.random, elapsed, ramp)
    }
}

/// One draw for a call `elapsed` ns into a slow start of `ramp` ns: admitted
/// when u, uniform in [0, 10 ramp), falls below `ramp + 9 elapsed`; `None`
/// when it is admitted, otherwise the shedding and its share.
pub(super) fn ramp_draw(random: &Jitter, elapsed: u64, ramp: u64) -> Option<Shedding> {
    let bound = u128::from(ramp) * 10;
    let admitted = u128::from(ramp) + 9 * u128::from(elapsed);
    (random.below(bound) >= admitted).then(|| Shedding::ramp(share_at(elapsed, ramp)))
}

/// The share of calls a slow start of `ramp` ns admits `elapsed` ns in, as
/// `Stats` and a rejection show it: 0.1 at the close, 1 at its end.
fn share_at(elapsed: u64, ramp: u64) -> f64 {
    0.1 + 0.9 * elapsed as f64 / ramp as f64
}
