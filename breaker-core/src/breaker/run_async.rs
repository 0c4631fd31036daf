//! [`RunAsync`]: an async body polled in place with its call's permit beside
//! it, armed around each poll. The attribute's async calls and the retry's
//! async path run their bodies in it; the future of
//! [`Breaker::call_async`](super::Breaker::call_async) polls its body the
//! same way ([`poll_held`]), with a call it moves rather than borrows.
//!
//! A future of its own rather than an `async fn`: an `async fn` state
//! machine pinned the body by moving it (a second copy of its state on
//! every call), and one around `poll_fn` moved the permit out and back on
//! every poll and stayed out of line.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::permit::{FailOnUnwind, Permit, RecordsPanic};

/// The future of an async body run with its call: polled in place under a
/// guard that records a panic as a failure, handing the call back with the
/// output. The first time the body pends, the call lets go of its admitting
/// thread's stripe ([`HeldCall::pended`]): it may resume on another thread.
/// Dropped before the body finishes, it drops the call: a cancelled call.
#[derive(Debug)]
pub struct RunAsync<C, F> {
    call: C,
    body: F,
}

impl<C, F> RunAsync<C, F> {
    /// `body`, to run with `call`.
    #[inline(always)]
    pub(crate) fn new(call: C, body: F) -> Self {
        RunAsync { call, body }
    }
}

/// How [`RunAsync`] holds its call: owned, handed back with the output; or
/// borrowed (`timeout` records a late call on it after dropping the body).
pub trait HeldCall {
    /// What the finished future hands back with the output.
    type Back;
    /// Records a panic while the body was polled, the call still held.
    fn panicked_in_place(&mut self);
    /// The body pended: the call may resume on another thread.
    fn pended(&mut self);
    /// The body finished: what goes back with its output.
    fn back(&mut self) -> Self::Back;
}

/// A permit, or none (a call that was never admitted, or whose outcome is
/// recorded already).
impl<'a> HeldCall for Option<Permit<'a>> {
    type Back = Option<Permit<'a>>;

    fn panicked_in_place(&mut self) {
        if let Some(permit) = self.take() {
            permit.panicked();
        }
    }

    #[inline(always)]
    fn pended(&mut self) {
        if let Some(permit) = self {
            permit.may_move();
        }
    }

    #[inline(always)]
    fn back(&mut self) -> Option<Permit<'a>> {
        self.take()
    }
}

/// A body that pends on its first poll, then is ready: for the tests of
/// calls that resume, perhaps on another thread.
#[cfg(test)]
pub(crate) struct PendOnce(pub(crate) bool);

#[cfg(test)]
impl Future for PendOnce {
    type Output = Result<(), crate::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Ready(Ok(()));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A held call while its body is polled, for [`FailOnUnwind`].
struct Polling<'a, C: HeldCall>(&'a mut C);

impl<C: HeldCall> RecordsPanic for Polling<'_, C> {
    fn panicked(self) {
        self.0.panicked_in_place();
    }
}

impl<C: HeldCall, F: Future> Future for RunAsync<C, F> {
    type Output = (F::Output, C::Back);

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `body` is structurally pinned: nothing moves it out of a
        // pinned `RunAsync` (no method hands it out, there is no `Drop`), and
        // `RunAsync` is `Unpin` only when `F` is. `call` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; `this.body` stays where it is until dropped.
        let body = unsafe { Pin::new_unchecked(&mut this.body) };
        match poll_held(body, &mut this.call, cx) {
            Poll::Ready(output) => Poll::Ready((output, this.call.back())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Polls `body` once with `call` held, as [`RunAsync`] does: a panic is
/// recorded on the call, and the first time the body pends, the call lets
/// go of its admitting thread's stripe ([`HeldCall::pended`]).
#[inline(always)]
pub(crate) fn poll_held<C: HeldCall, F: Future>(
    body: Pin<&mut F>,
    call: &mut C,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    let armed = FailOnUnwind(Some(Polling(&mut *call)));
    let poll = body.poll(cx);
    armed.release();
    if poll.is_pending() {
        call.pended();
    }
    poll
}
