//! The contenders, as a user writes them in a crate of their own: every one
//! guards the same body (`Ok(black_box(x) * 3)`, a one-byte error type) and is
//! one out-of-line function, so each measured call is one call from the
//! bench's loop. `benches/user.rs` times them with criterion;
//! `src/bin/instructions.rs` loops over them under callgrind.

use std::fmt;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Breaker, Config, circuit_breaker, registry};
use failsafe::CircuitBreaker as _;

/// A service's error type, as small as one gets: a unit struct, so that
/// every `Result<u64, E>` comes back in two registers (tag, value), as in
/// `breaker-core/benches/hot_path.rs`. With a one-byte payload (`struct
/// E(u8)`, a two-variant enum) the `Result` is returned through memory and
/// every contender, the direct call included, measures a store and a reload
/// more (about 4 ns on the bench machine) than what it does.
#[derive(Debug)]
pub struct E;

impl fmt::Display for E {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unavailable")
    }
}

impl From<breaker_core::Error> for E {
    fn from(_: breaker_core::Error) -> E {
        E
    }
}

/// The unguarded call.
#[inline(never)]
pub fn direct(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute on a sync function.
#[circuit_breaker(user_sync, fail_max = 5, reset = 30s)]
#[inline(never)]
pub fn annotated(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// What `fallback` answers with.
pub fn cached(_x: u64) -> Result<u64, E> {
    Ok(0)
}

/// The attribute with a fallback.
#[circuit_breaker(user_fallback, fail_max = 5, reset = 30s, fallback = cached)]
#[inline(never)]
pub fn annotated_fallback(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute on a sync function whose breaker the bench opens.
#[circuit_breaker(user_rejected, fail_max = 5, reset = 30s)]
#[inline(never)]
pub fn annotated_rejected(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute with a key: one breaker per `x % 4`.
#[circuit_breaker(user_keyed, key = shard: x % 4, fail_max = 5, reset = 30s)]
#[inline(never)]
pub fn annotated_keyed(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// An async function, unguarded.
pub async fn direct_async(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute on an async function.
#[circuit_breaker(user_async, fail_max = 5, reset = 30s)]
pub async fn annotated_async(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute on an async function with a fallback.
#[circuit_breaker(user_async_fallback, fail_max = 5, reset = 30s, fallback = cached_async)]
pub async fn annotated_async_fallback(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The attribute with a key on an async function.
#[circuit_breaker(user_keyed_async, key = shard: x % 4, fail_max = 5, reset = 30s)]
pub async fn annotated_keyed_async(x: u64) -> Result<u64, E> {
    Ok(black_box(x) * 3)
}

/// The async fallback.
pub async fn cached_async(_x: u64) -> Result<u64, E> {
    Ok(0)
}

/// Polls a future that is ready at its first poll, as an executor would once.
#[inline(always)]
pub fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("every contender is ready at its first poll"),
    }
}

/// One poll of the plain async function.
#[inline(never)]
pub fn polled_direct_async(x: u64) -> Result<u64, E> {
    poll_once(direct_async(x))
}

/// One poll of the annotated async function.
#[inline(never)]
pub fn polled_annotated_async(x: u64) -> Result<u64, E> {
    poll_once(annotated_async(x))
}

/// One poll of the annotated keyed async function.
#[inline(never)]
pub fn polled_annotated_keyed_async(x: u64) -> Result<u64, E> {
    poll_once(annotated_keyed_async(x))
}

/// One poll of the annotated async function with a fallback.
#[inline(never)]
pub fn polled_annotated_async_fallback(x: u64) -> Result<u64, E> {
    poll_once(annotated_async_fallback(x))
}

/// `Breaker::call_async` around the same async body, polled once: what the
/// annotated async function is measured against.
#[inline(never)]
pub fn polled_breaker_call_async(breaker: &Breaker, x: u64) -> Result<u64, E> {
    poll_once(breaker.call_async(async move { Ok(black_box(x) * 3) }))
}

/// `KeyedBreaker::call_async` around the same async body, keyed as the
/// annotated keyed functions are (`x % 4`), polled once.
#[inline(never)]
pub fn polled_keyed_breaker_call_async(keyed: &KeyedBreaker<u64>, x: u64) -> Result<u64, E> {
    poll_once(keyed.call_async(&(x % 4), async move { Ok(black_box(x) * 3) }))
}

/// The keyed breaker that [`polled_keyed_breaker_call_async`] calls.
pub fn keyed_ours() -> KeyedBreaker<u64> {
    KeyedBreaker::builder("user_keyed_api")
        .config(
            Config::builder()
                .fail_max(5)
                .reset(Duration::from_secs(30))
                .build()
                .expect("a valid configuration"),
        )
        .build()
        .expect("valid keyed settings")
}

static KEYED: LazyLock<KeyedBreaker<u64>> = LazyLock::new(keyed_ours);

/// `Breaker::call` around the same body.
#[inline(never)]
pub fn breaker_call(breaker: &Breaker, x: u64) -> Result<u64, E> {
    breaker.call(|| Ok(black_box(x) * 3))
}

/// failsafe 1.3 around the same body.
#[inline(never)]
pub fn failsafe_call(breaker: &Failsafe, x: u64) -> Result<u64, E> {
    breaker
        .call(|| Ok::<u64, E>(black_box(x) * 3))
        .map_err(|_| E)
}

/// recloser 1.4 around the same body.
#[inline(never)]
pub fn recloser_call(breaker: &recloser::Recloser, x: u64) -> Result<u64, E> {
    breaker
        .call(|| Ok::<u64, E>(black_box(x) * 3))
        .map_err(|_| E)
}

/// failsafe's breaker, as `failsafe::Config::build` returns it.
pub type Failsafe = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// A Closed breaker of ours, fail_max 5, reset 30 s (the attribute's).
pub fn ours() -> Breaker {
    Breaker::new(
        "user_call",
        Config::builder()
            .fail_max(5)
            .reset(Duration::from_secs(30))
            .build()
            .expect("a valid configuration"),
    )
}

/// failsafe: open after 5 consecutive failures, for 30 s.
pub fn failsafe_breaker() -> Failsafe {
    let policy = failsafe::failure_policy::consecutive_failures(
        5,
        failsafe::backoff::constant(Duration::from_secs(30)),
    );
    failsafe::Config::new().failure_policy(policy).build()
}

/// recloser: opens at half of the last `closed_len` calls failing, for 30 s.
pub fn recloser_breaker(closed_len: usize) -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(closed_len)
        .open_wait(Duration::from_secs(30))
        .build()
}

/// Every contender open: ours tripped (Open, 30 s), the attribute's
/// `user_rejected` tripped, the peers failed until they open.
pub struct Opened {
    /// Ours, tripped.
    pub ours: Breaker,
    /// failsafe, open.
    pub failsafe: Failsafe,
    /// recloser, open.
    pub recloser: recloser::Recloser,
}

/// Opens every contender (see [`Opened`]).
pub fn opened() -> Opened {
    let ours = ours();
    ours.trip();
    let _ = annotated_rejected(0);
    registry()
        .get("user_rejected")
        .expect("registered by the attribute")
        .trip();
    assert!(
        annotated_rejected(0).is_err(),
        "the attribute's breaker is open"
    );
    let failsafe = failsafe_breaker();
    for _ in 0..5 {
        let _ = failsafe.call(|| Err::<(), E>(E));
    }
    assert!(failsafe_call(&failsafe, 1).is_err(), "failsafe is open");
    let recloser = recloser_breaker(1);
    for _ in 0..2 {
        let _ = recloser.call(|| Err::<(), E>(E));
    }
    assert!(recloser_call(&recloser, 1).is_err(), "recloser is open");
    Opened {
        ours,
        failsafe,
        recloser,
    }
}

/// The Closed contenders, built once.
pub struct Closed {
    /// Ours.
    pub ours: Breaker,
    /// failsafe.
    pub failsafe: Failsafe,
    /// recloser.
    pub recloser: recloser::Recloser,
}

/// The Closed contenders (see [`Closed`]).
pub fn closed() -> Closed {
    Closed {
        ours: ours(),
        failsafe: failsafe_breaker(),
        recloser: recloser_breaker(100),
    }
}

static CLOSED: LazyLock<Closed> = LazyLock::new(closed);
static OPENED: LazyLock<Opened> = LazyLock::new(opened);

/// Builds every contender, opened ones included, before a loop starts.
pub fn setup() {
    LazyLock::force(&CLOSED);
    LazyLock::force(&OPENED);
    LazyLock::force(&KEYED);
}

/// Every case by name, for the instruction counts: one call of it.
pub fn case(name: &str) -> Option<fn(u64) -> bool> {
    Some(match name {
        "direct" => |x| direct(x).is_ok(),
        "breaker_call" => |x| breaker_call(&CLOSED.ours, x).is_ok(),
        "annotated" => |x| annotated(x).is_ok(),
        "annotated_fallback" => |x| annotated_fallback(x).is_ok(),
        "annotated_keyed" => |x| annotated_keyed(x).is_ok(),
        "direct_async" => |x| polled_direct_async(x).is_ok(),
        "annotated_async" => |x| polled_annotated_async(x).is_ok(),
        "breaker_call_async" => |x| polled_breaker_call_async(&CLOSED.ours, x).is_ok(),
        "annotated_async_fallback" => |x| polled_annotated_async_fallback(x).is_ok(),
        "annotated_keyed_async" => |x| polled_annotated_keyed_async(x).is_ok(),
        "keyed_breaker_call_async" => |x| polled_keyed_breaker_call_async(&KEYED, x).is_ok(),
        "failsafe" => |x| failsafe_call(&CLOSED.failsafe, x).is_ok(),
        "recloser" => |x| recloser_call(&CLOSED.recloser, x).is_ok(),
        "rejected_breaker_call" => |x| breaker_call(&OPENED.ours, x).is_ok(),
        "rejected_annotated" => |x| annotated_rejected(x).is_ok(),
        "rejected_failsafe" => |x| failsafe_call(&OPENED.failsafe, x).is_ok(),
        "rejected_recloser" => |x| recloser_call(&OPENED.recloser, x).is_ok(),
        _ => return None,
    })
}

/// The names [`case`] knows.
pub const CASES: &[&str] = &[
    "direct",
    "breaker_call",
    "annotated",
    "annotated_fallback",
    "annotated_keyed",
    "direct_async",
    "annotated_async",
    "breaker_call_async",
    "annotated_async_fallback",
    "annotated_keyed_async",
    "keyed_breaker_call_async",
    "failsafe",
    "recloser",
    "rejected_breaker_call",
    "rejected_annotated",
    "rejected_failsafe",
    "rejected_recloser",
];
