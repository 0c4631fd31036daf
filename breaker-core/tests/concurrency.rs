//! Many threads on one breaker: no count is lost, every transition is
//! reported once, and the reported transitions form a valid path.

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, State};

fn valid_edge(from: State, to: State) -> bool {
    use State::*;
    from != to
        && match (from, to) {
            (Closed, Open) | (Open, HalfOpen) | (HalfOpen, Closed) | (HalfOpen, Open) => true,
            // Manual actions reach any state.
            (_, ForcedOpen) | (_, Disabled) | (_, Closed) | (_, Open) => true,
            _ => false,
        }
}

fn hammer(config: Config, threads: usize, calls: u64) {
    let clock = ManualClock::new();
    let breaker = Breaker::with_clock("hammer", config, clock.clone());
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    breaker.on_transition(move |t| sink.lock().unwrap().push((t.from, t.to)));
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads as u64)
        .map(|seed| {
            let (breaker, clock, start) = (breaker.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                // A small xorshift per thread: deterministic outcomes, racy order.
                let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut attempts = 0u64;
                for i in 0..calls {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    attempts += 1;
                    if let Ok(permit) = breaker.acquire() {
                        match x % 4 {
                            0 => drop(permit.failure()),
                            1 => drop(permit),
                            _ => drop(permit.success()),
                        }
                    }
                    if seed == 0 && i % 64 == 0 {
                        clock.advance(Duration::from_millis(50));
                    }
                    if seed == 1 && i % 5000 == 0 {
                        breaker.trip();
                    }
                }
                attempts
            })
        })
        .collect();
    let attempts: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let s = breaker.stats();
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.admitted, s.successes + s.failures + s.cancelled);
    assert_eq!(s.admitted + s.rejected, attempts);
    let log = log.lock().unwrap();
    assert_eq!(log.len() as u64, s.transitions, "each reported once");
    let mut state = State::Closed;
    for &(from, to) in log.iter() {
        assert_eq!(from, state, "transitions chain");
        assert!(valid_edge(from, to), "{from:?} -> {to:?}");
        state = to;
    }
    assert_eq!(state, breaker.state());
}

#[test]
fn consecutive_policy_under_four_threads_loses_nothing() {
    let config = Config::builder()
        .fail_max(3)
        .reset(Duration::from_millis(100))
        .success(2)
        .half_open(3)
        .build()
        .unwrap();
    hammer(config, 4, 20_000);
}

#[test]
fn windowed_policies_under_four_threads_lose_nothing() {
    let config = Config::builder()
        .fail_max(5)
        .within(Duration::from_secs(1))
        .failure_rate(60.0)
        .window_calls(20)
        .reset(Duration::from_millis(100))
        .backoff(1.5)
        .reset_max(Duration::from_secs(1))
        .build()
        .unwrap();
    hammer(config, 4, 20_000);
}
