//! `retry = N` and `retry_backoff = base..max` at run time, in virtual time:
//! the global registry's sleeper records every wait and advances the binary's
//! manual clock (and, for async calls, tokio's paused clock), and the jitter
//! is seeded, so every wait is known in advance.
//!
//! Every test names its own breaker and holds [`time()`] while it runs.

mod support;

use std::panic::catch_unwind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::retry::{Backoff, Jitter, Sleeper};
use breaker_core::{Error, circuit_breaker, registry};
use support::*;

const SEED: u64 = 0x5EED;

/// Every wait, in order; sleeping advances the manual clock, and for async
/// calls waits on tokio's clock too (paused in these tests, so it is exact).
#[derive(Clone)]
struct Recorder {
    clock: ManualClock,
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl Sleeper for Recorder {
    fn sleep(&self, duration: Duration) {
        self.waits.lock().unwrap().push(duration);
        self.clock.advance(duration);
    }

    fn sleep_async(
        &self,
        duration: Duration,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        self.sleep(duration);
        Box::pin(tokio::time::sleep(duration))
    }
}

static WAITS: LazyLock<Arc<Mutex<Vec<Duration>>>> = LazyLock::new(|| {
    let waits = Arc::new(Mutex::new(Vec::new()));
    registry().use_sleeper(Recorder {
        clock: CLOCK.clone(),
        waits: waits.clone(),
    });
    registry().seed_retries(SEED);
    waits
});

/// The binary's clock, held; the waits recorded so far cleared.
fn start() -> MutexGuard<'static, ()> {
    let (guard, _) = time();
    WAITS.lock().unwrap().clear();
    guard
}

fn waits() -> Vec<Duration> {
    WAITS.lock().unwrap().clone()
}

/// The waits function `name` of this file draws with the seed, for `n` retries.
fn expected_waits(function: &str, backoff: Backoff, n: u32) -> Vec<Duration> {
    let jitter = Jitter::derive(SEED, &format!("attr_retry::{function}"));
    (0..n).map(|k| backoff.delay(k, &jitter)).collect()
}

/// tokio's timer rounds each sleep up to its millisecond tick.
fn assert_on_tokio_time(elapsed: Duration, waited: Duration, sleeps: usize) {
    assert!(
        waited <= elapsed && elapsed <= waited + ms(sleeps as u64),
        "tokio time {elapsed:?} for {sleeps} waits of {waited:?} in all"
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- sync --------------------------------------------------------------------

static ALWAYS_DOWN: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_always_down, fail_max = 100, retry = 3)]
fn always_down() -> Result<u32, AppError> {
    ALWAYS_DOWN.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Down)
}

#[test]
fn retries_a_failure_up_to_n_attempts_and_returns_the_last() {
    let _t = start();
    assert!(matches!(always_down(), Err(AppError::Down)));
    assert_eq!(ALWAYS_DOWN.load(Ordering::SeqCst), 3);
    assert_eq!(
        waits().len(),
        2,
        "a wait between attempts, none after the last"
    );
    let stats = breaker("retry_always_down").stats();
    assert_eq!((stats.admitted, stats.failures), (3, 3));
}

static HEALTHY: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_healthy, retry = 5)]
fn healthy() -> Result<u32, AppError> {
    HEALTHY.fetch_add(1, Ordering::SeqCst);
    Ok(7)
}

#[test]
fn a_success_returns_at_once() {
    let _t = start();
    assert_eq!(healthy().unwrap(), 7);
    assert_eq!(HEALTHY.load(Ordering::SeqCst), 1);
    assert!(waits().is_empty());
}

static RECOVERING: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_recovering, retry = 5)]
fn recovering() -> Result<u32, AppError> {
    let attempt = RECOVERING.fetch_add(1, Ordering::SeqCst) + 1;
    if attempt < 3 {
        Err(AppError::Down)
    } else {
        Ok(attempt)
    }
}

#[test]
fn retries_until_the_first_success() {
    let _t = start();
    assert_eq!(recovering().unwrap(), 3);
    assert_eq!(waits().len(), 2);
    let stats = breaker("retry_recovering").stats();
    assert_eq!((stats.failures, stats.successes), (2, 1));
}

#[circuit_breaker(retry_bounded, fail_max = 100, retry = 8, retry_backoff = 100ms..1s)]
fn bounded() -> Result<u32, AppError> {
    Err(AppError::Down)
}

#[test]
fn waits_are_full_jitter_below_the_capped_exponential_and_replay_by_seed() {
    let (_t, clock) = (start(), &*CLOCK);
    let before = clock.now();
    let _ = bounded();
    let waits = waits();
    let backoff = Backoff::new(ms(100), ms(1000)).unwrap();
    assert_eq!(waits.len(), 7);
    for (k, wait) in waits.iter().enumerate() {
        let ceiling = ms(1000).min(ms(100) * 2u32.pow(k as u32));
        assert_eq!(backoff.ceiling(k as u32), ceiling);
        assert!(*wait <= ceiling, "wait {k}: {wait:?} > {ceiling:?}");
    }
    // The exact sequence: the function's generator, seeded by the registry.
    assert_eq!(waits, expected_waits("bounded", backoff, 7));
    assert_eq!(clock.now() - before, waits.iter().sum::<Duration>());
}

static TRIPPING: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_tripping, fail_max = 2, reset = 30s, retry = 5)]
fn tripping() -> Result<u32, AppError> {
    TRIPPING.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Down)
}

#[test]
fn a_rejection_stops_the_retries_and_is_returned() {
    let _t = start();
    let result = tripping();
    assert!(is_rejection(&result), "{result:?}");
    assert_eq!(
        TRIPPING.load(Ordering::SeqCst),
        2,
        "the breaker opened on the second"
    );
    let stats = breaker("retry_tripping").stats();
    assert_eq!((stats.failures, stats.rejected), (2, 1));
    // Rejected at once on the next call: no attempt, no wait.
    let before = waits().len();
    assert!(is_rejection(&tripping()));
    assert_eq!(TRIPPING.load(Ordering::SeqCst), 2);
    assert_eq!(waits().len(), before);
}

static WITH_FALLBACK: AtomicU32 = AtomicU32::new(0);

fn stale(_id: u32) -> Result<u32, AppError> {
    Ok(0)
}

#[circuit_breaker(retry_fallback, fail_max = 2, retry = 4, fallback = stale)]
fn with_fallback(id: u32) -> Result<u32, AppError> {
    WITH_FALLBACK.fetch_add(1, Ordering::SeqCst);
    let _ = id;
    Err(AppError::Down)
}

#[test]
fn a_rejection_during_retries_answers_with_the_fallback() {
    let _t = start();
    assert_eq!(with_fallback(9).unwrap(), 0);
    assert_eq!(WITH_FALLBACK.load(Ordering::SeqCst), 2);
}

static BUSINESS: AtomicU32 = AtomicU32::new(0);

fn only_down(e: &AppError) -> bool {
    matches!(e, AppError::Down)
}

#[circuit_breaker(retry_business, retry = 4, failure = only_down)]
fn business() -> Result<u32, AppError> {
    BUSINESS.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Busy)
}

#[test]
fn an_error_that_is_not_a_failure_is_not_retried() {
    let _t = start();
    assert!(matches!(business(), Err(AppError::Busy)));
    assert_eq!(BUSINESS.load(Ordering::SeqCst), 1);
    assert!(waits().is_empty());
    assert_eq!(breaker("retry_business").stats().successes, 1);
}

static PANICKY: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_panics, retry = 4)]
fn panicky() -> Result<u32, AppError> {
    PANICKY.fetch_add(1, Ordering::SeqCst);
    panic!("boom")
}

#[test]
fn a_panic_is_recorded_and_not_retried() {
    let _t = start();
    assert!(catch_unwind(panicky).is_err());
    assert_eq!(PANICKY.load(Ordering::SeqCst), 1);
    assert_eq!(breaker("retry_panics").stats().failures, 1);
}

#[circuit_breaker(retry_once, retry = 1)]
fn once(calls: &AtomicU32) -> Result<u32, AppError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Down)
}

#[test]
fn retry_one_makes_a_single_attempt() {
    let _t = start();
    let calls = AtomicU32::new(0);
    assert!(once(&calls).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

// ---- arguments across attempts ------------------------------------------------

#[circuit_breaker(retry_args, retry = 3)]
fn consumes(
    label: String,
    log: &mut Vec<String>,
    (a, b): (u32, u32),
    seen: &[u32],
) -> Result<usize, AppError> {
    // `label` is the attempt's own copy: consuming it leaves the next one's.
    let owned: String = label;
    log.push(format!("{owned}:{}:{}", a + b, seen.len()));
    Err(AppError::Down)
}

#[test]
fn each_attempt_gets_its_own_copy_of_by_value_arguments() {
    let _t = start();
    let mut log = Vec::new();
    let seen = [1, 2];
    assert!(consumes("try".to_owned(), &mut log, (1, 2), &seen).is_err());
    assert_eq!(log, ["try:3:2", "try:3:2", "try:3:2"]);
}

#[circuit_breaker(retry_borrowed, retry = 3)]
fn first_word(text: &str) -> Result<&str, AppError> {
    text.split_whitespace().next().ok_or(AppError::Down)
}

#[test]
fn a_borrow_of_a_shared_argument_can_be_returned() {
    let _t = start();
    assert_eq!(first_word("hello world").unwrap(), "hello");
    assert!(first_word("  ").is_err());
    assert_eq!(waits().len(), 2);
}

struct Counter {
    attempts: u32,
}

impl Counter {
    #[circuit_breaker(retry_method, retry = 4)]
    fn bump(&mut self, by: u32) -> Result<u32, AppError> {
        self.attempts += by;
        if self.attempts < 3 {
            Err(AppError::Down)
        } else {
            Ok(self.attempts)
        }
    }
}

#[test]
fn a_mut_self_method_is_retried_on_the_same_value() {
    let _t = start();
    let mut counter = Counter { attempts: 0 };
    assert_eq!(counter.bump(1).unwrap(), 3);
    assert_eq!(counter.attempts, 3);
}

// ---- async -------------------------------------------------------------------

static ASYNC_DOWN: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_async_down, fail_max = 100, retry = 4, retry_backoff = "50ms".."2s")]
async fn async_down(label: String) -> Result<u32, AppError> {
    ASYNC_DOWN.fetch_add(1, Ordering::SeqCst);
    drop(label);
    tokio::task::yield_now().await;
    Err(AppError::Down)
}

#[test]
fn async_calls_retry_with_the_same_waits_on_tokio_time() {
    let _t = start();
    on_paused_tokio(async {
        let started = tokio::time::Instant::now();
        assert!(matches!(async_down("x".into()).await, Err(AppError::Down)));
        assert_eq!(ASYNC_DOWN.load(Ordering::SeqCst), 4);
        let waits = waits();
        let backoff: Backoff = "50ms..2s".parse().unwrap();
        assert_eq!(waits, expected_waits("async_down", backoff, 3));
        assert_on_tokio_time(started.elapsed(), waits.iter().sum(), waits.len());
    });
}

static ASYNC_RECOVERS: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_async_recovers, retry = 3)]
async fn async_recovers(count: &AtomicU32) -> Result<u32, AppError> {
    count.fetch_add(1, Ordering::SeqCst);
    let attempt = ASYNC_RECOVERS.fetch_add(1, Ordering::SeqCst) + 1;
    if attempt < 2 {
        Err(AppError::Down)
    } else {
        Ok(attempt)
    }
}

#[test]
fn async_success_after_a_retry_returns_it() {
    let _t = start();
    on_paused_tokio(async {
        let count = AtomicU32::new(0);
        assert_eq!(async_recovers(&count).await.unwrap(), 2);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert_eq!(waits().len(), 1);
    });
}

static SLOW: AtomicU32 = AtomicU32::new(0);

#[circuit_breaker(retry_timeout, fail_max = 100, timeout = 1s, retry = 3, retry_backoff = 10ms..10ms)]
async fn slow() -> Result<u32, AppError> {
    SLOW.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(1)
}

#[test]
fn a_timeout_is_a_failure_and_is_retried() {
    let _t = start();
    on_paused_tokio(async {
        let started = tokio::time::Instant::now();
        let result = slow().await;
        assert!(
            matches!(result, Err(AppError::Breaker(Error::Timeout { .. }))),
            "{result:?}"
        );
        assert_eq!(SLOW.load(Ordering::SeqCst), 3);
        let stats = breaker("retry_timeout").stats();
        assert_eq!(stats.failures, 3);
        let waits = waits();
        let waited: Duration = waits.iter().sum();
        assert_on_tokio_time(
            started.elapsed(),
            Duration::from_secs(3) + waited,
            waits.len(),
        );
    });
}

#[circuit_breaker(retry_async_tripping, fail_max = 1, retry = 3)]
async fn async_tripping() -> Result<u32, AppError> {
    Err(AppError::Down)
}

#[test]
fn async_rejection_stops_the_retries() {
    let _t = start();
    on_paused_tokio(async {
        let result = async_tripping().await;
        assert!(
            matches!(result, Err(AppError::Breaker(Error::Rejected { .. }))),
            "{result:?}"
        );
        let stats = breaker("retry_async_tripping").stats();
        assert_eq!((stats.failures, stats.rejected), (1, 1));
    });
}
