//! What the attribute's runtime test binaries share: the binary's manual
//! clock, installed once on the global registry, and the error type of the
//! guarded functions. Each binary uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Error, State, Stats, registry};

pub static CLOCK: LazyLock<ManualClock> = LazyLock::new(|| {
    let clock = ManualClock::new();
    registry().use_clock(clock.clone());
    clock
});

static TIME: Mutex<()> = Mutex::new(());

/// The binary's manual clock, held exclusively until the guard drops.
pub fn time() -> (MutexGuard<'static, ()>, &'static ManualClock) {
    let guard = TIME.lock().unwrap_or_else(|e| e.into_inner());
    (guard, &CLOCK)
}

/// The registered breaker of that name.
pub fn breaker(name: &str) -> Breaker {
    registry()
        .get(name)
        .unwrap_or_else(|| panic!("breaker `{name}` is not registered"))
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The error of the guarded functions.
#[derive(Debug)]
pub enum AppError {
    Down,
    Busy,
    Breaker(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Breaker(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Down => f.write_str("dependency down"),
            AppError::Busy => f.write_str("dependency busy"),
            AppError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

pub fn outcome(ok: bool) -> Result<u32, AppError> {
    if ok { Ok(1) } else { Err(AppError::Down) }
}

pub fn is_rejection(result: &Result<u32, AppError>) -> bool {
    matches!(result, Err(AppError::Breaker(Error::Rejected { .. })))
}

/// Polls a future once, with a waker that does nothing.
pub fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A guarded breaker, with the transitions a listener saw.
pub struct Watched {
    pub breaker: Breaker,
    moves: Arc<Mutex<Vec<(State, State)>>>,
}

impl Watched {
    pub fn new(name: &str) -> Watched {
        let breaker = registry()
            .get(name)
            .unwrap_or_else(|| panic!("breaker `{name}` is not registered"));
        let moves = Arc::new(Mutex::new(Vec::new()));
        let sink = moves.clone();
        breaker.on_transition(move |t| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((t.from, t.to))
        });
        Watched { breaker, moves }
    }

    pub fn moves(&self) -> Vec<(State, State)> {
        self.moves.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The accounting invariant with nothing in flight.
    pub fn consistent(&self, context: &str) -> Stats {
        let s = self.breaker.stats();
        assert_eq!(s.in_flight, 0, "{context}: {s:?}");
        assert_eq!(
            s.admitted,
            s.successes + s.failures + s.cancelled,
            "{context}: {s:?}"
        );
        s
    }
}

/// An await point: `Pending` exactly `n` times (waking itself, as
/// `tokio::task::yield_now` does), then `Ready`.
pub struct Yield(pub u32);

impl Future for Yield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            Poll::Ready(())
        } else {
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs `test` on a current-thread tokio runtime whose clock is paused (it
/// jumps to the next timer when idle), while the caller holds the binary's
/// manual clock.
pub fn on_paused_tokio<F: Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
        .block_on(test)
}
