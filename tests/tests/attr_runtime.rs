//! `#[circuit_breaker]` at run time: each key has the effect SEMANTICS.md
//! gives it, through the attribute, on the global registry's manual clock.
//!
//! Every test names its own breaker. The clock is shared by the whole binary,
//! so every test holds [`time()`] while it runs: tests that move the clock do
//! not move it under another test's feet.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use breaker_core::{Error, State, circuit_breaker, registry};
use support::*;

/// A future that stays pending until its gate opens.
struct Gate(Arc<AtomicBool>);

impl Future for Gate {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

// ---- names and registration ------------------------------------------------

#[circuit_breaker(rt_registered_early)]
fn never_called() -> Result<u32, AppError> {
    Ok(1)
}

/// Runs the named test alone in a fresh process of this binary, where no
/// guarded function has run yet (the other tests of this process call theirs).
///
/// The child must report exactly one test passed: a name that matches no test
/// (a test renamed, its string not) runs nothing, and libtest calls that a
/// success.
fn in_fresh_process(test: &str) -> bool {
    const FRESH: &str = "BREAKER_ATTR_FRESH_PROCESS";
    if std::env::var_os(FRESH).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(exe)
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(FRESH, "1")
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`{test}` failed in a fresh process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed;"),
        "`{test}` is not one test of this binary: the fresh process ran\n{stdout}"
    );
    false
}

#[test]
fn registers_every_annotated_breaker_before_its_first_call() {
    if !in_fresh_process("registers_every_annotated_breaker_before_its_first_call") {
        return;
    }
    let warnings = Warnings::install();
    let _t = time();
    let names = registry().names();
    assert!(
        names.iter().any(|n| n == "rt_registered_early"),
        "not listed before the first call: {names:?}"
    );
    // `disagree_first` and `disagree_second` configure `rt_disagree`
    // differently: one warning, naming both, before any call.
    let reported = |warnings: &Warnings| {
        warnings
            .messages()
            .iter()
            .filter(|m| {
                m.contains("attr_runtime::disagree_first")
                    && m.contains("attr_runtime::disagree_second")
            })
            .count()
    };
    assert_eq!(reported(&warnings), 1, "{:?}", warnings.messages());
    assert_eq!(breaker("rt_disagree").config().fail_max(), Some(3));
    // An operator can act on it before any traffic.
    breaker("rt_registered_early").force_open();
    assert!(is_rejection(&never_called()));
    breaker("rt_registered_early").reset();
    assert_eq!(never_called().unwrap(), 1);
    let _ = disagree_second(true);
    assert_eq!(reported(&warnings), 1, "reported once only");
}

/// Collects the messages of `warn` events, installed as the process's
/// subscriber (in the fresh process only).
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn install() -> Warnings {
        let warnings = Warnings::default();
        tracing::subscriber::set_global_default(warnings.clone()).expect("first subscriber");
        warnings
    }

    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(message.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[circuit_breaker]
fn default_named() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker("rt-quoted name")]
fn quoted_name() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(name = "rt_name_key")]
fn name_key() -> Result<u32, AppError> {
    Ok(1)
}

#[test]
fn names_the_breaker_as_written_or_after_the_function() {
    let _t = time();
    for call in [default_named, quoted_name, name_key] {
        call().unwrap();
    }
    for name in [
        "attr_runtime::default_named",
        "rt-quoted name",
        "rt_name_key",
    ] {
        assert_eq!(breaker(name).stats().successes, 1, "{name}");
    }
}

#[circuit_breaker(rt_shared, fail_max = 2)]
fn shared_a(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[circuit_breaker(rt_shared, fail_max = 2)]
fn shared_b(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn functions_that_give_the_same_name_share_one_breaker() {
    let _t = time();
    let _ = shared_a(false);
    let _ = shared_b(false);
    assert_eq!(breaker("rt_shared").state(), State::Open);
    assert!(is_rejection(&shared_a(true)));
    assert!(is_rejection(&shared_b(true)));
}

#[circuit_breaker(rt_disagree, fail_max = 7)]
fn disagree_second(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[circuit_breaker(rt_disagree, fail_max = 3)]
fn disagree_first(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn the_first_function_path_in_sort_order_wins_a_disagreement() {
    let _t = time();
    // `disagree_second` is called first, but `attr_runtime::disagree_first`
    // sorts first: its `fail_max = 3` configures the breaker.
    let _ = disagree_second(true);
    assert_eq!(breaker("rt_disagree").config().fail_max(), Some(3));
    for _ in 0..3 {
        let _ = disagree_second(false);
    }
    assert_eq!(breaker("rt_disagree").state(), State::Open);
    assert!(is_rejection(&disagree_first(true)));
}

// ---- trip policies ---------------------------------------------------------

#[circuit_breaker(rt_default)]
fn default_config(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn without_keys_opens_after_five_consecutive_failures() {
    let _t = time();
    for _ in 0..4 {
        let _ = default_config(false);
    }
    assert_eq!(breaker("rt_default").state(), State::Closed);
    let _ = default_config(false);
    assert_eq!(breaker("rt_default").state(), State::Open);
}

#[circuit_breaker(rt_fail_max, fail_max = 3)]
fn fail_max(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn fail_max_opens_after_that_many_consecutive_failures_and_a_success_restarts_the_run() {
    let _t = time();
    let _ = fail_max(false);
    let _ = fail_max(false);
    fail_max(true).unwrap();
    let _ = fail_max(false);
    let _ = fail_max(false);
    assert_eq!(breaker("rt_fail_max").state(), State::Closed);
    let result = fail_max(false);
    assert!(matches!(result, Err(AppError::Down)));
    assert_eq!(breaker("rt_fail_max").state(), State::Open);
    assert!(is_rejection(&fail_max(true)));
    assert_eq!(breaker("rt_fail_max").stats().rejected, 1);
}

#[circuit_breaker(rt_within, fail_max = 3, within = 10s)]
fn within(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn within_counts_failures_in_a_sliding_window_not_in_a_row() {
    let (_t, clock) = time();
    let _ = within(false);
    within(true).unwrap();
    let _ = within(false);
    clock.advance(secs(10)); // both failures leave the window (t - W, t]
    let _ = within(false);
    let _ = within(false);
    assert_eq!(breaker("rt_within").state(), State::Closed);
    within(true).unwrap(); // successes do not reset it
    let _ = within(false);
    assert_eq!(breaker("rt_within").state(), State::Open);
}

#[circuit_breaker(rt_rate, failure_rate = 50, window = 4, min_calls = 4)]
fn rate(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn failure_rate_opens_at_the_threshold_once_the_count_window_holds_min_calls() {
    let _t = time();
    let _ = rate(false);
    let _ = rate(false);
    rate(true).unwrap();
    assert_eq!(breaker("rt_rate").state(), State::Closed, "3 < min_calls");
    rate(true).unwrap(); // 2 of 4 failed: 50% >= 50%
    assert_eq!(breaker("rt_rate").state(), State::Open);
}

#[circuit_breaker(rt_rate_time, failure_rate = 50, window = 10s, min_calls = 2)]
fn rate_time(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn a_time_window_forgets_outcomes_older_than_the_window() {
    let (_t, clock) = time();
    let _ = rate_time(false);
    clock.advance(secs(10));
    rate_time(true).unwrap();
    rate_time(true).unwrap();
    rate_time(true).unwrap(); // 0 of 3 in the window
    assert_eq!(breaker("rt_rate_time").state(), State::Closed);
    let _ = rate_time(false);
    let _ = rate_time(false);
    let _ = rate_time(false); // 3 of 6
    assert_eq!(breaker("rt_rate_time").state(), State::Open);
}

#[circuit_breaker(rt_slow, slow = 1s, slow_rate = 50, window = 2)]
fn slow_call(latency: Duration) -> Result<u32, AppError> {
    CLOCK.advance(latency);
    Ok(1)
}

#[test]
fn slow_rate_opens_on_calls_slower_than_slow_even_when_they_succeed() {
    let _t = time();
    slow_call(secs(1)).unwrap(); // exactly `slow`: not slow
    slow_call(Duration::ZERO).unwrap();
    assert_eq!(breaker("rt_slow").stats().slow, 0);
    assert_eq!(breaker("rt_slow").state(), State::Closed);
    slow_call(Duration::from_millis(1001)).unwrap(); // 1 of the last 2 slow
    assert_eq!(breaker("rt_slow").stats().slow, 1);
    assert_eq!(breaker("rt_slow").state(), State::Open);
}

#[circuit_breaker(rt_slow_alone, slow = 1s, fail_max = 2)]
fn slow_alone(latency: Duration) -> Result<u32, AppError> {
    CLOCK.advance(latency);
    Ok(1)
}

#[test]
fn slow_alone_only_counts_slow_calls() {
    let _t = time();
    for _ in 0..3 {
        slow_alone(secs(2)).unwrap();
    }
    assert_eq!(breaker("rt_slow_alone").stats().slow, 3);
    assert_eq!(breaker("rt_slow_alone").state(), State::Closed);
}

// ---- recovery --------------------------------------------------------------

#[circuit_breaker(rt_reset, fail_max = 1, reset = 10s, success = 2)]
fn recovering(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn reset_and_success_govern_recovery_through_half_open() {
    let (_t, clock) = time();
    let _ = recovering(false);
    clock.advance(secs(4));
    match recovering(true) {
        Err(AppError::Breaker(Error::Rejected {
            opening,
            state,
            retry_after,
            ..
        })) => {
            assert_eq!(&*opening.name, "rt_reset");
            assert_eq!(state, State::Open);
            assert_eq!(retry_after, Some(secs(6)));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    clock.advance(secs(6));
    recovering(true).unwrap(); // the first trial
    assert_eq!(breaker("rt_reset").state(), State::HalfOpen);
    recovering(true).unwrap(); // `success = 2`
    assert_eq!(breaker("rt_reset").state(), State::Closed);
}

#[circuit_breaker(rt_backoff, fail_max = 1, reset = 10s, backoff = 2, reset_max = 30s, success = 1)]
fn backing_off(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

fn retry_after(result: Result<u32, AppError>) -> Option<Duration> {
    match result {
        Err(AppError::Breaker(Error::Rejected { retry_after, .. })) => retry_after,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn backoff_multiplies_the_open_period_after_each_failed_trial_up_to_reset_max() {
    let (_t, clock) = time();
    let _ = backing_off(false); // open for 10s
    clock.advance(secs(10));
    let _ = backing_off(false); // failed trial: open for 20s
    clock.advance(secs(19));
    assert_eq!(retry_after(backing_off(true)), Some(secs(1)));
    clock.advance(secs(1));
    let _ = backing_off(false); // failed trial: 40s, capped at 30s
    clock.advance(secs(29));
    assert_eq!(retry_after(backing_off(true)), Some(secs(1)));
    clock.advance(secs(1));
    backing_off(true).unwrap(); // `success = 1`: Closed, `reset` restored
    assert_eq!(breaker("rt_backoff").state(), State::Closed);
    let _ = backing_off(false);
    assert_eq!(retry_after(backing_off(true)), Some(secs(10)));
}

#[circuit_breaker(rt_half_open, fail_max = 1, reset = 1s, success = 2, half_open = 1)]
async fn half_open_trial(gate: Arc<AtomicBool>) -> Result<u32, AppError> {
    Gate(gate).await;
    Ok(1)
}

#[test]
fn half_open_caps_the_trials_in_flight() {
    let (_t, clock) = time();
    let open = Arc::new(AtomicBool::new(true));
    assert!(matches!(
        poll_once(pin!(half_open_trial(open))),
        Poll::Ready(Ok(1))
    ));
    breaker("rt_half_open").trip();
    clock.advance(secs(1));
    let gate = Arc::new(AtomicBool::new(false));
    let mut first = pin!(half_open_trial(gate.clone()));
    assert!(poll_once(first.as_mut()).is_pending()); // the one trial in flight
    let mut second = pin!(half_open_trial(gate.clone()));
    match poll_once(second.as_mut()) {
        Poll::Ready(Err(AppError::Breaker(Error::Rejected {
            state, retry_after, ..
        }))) => {
            assert_eq!(state, State::HalfOpen);
            assert_eq!(retry_after, None);
        }
        other => panic!("expected a half-open rejection, got {other:?}"),
    }
    gate.store(true, Ordering::SeqCst);
    assert!(matches!(poll_once(first.as_mut()), Poll::Ready(Ok(1))));
    assert_eq!(breaker("rt_half_open").state(), State::HalfOpen);
}

// ---- outcomes --------------------------------------------------------------

fn is_down(e: &AppError) -> bool {
    matches!(e, AppError::Down)
}

#[circuit_breaker(rt_failure, fail_max = 2, failure = is_down)]
fn classified(error: AppError) -> Result<u32, AppError> {
    Err(error)
}

#[test]
fn failure_decides_which_errors_count_the_others_are_successes() {
    let _t = time();
    for _ in 0..5 {
        let _ = classified(AppError::Busy);
    }
    let stats = breaker("rt_failure").stats();
    assert_eq!((stats.successes, stats.failures), (5, 0));
    let _ = classified(AppError::Down);
    let _ = classified(AppError::Down);
    assert_eq!(breaker("rt_failure").state(), State::Open);
}

/// An HTTP-like answer that carries its own failure.
#[derive(Debug)]
struct Answer {
    status: u16,
}

fn unavailable(answer: &Answer) -> bool {
    answer.status >= 500
}

#[circuit_breaker(rt_ok_is_failure, fail_max = 2, failure = is_down, ok_is_failure = unavailable)]
fn answering(status: u16, error: Option<AppError>) -> Result<Answer, AppError> {
    match error {
        Some(e) => Err(e),
        None => Ok(Answer { status }),
    }
}

#[test]
fn ok_is_failure_counts_an_ok_value_as_a_failure_and_keeps_the_error_classifier() {
    let _t = time();
    let b = breaker("rt_ok_is_failure");
    assert_eq!(answering(200, None).unwrap().status, 200);
    let _ = answering(200, Some(AppError::Busy)); // excused by `failure`
    assert_eq!((b.stats().successes, b.stats().failures), (2, 0));
    let answer = answering(503, None).unwrap();
    assert_eq!(answer.status, 503, "the caller still gets the value");
    assert_eq!(b.stats().failures, 1);
    let _ = answering(502, None);
    assert_eq!(b.state(), State::Open);
    let reason = b.open_reason().expect("opened");
    assert_eq!(
        reason.last_failure.as_deref(),
        Some("`Ok` counted as a failure by `ok_is_failure = unavailable`")
    );
}

#[circuit_breaker(rt_ok_is_failure_async, fail_max = 1, ok_is_failure = unavailable)]
async fn answering_async(status: u16) -> Result<Answer, AppError> {
    Ok(Answer { status })
}

#[test]
fn ok_is_failure_works_on_async_functions() {
    let _t = time();
    let mut call = pin!(answering_async(500));
    assert!(matches!(
        poll_once(call.as_mut()),
        Poll::Ready(Ok(Answer { status: 500 }))
    ));
    assert_eq!(breaker("rt_ok_is_failure_async").state(), State::Open);
}

#[circuit_breaker(rt_half_open_wait, fail_max = 1, reset = 10s, success = 1, half_open = 1, max_half_open_wait = 5s)]
async fn hanging_trial(gate: Arc<AtomicBool>) -> Result<u32, AppError> {
    Gate(gate).await;
    Ok(1)
}

#[test]
fn max_half_open_wait_reopens_a_breaker_whose_trial_hangs() {
    let (_t, clock) = time();
    let b = breaker("rt_half_open_wait");
    b.trip();
    clock.advance(secs(10));
    let gate = Arc::new(AtomicBool::new(false));
    let mut trial = pin!(hanging_trial(gate.clone()));
    assert!(poll_once(trial.as_mut()).is_pending());
    assert_eq!(b.state(), State::HalfOpen);
    clock.advance(secs(5));
    let mut next = pin!(hanging_trial(gate.clone()));
    match poll_once(next.as_mut()) {
        Poll::Ready(Err(AppError::Breaker(e))) => assert_eq!(e.retry_after(), Some(secs(10))),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        b.open_reason().unwrap().reason.to_string(),
        "trials undecided after 5s"
    );
}

#[circuit_breaker(rt_adaptive, adaptive = 1.5, window = 10s)]
fn throttled(fail: bool) -> Result<u32, AppError> {
    if fail { Err(AppError::Down) } else { Ok(1) }
}

#[test]
fn adaptive_sheds_load_through_the_attribute_without_opening() {
    let (_t, clock) = time();
    let b = breaker("rt_adaptive");
    b.reseed(1);
    for _ in 0..10 {
        assert_eq!(throttled(false).unwrap(), 1);
    }
    let mut shed = 0;
    for _ in 0..100 {
        clock.advance(Duration::from_millis(10));
        if let Err(AppError::Breaker(e)) = throttled(true) {
            assert_eq!((e.retry_after(), b.state()), (None, State::Closed));
            shed += 1;
        }
    }
    assert!(shed > 40, "shed {shed} of 100");
    assert!(b.stats().drop_probability.unwrap() > 0.5);
}

#[circuit_breaker(rt_message, fail_max = 1)]
fn failing_with_message() -> Result<u32, AppError> {
    Err(AppError::Down)
}

#[test]
fn the_failure_that_opens_the_breaker_keeps_the_errors_display() {
    let _t = time();
    let _ = failing_with_message();
    let reason = breaker("rt_message").open_reason().expect("opened");
    assert_eq!(reason.last_failure.as_deref(), Some("dependency down"));
}

/// An error without `Display`.
#[derive(Debug)]
struct Opaque;

impl From<Error> for Opaque {
    fn from(_: Error) -> Self {
        Opaque
    }
}

#[circuit_breaker(rt_opaque, fail_max = 1)]
fn failing_opaquely() -> Result<u32, Opaque> {
    Err(Opaque)
}

#[test]
fn an_error_without_display_is_described_by_its_type() {
    let _t = time();
    let _ = failing_opaquely();
    let reason = breaker("rt_opaque").open_reason().expect("opened");
    let message = reason.last_failure.clone().unwrap_or_default();
    assert!(message.ends_with("Opaque"), "{message}");
}

#[circuit_breaker(rt_panic, fail_max = 1)]
fn panicking() -> Result<u32, AppError> {
    panic!("boom")
}

#[test]
fn a_panic_is_a_failure_and_keeps_unwinding() {
    let _t = time();
    let unwound = std::panic::catch_unwind(panicking);
    assert!(unwound.is_err());
    let stats = breaker("rt_panic").stats();
    assert_eq!((stats.failures, stats.in_flight), (1, 0));
    assert_eq!(breaker("rt_panic").state(), State::Open);
}

#[circuit_breaker(rt_async_panic, fail_max = 1)]
async fn panicking_async() -> Result<u32, AppError> {
    panic!("boom")
}

#[test]
fn a_panic_in_an_async_body_is_a_failure() {
    let _t = time();
    let unwound = std::panic::catch_unwind(|| {
        let mut fut = pin!(panicking_async());
        poll_once(fut.as_mut())
    });
    assert!(unwound.is_err());
    assert_eq!(breaker("rt_async_panic").stats().failures, 1);
    assert_eq!(breaker("rt_async_panic").state(), State::Open);
}

#[circuit_breaker(rt_cancel, fail_max = 1, reset = 1s, success = 1, half_open = 1)]
async fn cancellable(gate: Arc<AtomicBool>) -> Result<u32, AppError> {
    Gate(gate).await;
    Ok(1)
}

#[test]
fn a_dropped_future_is_cancelled_and_gives_its_trial_permit_back() {
    let (_t, clock) = time();
    let open = Arc::new(AtomicBool::new(true));
    assert!(matches!(
        poll_once(pin!(cancellable(open))),
        Poll::Ready(Ok(1))
    ));
    breaker("rt_cancel").trip();
    clock.advance(secs(1));
    let gate = Arc::new(AtomicBool::new(false));
    {
        let mut trial = pin!(cancellable(gate.clone()));
        assert!(poll_once(trial.as_mut()).is_pending());
    } // dropped in flight
    let stats = breaker("rt_cancel").stats();
    assert_eq!(
        (stats.cancelled, stats.failures, stats.in_flight),
        (1, 0, 0)
    );
    gate.store(true, Ordering::SeqCst);
    let mut again = pin!(cancellable(gate));
    assert!(matches!(poll_once(again.as_mut()), Poll::Ready(Ok(1))));
    assert_eq!(breaker("rt_cancel").state(), State::Closed);
}

// ---- fallback --------------------------------------------------------------

fn cached_price(item: &str, qty: u32) -> String {
    format!("cached {item} x{qty}")
}

#[circuit_breaker(rt_fallback, fail_max = 1)]
fn price_or_fail(item: &str, qty: u32) -> Result<String, AppError> {
    Err(AppError::Down).map(|()| format!("{item} x{qty}"))
}

#[circuit_breaker(rt_fallback, fail_max = 1, fallback = cached_price)]
fn price(item: &str, qty: u32) -> String {
    format!("live {item} x{qty}")
}

#[test]
fn fallback_answers_rejected_calls_with_the_same_arguments() {
    let _t = time();
    assert_eq!(price("tea", 2), "live tea x2");
    let _ = price_or_fail("tea", 1);
    assert_eq!(breaker("rt_fallback").state(), State::Open);
    assert_eq!(price("tea", 3), "cached tea x3");
    assert_eq!(breaker("rt_fallback").stats().rejected, 1);
}

struct Quotes {
    calls: AtomicU32,
}

impl Quotes {
    async fn stale(&self, symbol: &str) -> Result<String, AppError> {
        Ok(format!("stale {symbol}"))
    }

    #[circuit_breaker(rt_fallback_async, fallback = Self::stale)]
    async fn quote(&self, symbol: &str) -> Result<String, AppError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(format!("live {symbol}"))
    }
}

#[test]
fn an_async_method_falls_back_to_an_async_method_with_self() {
    let _t = time();
    let quotes = Quotes {
        calls: AtomicU32::new(0),
    };
    let mut live = pin!(quotes.quote("ACME"));
    assert!(matches!(poll_once(live.as_mut()), Poll::Ready(Ok(s)) if s == "live ACME"));
    breaker("rt_fallback_async").force_open();
    let mut stale = pin!(quotes.quote("ACME"));
    assert!(matches!(poll_once(stale.as_mut()), Poll::Ready(Ok(s)) if s == "stale ACME"));
    assert_eq!(quotes.calls.load(Ordering::SeqCst), 1);
}

// ---- timeout ---------------------------------------------------------------

#[circuit_breaker(rt_timeout, timeout = 2s, fail_max = 1)]
async fn hanging(work: Duration) -> Result<u32, AppError> {
    tokio::time::sleep(work).await;
    Ok(1)
}

#[test]
fn timeout_ends_a_late_call_as_a_failure_returning_error_timeout() {
    let _t = time();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        assert_eq!(hanging(secs(1)).await.unwrap(), 1);
        // A call that ends exactly at `timeout` is not a timeout.
        assert_eq!(hanging(secs(2)).await.unwrap(), 1);
        match hanging(secs(60)).await {
            Err(AppError::Breaker(Error::Timeout { after, .. })) => assert_eq!(after, secs(2)),
            other => panic!("expected a timeout, got {other:?}"),
        }
    });
    let stats = breaker("rt_timeout").stats();
    assert_eq!((stats.successes, stats.failures), (2, 1));
    assert_eq!(breaker("rt_timeout").state(), State::Open);
}
