//! A key called again and again on the real clock keeps its use fresh, though
//! a thread stamps it at most once a tick of the clock's recent reading
//! (`clock::tick`): a key in use never goes idle, a key left alone does. Its
//! own test binary, so that no other clock than the real one lives in the
//! process, the case in which calls within one tick skip the stamp. Real
//! clock, bounded (2.5 s), with margins far beyond a tick.

use std::time::{Duration, Instant};

use breaker_core::Error;
use breaker_core::keyed::KeyedBreaker;

#[test]
fn a_key_in_use_on_the_real_clock_never_goes_idle_and_one_left_alone_does() {
    let hosts: KeyedBreaker<String> = KeyedBreaker::builder("ticks")
        .idle(Duration::from_secs(1))
        .build()
        .unwrap();
    let ok = |key: &str| hosts.call(key, || Ok::<(), Error>(())).unwrap();
    ok("left");
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < Duration::from_millis(2500) {
        ok("used");
        calls += 1;
        hosts.sweep();
        // Just called: its use is at most a tick and the clock's resolution
        // old, a thousandth of `idle`.
        assert!(
            hosts.peek("used").is_some(),
            "swept as idle {:?} in, after {calls} calls",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    hosts.sweep();
    assert!(
        hosts.peek("left").is_none(),
        "not called for 2.5 s, idle after 1 s"
    );
    assert!(hosts.peek("used").is_some());
}
