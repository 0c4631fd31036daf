//! The future [`Breaker::call_async`], [`Breaker::call_async_when`] and
//! [`KeyedBreaker::call_async`](crate::keyed::KeyedBreaker::call_async)
//! return: a future of its own rather than an `async fn`, so that the
//! guarded future is polled where it was first put, never moved again.
//!
//! As an `async fn`, the guarded future was moved into the call's state,
//! then out of it into the future that polls it, then into the state again
//! for the await. Each move wrote it in the guarded future's own field
//! sizes and read it back in wider loads, so every move stalled on store
//! forwarding. `Breaker::call_async` took six times the annotated async
//! call.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::run_async::{HeldCall, poll_held};
use crate::Error;

/// The future of [`Breaker::call_async`](super::Breaker::call_async) and
/// [`Breaker::call_async_when`](super::Breaker::call_async_when) (`C`: an
/// `Option<Permit>`), and of `KeyedBreaker::call_async` (`C`: a
/// `KeyedCall`, which holds the key's breaker too). `A` asks the breaker to
/// admit the call, at the first poll, as an `async fn` would; the guarded
/// future is polled with the call held, as [`RunAsync`](super::RunAsync)
/// polls it, and `R` records its outcome on the call.
///
/// A call in the future is only ever moved, never borrowed: the poll takes
/// it out (the first poll admits it straight into a local), and puts it back
/// if the guarded future pends; the drop takes it out too. A call borrowed
/// in place handed its address to a drop out of line (a cancelled keyed
/// call's, or the panic guard's), and the whole future then stayed in
/// memory, also where the compiler could tell that nothing was held.
pub(crate) struct CallFuture<A, F, R, C> {
    /// Taken by the first poll.
    admit: Option<A>,
    /// Taken by the poll that sees the guarded future finish, or the
    /// rejection: `None` once the call is over.
    record: Option<R>,
    /// Empty (`C::default()`) but while the guarded future is pending.
    /// Dropped by hand (see [`Drop`] below).
    call: ManuallyDrop<C>,
    body: F,
}

impl<A, F, R, C: Default> CallFuture<A, F, R, C> {
    #[inline(always)]
    pub(crate) fn new(admit: A, record: R, fut: F) -> Self {
        CallFuture {
            admit: Some(admit),
            record: Some(record),
            call: ManuallyDrop::new(C::default()),
            body: fut,
        }
    }
}

impl<T, E, A, F, R, C> Future for CallFuture<A, F, R, C>
where
    A: FnOnce() -> Result<C, Error>,
    F: Future<Output = Result<T, E>>,
    E: From<Error>,
    R: FnOnce(C, Result<T, E>) -> Result<T, E>,
    C: HeldCall + Default,
{
    type Output = Result<T, E>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        // SAFETY: `body` is structurally pinned: nothing moves it out of a
        // pinned `CallFuture` (no method hands it out, and `Drop` leaves it
        // to the compiler's drop, in place), and `CallFuture` is `Unpin`
        // only when `F` is. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above; `this.body` stays where it is until dropped.
        let body = unsafe { Pin::new_unchecked(&mut this.body) };
        // Checked before the body runs: checked after, the panic's
        // unwinding path dropped the call the body handed back, and that
        // drop kept the call in memory.
        if this.record.is_none() {
            panic!("`Breaker::call_async` polled after it finished");
        }
        let mut call = match this.admit.take() {
            Some(admit) => match admit() {
                Ok(call) => call,
                Err(rejected) => {
                    this.record = None;
                    return Poll::Ready(Err(rejected.into()));
                }
            },
            // Left empty while the body runs: if it panics, the call (ended
            // by the panic) is dropped here, and the future holds nothing.
            None => std::mem::take(&mut *this.call),
        };
        let Poll::Ready(result) = poll_held(body, &mut call, cx) else {
            // The empty call held until now owns nothing: forgotten, not
            // dropped, so that no drop of it is left for the compiler to
            // prove empty.
            std::mem::forget(std::mem::replace(&mut *this.call, call));
            return Poll::Pending;
        };
        // SAFETY: `record` was `Some` at the start of this poll, and only
        // the end of a call, here or at the rejection above, takes it.
        let record = unsafe { this.record.take().unwrap_unchecked() };
        // A guarded future that panicked earlier (its failure recorded) and
        // was polled again runs with an empty call, which records nothing.
        Poll::Ready(record(call, result))
    }
}

impl<A, F, R, C> Drop for CallFuture<A, F, R, C> {
    #[inline(always)]
    fn drop(&mut self) {
        // Taken out, then dropped: a call dropped while the guarded future
        // is pending is cancelled, before the future is (the compiler drops
        // `body` after this).
        // SAFETY: `call` is taken here only, and never used after.
        drop(unsafe { ManuallyDrop::take(&mut self.call) });
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use crate::{Breaker, Config, Error};

    use crate::breaker::PendOnce;

    /// Rounds of calls admitted here and finished on another thread.
    const ROUNDS: usize = 10;
    /// Calls moved a round.
    const MOVED: usize = 1_000;

    // Calls admitted on this thread finish on another while this thread
    // counts its own, for as long as the other runs: every success is
    // counted. Had a resumed call kept the admitting thread's stripe, the two
    // threads' plain increments of it would race and lose counts.
    #[test]
    fn calls_resumed_on_another_thread_lose_no_count_to_the_admitting_threads_own() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        type Moved<'b> = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'b>>;
        let breaker = Breaker::new("call-async-moved", Config::default());
        let moved: Mutex<Vec<Moved<'_>>> = Mutex::new(Vec::new());
        // Rounds handed over and rounds finished. The other thread spins
        // rather than sleeps between rounds, and this one calls until the
        // other is done, so that the two run at once (a woken thread was
        // often put on this one's core, and ran after it).
        let (handed, finished) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut cx = Context::from_waker(Waker::noop());
        let mut own = 0;
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut cx = Context::from_waker(Waker::noop());
                for round in 1..=ROUNDS {
                    while handed.load(Ordering::Acquire) < round {
                        std::hint::spin_loop();
                    }
                    let calls = std::mem::take(&mut *moved.lock().expect("not poisoned"));
                    for mut call in calls {
                        assert!(matches!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
                    }
                    finished.store(round, Ordering::Release);
                }
            });
            for round in 1..=ROUNDS {
                let calls: Vec<Moved<'_>> = (0..MOVED)
                    .map(|_| {
                        let mut call = Box::pin(breaker.call_async(PendOnce(false)));
                        assert!(call.as_mut().poll(&mut cx).is_pending());
                        call as Moved<'_>
                    })
                    .collect();
                *moved.lock().expect("not poisoned") = calls;
                handed.store(round, Ordering::Release);
                while finished.load(Ordering::Acquire) < round {
                    breaker
                        .call(|| Ok::<(), Error>(()))
                        .expect("closed and succeeding");
                    own += 1;
                }
            }
        });
        let stats = breaker.stats();
        let total = (ROUNDS * MOVED) as u64 + own;
        assert_eq!((stats.admitted, stats.successes), (total, total));
        assert_eq!(stats.in_flight, 0);
    }

    // As an `async fn`'s future does: a finished call is not run again, and
    // records nothing more.
    #[test]
    fn a_finished_call_polled_again_panics_and_records_nothing() {
        use std::panic::{AssertUnwindSafe, catch_unwind};
        let breaker = Breaker::new("call-async-again", Config::default());
        let mut cx = Context::from_waker(Waker::noop());
        let mut call = Box::pin(breaker.call_async(async { Ok::<u32, Error>(7) }));
        assert!(matches!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(7))));
        assert!(catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut cx))).is_err());
        breaker.trip();
        let mut rejected = Box::pin(breaker.call_async(async { Ok::<u32, Error>(7) }));
        assert!(matches!(
            rejected.as_mut().poll(&mut cx),
            Poll::Ready(Err(_))
        ));
        assert!(catch_unwind(AssertUnwindSafe(|| rejected.as_mut().poll(&mut cx))).is_err());
        let stats = breaker.stats();
        assert_eq!(
            (stats.admitted, stats.successes, stats.in_flight),
            (1, 1, 0)
        );
    }

    #[test]
    fn a_call_is_admitted_at_its_first_poll_and_a_rejection_answers_it() {
        let breaker = Breaker::new("call-async-first-poll", Config::default());
        let call = breaker.call_async(async { Ok::<u32, Error>(7) });
        assert_eq!(
            breaker.stats().admitted,
            0,
            "not asked before its first poll"
        );
        let mut cx = Context::from_waker(Waker::noop());
        let mut call = Box::pin(call);
        assert!(matches!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(7))));
        assert_eq!(breaker.stats().successes, 1);

        breaker.trip();
        let mut rejected = Box::pin(breaker.call_async(async { Ok::<u32, Error>(7) }));
        match rejected.as_mut().poll(&mut cx) {
            Poll::Ready(Err(error)) => assert!(error.is_rejected(), "{error}"),
            other => panic!("rejected at its first poll, got {other:?}"),
        }
        // Dropped while pending: a cancelled call, not a failure.
        let mut pending = Box::pin(breaker.call_async_when(|_| true, PendOnce(false)));
        breaker.reset();
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        drop(pending);
        let stats = breaker.stats();
        assert_eq!((stats.in_flight, stats.failures), (0, 0));
    }
}
