//! Threads x calls with random outcomes and latencies on the real clock, for a
//! bounded time (`BREAKER_STRESS_MS`, default 2000 ms); then every call is
//! accounted for and the reported transitions form a valid path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use breaker_core::{Breaker, Config, State};

fn budget() -> Duration {
    let ms = std::env::var("BREAKER_STRESS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    Duration::from_millis(ms)
}

fn valid_edge(from: State, to: State) -> bool {
    use State::*;
    from != to
        && matches!(
            (from, to),
            (Closed, Open)
                | (Open, HalfOpen)
                | (HalfOpen, Closed)
                | (HalfOpen, Open)
                | (_, ForcedOpen)
                | (_, Disabled)
                | (_, Closed)
                | (_, Open)
        )
}

fn stress(name: &'static str, config: Config) {
    let breaker = Breaker::new(name.to_owned(), config);
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    breaker.on_transition(move |t| sink.lock().unwrap().push((t.from, t.to)));
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
    let log = log.lock().unwrap();
    assert_eq!(log.len() as u64, s.transitions);
    let mut state = State::Closed;
    for &(from, to) in log.iter() {
        assert_eq!(from, state);
        assert!(valid_edge(from, to), "{from:?} -> {to:?}");
        state = to;
    }
    assert_eq!(state, breaker.state());
    assert!(attempts > 1000, "the stress ran: {attempts} attempts");
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
