//! Panics around `#[circuit_breaker]` never poison or wedge a breaker: after
//! a panic inside a `fallback` (sync or async) or inside a transition
//! listener (of the breaker or of the registry), caught with `catch_unwind`,
//! the breaker still admits and rejects per its state, records outcomes,
//! keeps its accounting and makes and reports its transitions as usual.
//!
//! The breakers read the global registry's manual clock; each test names its
//! own breaker and holds [`time()`] while it runs.

mod support;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;

use breaker_core::{State, circuit_breaker, registry};
use support::*;

use State::{Closed, HalfOpen, Open};

// ---- a panicking fallback --------------------------------------------------

fn exploding_cache(_ok: bool) -> Result<u32, AppError> {
    panic!("fallback bug")
}

#[circuit_breaker(pn_fallback, fail_max = 1, reset = 1s, success = 1, half_open = 1, fallback = exploding_cache)]
fn guarded(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn a_panicking_sync_fallback_neither_poisons_nor_wedges_the_breaker() {
    let (_t, clock) = time();
    let w = Watched::new("pn_fallback");
    assert!(matches!(guarded(false), Err(AppError::Down)));
    assert_eq!(w.breaker.state(), Open);
    // Rejected calls go to the fallback, which panics; the panic reaches the
    // caller, and the breaker is untouched but for `rejected`.
    for n in 1..=3 {
        let unwound = catch_unwind(|| guarded(true));
        assert!(unwound.is_err(), "the fallback's panic reaches the caller");
        let s = w.breaker.stats();
        assert_eq!((s.rejected, s.admitted, s.failures), (n, 1, 1));
        w.consistent("after the panic");
        assert_eq!(w.breaker.state(), Open);
    }
    // Recovery is unaffected: the trial is admitted and closes the breaker.
    clock.advance(secs(1));
    assert_eq!(guarded(true).unwrap(), 1);
    assert_eq!(w.breaker.state(), Closed);
    // Outcomes are still recorded and still trip it.
    assert_eq!(guarded(true).unwrap(), 1);
    assert!(matches!(guarded(false), Err(AppError::Down)));
    assert_eq!(w.breaker.state(), Open);
    assert_eq!(
        w.moves(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open)
        ]
    );
    let s = w.breaker.stats();
    assert_eq!((s.successes, s.failures, s.rejected), (2, 2, 3));
    w.consistent("after the panic");
    // Manual control still works.
    w.breaker.reset();
    assert_eq!(guarded(true).unwrap(), 1);
}

async fn exploding_async_cache(_n: u32) -> Result<u32, AppError> {
    Yield(1).await;
    panic!("async fallback bug")
}

#[circuit_breaker(pn_fallback_async, fail_max = 1, reset = 1s, success = 1, half_open = 1, fallback = exploding_async_cache)]
async fn guarded_async(n: u32) -> Result<u32, AppError> {
    Yield(1).await;
    if n == 0 {
        return Err(AppError::Down);
    }
    Ok(n)
}

/// Polls `fut` to completion with a no-op waker (every await point here
/// wakes itself), catching a panic.
fn run_catching<F: Future>(fut: F) -> std::thread::Result<F::Output> {
    let mut fut = Box::pin(fut);
    catch_unwind(AssertUnwindSafe(|| {
        loop {
            if let Poll::Ready(output) = poll_once(fut.as_mut()) {
                return output;
            }
        }
    }))
}

#[test]
fn a_panicking_async_fallback_leaves_the_trial_in_flight_untouched() {
    let (_t, clock) = time();
    let w = Watched::new("pn_fallback_async");
    assert!(matches!(
        run_catching(guarded_async(0)),
        Ok(Err(AppError::Down))
    ));
    assert_eq!(w.breaker.state(), Open);
    // In Open, the fallback panics at its second poll.
    assert!(run_catching(guarded_async(1)).is_err());
    w.consistent("after the panic");
    assert_eq!(w.breaker.stats().rejected, 1);
    // HalfOpen, one trial in flight: a second call is rejected into the
    // fallback, which panics; the trial's permit is not disturbed.
    clock.advance(secs(1));
    let mut trial = pin!(guarded_async(7));
    assert!(poll_once(trial.as_mut()).is_pending());
    assert_eq!(w.breaker.state(), HalfOpen);
    assert!(run_catching(guarded_async(8)).is_err());
    let s = w.breaker.stats();
    assert_eq!((s.in_flight, s.rejected), (1, 2));
    assert!(matches!(poll_once(trial.as_mut()), Poll::Ready(Ok(7))));
    assert_eq!(w.breaker.state(), Closed);
    w.consistent("after the panic");
    // And it carries on: a failure opens it again.
    assert!(matches!(
        run_catching(guarded_async(0)),
        Ok(Err(AppError::Down))
    ));
    assert_eq!(
        w.moves(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open)
        ]
    );
    w.consistent("after the panic");
}

// ---- a panicking listener --------------------------------------------------

#[circuit_breaker(pn_listener, fail_max = 2, reset = 1s, success = 2)]
fn listened(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn a_panicking_breaker_listener_neither_poisons_nor_wedges_the_breaker() {
    let (_t, clock) = time();
    let w = Watched::new("pn_listener");
    let panics = Arc::new(AtomicU32::new(0));
    let count = panics.clone();
    w.breaker.on_transition(move |t| {
        count.fetch_add(1, Ordering::SeqCst);
        panic!("listener bug on {:?} -> {:?}", t.from, t.to);
    });
    // The failure that opens the breaker runs the panicking listener; the
    // panic is contained: the call returns its own error to the caller.
    assert!(matches!(listened(false), Err(AppError::Down)));
    let opening = catch_unwind(|| listened(false));
    assert!(
        matches!(opening, Ok(Err(AppError::Down))),
        "the listener's panic must not reach the caller"
    );
    assert_eq!(panics.load(Ordering::SeqCst), 1);
    assert_eq!(w.breaker.state(), Open);
    assert!(is_rejection(&listened(true)));
    // Recovery through HalfOpen, each transition reported to both listeners.
    clock.advance(secs(1));
    assert_eq!(
        catch_unwind(|| listened(true)).expect("contained").unwrap(),
        1
    );
    assert_eq!(w.breaker.state(), HalfOpen);
    assert_eq!(listened(true).unwrap(), 1);
    assert_eq!(w.breaker.state(), Closed);
    // An operator action reports through the panicking listener too.
    assert!(catch_unwind(AssertUnwindSafe(|| w.breaker.trip())).is_ok());
    assert_eq!(w.breaker.state(), Open);
    assert!(is_rejection(&listened(true)));
    w.breaker.reset();
    assert_eq!(
        w.moves(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
            (Closed, Open),
            (Open, Closed)
        ]
    );
    assert_eq!(
        panics.load(Ordering::SeqCst),
        5,
        "called once per transition"
    );
    // Counting and tripping carry on as usual.
    let _ = listened(false);
    let _ = listened(false);
    assert_eq!(w.breaker.state(), Open);
    let s = w.breaker.stats();
    assert_eq!((s.successes, s.failures, s.rejected), (2, 4, 2));
    w.consistent("after the panic");
}

#[circuit_breaker(pn_registry_listener, fail_max = 1, reset = 1s, success = 1)]
fn listened_by_registry(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn a_panicking_registry_listener_neither_poisons_nor_wedges_the_breaker() {
    let (_t, clock) = time();
    let w = Watched::new("pn_registry_listener");
    let panics = Arc::new(AtomicU32::new(0));
    let count = panics.clone();
    // The registry's listeners see every breaker; this one panics on ours only.
    registry().on_transition(move |t| {
        if &*t.name == "pn_registry_listener" {
            count.fetch_add(1, Ordering::SeqCst);
            panic!("registry listener bug");
        }
    });
    let opening = catch_unwind(|| listened_by_registry(false));
    assert!(matches!(opening, Ok(Err(AppError::Down))));
    assert_eq!(w.breaker.state(), Open);
    assert!(is_rejection(&listened_by_registry(true)));
    clock.advance(secs(1));
    assert_eq!(listened_by_registry(true).unwrap(), 1);
    assert_eq!(w.breaker.state(), Closed);
    assert_eq!(
        w.moves(),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
    assert_eq!(panics.load(Ordering::SeqCst), 3);
    let _ = listened_by_registry(false);
    assert_eq!(w.breaker.state(), Open);
    w.consistent("after the panic");
}
