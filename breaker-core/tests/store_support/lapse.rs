//! A trial that outlives `trial_ttl` in one process loses its permit: a
//! taking after the lease lapsed starts a new count. Given back late, the
//! lapsed permit must free none of the new count's, or one trial more than
//! `half_open` starts across the processes. The table stores run it each
//! against their own server or file.

use std::time::Duration;

use breaker_core::{Breaker, Config, Error, State};

use super::{eventually, unix_ms};

/// A breaker open for `reset` that takes one trial at a time across the
/// processes, and closes on the second success (so one success gives its
/// permit back): what the lapse and the stores' other trial tests run.
pub fn one_trial_config(reset: Duration) -> Config {
    Config::builder()
        .fail_max(1)
        .reset(reset)
        .success(2)
        .half_open(1)
        .build()
        .unwrap()
}

/// Runs the lapse on three breakers of one name, each in a store of its
/// own, each allowing one trial and opening for `reset`: `a`'s store leases
/// permits for 50 ms, `b`'s and `c`'s for much longer. `flush_a` and
/// `flush_b` wait until their store has written what its breaker did.
pub fn a_lapsed_permit_frees_none_of_the_new_count(
    [a, b, c]: [&Breaker; 3],
    reset: Duration,
    flush_a: impl Fn() -> bool,
    flush_b: impl Fn() -> bool,
    soon: Duration,
) {
    a.trip();
    let ends = unix_ms() + reset.as_millis() as u64;
    assert!(flush_a());
    assert!(
        eventually(soon, || b.state() == State::Open
            && c.state() == State::Open),
        "B and C adopt A's Open"
    );
    sleep_until(ends + 300); // the open period ends everywhere

    let first = a.acquire().expect("the first trial after the period");
    std::thread::sleep(Duration::from_millis(300)); // its lease (50 ms) lapses
    let second = b
        .acquire()
        .expect("a trial: the only permit's lease lapsed");
    first.success(); // one of two successes: the permit goes back, late
    assert_eq!(a.state(), State::HalfOpen);
    assert!(flush_a());
    let refused = c.acquire();
    assert!(
        matches!(refused, Err(Error::Rejected { .. })),
        "a second trial while B's runs: {:?}",
        refused.map(|_| "admitted")
    );

    // B's permit goes back: C's next trial runs (the cap refused it, no fault).
    second.success();
    assert!(flush_b());
    c.acquire().expect("B's permit went back").success();
}

/// Sleeps until the wall clock reads `ms` (unix ms).
pub fn sleep_until(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms.saturating_sub(unix_ms())));
}
