//! Slow start after recovery (`ramp = D`), rule by rule, on a manual clock:
//! SEMANTICS.md "Slow start after recovery" and what docs/semantics.md pins.

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, ConfigBuilder, Shedding, State};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A breaker that opens on one failure for 1 s, closes on one good trial,
/// and ramps for 10 s; seeded, so its draws are the same at every run.
fn ramped() -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let config = "fail_max = 1, reset = 1s, success = 1, ramp = 10s"
        .parse()
        .unwrap();
    let breaker = Breaker::with_clock("db", config, clock.clone());
    breaker.reseed(42);
    (breaker, clock)
}

/// Opens and closes the breaker on a good trial: the ramp starts now.
fn recover(b: &Breaker, clock: &ManualClock) {
    b.acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    clock.advance(secs(1));
    b.acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
}

/// Of `n` calls that succeed at once, how many were admitted.
fn admitted(b: &Breaker, n: usize) -> usize {
    (0..n)
        .filter(|_| b.acquire().map(|p| p.success()).is_ok())
        .count()
}

#[test]
fn the_share_grows_from_a_tenth_to_all_over_the_ramp() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    assert_eq!(b.stats().ramp_share, Some(0.1));
    let at_start = admitted(&b, 10_000);
    assert!(
        (850..=1150).contains(&at_start),
        "{at_start} of 10000 at the start"
    );

    clock.advance(secs(5));
    assert_eq!(b.stats().ramp_share, Some(0.55));
    let halfway = admitted(&b, 10_000);
    assert!(
        (5250..=5750).contains(&halfway),
        "{halfway} of 10000 halfway"
    );

    clock.advance(Duration::from_millis(4_990));
    let late = admitted(&b, 10_000);
    assert!(late >= 9_850, "{late} of 10000 just before the end");

    clock.advance(Duration::from_millis(10));
    assert_eq!(b.stats().ramp_share, None, "over at tc + D");
    assert_eq!(admitted(&b, 1_000), 1_000, "every call, no draw");
}

#[test]
fn a_call_the_ramp_refuses_is_rejected_closed_without_retry_after_and_feeds_nothing() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    let before = b.stats();
    let refused = (0..100)
        .find_map(|_| b.acquire().map(|p| p.success()).err())
        .expect("some of 100 calls at a tenth are refused");
    assert!(refused.is_rejected());
    assert_eq!(refused.state(), Some(State::Closed));
    assert_eq!(refused.retry_after(), None);
    // It says why: the slow start, and the share it admitted at the close.
    assert_eq!(
        refused.shedding(),
        Some(Shedding::Ramp {
            admitting_permille: 100
        })
    );
    assert_eq!(refused.shedding().unwrap().admitting(), Some(0.1));
    assert_eq!(
        refused.to_string(),
        "circuit breaker `db` is closed; slow start after recovery, admitting 10% of calls"
    );
    let after = b.stats();
    assert!(after.rejected > before.rejected);
    assert_eq!(after.failures, before.failures, "a refusal is no failure");
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn there_is_no_ramp_at_creation_or_after_reset() {
    let (b, clock) = ramped();
    assert_eq!(b.stats().ramp_share, None);
    assert_eq!(admitted(&b, 1_000), 1_000, "a new breaker admits all");
    b.acquire().unwrap().failure();
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(admitted(&b, 1_000), 1_000, "reset() closes outright");
    // reset() while a ramp is under way ends it.
    clock.advance(secs(1));
    recover(&b, &clock);
    assert_eq!(b.stats().ramp_share, Some(0.1));
    b.reset();
    assert_eq!(b.stats().ramp_share, None);
    assert_eq!(admitted(&b, 1_000), 1_000);
}

#[test]
fn a_failure_during_the_ramp_reopens_and_the_next_close_ramps_again() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    clock.advance(secs(2));
    let permit = loop {
        if let Ok(permit) = b.acquire() {
            break permit;
        }
    };
    permit.failure();
    assert_eq!(
        b.state(),
        State::Open,
        "outcomes feed the policies as usual"
    );
    assert_eq!(b.stats().ramp_share, None, "leaving Closed ends the ramp");
    clock.advance(secs(1));
    b.acquire().unwrap().success();
    assert_eq!(
        b.stats().ramp_share,
        Some(0.1),
        "a new ramp from the new close"
    );
}

#[test]
fn a_new_ramp_applies_from_the_next_call_and_keeps_the_close_time() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    clock.advance(secs(5));
    assert_eq!(b.stats().ramp_share, Some(0.55));
    b.reconfigure("ramp = 20s").unwrap();
    assert_eq!(b.stats().ramp_share, Some(0.325), "5 s of 20 s");
    b.reconfigure("ramp = 4s").unwrap();
    assert_eq!(admitted(&b, 100), 100, "past the new ramp: over");
    assert_eq!(b.stats().ramp_share, None);
}

#[test]
fn ramp_with_adaptive_is_refused_at_the_key() {
    let err = Config::builder()
        .adaptive(1.5)
        .ramp(secs(10))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "ramp");
    assert!(err.to_string().contains("adaptive"), "{err}");
    let err = "adaptive = 2, ramp = 10s".parse::<Config>().unwrap_err();
    assert_eq!(err.field(), "ramp");
    let b = Breaker::new("db", "ramp = 10s".parse().unwrap());
    assert_eq!(b.reconfigure("adaptive = 2").unwrap_err().field(), "ramp");
    let _: ConfigBuilder = Config::builder().ramp(secs(1));
}

#[derive(Debug)]
struct AppError(#[allow(dead_code)] breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[breaker_core::circuit_breaker(ramped_quote, fail_max = 3, reset = 5s, ramp = 30s)]
fn quote() -> Result<u32, AppError> {
    Ok(1)
}

#[test]
fn the_attribute_takes_ramp() {
    assert_eq!(quote().unwrap(), 1);
    let breaker = breaker_core::registry().get("ramped_quote").unwrap();
    assert_eq!(breaker.config().ramp(), Some(secs(30)));
    assert_eq!(
        breaker.config().to_keys(),
        "fail_max = 3, reset = 5s, ramp = 30s"
    );
}

#[test]
fn a_ramp_over_before_a_longer_one_is_set_stays_over() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    // No call comes to see the 10 s ramp end.
    clock.advance(secs(11));
    b.reconfigure("ramp = 1h").unwrap();
    assert_eq!(b.stats().ramp_share, None);
    assert_eq!(admitted(&b, 1_000), 1_000, "no ramp comes back");
}

#[test]
fn a_rejection_during_the_ramp_carries_the_share_at_its_time() {
    let (b, clock) = ramped();
    recover(&b, &clock);
    clock.advance(Duration::from_millis(2_500));
    let refused = (0..1_000)
        .find_map(|_| b.acquire().map(|p| p.success()).err())
        .expect("some of 1000 calls at a third are refused");
    assert_eq!(
        refused.shedding(),
        Some(Shedding::Ramp {
            admitting_permille: 325
        }),
        "0.1 + 0.9 * 2.5 / 10"
    );
    assert!(
        refused.to_string().ends_with("admitting 32.5% of calls"),
        "{refused}"
    );
    // Past the ramp, nothing is shed, so no rejection says so.
    clock.advance(secs(8));
    assert_eq!(admitted(&b, 1_000), 1_000);
}

#[test]
fn the_dry_run_ramps_after_its_trials_close_and_counts_what_it_would_shed() {
    let (b, clock) = ramped();
    b.metrics_only();
    b.acquire().unwrap().failure();
    assert_eq!(b.stats().dry_run, Some(State::Open));
    clock.advance(secs(1));
    b.acquire().unwrap().success();
    assert_eq!(
        b.stats().dry_run,
        Some(State::Closed),
        "closed on its trial"
    );
    assert_eq!(b.stats().ramp_share, None, "the live breaker has no ramp");

    // Every call runs; about nine in ten at the close would have been shed.
    let before = b.stats().would_reject;
    assert_eq!(admitted(&b, 10_000), 10_000, "MetricsOnly admits all");
    let shed = b.stats().would_reject - before;
    assert!(
        (8_850..=9_150).contains(&shed),
        "{shed} of 10000 would be shed"
    );
    assert_eq!(b.stats().failures, 1, "a call it would shed feeds nothing");

    // Past the ramp it would shed none.
    clock.advance(secs(10));
    let before = b.stats().would_reject;
    admitted(&b, 1_000);
    assert_eq!(b.stats().would_reject, before);
}

#[test]
fn the_dry_run_s_ramp_ends_when_set_to_none_and_a_new_one_waits_for_a_close() {
    let (b, clock) = ramped();
    b.metrics_only();
    b.acquire().unwrap().failure();
    clock.advance(secs(1));
    b.acquire().unwrap().success();
    let unramped = "fail_max = 1, reset = 1s, success = 1".parse().unwrap();
    assert_eq!(b.reconfigure_to(unramped), ["ramp"]);
    let before = b.stats().would_reject;
    admitted(&b, 1_000);
    assert_eq!(b.stats().would_reject, before, "no ramp, none shed");
    // Set again, it starts none before the next close on trials.
    b.reconfigure("ramp = 10s").unwrap();
    admitted(&b, 1_000);
    assert_eq!(b.stats().would_reject, before);
}
