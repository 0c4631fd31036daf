//! The guarded call itself: a call site's [`Handle`] finds its breaker once,
//! and [`Call`] carries the admitted call's permit until [`run`] or
//! [`run_async`] records its outcome. This is the hot path of every
//! annotated function, so its `#[inline]` attributes are deliberate.

use std::future::Future;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use super::{Site, register_annotated};
use crate::breaker::{HeldCall, RunAsync};
use crate::{Breaker, Error, Permit};

/// A call site's breaker, looked up in the global registry on the first call
/// and kept: later calls cost one atomic load, no map lookup, no hashing.
#[derive(Debug)]
pub struct Handle {
    site: &'static Site,
    breaker: OnceLock<Breaker>,
}

impl Handle {
    /// A handle for `site`, usable in a `static`.
    pub const fn new(site: &'static Site) -> Handle {
        Handle {
            site,
            breaker: OnceLock::new(),
        }
    }

    /// The breaker, from the global registry. The first lookup of any handle
    /// also registers every annotated function, so that the rule of which
    /// configuration wins holds whichever function runs first.
    #[inline(always)]
    pub fn breaker(&'static self) -> &'static Breaker {
        match self.breaker.get() {
            Some(breaker) => breaker,
            None => self.look_up(),
        }
    }

    #[cold]
    #[inline(never)]
    fn look_up(&'static self) -> &'static Breaker {
        self.breaker.get_or_init(|| {
            static ANNOTATED: Once = Once::new();
            let registry = crate::registry();
            ANNOTATED.call_once(|| register_annotated(registry));
            registry.get_or_create(self.site.name, || self.site.config())
        })
    }

    /// The `timeout` of the breaker's configuration (an operator may have
    /// overridden the attribute's), else the attribute's own.
    #[inline]
    pub fn timeout(&'static self, written: Duration) -> Duration {
        self.breaker().config().timeout().unwrap_or(written)
    }

    /// Asks the breaker to admit one call.
    // Always inlined, into the user's crate too: out of line, its `Result`
    // came back through memory, written in narrower stores than the caller
    // read it with, and the caller stalled on store forwarding.
    #[inline(always)]
    pub fn acquire(&'static self) -> Result<Call<'static>, Error> {
        acquire(self.breaker())
    }
}

/// Asks `breaker` (a key's, from [`KeyedHandle::breaker`](super::KeyedHandle::breaker)) to admit one call.
#[inline(always)]
pub fn acquire(breaker: &Breaker) -> Result<Call<'_>, Error> {
    breaker.acquire_here().map(|permit| Call {
        permit: Some(permit),
    })
}

/// The `timeout` of a key's breaker's configuration, else the attribute's own.
#[inline]
pub fn timeout_of(breaker: &Breaker, written: Duration) -> Duration {
    breaker.config().timeout().unwrap_or(written)
}

/// The permit of one admitted call, until its outcome is recorded.
///
/// Dropped without an outcome (an async call whose future was dropped), the
/// permit records the call as cancelled.
///
/// A success is counted on the statistics stripe of the thread that
/// admitted the call, so record it on that thread: a sync call does, and
/// [`run_async`] lets go of the stripe when the body pends (the call may
/// then resume anywhere). Recorded on another thread without that, a count
/// may be lost; nothing else goes wrong. The expansion keeps to this.
#[derive(Debug)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub struct Call<'a> {
    permit: Option<Permit<'a>>,
}

impl Call<'_> {
    /// Records a success (also for an error the `failure` predicate excuses).
    /// By value, as `Breaker::call` records: a permit taken out of a borrowed
    /// call left a `None` to drop, and kept the call in memory for it.
    #[inline(always)]
    pub fn success(self) {
        if let Some(permit) = self.permit {
            let _ = permit.success();
        }
    }

    /// Records a failure; `message` is called only if the failure opens the breaker.
    #[inline]
    pub fn failure(self, message: impl FnOnce() -> String) {
        if let Some(permit) = self.permit {
            let _ = permit.failure_with(message);
        }
    }

    /// Records a panic, a failure, of a call still held (the guard of a sync
    /// body's run, or of an async body's poll).
    fn panicked_in_place(&mut self) {
        HeldCall::panicked_in_place(&mut self.permit);
    }

    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn timed_out(&mut self) {
        if let Some(permit) = self.permit.take() {
            let _ = permit.timeout();
        }
    }
}

// Held by `FailOnUnwind` while the body runs: a sync body's call by value
// (an async body's through `Polling`, across its polls). A panic is a failure,
// then unwinds on; a normal return forgets the guard and pays nothing.
impl crate::breaker::RecordsPanic for Call<'_> {
    fn panicked(mut self) {
        self.panicked_in_place();
    }
}

/// Runs a sync body once, and hands the call back for its outcome. Taking
/// `FnOnce` makes the closure own what it captures, so a body may return
/// borrows of its `&mut` arguments; the expansion names `R`, so the body is
/// checked against the return type. The call is held by value, as
/// `Breaker::call` holds its permit: borrowed, it had to live in memory for
/// the unwinding path, and every call stored and reloaded it.
#[inline(always)]
pub fn run<'a, R, F: FnOnce() -> R>(call: Call<'a>, body: F) -> (R, Call<'a>) {
    let armed = crate::breaker::FailOnUnwind(Some(call));
    let output = body();
    match armed.release() {
        Some(call) => (output, call),
        None => unreachable!("armed with a call"),
    }
}

/// Runs an async body to completion, holding the call (a [`Call`], or a
/// keyed call's [`KeyedCall`](super::KeyedCall)), and hands the call back
/// with the output for its outcome, as [`run`] does. A panic while the body
/// is polled is recorded as a failure; dropping the returned future first
/// leaves the call cancelled. The call is held by the future, not borrowed:
/// a borrow was one more pointer in the function's state, and the borrowed
/// call was written there and read back on every call.
#[inline(always)]
pub fn run_async<C: HeldCall, F: Future>(call: C, body: F) -> RunAsync<C, F> {
    RunAsync::new(call, body)
}

impl<'b> HeldCall for Call<'b> {
    type Back = Call<'b>;

    fn panicked_in_place(&mut self) {
        Call::panicked_in_place(self);
    }

    #[inline(always)]
    fn pended(&mut self) {
        HeldCall::pended(&mut self.permit);
    }

    // The future keeps an empty call, which its drop leaves alone.
    #[inline(always)]
    fn back(&mut self) -> Call<'b> {
        Call {
            permit: self.permit.take(),
        }
    }
}

impl HeldCall for &mut Call<'_> {
    type Back = ();

    fn panicked_in_place(&mut self) {
        Call::panicked_in_place(self);
    }

    #[inline(always)]
    fn pended(&mut self) {
        HeldCall::pended(&mut **self);
    }

    #[inline(always)]
    fn back(&mut self) {}
}

/// The timer `timeout` needs, when breaker-core's `tokio` feature is off.
#[diagnostic::on_unimplemented(
    message = "`timeout` needs breaker-core's `tokio` feature",
    label = "`timeout` is used here",
    note = "enable it: `breaker-core = {{ version = \"...\", features = [\"tokio\"] }}`"
)]
pub trait TimeoutNeedsTokioFeature {}

/// Runs an async body for at most `after`. On time: `Ok(output)`. Late: the
/// body is dropped, the call recorded as a timeout (a failure), and `Err`
/// carries [`Error::Timeout`] for [`timed_out`](super::timed_out).
#[cfg(feature = "tokio")]
pub async fn run_async_timeout<F: Future>(
    call: &mut Call<'_>,
    after: Duration,
    body: F,
) -> Result<F::Output, Error> {
    match tokio::time::timeout(after, RunAsync::new(&mut *call, body)).await {
        Ok((output, ())) => Ok(output),
        Err(_) => {
            // Named here, not before the run: an `Arc<str>` made for every
            // call, late or not.
            let name = call.permit.as_ref().map_or("", Permit::breaker_name).into();
            call.timed_out();
            Err(Error::timeout(name, after))
        }
    }
}

/// Without the `tokio` feature: refused at compile time (see
/// [`TimeoutNeedsTokioFeature`]).
#[cfg(not(feature = "tokio"))]
pub async fn run_async_timeout<F>(
    call: &mut Call<'_>,
    _after: Duration,
    body: F,
) -> Result<F::Output, Error>
where
    F: Future + TimeoutNeedsTokioFeature,
{
    Ok(RunAsync::new(call, body).await.0)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::Config;

    use crate::breaker::PendOnce;

    const CALLS: u64 = 2_000;

    #[test]
    fn a_call_counts_its_success_on_the_admitting_threads_stripe_until_its_body_pends() {
        let breaker = Breaker::new("stripe-held", Config::default());
        let call = acquire(&breaker).expect("closed");
        assert!(call.permit.as_ref().is_some_and(Permit::counts_here));
        let mut cx = Context::from_waker(Waker::noop());
        let mut run = pin!(run_async(call, PendOnce(false)));
        assert!(run.as_mut().poll(&mut cx).is_pending());
        let Poll::Ready((Ok(()), call)) = run.as_mut().poll(&mut cx) else {
            panic!("ready on the second poll")
        };
        assert!(
            call.permit.as_ref().is_some_and(|p| !p.counts_here()),
            "pended: the call may have moved"
        );
        call.success();
        // A permit handed out may be recorded anywhere.
        let permit = breaker.acquire().expect("closed");
        assert!(!permit.counts_here());
        permit.success();
        assert_eq!(breaker.stats().successes, 2);
    }

    // Calls admitted on this thread finish on another while this thread
    // counts its own: every success is counted. Had a resumed call kept the
    // admitting thread's stripe, the two threads' plain increments of it
    // would race and lose counts.
    #[test]
    fn calls_resumed_on_another_thread_lose_no_count_to_the_admitting_threads_own() {
        let breaker = Breaker::new("stripe-moved", Config::default());
        let (to_other, from_here) = std::sync::mpsc::channel();
        let mut cx = Context::from_waker(Waker::noop());
        std::thread::scope(|s| {
            let other = s.spawn(move || {
                let mut cx = Context::from_waker(Waker::noop());
                for mut run in from_here {
                    let run: &mut std::pin::Pin<Box<RunAsync<Call<'_>, PendOnce>>> = &mut run;
                    match run.as_mut().poll(&mut cx) {
                        Poll::Ready((Ok(()), call)) => call.success(),
                        _ => panic!("ready on the second poll"),
                    }
                }
            });
            for _ in 0..CALLS {
                let call = acquire(&breaker).expect("closed");
                let mut run = Box::pin(run_async(call, PendOnce(false)));
                assert!(run.as_mut().poll(&mut cx).is_pending());
                to_other.send(run).expect("the other thread is running");
                for _ in 0..10 {
                    breaker
                        .call(|| Ok::<(), Error>(()))
                        .expect("closed and succeeding");
                }
            }
            drop(to_other);
            other.join().expect("no panic");
        });
        let stats = breaker.stats();
        assert_eq!(stats.admitted, CALLS * 11);
        assert_eq!(stats.successes, CALLS * 11);
        assert_eq!(stats.in_flight, 0);
    }
}
