//! Cancellation proof for `#[circuit_breaker]` on `async fn`: a future dropped
//! at *every* await point of a guarded call (in its body, while `timeout` is
//! waiting, and in its `fallback`) leaves the breaker consistent:
//!
//! - nothing stays in flight (`stats().in_flight == 0`);
//! - `admitted == successes + failures + cancelled`, and the dropped call is
//!   counted as cancelled (never as a success or a failure);
//! - a half-open trial permit is given back: the next trial is admitted
//!   (`half_open = 1`, so a leaked permit would reject it);
//! - the cancelled call causes no transition.
//!
//! Every future is polled by hand with a no-op waker; the await points are
//! hand-made futures that return `Pending` a known number of times, and
//! tokio's paused clock (moved only by `tokio::time::advance`) drives
//! `timeout`. The breakers read the global registry's manual clock. Each test
//! names its own breaker and holds [`time()`] while it runs.

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use breaker_core::{Breaker, Error, State, circuit_breaker};
use support::*;

/// A current-thread runtime whose clock is paused: tokio time moves only
/// when a test calls `tokio::time::advance`.
fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// One step of driving a call by hand.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Poll once with a no-op waker; the call must still be pending.
    Poll,
    /// Move tokio's paused clock.
    Advance(Duration),
}

/// Whether `steps` poll the call at least once (so that it was admitted or
/// rejected; a future never polled has not asked the breaker anything).
fn polled(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s, Step::Poll))
}

/// Runs `steps` on `fut`, checking after each poll that `in_flight` calls are
/// in flight on `breaker`, then drops `fut` where it stands.
async fn drive_and_drop<F: Future>(breaker: &Breaker, fut: F, steps: &[Step], in_flight: u64) {
    let mut fut = pin!(fut);
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Poll => {
                assert!(
                    poll_once(fut.as_mut()).is_pending(),
                    "step {i} of {steps:?} finished the call"
                );
                assert_eq!(
                    breaker.stats().in_flight,
                    in_flight,
                    "in flight after step {i} of {steps:?}"
                );
            }
            Step::Advance(by) => tokio::time::advance(by).await,
        }
    }
    // `fut` is dropped here, at the await point the steps reached.
}

/// Runs `steps` on `fut`, then polls once more: the call must finish.
async fn complete<F: Future>(fut: F, steps: &[Step]) -> F::Output {
    let mut fut = pin!(fut);
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Poll => assert!(
                poll_once(fut.as_mut()).is_pending(),
                "step {i} of {steps:?} finished the call early"
            ),
            Step::Advance(by) => tokio::time::advance(by).await,
        }
    }
    match poll_once(fut.as_mut()) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("still pending after {steps:?}: the schedule is wrong"),
    }
}

/// Drops a fresh call of `call` after each prefix of `schedule` (every await
/// point of its body, `schedule` being what the call needs before the poll
/// that finishes it), first in Closed, then as the first half-open trial;
/// after each drop checks the breaker, and in HalfOpen that the next trial
/// is admitted and closes it (`success = 1`, `half_open = 1`).
async fn drop_at_every_await_point<F, Fut>(w: &Watched, call: F, schedule: &[Step], reset: Duration)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u32, AppError>>,
{
    for cut in 0..=schedule.len() {
        let steps = &schedule[..cut];
        let admitted = u64::from(polled(steps));

        // In Closed: the cancelled call feeds no policy and moves nothing.
        let before = w.consistent("before");
        let moves = w.moves();
        drive_and_drop(&w.breaker, call(), steps, admitted).await;
        let after = w.consistent(&format!("Closed, dropped after {steps:?}"));
        assert_eq!(after.admitted - before.admitted, admitted, "{steps:?}");
        assert_eq!(after.cancelled - before.cancelled, admitted, "{steps:?}");
        assert_eq!(
            (after.successes, after.failures, after.rejected),
            (before.successes, before.failures, before.rejected),
            "{steps:?}"
        );
        assert_eq!(after.consecutive_failures, before.consecutive_failures);
        assert_eq!(w.breaker.state(), State::Closed, "{steps:?}");
        assert_eq!(w.moves(), moves, "a cancelled call caused a transition");

        // As the first half-open trial: its admission moves Open -> HalfOpen;
        // its drop gives the permit back and moves nothing.
        w.breaker.trip();
        CLOCK.advance(reset);
        let before = w.consistent("before the trial");
        let moves = w.moves();
        drive_and_drop(&w.breaker, call(), steps, admitted).await;
        let after = w.consistent(&format!("HalfOpen, dropped after {steps:?}"));
        assert_eq!(after.cancelled - before.cancelled, admitted, "{steps:?}");
        assert_eq!(
            (after.successes, after.failures),
            (before.successes, before.failures)
        );
        let mut expected = moves.clone();
        if admitted == 1 {
            expected.push((State::Open, State::HalfOpen));
            assert_eq!(w.breaker.state(), State::HalfOpen, "{steps:?}");
        } else {
            assert_eq!(w.breaker.state(), State::Open, "{steps:?}");
        }
        assert_eq!(w.moves(), expected, "a cancelled trial caused a transition");

        // The permit is back: the next trial is admitted (a leaked permit
        // would get it rejected) and its success closes the breaker.
        let result = complete(call(), schedule).await;
        assert!(result.is_ok(), "the next trial after {steps:?}: {result:?}");
        assert_eq!(w.breaker.state(), State::Closed, "{steps:?}");
        assert_eq!(w.moves().last(), Some(&(State::HalfOpen, State::Closed)));
        w.consistent("after the next trial");
    }
}

// ---- a plain async function ------------------------------------------------

#[circuit_breaker(cx_plain, fail_max = 1, reset = 1s, success = 1, half_open = 1)]
async fn plain() -> Result<u32, AppError> {
    Yield(1).await;
    Yield(2).await;
    Ok(7)
}

/// `plain` is pending three times, then finishes.
const PLAIN: &[Step] = &[Step::Poll, Step::Poll, Step::Poll];

#[test]
fn a_plain_async_call_dropped_at_every_await_point_leaves_the_breaker_consistent() {
    let _t = time();
    let w = Watched::new("cx_plain");
    paused_runtime().block_on(async {
        assert_eq!(complete(plain(), PLAIN).await.unwrap(), 7);
        drop_at_every_await_point(&w, plain, PLAIN, secs(1)).await;
    });
    let s = w.consistent("end");
    // Two calls dropped per await point that had been reached (3 of 4 cuts
    // poll at least once), none of them a failure.
    assert_eq!(s.cancelled, 2 * 3);
    assert_eq!(s.failures, 0);
}

// ---- with `timeout` --------------------------------------------------------

#[circuit_breaker(cx_timeout, timeout = 2s, fail_max = 1, reset = 1s, success = 1, half_open = 1)]
async fn timed(hang: bool) -> Result<u32, AppError> {
    Yield(1).await;
    tokio::time::sleep(secs(1)).await;
    Yield(1).await;
    if hang {
        std::future::pending::<()>().await;
    }
    Ok(1)
}

/// `timed(false)`: pending in `Yield`, in the sleep (until tokio's clock
/// moves 1 s), in the second `Yield`, then done, before the 2 s timeout.
const TIMED: &[Step] = &[
    Step::Poll,
    Step::Poll,
    Step::Advance(Duration::from_secs(1)),
    Step::Poll,
];

/// `timed(true)`: the same, then waiting on the timeout itself, whose 2 s
/// deadline passes, after which the next poll ends the call as a timeout.
const HANGING: &[Step] = &[
    Step::Poll,
    Step::Poll,
    Step::Advance(Duration::from_secs(1)),
    Step::Poll,
    Step::Poll,
    Step::Advance(Duration::from_millis(999)),
    Step::Poll,
    Step::Advance(Duration::from_millis(1)),
];

#[test]
fn a_call_with_timeout_dropped_at_every_await_point_including_the_timeout_is_cancelled() {
    let _t = time();
    let w = Watched::new("cx_timeout");
    paused_runtime().block_on(async {
        assert_eq!(complete(timed(false), TIMED).await.unwrap(), 1);
        // Every await point of the body, in Closed and as a half-open trial.
        drop_at_every_await_point(&w, || timed(false), TIMED, secs(1)).await;
        // Every point while the timeout waits, up to and including a deadline
        // that has passed but not been seen: a drop there is a cancellation,
        // not a timeout.
        for cut in 0..=HANGING.len() {
            let steps = &HANGING[..cut];
            let before = w.consistent("before");
            let moves = w.moves();
            drive_and_drop(&w.breaker, timed(true), steps, u64::from(polled(steps))).await;
            let after = w.consistent(&format!("dropped after {steps:?}"));
            assert_eq!(after.cancelled - before.cancelled, u64::from(polled(steps)));
            assert_eq!(after.failures, before.failures, "{steps:?}");
            assert_eq!(w.breaker.state(), State::Closed, "{steps:?}");
            assert_eq!(w.moves(), moves, "{steps:?}");
        }
        // Seen, the deadline ends the call as a timeout: a failure, which
        // opens the breaker (`fail_max = 1`), with nothing left in flight.
        let moves = w.moves();
        match complete(timed(true), HANGING).await {
            Err(AppError::Breaker(Error::Timeout { after, .. })) => assert_eq!(after, secs(2)),
            other => panic!("expected a timeout, got {other:?}"),
        }
        let s = w.consistent("after the timeout");
        assert_eq!(s.failures, 1);
        assert_eq!(w.breaker.state(), State::Open);
        let mut expected = moves;
        expected.push((State::Closed, State::Open));
        assert_eq!(w.moves(), expected);
        // A half-open trial dropped while the timeout waits gives its permit back.
        CLOCK.advance(secs(1));
        drive_and_drop(&w.breaker, timed(true), &HANGING[..5], 1).await;
        w.consistent("trial dropped in the timeout");
        assert_eq!(w.breaker.state(), State::HalfOpen);
        assert_eq!(complete(timed(false), TIMED).await.unwrap(), 1);
        assert_eq!(w.breaker.state(), State::Closed);
    });
}

// ---- with an async `fallback` ----------------------------------------------

async fn cached(n: u32) -> Result<u32, AppError> {
    Yield(2).await;
    Ok(n + 100)
}

#[circuit_breaker(cx_fallback, fail_max = 1, reset = 1s, success = 1, half_open = 1, fallback = cached)]
async fn with_fallback(n: u32) -> Result<u32, AppError> {
    Yield(1).await;
    Yield(1).await;
    if n == 0 {
        return Err(AppError::Down);
    }
    Ok(n)
}

/// The body of `with_fallback`: pending twice, then done.
const BODY: &[Step] = &[Step::Poll, Step::Poll];
/// The fallback `cached`: pending twice, then done.
const FALLBACK: &[Step] = &[Step::Poll, Step::Poll];

#[test]
fn a_call_with_fallback_dropped_at_every_await_point_of_body_and_fallback_is_consistent() {
    let _t = time();
    let w = Watched::new("cx_fallback");
    paused_runtime().block_on(async {
        // The body's await points, in Closed and as a half-open trial.
        drop_at_every_await_point(&w, || with_fallback(1), BODY, secs(1)).await;

        // Open (a failure with `fail_max = 1`): every call is rejected and
        // answered by the fallback; dropping it anywhere admits nothing,
        // cancels nothing and moves nothing.
        assert!(matches!(
            complete(with_fallback(0), BODY).await,
            Err(AppError::Down)
        ));
        assert_eq!(w.breaker.state(), State::Open);
        for cut in 0..=FALLBACK.len() {
            let steps = &FALLBACK[..cut];
            let before = w.consistent("before");
            let moves = w.moves();
            drive_and_drop(&w.breaker, with_fallback(5), steps, 0).await;
            let after = w.consistent(&format!("fallback dropped after {steps:?}"));
            assert_eq!(after.rejected - before.rejected, u64::from(polled(steps)));
            assert_eq!(
                (after.admitted, after.cancelled),
                (before.admitted, before.cancelled)
            );
            assert_eq!(w.breaker.state(), State::Open);
            assert_eq!(w.moves(), moves);
            assert_eq!(complete(with_fallback(5), FALLBACK).await.unwrap(), 105);
        }

        // HalfOpen with its one trial in flight: a second call is rejected
        // into the fallback; dropping that one at any point leaves the trial's
        // permit alone, and the trial still closes the breaker.
        for cut in 0..=FALLBACK.len() {
            let steps = &FALLBACK[..cut];
            w.breaker.trip();
            CLOCK.advance(secs(1));
            let mut trial = pin!(with_fallback(3));
            assert!(poll_once(trial.as_mut()).is_pending());
            assert_eq!(w.breaker.state(), State::HalfOpen);
            let before = w.breaker.stats();
            let moves = w.moves();
            drive_and_drop(&w.breaker, with_fallback(4), steps, 1).await;
            let after = w.breaker.stats();
            assert_eq!(after.in_flight, 1, "only the trial: {after:?}");
            assert_eq!(after.rejected - before.rejected, u64::from(polled(steps)));
            assert_eq!(after.cancelled, before.cancelled);
            assert_eq!(w.moves(), moves);
            assert!(poll_once(trial.as_mut()).is_pending());
            assert!(matches!(poll_once(trial.as_mut()), Poll::Ready(Ok(3))));
            assert_eq!(w.breaker.state(), State::Closed);
            w.consistent("after the trial");
        }
    });
}

// ---- keyed -----------------------------------------------------------------

#[circuit_breaker(cx_keyed, key = shard: n % 2, fail_max = 1, reset = 1s, success = 1, half_open = 1)]
async fn keyed(n: u32) -> Result<u32, AppError> {
    Yield(1).await;
    Yield(2).await;
    Ok(n)
}

/// A keyed call holds its key's breaker pinned in its thread's recent keys
/// until its body first pends, then by a count of its own across its awaits
/// (`KeyedCall`): dropped at any of them, the count goes with the future,
/// and the key's breaker is left as a plain call leaves its own.
#[test]
fn a_keyed_async_call_dropped_at_every_await_point_leaves_its_keys_breaker_consistent() {
    let _t = time();
    paused_runtime().block_on(async {
        // A key's breaker is created by its first call.
        assert_eq!(complete(keyed(4), PLAIN).await.unwrap(), 4);
        assert_eq!(complete(keyed(3), PLAIN).await.unwrap(), 3);
        let w = Watched::new("cx_keyed[shard=1]");
        drop_at_every_await_point(&w, || keyed(5), PLAIN, secs(1)).await;
        let s = w.consistent("end");
        assert_eq!(s.cancelled, 2 * 3);
        assert_eq!(s.failures, 0);
        // The other key saw one call, which succeeded.
        let other = Watched::new("cx_keyed[shard=0]").consistent("the other key");
        assert_eq!((other.successes, other.cancelled), (1, 0));
    });
}
