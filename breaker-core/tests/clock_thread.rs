//! The thread that keeps the real clock's recent reading (`breaker-clock`)
//! runs only while cheap readings are taken: it starts with the first, stops
//! after a second without one, and starts again with the next. Its own test
//! binary, so that no other test keeps it reading. Real clock, bounded: each
//! wait polls for at most five seconds where one is needed.

#![cfg(target_os = "linux")]

use std::thread;
use std::time::{Duration, Instant};

use breaker_core::clock::{Clock, MonotonicClock};

fn clock_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == "breaker-clock")
        .count()
}

/// Polls until `done` holds; false after five seconds.
fn within_five_seconds(done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn the_clock_thread_runs_only_while_cheap_readings_are_taken() {
    let _ = MonotonicClock.now();
    assert_eq!(clock_threads(), 0, "a precise reading starts no thread");
    for round in 0..2 {
        let (early, _) = MonotonicClock.coarse();
        assert!(early <= MonotonicClock.now());
        assert!(
            within_five_seconds(|| clock_threads() == 1),
            "round {round}: no thread after a cheap reading"
        );
        // Readings keep it: half a second of them, and it is still there.
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            let _ = MonotonicClock.coarse();
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(clock_threads(), 1, "round {round}: one thread while read");
        assert!(
            within_five_seconds(|| clock_threads() == 0),
            "round {round}: the thread outlived a second without readings"
        );
    }
}
