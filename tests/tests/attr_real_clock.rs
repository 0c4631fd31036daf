//! `#[circuit_breaker]` on the real clock, as a service runs it: the global
//! registry keeps its `MonotonicClock` (this binary never installs a manual
//! one). Sync, async and keyed annotated functions open, reject with a
//! `retry_after` that matches what is left of the period, and admit their
//! first trial on time, checked against `Instant` (the same clock) with
//! margins that only a broken breaker exceeds: never before `reset`, and no
//! later than `reset + lag + SLACK` (the lag is the real clock's stated one).
//! The precise clock is read first and the cheap one later, as in a service
//! whose first failure comes long before its first rejection.

mod support;

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::{Error, State, circuit_breaker};
use support::AppError;

/// Polling, wake-ups and a busy CI machine: a fifth of `FIRST_READS_APART`.
const SLACK: Duration = Duration::from_millis(150);
const FIRST_READS_APART: Duration = Duration::from_millis(800);
const RESET: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(5);

fn process_started() {
    static STARTED: LazyLock<()> = LazyLock::new(|| {
        let _ = MonotonicClock.now();
        thread::sleep(FIRST_READS_APART);
    });
    LazyLock::force(&STARTED);
}

static SYNC_DOWN: AtomicBool = AtomicBool::new(true);

#[circuit_breaker(real_clock_sync, fail_max = 2, reset = 300ms, success = 1)]
fn sync_call() -> Result<u32, AppError> {
    if SYNC_DOWN.load(Ordering::SeqCst) {
        Err(AppError::Down)
    } else {
        Ok(7)
    }
}

static ASYNC_DOWN: AtomicBool = AtomicBool::new(true);

#[circuit_breaker(real_clock_async, fail_max = 2, reset = 300ms, success = 1)]
async fn async_call() -> Result<u32, AppError> {
    if ASYNC_DOWN.load(Ordering::SeqCst) {
        Err(AppError::Down)
    } else {
        Ok(7)
    }
}

#[circuit_breaker(real_clock_keyed, key = host, fail_max = 2, reset = 300ms, success = 1)]
fn keyed_call(host: &str, down: bool) -> Result<u32, AppError> {
    if down { Err(AppError::Down) } else { Ok(7) }
}

/// What one call did: admitted (with its result), or rejected with what.
enum Seen {
    Ran,
    Failed,
    Rejected(Option<Duration>),
}

fn seen(result: Result<u32, AppError>) -> Seen {
    match result {
        Ok(_) => Seen::Ran,
        Err(AppError::Breaker(Error::Rejected { retry_after, .. })) => Seen::Rejected(retry_after),
        Err(_) => Seen::Failed,
    }
}

/// Fails `call` until it is rejected: the instants around the call that
/// opened the breaker.
fn open(what: &str, mut call: impl FnMut() -> Seen) -> (Instant, Instant) {
    let mut last = None;
    for _ in 0..10 {
        let before = Instant::now();
        match call() {
            Seen::Failed => last = Some((before, Instant::now())),
            Seen::Rejected(_) => return last.expect("a failure opened it"),
            Seen::Ran => panic!("{what}: ran while the dependency is down"),
        }
    }
    panic!("{what}: never opened");
}

/// Calls until admitted; checks every rejection against the period.
fn recovers_on_time(what: &str, opened: (Instant, Instant), mut call: impl FnMut() -> Seen) {
    let (opened_before, opened_after) = opened;
    let bound = MonotonicClock.coarse().1 + SLACK;
    loop {
        let before = Instant::now();
        let result = call();
        let after = Instant::now();
        match result {
            Seen::Ran => {
                assert!(
                    before >= opened_before + RESET,
                    "{what}: admitted {:?} after opening, before reset",
                    before - opened_before
                );
                return;
            }
            Seen::Failed => panic!("{what}: the dependency is up"),
            Seen::Rejected(told) => {
                let told = told.expect("an Open rejection tells when");
                let most_left = (opened_after + RESET).saturating_duration_since(before);
                let least_left = (opened_before + RESET).saturating_duration_since(after);
                assert!(
                    told >= least_left && told <= most_left + bound,
                    "{what}: retry_after {told:?}, between {least_left:?} and {most_left:?} left"
                );
                assert!(
                    after < opened_after + RESET + bound,
                    "{what}: still rejecting {:?} after opening",
                    after - opened_after
                );
            }
        }
        thread::sleep(POLL);
    }
}

#[test]
fn an_annotated_sync_function_recovers_within_reset_plus_the_lag() {
    process_started();
    let opened = open("sync", || seen(sync_call()));
    SYNC_DOWN.store(false, Ordering::SeqCst);
    recovers_on_time("sync", opened, || seen(sync_call()));
    assert_eq!(support::breaker("real_clock_sync").state(), State::Closed);
}

#[test]
fn an_annotated_async_function_recovers_within_reset_plus_the_lag() {
    process_started();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let opened = open("async", || seen(runtime.block_on(async_call())));
    ASYNC_DOWN.store(false, Ordering::SeqCst);
    recovers_on_time("async", opened, || seen(runtime.block_on(async_call())));
    assert_eq!(support::breaker("real_clock_async").state(), State::Closed);
}

#[test]
fn each_key_of_an_annotated_keyed_function_recovers_on_time() {
    process_started();
    let opened = open("keyed a", || seen(keyed_call("a.example", true)));
    // Another key opens later, while the first is Open; each has its own period.
    thread::sleep(RESET / 3);
    let opened_b = open("keyed b", || seen(keyed_call("b.example", true)));
    assert!(matches!(seen(keyed_call("c.example", false)), Seen::Ran));
    recovers_on_time("keyed a", opened, || seen(keyed_call("a.example", false)));
    recovers_on_time("keyed b", opened_b, || seen(keyed_call("b.example", false)));
}
