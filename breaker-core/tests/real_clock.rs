//! The Open period on the real clock, as a service lives it: the process reads
//! the precise clock first (a first failure) and the cheap one only later (a
//! first rejection), sits idle, opens breakers on several threads and keyed
//! breakers. Every check compares the breaker with `Instant` (the same
//! `CLOCK_MONOTONIC`), with margins that only a broken breaker exceeds:
//!
//! - no call is admitted before `reset` has passed since the call that opened
//!   the breaker started (exact: both clocks are one);
//! - a call is admitted at most `reset + lag + SLACK` after that call ended,
//!   where `lag` is the real clock's stated lag (two ticks, 2 to 20 ms) and
//!   `SLACK` covers the test's own polling and a loaded machine;
//! - `retry_after` never exceeds what is left of the period by more than
//!   `lag + SLACK`, and never falls short of it.
//!
//! A cheap reading on a base of its own, taken when it is first read, is early
//! by the time between the first reads of the two clocks: here at least
//! `FIRST_READS_APART`, more than `SLACK`, so every test below fails on it.

use std::sync::LazyLock;
use std::thread;
use std::time::{Duration, Instant};

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Breaker, Config, Error, State};

const FIRST_READS_APART: Duration = Duration::from_millis(1500);
/// Polling, thread wake-ups and a busy CI machine; a tenth of `FIRST_READS_APART`.
const SLACK: Duration = Duration::from_millis(150);
const RESET: Duration = Duration::from_millis(400);
/// How often a waiting caller retries.
const POLL: Duration = Duration::from_millis(10);

/// Every test starts here: the precise clock read first, the cheap one not
/// before `FIRST_READS_APART` later.
fn process_started() {
    static STARTED: LazyLock<()> = LazyLock::new(|| {
        let _ = MonotonicClock.now();
        thread::sleep(FIRST_READS_APART);
    });
    LazyLock::force(&STARTED);
}

fn lag() -> Duration {
    MonotonicClock.coarse().1
}

fn config(fail_max: u32) -> Config {
    Config::builder()
        .fail_max(fail_max)
        .reset(RESET)
        .build()
        .unwrap()
}

/// Fails `breaker` until it opens: the instants before the opening call
/// started and after it ended.
fn open(breaker: &Breaker) -> (Instant, Instant) {
    loop {
        let before = Instant::now();
        breaker
            .acquire()
            .expect("a Closed breaker admits")
            .failure();
        if breaker.state() == State::Open {
            return (before, Instant::now());
        }
    }
}

/// Calls `breaker` every `POLL` until a call is admitted, checking every
/// rejection's `retry_after` on the way; the instant of the admission.
fn wait_for_the_first_trial(breaker: &Breaker, opened: (Instant, Instant)) -> Instant {
    let (opened_before, opened_after) = opened;
    let bound = lag() + SLACK;
    loop {
        let before = Instant::now();
        let result = breaker.acquire();
        let after = Instant::now();
        match result {
            Ok(permit) => {
                assert!(
                    before >= opened_before + RESET,
                    "{}: admitted {:?} after opening, before its reset {RESET:?}",
                    breaker.name(),
                    before - opened_before
                );
                permit.success();
                return after;
            }
            // Another thread's trial is in flight.
            Err(Error::Rejected {
                state: State::HalfOpen,
                ..
            }) => {}
            Err(error) => {
                let told = error.retry_after().expect("an Open rejection tells when");
                // What was left at the decision, taken at either end of the call.
                let most_left = (opened_after + RESET).saturating_duration_since(before);
                let least_left = (opened_before + RESET).saturating_duration_since(after);
                assert!(
                    told <= most_left + bound,
                    "{}: retry_after {told:?}, at most {most_left:?} left (+ {bound:?})",
                    breaker.name()
                );
                assert!(
                    told >= least_left,
                    "{}: retry_after {told:?}, at least {least_left:?} left",
                    breaker.name()
                );
                assert!(
                    after < opened_after + RESET + bound,
                    "{}: still rejecting {:?} after opening (reset {RESET:?}, bound {bound:?})",
                    breaker.name(),
                    after - opened_after
                );
            }
        }
        thread::sleep(POLL);
    }
}

/// Opens `breaker` and checks its whole Open period.
fn check_one_open_period(breaker: &Breaker) {
    let opened = open(breaker);
    let admitted = wait_for_the_first_trial(breaker, opened);
    assert!(admitted <= opened.1 + RESET + lag() + SLACK + POLL);
}

#[test]
fn an_open_period_ends_within_reset_plus_the_lag() {
    process_started();
    let breaker = Breaker::new("period", config(3));
    check_one_open_period(&breaker);
    // Again, with the cheap reading long in use.
    check_one_open_period(&breaker);
}

#[test]
fn an_open_breaker_idle_past_its_period_admits_its_next_call() {
    process_started();
    let breaker = Breaker::new("idle", config(3));
    let (before, _) = open(&breaker);
    thread::sleep(RESET * 3);
    assert!(Instant::now() >= before + RESET);
    assert!(
        breaker.acquire().is_ok(),
        "the first call after an idle {:?} is a trial",
        RESET * 3
    );
}

#[test]
fn after_an_idle_minute_an_open_period_still_ends_on_time() {
    process_started();
    let first = Breaker::new("before the idle minute", config(1));
    let (before, _) = open(&first);
    thread::sleep(Duration::from_secs(60));
    assert!(
        first.acquire().is_ok(),
        "idle a minute after opening, {:?} ago",
        before.elapsed()
    );
    // A breaker that opens after the idle minute: open for `reset`, not a minute more.
    check_one_open_period(&Breaker::new("after the idle minute", config(1)));
}

#[test]
fn open_periods_end_on_time_on_every_thread() {
    process_started();
    let threads: Vec<_> = (0..4u64)
        .map(|i| {
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(37 * i));
                check_one_open_period(&Breaker::new(format!("thread {i}"), config(2)));
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
}

#[test]
fn a_breaker_shared_by_threads_admits_its_first_trial_on_time() {
    process_started();
    let breaker = Breaker::new("shared", config(2));
    let opened = open(&breaker);
    let admitted: Vec<Instant> = thread::scope(|scope| {
        let waiters: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| wait_for_the_first_trial(&breaker, opened)))
            .collect();
        waiters.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // One trial at a time by default: the first admitted is the period's end.
    let first = admitted.iter().min().unwrap();
    assert!(*first <= opened.1 + RESET + lag() + SLACK + POLL);
}

#[test]
fn a_key_of_a_keyed_breaker_opens_for_reset_on_the_real_clock() {
    process_started();
    let hosts: KeyedBreaker<String> = KeyedBreaker::builder("hosts")
        .config(config(2))
        .build()
        .unwrap();
    let down = hosts.get("down.example");
    check_one_open_period(&down);
    // Another key, opened after the first one's period.
    check_one_open_period(&hosts.get("later.example"));
    assert_eq!(hosts.get("up.example").state(), State::Closed);
}

#[test]
fn a_reconfigured_reset_keeps_the_open_period_in_progress_and_times_the_next() {
    process_started();
    let breaker = Breaker::new(
        "rc-reconfigured",
        Config::builder()
            .fail_max(1)
            .reset(RESET)
            .success(1)
            .build()
            .unwrap(),
    );
    let opened = open(&breaker);
    breaker.reconfigure("reset = 1m").unwrap();
    // The period in progress ends on its old time, checked as any other.
    let admitted = wait_for_the_first_trial(&breaker, opened);
    assert!(admitted <= opened.1 + RESET + lag() + SLACK + POLL);
    // The next opening lasts the new reset.
    let before = Instant::now();
    breaker.acquire().expect("Closed again").failure();
    let after = Instant::now();
    let told = match breaker.acquire() {
        Err(error) => error.retry_after().expect("an Open rejection tells when"),
        Ok(_) => panic!("admitted right after reopening"),
    };
    let elapsed = Instant::now() - before;
    let minute = Duration::from_secs(60);
    assert!(told <= minute, "retry_after {told:?} beyond the new reset");
    assert!(
        told + elapsed + lag() + SLACK >= minute,
        "retry_after {told:?}, {:?} after the opening: not the new reset",
        after - before
    );
}

#[test]
fn a_slow_start_admits_its_share_on_the_real_clock() {
    process_started();
    let ramp = Duration::from_secs(2);
    let breaker = Breaker::new(
        "rc-ramp",
        Config::builder()
            .fail_max(1)
            .reset(RESET)
            .success(1)
            .ramp(ramp)
            .build()
            .unwrap(),
    );
    breaker.reseed(1);
    let opened = open(&breaker);
    wait_for_the_first_trial(&breaker, opened);
    let closed = Instant::now();
    assert_eq!(breaker.state(), State::Closed);
    // The share the breaker states is the one of the time it is read at,
    // within the time the test took around the close and the reading.
    let share = |at_least: Duration, at_most: Duration| {
        let low = 0.1 + 0.9 * at_least.as_secs_f64() / ramp.as_secs_f64();
        let high = 0.1 + 0.9 * at_most.as_secs_f64() / ramp.as_secs_f64();
        (low, high)
    };
    thread::sleep(ramp / 2);
    let before = Instant::now();
    let told = breaker
        .stats()
        .ramp_share
        .expect("halfway through the ramp");
    let (low, high) = share(before - closed, Instant::now() - opened.0 + SLACK);
    assert!(
        low - 1e-9 <= told && told <= high.min(1.0),
        "share {told}, between {low} and {high}"
    );
    let admitted = (0..2000)
        .filter(|_| breaker.acquire().map(|p| p.success()).is_ok())
        .count();
    assert!(
        (600..=1900).contains(&admitted),
        "{admitted} of 2000 halfway"
    );
    // A rejection says the share its draw admitted at, that of its time.
    let (shown, low, high) = loop {
        let before = Instant::now();
        if let Err(refused) = breaker.acquire().map(|p| p.success()) {
            let shown = refused
                .shedding()
                .and_then(|s| s.admitting())
                .expect("a ramp's");
            let (low, high) = share(before - closed, Instant::now() - opened.0 + SLACK);
            break (shown, low, high);
        }
    };
    // Rounded to thousandths.
    assert!(
        low - 0.0005 <= shown && shown <= high.min(1.0) + 0.0005,
        "shown {shown}, between {low} and {high}"
    );
    // Past the ramp, every call again.
    thread::sleep(ramp / 2 + SLACK);
    assert_eq!(breaker.stats().ramp_share, None);
    let all = (0..1000)
        .filter(|_| breaker.acquire().map(|p| p.success()).is_ok())
        .count();
    assert_eq!(all, 1000);
}

#[test]
fn a_dry_run_ramps_on_the_real_clock_and_would_shed_none_after() {
    process_started();
    let ramp = Duration::from_secs(2);
    let breaker = Breaker::new(
        "rc-dry-ramp",
        Config::builder()
            .fail_max(1)
            .reset(RESET)
            .success(1)
            .ramp(ramp)
            .build()
            .unwrap(),
    );
    breaker.reseed(3);
    breaker.metrics_only();
    breaker.acquire().unwrap().failure();
    assert_eq!(breaker.stats().dry_run, Some(State::Open));
    // Its trial: the first call once its open period is over.
    thread::sleep(RESET + lag() + SLACK);
    let closing = Instant::now();
    breaker.acquire().unwrap().success();
    assert_eq!(breaker.stats().dry_run, Some(State::Closed));
    // Right after the close the dry run admits a tenth and more; every call
    // runs (MetricsOnly), the rest count as ones it would have shed.
    let before = breaker.stats().would_reject;
    let ran = (0..2000)
        .filter(|_| breaker.acquire().map(|p| p.success()).is_ok())
        .count();
    let shed = breaker.stats().would_reject - before;
    let elapsed = closing.elapsed();
    assert_eq!(ran, 2000, "MetricsOnly admits every call");
    if elapsed < ramp / 4 {
        // A share of at most 0.1 + 0.9 / 4 = 0.325: at least about 2/3 shed.
        assert!(
            shed >= 1000,
            "{shed} of 2000 would be shed {elapsed:?} after the close"
        );
    }
    assert!(shed < 2000, "some are admitted: {shed}");
    // Past the ramp, none.
    thread::sleep(ramp + SLACK);
    let before = breaker.stats().would_reject;
    for _ in 0..1000 {
        breaker.acquire().unwrap().success();
    }
    assert_eq!(breaker.stats().would_reject, before);
    assert_eq!(breaker.state(), State::MetricsOnly);
}
