//! A keyed breaker's clock switched from the real one to another: the next
//! call of a key stamps its use on the new clock, though the key was stamped
//! on the real one an instant before, within one tick of its recent reading.
//! Installing the clock puts the tick out (`clock::tick`), so no thread skips
//! the stamp because the tick looks the same. Its own test binary, so that the
//! first calls run while no other clock than the real one lives in the
//! process, the case in which calls within one tick skip the stamp.

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Error, Registry};

#[test]
fn a_call_right_after_the_clock_is_switched_stamps_on_the_new_clock() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let hosts: KeyedBreaker<String> = KeyedBreaker::builder("switched")
        .idle(Duration::from_secs(10))
        .registry(registry)
        .build()
        .unwrap();
    let ok = |key: &str| hosts.call(key, || Ok::<(), Error>(())).unwrap();
    // Created, then remembered by this thread: the clock's ticking thread
    // starts on the first reading, and ticks within a millisecond.
    ok("a");
    ok("a");
    std::thread::sleep(Duration::from_millis(50));
    // Stamped on the real clock (nanoseconds since boot), then called again
    // within the tick, which skips the stamp: the case the switch must not hit.
    ok("a");
    ok("a");
    // The new clock reads far ahead of the real one's time since it started.
    let manual = ManualClock::new();
    manual.advance(Duration::from_secs(1000));
    registry.use_clock(manual.clone());
    // At once, within the tick the key was stamped at.
    ok("a");
    manual.advance(Duration::from_secs(5));
    // Stamped at 1000 s on the manual clock, so used 5 s ago: not idle.
    // Stamped on the real clock alone (some milliseconds), it would look
    // idle for 1000 s.
    assert_eq!(hosts.sweep(), 0, "the key's use was not stamped anew");
    assert!(hosts.peek("a").is_some());
    // And it does go idle on the new clock.
    manual.advance(Duration::from_secs(6));
    assert_eq!(hosts.sweep(), 1);
}
