//! The permit of one admitted call, and how its outcome gets recorded: the
//! caller says success, failure or timeout; dropping the permit records a
//! cancelled call; a panic records a failure on its way out. `success` keeps
//! its common case (an untimed success in a clean Closed period) inline, so
//! that it touches nothing but the thread's counter.

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::machine::Inner;
use crate::State;
use crate::counter::{Count, Here};
use crate::state::Word;
use crate::tap::Ticket;

/// What recording an outcome found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// How long the call ran, when the breaker times calls (`slow` is set,
    /// or a recorder taps the breaker).
    pub latency: Option<Duration>,
    /// Whether the call was slower than `slow`.
    pub slow: bool,
    /// Whether the call's period had ended: the outcome only reached the statistics.
    pub straggler: bool,
}

/// The right to run one call through a breaker.
///
/// Report how the call ended with [`success`](Permit::success),
/// [`failure`](Permit::failure) or [`timeout`](Permit::timeout); dropping the
/// permit instead records the call as cancelled, which feeds no policy and
/// gives a half-open trial permit back.
#[must_use = "a permit dropped without an outcome records a cancelled call"]
pub struct Permit<'a> {
    pub(super) inner: &'a Inner,
    pub(super) mark: Mark,
    pub(super) started: u64,
    /// This thread's stripe of the counters, found at admission, while the
    /// permit cannot have left the thread: a success is then counted there
    /// without finding the stripe again (the thread-local and the bounds
    /// check, about a third of a nanosecond). Kept only by the calls that
    /// record on the admitting thread (`Breaker::call`, the attribute's
    /// `Call`), or that let it go when an async body pends (`RunAsync`, for
    /// the attribute and `Breaker::call_async`); `None` in a permit handed
    /// out, which may be recorded on any thread.
    pub(super) here: Option<Here<'a>>,
}

/// The period a call was admitted in and its place in a recording
/// (meaningless when untapped), in one word. Two `u32` fields were written
/// with two narrow stores, and a permit moved into an async function's state
/// was copied with one wide load: a store-forwarding stall on every call.
#[derive(Clone, Copy)]
pub(super) struct Mark(u64);

impl Mark {
    #[inline(always)]
    pub(super) fn new(generation: u32, ticket: Ticket) -> Mark {
        Mark(u64::from(generation) | (u64::from(ticket.0) << 32))
    }

    #[inline(always)]
    pub(super) fn generation(self) -> u32 {
        self.0 as u32
    }

    #[inline(always)]
    pub(super) fn ticket(self) -> Ticket {
        Ticket((self.0 >> 32) as u32)
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.inner.name)
            .field("generation", &self.mark.generation())
            .finish()
    }
}

impl<'a> Permit<'a> {
    /// The permit, to be recorded on any thread: it no longer counts its
    /// outcome on the admitting thread's stripe.
    #[inline(always)]
    pub(crate) fn anywhere(mut self) -> Self {
        self.may_move();
        self
    }

    /// The permit, no longer tied to the borrow of the breaker it was
    /// acquired through: for a permit kept beside a clone of that breaker
    /// ([`OwnedPermit`](crate::OwnedPermit), a keyed call's). It points into
    /// the breaker's shared state, which lives in the `Arc` every clone holds
    /// and never moves.
    ///
    /// # Safety
    ///
    /// The caller keeps a clone of the breaker alive for as long as the
    /// permit exists: it records or drops the permit first.
    #[inline(always)]
    pub(crate) unsafe fn detached<'b>(self) -> Permit<'b> {
        // SAFETY: only the lifetime changes; the caller keeps what it
        // borrows alive (above).
        unsafe { std::mem::transmute::<Permit<'a>, Permit<'b>>(self) }
    }

    /// The permit's call may resume on another thread (its async body pended).
    #[inline(always)]
    pub(crate) fn may_move(&mut self) {
        self.here = None;
    }

    /// Whether a success is counted on the admitting thread's stripe.
    #[cfg(test)]
    pub(crate) fn counts_here(&self) -> bool {
        self.here.is_some()
    }

    /// The name of the breaker that admitted the call.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn breaker_name(&self) -> &str {
        &self.inner.name
    }

    /// The call succeeded (or failed with an error that is not counted as a failure).
    #[inline]
    pub fn success(self) -> Recorded {
        let this = ManuallyDrop::new(self);
        let inner = this.inner;
        // The common case, small enough to inline: an untimed success in a
        // Closed period whose consecutive run is already 0 changes nothing but
        // this thread's counter.
        if inner.detours.load(Ordering::Relaxed) == 0 {
            let clean = Word::new(State::Closed, this.mark.generation(), 0);
            if inner.word() == clean {
                match this.here {
                    Some(here) => here.bump(Count::Successes),
                    None => inner.counters.bump(Count::Successes),
                }
                return Recorded {
                    latency: None,
                    slow: false,
                    straggler: false,
                };
            }
        }
        inner.end(
            this.mark.generation(),
            this.mark.ticket(),
            this.started,
            false,
            String::new,
        )
    }

    /// The call failed.
    pub fn failure(self) -> Recorded {
        self.failure_with(String::new)
    }

    /// The call failed; `message` describes the failure and is kept (called)
    /// only if this failure opens the breaker.
    pub fn failure_with(self, message: impl FnOnce() -> String) -> Recorded {
        let this = ManuallyDrop::new(self);
        this.inner.end(
            this.mark.generation(),
            this.mark.ticket(),
            this.started,
            true,
            message,
        )
    }

    /// The call ran past the breaker's `timeout`: a failure.
    pub fn timeout(self) -> Recorded {
        let after = self.inner.settings().config.timeout().unwrap_or_default();
        self.failure_with(|| format!("timed out after {}", crate::format_duration(after)))
    }
}

impl Drop for Permit<'_> {
    // Inline, handing the breaker its fields by value: out of line, the
    // drop took the permit's address, and an async function that holds a
    // permit (whose future's drop the unwinding path calls) kept its whole
    // state in memory for it.
    #[inline(always)]
    fn drop(&mut self) {
        self.inner
            .cancel(self.mark.generation(), self.mark.ticket(), self.started);
    }
}

impl Permit<'_> {
    /// Records a call's `Result`: `Ok` a success, `Err` a failure described
    /// by the error's `Display`. Returns the result unchanged.
    #[inline]
    pub fn finish<T, E: fmt::Display>(self, result: Result<T, E>) -> Result<T, E> {
        // Taken apart and rebuilt, not borrowed and returned (see `Breaker::call`).
        match result {
            Ok(value) => {
                self.success();
                Ok(value)
            }
            Err(error) => {
                self.failure_with(|| error.to_string());
                Err(error)
            }
        }
    }

    /// Records a call's `Result` as `is_failure` classifies it: a failure
    /// (described by the error's `Display`, or as a classified `Ok`) when it
    /// says so, a success otherwise.
    pub fn record_when<T, E: fmt::Display>(
        self,
        result: &Result<T, E>,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Recorded {
        if !is_failure(result) {
            return self.success();
        }
        match result {
            Ok(_) => self.failure_with(|| "`Ok` counted as a failure".to_owned()),
            Err(error) => self.failure_with(|| error.to_string()),
        }
    }

    /// Records a call's `Result` by reference (see [`finish`](Permit::finish)).
    #[inline]
    pub fn record<T, E: fmt::Display>(self, result: &Result<T, E>) -> Recorded {
        match result {
            Ok(_) => self.success(),
            Err(error) => self.failure_with(|| error.to_string()),
        }
    }
}

/// A permit that can record the panic of the code it guards.
pub(crate) trait RecordsPanic {
    /// The guarded code panicked: a failure, `panicked`.
    fn panicked(self);
}

impl RecordsPanic for Permit<'_> {
    fn panicked(self) {
        self.failure_with(|| "panicked".to_owned());
    }
}

/// Holds a permit (borrowed, or an [`OwnedPermit`](crate::OwnedPermit) in a
/// tower future) while guarded code runs; dropped while still armed (the
/// code panicked) it records a failure, and the panic goes on.
pub(crate) struct FailOnUnwind<P: RecordsPanic>(pub(crate) Option<P>);

impl<P: RecordsPanic> FailOnUnwind<P> {
    /// The guarded code returned: hands the permit back.
    #[inline]
    pub(crate) fn release(mut self) -> Option<P> {
        let permit = self.0.take();
        std::mem::forget(self);
        permit
    }
}

impl<P: RecordsPanic> Drop for FailOnUnwind<P> {
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            permit.panicked();
        }
    }
}
