//! Threads x calls with random outcomes and latencies on the real clock, for a
//! bounded time (`BREAKER_STRESS_MS`, default 2000 ms); then every call is
//! accounted for and the reported transitions form a valid path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use breaker_core::{Action, Breaker, Config, Reason, State};

fn budget() -> Duration {
    let ms = std::env::var("BREAKER_STRESS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

/// An edge the semantics allow, for its reason: the policies' four, or an
/// operator's action into the state it names (from any other state).
fn valid_edge(from: State, to: State, reason: &Reason) -> bool {
    use State::*;
    if from == to {
        return false;
    }
    match reason {
        Reason::Manual(action) => matches!(
            (action, to),
            (Action::Trip, Open)
                | (Action::ForceOpen, ForcedOpen)
                | (Action::Disable, Disabled)
                | (Action::Reset, Closed)
        ),
        _ => matches!(
            (from, to),
            (Closed, Open) | (Open, HalfOpen) | (HalfOpen, Closed) | (HalfOpen, Open)
        ),
    }
}

/// After the storm, on the real clock: a trip, then calls until one is
/// admitted. A breaker stuck Open (the operator's resets every few
/// milliseconds above would hide it) fails here; so does one that lets a
/// trial through before `reset`.
fn recovers_after_a_trip(breaker: &Breaker, reset: Duration) {
    let before = Instant::now();
    breaker.trip();
    let after = Instant::now();
    loop {
        let asked = Instant::now();
        match breaker.acquire() {
            Ok(permit) => {
                assert!(
                    asked >= before + reset,
                    "a trial {:?} after the trip",
                    asked - before
                );
                permit.success();
                return;
            }
            Err(_) => assert!(
                asked < after + reset + Duration::from_millis(200),
                "still rejecting {:?} after a trip with reset {reset:?}",
                asked - after
            ),
        }
        thread::sleep(Duration::from_micros(500));
    }
}

fn stress(name: &'static str, config: Config) {
    let reset = config.reset();
    let breaker = Breaker::new(name.to_owned(), config);
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    breaker.on_transition(move |t| sink.lock().unwrap().push(t.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4u64)
        .map(|seed| {
            let (breaker, stop) = (breaker.clone(), stop.clone());
            thread::spawn(move || {
                let mut x = (seed + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
                let mut attempts = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    attempts += 1;
                    let permit = match breaker.acquire() {
                        Ok(permit) => permit,
                        Err(rejection) => {
                            // Each thread caches the openings it handed out:
                            // the rejection is still this breaker's.
                            assert_eq!(rejection.name(), name);
                            continue;
                        }
                    };
                    if x % 16 == 0 {
                        thread::sleep(Duration::from_micros(x % 200));
                    }
                    match x % 5 {
                        0 | 1 => drop(permit.failure()),
                        2 => drop(permit),
                        _ => drop(permit.success()),
                    }
                }
                attempts
            })
        })
        .collect();
    let operator = {
        let (breaker, stop) = (breaker.clone(), stop.clone());
        thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(7));
                match i % 10 {
                    0 => breaker.trip(),
                    5 => breaker.force_open(),
                    6 => breaker.reset(),
                    8 => breaker.disable(),
                    9 => breaker.reset(),
                    _ => {}
                }
                i += 1;
            }
        })
    };
    let began = Instant::now();
    while began.elapsed() < budget() {
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let attempts: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    operator.join().unwrap();

    let s = breaker.stats();
    assert_eq!(s.in_flight, 0, "{s:?}");
    assert_eq!(s.admitted, s.successes + s.failures + s.cancelled, "{s:?}");
    assert_eq!(s.admitted + s.rejected, attempts, "{s:?}");
    let log = std::mem::take(&mut *log.lock().unwrap());
    assert_eq!(log.len() as u64, s.transitions);
    let mut state = State::Closed;
    let mut opened_at = Duration::ZERO;
    for t in &log {
        assert_eq!(t.from, state);
        assert!(valid_edge(t.from, t.to, &t.reason), "{t:?}");
        match t.to {
            State::Open => opened_at = t.at,
            // No period is shorter than `reset` (backoff only grows it).
            State::HalfOpen => assert!(t.at >= opened_at + reset, "{t:?}, opened at {opened_at:?}"),
            _ => {}
        }
        state = t.to;
    }
    assert_eq!(state, breaker.state());
    assert!(attempts > 1000, "the stress ran: {attempts} attempts");
    recovers_after_a_trip(&breaker, reset);
}

#[test]
fn stress_consecutive_policy_on_the_real_clock() {
    stress(
        "stress-consecutive",
        Config::builder()
            .fail_max(4)
            .reset(Duration::from_millis(2))
            .success(2)
            .half_open(3)
            .backoff(1.5)
            .reset_max(Duration::from_millis(20))
            .build()
            .unwrap(),
    );
}

#[test]
fn stress_count_window_with_batched_successes_on_the_real_clock() {
    // A count window alone: once full, successes skip the lock.
    stress(
        "stress-count-window",
        Config::builder()
            .failure_rate(45.0)
            .window_calls(20)
            .reset(Duration::from_millis(2))
            .build()
            .unwrap(),
    );
}

#[test]
fn stress_windowed_policies_on_the_real_clock() {
    stress(
        "stress-windowed",
        Config::builder()
            .fail_max(20)
            .within(Duration::from_millis(5))
            .failure_rate(45.0)
            .window_time(Duration::from_millis(10))
            .slow(Duration::from_micros(100))
            .slow_rate(30.0)
            .reset(Duration::from_millis(3))
            .build()
            .unwrap(),
    );
}
