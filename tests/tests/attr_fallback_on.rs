//! `fallback_on = failure` at run time: the fallback answers a call that ran
//! and that the breaker counted as a failure (a counted `Err`, an `Ok` that
//! `ok_is_failure` counts, a timeout) as well as a rejection; the breaker
//! still records the failure; a success, an error the classifier excuses and
//! a panic are left as they are. Without it (or with `fallback_on =
//! rejection`) the fallback answers rejections only.
//!
//! Every test names its own breaker and holds [`time()`] while it runs.

mod support;

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breaker_core::{State, circuit_breaker, registry};
use support::*;

fn cached(item: String, qty: u32) -> Result<String, AppError> {
    Ok(format!("cached {item} x{qty}"))
}

fn live(item: String, qty: u32, answer: Result<(), AppError>) -> Result<String, AppError> {
    answer.map(|()| format!("live {item} x{qty}"))
}

// ---- failures, sync ---------------------------------------------------------

#[circuit_breaker(fo_counted, fail_max = 3, fallback = cached, fallback_on = failure)]
fn counted(item: String, qty: u32) -> Result<String, AppError> {
    live(item, qty, Err(AppError::Down))
}

#[test]
fn failures_are_answered_by_the_fallback_and_still_open_the_breaker() {
    let _t = time();
    let watched = Watched::new("fo_counted");
    for n in 1..=3 {
        assert_eq!(
            counted("tea".into(), n).unwrap(),
            format!("cached tea x{n}")
        );
    }
    let stats = watched.consistent("after three failures");
    assert_eq!((stats.admitted, stats.failures), (3, 3));
    assert_eq!(watched.breaker.state(), State::Open);
    assert_eq!(watched.moves(), [(State::Closed, State::Open)]);
    assert_eq!(
        watched
            .breaker
            .open_reason()
            .and_then(|r| r.last_failure.clone()),
        Some("dependency down".to_owned())
    );
    // The rejection is answered too, without running the body.
    assert_eq!(counted("tea".into(), 4).unwrap(), "cached tea x4");
    assert_eq!(watched.breaker.stats().rejected, 1);
}

#[circuit_breaker(fo_outcomes, fail_max = 1, fallback = cached_answer, fallback_on = failure)]
fn answering(item: String, qty: u32, ok: bool) -> Result<String, AppError> {
    live(item, qty, if ok { Ok(()) } else { Err(AppError::Down) })
}

fn cached_answer(item: String, qty: u32, _ok: bool) -> Result<String, AppError> {
    cached(item, qty)
}

#[circuit_breaker(fo_success, fail_max = 1, fallback = cached_answer, fallback_on = failure)]
fn succeeding(item: String, qty: u32, ok: bool) -> Result<String, AppError> {
    live(item, qty, if ok { Ok(()) } else { Err(AppError::Down) })
}

#[test]
fn a_success_is_returned_as_is_and_counted_as_one() {
    let _t = time();
    assert_eq!(succeeding("tea".into(), 1, true).unwrap(), "live tea x1");
    let stats = breaker("fo_success").stats();
    assert_eq!((stats.successes, stats.failures), (1, 0));
    assert_eq!(breaker("fo_success").state(), State::Closed);
}

// ---- the classifiers --------------------------------------------------------

fn is_down(e: &AppError) -> bool {
    matches!(e, AppError::Down)
}

fn cached_u32(_error: Option<u8>) -> Result<u32, AppError> {
    Ok(0)
}

#[circuit_breaker(fo_classified, fail_max = 1, failure = is_down, fallback = cached_u32, fallback_on = failure)]
fn classified(error: Option<u8>) -> Result<u32, AppError> {
    match error {
        None => Ok(1),
        Some(0) => Err(AppError::Busy),
        Some(_) => Err(AppError::Down),
    }
}

#[test]
fn an_error_the_classifier_excuses_is_returned_as_is_and_a_counted_one_is_answered() {
    let _t = time();
    assert!(matches!(classified(Some(0)), Err(AppError::Busy)));
    let stats = breaker("fo_classified").stats();
    assert_eq!((stats.successes, stats.failures), (1, 0));
    assert_eq!(classified(Some(1)).unwrap(), 0);
    let stats = breaker("fo_classified").stats();
    assert_eq!((stats.successes, stats.failures), (1, 1));
    assert_eq!(breaker("fo_classified").state(), State::Open);
}

fn unavailable(status: &u16) -> bool {
    *status == 503
}

fn status_fallback(_status: u16) -> Result<u16, AppError> {
    Ok(0)
}

#[circuit_breaker(fo_ok_failure, fail_max = 2, ok_is_failure = unavailable, fallback = status_fallback, fallback_on = failure)]
fn status(status: u16) -> Result<u16, AppError> {
    Ok(status)
}

#[test]
fn an_ok_that_ok_is_failure_counts_is_answered_by_the_fallback() {
    let _t = time();
    assert_eq!(status(200).unwrap(), 200);
    assert_eq!(status(503).unwrap(), 0);
    let stats = breaker("fo_ok_failure").stats();
    assert_eq!((stats.successes, stats.failures), (1, 1));
}

// ---- the default ------------------------------------------------------------

#[circuit_breaker(fo_default, fail_max = 2, fallback = cached_answer)]
fn by_default(item: String, qty: u32, ok: bool) -> Result<String, AppError> {
    live(item, qty, if ok { Ok(()) } else { Err(AppError::Down) })
}

#[circuit_breaker(fo_rejection, fail_max = 2, fallback = cached_answer, fallback_on = rejection)]
fn on_rejection(item: String, qty: u32, ok: bool) -> Result<String, AppError> {
    live(item, qty, if ok { Ok(()) } else { Err(AppError::Down) })
}

#[test]
fn without_fallback_on_failure_the_fallback_answers_rejections_only() {
    let _t = time();
    for (call, name) in [
        (by_default as fn(String, u32, bool) -> _, "fo_default"),
        (on_rejection, "fo_rejection"),
    ] {
        assert!(
            matches!(call("tea".into(), 1, false), Err(AppError::Down)),
            "{name}"
        );
        assert!(
            matches!(call("tea".into(), 2, false), Err(AppError::Down)),
            "{name}"
        );
        assert_eq!(breaker(name).state(), State::Open, "{name}");
        assert_eq!(
            call("tea".into(), 3, true).unwrap(),
            "cached tea x3",
            "{name}"
        );
    }
}

#[test]
fn the_fallback_on_failure_answers_a_rejection_of_a_forced_open_breaker() {
    let _t = time();
    breaker("fo_outcomes").force_open();
    assert_eq!(answering("tea".into(), 5, true).unwrap(), "cached tea x5");
    assert_eq!(breaker("fo_outcomes").stats().admitted, 0);
    breaker("fo_outcomes").reset();
    assert_eq!(answering("tea".into(), 6, true).unwrap(), "live tea x6");
    assert_eq!(answering("tea".into(), 7, false).unwrap(), "cached tea x7");
}

// ---- panics -----------------------------------------------------------------

fn never_called(_n: u32) -> Result<u32, AppError> {
    panic!("the fallback does not answer a panic")
}

#[circuit_breaker(fo_panic, fail_max = 5, fallback = never_called, fallback_on = failure)]
fn panicking(n: u32) -> Result<u32, AppError> {
    if n > 0 {
        panic!("boom");
    }
    Ok(n)
}

#[test]
fn a_panic_keeps_unwinding_and_is_counted_but_not_answered() {
    let _t = time();
    let caught = catch_unwind(|| panicking(1)).expect_err("the body's panic");
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom"));
    let stats = breaker("fo_panic").stats();
    assert_eq!((stats.admitted, stats.failures), (1, 1));
}

// ---- the arguments the fallback gets ---------------------------------------

fn remember(mut items: Vec<u32>, log: &mut Vec<String>) -> Result<usize, AppError> {
    items.push(0);
    log.push(format!("fallback saw {items:?}"));
    Ok(items.len())
}

#[circuit_breaker(fo_arguments, fallback = remember, fallback_on = failure)]
fn consume(mut items: Vec<u32>, log: &mut Vec<String>) -> Result<usize, AppError> {
    items.push(99);
    log.push(format!("body saw {items:?}"));
    drop(items);
    Err(AppError::Down)
}

#[test]
fn the_fallback_gets_the_original_by_value_arguments_and_what_the_body_did_through_references() {
    let _t = time();
    let mut log = Vec::new();
    assert_eq!(consume(vec![1, 2], &mut log).unwrap(), 3);
    assert_eq!(log, ["body saw [1, 2, 99]", "fallback saw [1, 2, 0]"]);
}

// ---- async ------------------------------------------------------------------

async fn cached_async(item: String, qty: u32) -> Result<String, AppError> {
    Ok(format!("cached {item} x{qty}"))
}

#[circuit_breaker(fo_async, fail_max = 2, fallback = cached_async, fallback_on = failure)]
async fn fetch(item: String, qty: u32) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    live(
        item,
        qty,
        if qty == 0 {
            Ok(())
        } else {
            Err(AppError::Down)
        },
    )
}

#[test]
fn an_async_failure_is_answered_by_the_awaited_fallback_and_counted() {
    let _t = time();
    on_paused_tokio(async {
        assert_eq!(fetch("tea".into(), 0).await.unwrap(), "live tea x0");
        assert_eq!(fetch("tea".into(), 1).await.unwrap(), "cached tea x1");
        assert_eq!(fetch("tea".into(), 2).await.unwrap(), "cached tea x2");
        assert_eq!(breaker("fo_async").state(), State::Open);
        assert_eq!(fetch("tea".into(), 0).await.unwrap(), "cached tea x0");
    });
    let stats = breaker("fo_async").stats();
    assert_eq!((stats.successes, stats.failures, stats.rejected), (1, 2, 1));
}

async fn late_fallback(_work: Duration) -> Result<u32, AppError> {
    Ok(0)
}

#[circuit_breaker(fo_timeout, timeout = 2s, fail_max = 1, fallback = late_fallback, fallback_on = failure)]
async fn hanging(work: Duration) -> Result<u32, AppError> {
    tokio::time::sleep(work).await;
    Ok(1)
}

#[test]
fn a_timeout_is_answered_by_the_fallback_and_counted_as_a_failure() {
    let _t = time();
    on_paused_tokio(async {
        assert_eq!(hanging(secs(1)).await.unwrap(), 1);
        assert_eq!(hanging(secs(60)).await.unwrap(), 0);
    });
    let stats = breaker("fo_timeout").stats();
    assert_eq!((stats.successes, stats.failures), (1, 1));
    assert_eq!(breaker("fo_timeout").state(), State::Open);
}

async fn late_option(_work: Duration) -> Option<u32> {
    None
}

#[circuit_breaker(fo_timeout_option, timeout = 2s, fallback = late_option, fallback_on = failure)]
async fn hanging_option(work: Duration) -> Option<u32> {
    tokio::time::sleep(work).await;
    Some(1)
}

#[test]
fn a_function_that_returns_no_result_can_answer_its_timeouts() {
    let _t = time();
    on_paused_tokio(async {
        assert_eq!(hanging_option(secs(1)).await, Some(1));
        assert_eq!(hanging_option(secs(60)).await, None);
    });
    let stats = breaker("fo_timeout_option").stats();
    assert_eq!((stats.successes, stats.failures), (1, 1));
}

struct Quotes {
    calls: AtomicU32,
}

impl Quotes {
    async fn stale(&self, symbol: &str) -> Result<String, AppError> {
        Ok(format!(
            "stale {symbol} after {}",
            self.calls.load(Ordering::SeqCst)
        ))
    }

    #[circuit_breaker(fo_method, fallback = Self::stale, fallback_on = failure)]
    async fn quote(&self, symbol: &str) -> Result<String, AppError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(AppError::Down).map(|()| symbol.to_owned())
    }
}

#[test]
fn an_async_method_falls_back_on_failure_with_self() {
    let _t = time();
    let quotes = Quotes {
        calls: AtomicU32::new(0),
    };
    on_paused_tokio(async {
        assert_eq!(quotes.quote("ACME").await.unwrap(), "stale ACME after 1");
    });
    assert_eq!(breaker("fo_method").stats().failures, 1);
}

// ---- keyed ------------------------------------------------------------------

fn keyed_cached(host: &str, ok: bool) -> Result<String, AppError> {
    let _ = ok;
    Ok(format!("cached {host}"))
}

#[circuit_breaker(fo_keyed, key = host, fail_max = 1, fallback = keyed_cached, fallback_on = failure)]
fn keyed(host: &str, ok: bool) -> Result<String, AppError> {
    if ok {
        Ok(format!("live {host}"))
    } else {
        Err(AppError::Down)
    }
}

async fn keyed_cached_async(host: String, ok: bool) -> Result<String, AppError> {
    keyed_cached(&host, ok)
}

#[circuit_breaker(fo_keyed_async, key = host, fail_max = 1, fallback = keyed_cached_async, fallback_on = failure)]
async fn keyed_async(host: String, ok: bool) -> Result<String, AppError> {
    if ok {
        Ok(format!("live {host}"))
    } else {
        Err(AppError::Down)
    }
}

#[test]
fn a_keyed_function_falls_back_on_its_keys_failures() {
    let _t = time();
    assert_eq!(keyed("a", false).unwrap(), "cached a");
    assert_eq!(keyed("b", true).unwrap(), "live b");
    assert_eq!(breaker("fo_keyed[host=a]").state(), State::Open);
    assert_eq!(breaker("fo_keyed[host=b]").state(), State::Closed);
    assert_eq!(keyed("a", true).unwrap(), "cached a");
    on_paused_tokio(async {
        assert_eq!(keyed_async("a".into(), false).await.unwrap(), "cached a");
        assert_eq!(keyed_async("b".into(), true).await.unwrap(), "live b");
        assert_eq!(keyed_async("a".into(), true).await.unwrap(), "cached a");
    });
    assert_eq!(breaker("fo_keyed_async[host=a]").stats().failures, 1);
    assert_eq!(breaker("fo_keyed_async[host=a]").stats().rejected, 1);
}

// ---- retry ------------------------------------------------------------------

fn retried_fallback(_tries: &AtomicU32) -> Result<u32, AppError> {
    Ok(0)
}

#[circuit_breaker(fo_retry, retry = 3, retry_backoff = 1ms..1ms, fail_max = 10, fallback = retried_fallback, fallback_on = failure)]
fn retried(tries: &AtomicU32) -> Result<u32, AppError> {
    tries.fetch_add(1, Ordering::SeqCst);
    Err(AppError::Down)
}

#[test]
fn with_retry_the_fallback_answers_after_the_last_failed_attempt() {
    let (_t, clock) = time();
    registry().use_sleeper(clock.clone());
    let tries = AtomicU32::new(0);
    assert_eq!(retried(&tries).unwrap(), 0);
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    assert_eq!(breaker("fo_retry").stats().failures, 3);
}
