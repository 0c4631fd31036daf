//! Every rule of SEMANTICS.md "Reconfiguration", one behaviour a test, on a
//! manual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, Configured, State, Transition};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

struct Rig {
    breaker: Breaker,
    clock: ManualClock,
    moves: Arc<Mutex<Vec<Transition>>>,
    configured: Arc<Mutex<Vec<Configured>>>,
}

impl Rig {
    fn new(keys: &str) -> Rig {
        let clock = ManualClock::new();
        let config: Config = keys.parse().unwrap();
        let breaker = Breaker::with_clock("db", config, clock.clone());
        let moves = Arc::new(Mutex::new(Vec::new()));
        let sink = moves.clone();
        breaker.on_transition(move |t| sink.lock().unwrap().push(t.clone()));
        let configured = Arc::new(Mutex::new(Vec::new()));
        let sink = configured.clone();
        breaker.on_configured(move |c| sink.lock().unwrap().push(c.clone()));
        Rig {
            breaker,
            clock,
            moves,
            configured,
        }
    }

    fn ok(&self) -> bool {
        self.breaker.acquire().map(|p| p.success()).is_ok()
    }

    fn fail(&self) -> bool {
        self.breaker.acquire().map(|p| p.failure()).is_ok()
    }

    /// A call of `latency` that succeeds.
    fn ok_after(&self, latency: Duration) -> bool {
        let permit = self.breaker.acquire();
        self.clock.advance(latency);
        permit.map(|p| p.success()).is_ok()
    }

    fn fails(&self, n: usize) {
        for _ in 0..n {
            assert!(self.fail());
        }
    }

    fn oks(&self, n: usize) {
        for _ in 0..n {
            assert!(self.ok());
        }
    }

    fn set(&self, patch: &str) -> Vec<&'static str> {
        self.breaker.reconfigure(patch).unwrap()
    }

    fn state(&self) -> State {
        self.breaker.state()
    }

    fn reasons(&self) -> Vec<String> {
        let moves = self.moves.lock().unwrap();
        moves.iter().map(|t| t.reason.to_string()).collect()
    }

    fn transitions(&self) -> usize {
        self.moves.lock().unwrap().len()
    }

    fn configured(&self) -> Vec<String> {
        let configured = self.configured.lock().unwrap();
        configured.iter().map(Configured::keys_text).collect()
    }
}

// ---- the change itself ----------------------------------------------------

#[test]
fn an_invalid_result_changes_nothing_and_names_the_key() {
    let r = Rig::new("fail_max = 3, reset = 10s");
    let err = r
        .breaker
        .reconfigure("fail_max = 10, reset = 0s")
        .unwrap_err();
    assert_eq!(err.field(), "reset");
    let err = r.breaker.reconfigure("fail_mx = 10").unwrap_err();
    assert!(err.to_string().contains("did you mean `fail_max`"), "{err}");
    // Each key valid alone, the whole not: `slow_rate` needs `slow`.
    let err = r
        .breaker
        .reconfigure("fail_max = 4, slow_rate = 50")
        .unwrap_err();
    assert_eq!(err.field(), "slow_rate");
    assert_eq!(r.breaker.config().to_keys(), "fail_max = 3, reset = 10s");
    assert!(r.configured().is_empty());
    r.fails(3);
    assert_eq!(r.state(), State::Open, "the old configuration still rules");
}

#[test]
fn a_change_is_reported_once_with_the_changed_keys_in_key_order() {
    let r = Rig::new("fail_max = 3, reset = 10s");
    let changed = r.set("reset = 1m, fail_max = 10, success = 2");
    assert_eq!(
        changed,
        ["fail_max", "reset"],
        "success = 2 changes nothing"
    );
    assert_eq!(r.configured(), ["fail_max=10 reset=1m"]);
    let event = r.configured.lock().unwrap()[0].clone();
    assert_eq!(&*event.name, "db");
    assert_eq!(event.at, Duration::ZERO);
    assert_eq!(r.transitions(), 0, "no transition");
    assert_eq!(r.state(), State::Closed);
}

#[test]
fn a_change_of_no_value_reports_nothing() {
    let r = Rig::new("fail_max = 3, reset = 10s");
    assert!(r.set("fail_max = 3").is_empty());
    assert!(r.set("reset = 10000ms").is_empty());
    assert!(r.configured().is_empty());
    // The default's own value, written: nothing to report, but it is kept,
    // so the consecutive policy stays on beside a rate policy added later.
    let d = Rig::new("reset = 10s");
    assert!(d.set("fail_max = 5").is_empty());
    assert!(d.configured().is_empty());
    assert_eq!(d.breaker.config().fail_max(), Some(5));
    d.set("failure_rate = 90, window = 100");
    d.fails(5);
    assert_eq!(d.state(), State::Open);
}

#[test]
fn the_state_never_moves_and_calls_in_flight_are_not_stragglers() {
    let r = Rig::new("fail_max = 2, reset = 10s");
    let in_flight = r.breaker.acquire().unwrap();
    r.set("fail_max = 1, reset = 20s, success = 3");
    assert_eq!(r.state(), State::Closed);
    let recorded = in_flight.failure();
    assert!(!recorded.straggler, "the period did not end");
    assert_eq!(r.state(), State::Open, "its failure met the new threshold");
}

#[test]
fn the_latest_reconfiguration_wins() {
    let r = Rig::new("fail_max = 3");
    r.set("fail_max = 4");
    r.set("fail_max = 6, reset = 5s");
    r.set("reset = 7s");
    assert_eq!(r.breaker.config().to_keys(), "fail_max = 6, reset = 7s");
    assert_eq!(
        r.configured(),
        ["fail_max=4", "fail_max=6 reset=5s", "reset=7s"]
    );
}

// ---- trip policies --------------------------------------------------------

#[test]
fn a_new_fail_max_keeps_the_run_and_applies_at_the_next_outcome() {
    let r = Rig::new("fail_max = 5");
    r.fails(3);
    r.set("fail_max = 4");
    assert_eq!(r.state(), State::Closed, "nothing fed the policy yet");
    r.fails(1);
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.reasons(), ["4 consecutive failures"]);
}

#[test]
fn a_threshold_below_the_run_trips_at_the_next_failure_not_at_a_success() {
    let r = Rig::new("fail_max = 5");
    r.fails(3);
    r.set("fail_max = 2");
    assert_eq!(r.breaker.stats().consecutive_failures, 3, "kept");
    r.oks(1);
    assert_eq!(r.state(), State::Closed, "a success ends the run");
    r.fails(2);
    assert_eq!(r.state(), State::Open);

    let r = Rig::new("fail_max = 5");
    r.fails(3);
    r.set("fail_max = 2");
    r.fails(1);
    assert_eq!(r.reasons(), ["4 consecutive failures"]);
}

#[test]
fn a_policy_no_longer_active_is_dropped() {
    // The default consecutive policy gives way to the failure rate.
    let r = Rig::new("reset = 10s");
    r.fails(4);
    r.set("failure_rate = 50, window = 20");
    r.fails(10);
    assert_eq!(
        r.state(),
        State::Closed,
        "no consecutive policy, window not full"
    );
    assert_eq!(r.breaker.stats().consecutive_failures, 0);
}

#[test]
fn a_newly_active_consecutive_policy_starts_from_zero() {
    let r = Rig::new("failure_rate = 90, window = 100, reset = 10s");
    r.fails(4);
    let config = "fail_max = 5, reset = 10s".parse().unwrap();
    assert_eq!(
        r.breaker.reconfigure_to(config),
        ["fail_max", "failure_rate"]
    );
    r.fails(4);
    assert_eq!(r.state(), State::Closed, "the four before do not count");
    r.fails(1);
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.reasons(), ["5 consecutive failures"]);
}

#[test]
fn within_keeps_its_failures_for_a_new_fail_max_and_restarts_for_a_new_within() {
    let r = Rig::new("fail_max = 5, within = 10s");
    r.fails(3);
    r.set("fail_max = 4");
    r.fails(1);
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.reasons(), ["4 failures within 10s"]);

    let r = Rig::new("fail_max = 5, within = 10s");
    r.fails(3);
    r.set("fail_max = 4, within = 20s");
    r.fails(3);
    assert_eq!(r.state(), State::Closed, "the window started empty");
    r.fails(1);
    assert_eq!(r.state(), State::Open);
}

#[test]
fn a_new_failure_rate_keeps_the_window() {
    let r = Rig::new("failure_rate = 80, window = 4");
    r.fails(2);
    r.oks(1);
    r.set("failure_rate = 50");
    assert_eq!(r.state(), State::Closed);
    r.oks(1);
    assert_eq!(r.state(), State::Open, "2 of 4 reach the new 50%");
    assert_eq!(r.reasons(), ["2 of 4 calls failed (threshold 50%)"]);
}

#[test]
fn a_new_window_or_min_calls_empties_the_rate_policies() {
    for patch in ["window = 5", "min_calls = 3"] {
        let r = Rig::new("failure_rate = 50, window = 4");
        r.fails(3);
        r.set(patch);
        r.oks(2);
        assert_eq!(
            r.state(),
            State::Closed,
            "{patch}: the window started empty"
        );
        assert_eq!(r.breaker.stats().failure_rate, None, "{patch}");
    }
}

#[test]
fn a_default_min_calls_that_follows_the_window_empties_it_too() {
    let r = Rig::new("failure_rate = 50, window = 4, min_calls = 4");
    r.fails(3);
    assert!(r.set("window = 4").is_empty());
    r.fails(1);
    assert_eq!(r.state(), State::Open, "same window, same min_calls: kept");

    let r = Rig::new("failure_rate = 50, window = 4");
    r.fails(3);
    r.set("window = 6");
    r.fails(5);
    assert_eq!(
        r.state(),
        State::Closed,
        "min_calls follows the window to 6"
    );
    r.fails(1);
    assert_eq!(r.state(), State::Open);
}

#[test]
fn a_newly_active_slow_rate_starts_empty_beside_the_kept_failure_rate() {
    let r = Rig::new("failure_rate = 50, window = 4");
    assert!(r.ok_after(ms(200)));
    assert!(r.ok_after(ms(200)));
    r.set("slow = 100ms, slow_rate = 50");
    assert!(r.ok_after(ms(200)));
    assert_eq!(r.state(), State::Closed, "the slow-call rate counts 1 call");
    assert!(r.breaker.stats().slow_call_rate.is_none());
    assert!(r.fail());
    // The failure rate kept its 3 calls: 1 failure of 4 is below 50%.
    assert_eq!(r.state(), State::Closed);
    assert!(r.fail());
    assert_eq!(r.state(), State::Open, "2 failures of the last 4");
    assert_eq!(r.reasons(), ["2 of 4 calls failed (threshold 50%)"]);
}

#[test]
fn a_new_slow_restarts_the_slow_rate_only() {
    let r = Rig::new("slow = 100ms, slow_rate = 50, failure_rate = 50, window = 4");
    assert!(r.ok_after(ms(200)));
    assert!(r.fail());
    r.set("slow = 150ms");
    assert!(r.ok_after(ms(200)));
    assert!(r.ok_after(ms(200)));
    // Slow-call rate: 2 of its 2 calls, below min_calls 4; failure rate: 1 of 4.
    assert_eq!(r.state(), State::Closed);
    assert!(r.fail());
    assert_eq!(r.state(), State::Open, "failure rate 2 of the last 4");
    let r = Rig::new("slow = 100ms, slow_rate = 50, window = 4");
    assert!(r.ok_after(ms(200)));
    r.set("slow = 150ms");
    for _ in 0..3 {
        assert!(r.ok_after(ms(200)));
    }
    assert_eq!(
        r.state(),
        State::Closed,
        "3 slow calls of the restarted policy"
    );
    assert!(r.ok_after(ms(200)));
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.reasons(), ["4 of 4 calls slow (threshold 50%)"]);
}

#[test]
fn a_new_slow_rate_keeps_the_slow_calls() {
    let r = Rig::new("slow = 100ms, slow_rate = 90, window = 4");
    for _ in 0..3 {
        assert!(r.ok_after(ms(200)));
    }
    r.set("slow_rate = 50");
    assert!(r.ok());
    assert_eq!(r.state(), State::Open, "3 slow calls of 4");
}

#[test]
fn a_count_window_full_of_batched_successes_keeps_them() {
    let r = Rig::new("failure_rate = 50, window = 4, min_calls = 4");
    r.oks(4);
    // The window is full: these successes are counted without the lock.
    r.oks(6);
    r.fails(1);
    r.set("failure_rate = 25");
    assert_eq!(r.state(), State::Closed);
    r.oks(1);
    assert_eq!(
        r.state(),
        State::Open,
        "1 failure of the last 4 calls is 25%"
    );
}

#[test]
fn adaptive_keeps_its_counts_for_a_new_k_and_restarts_for_a_new_window() {
    let r = Rig::new("adaptive = 2, window = 10s");
    r.breaker.reseed(7);
    for _ in 0..20 {
        let _ = r.fail();
    }
    let before = r.breaker.stats().drop_probability.unwrap();
    assert!(before > 0.5, "{before}");
    r.set("adaptive = 1.5");
    let kept = r.breaker.stats().drop_probability.unwrap();
    assert!(kept > 0.5, "the counts are kept: {kept}");
    r.set("window = 20s");
    assert_eq!(r.breaker.stats().drop_probability, Some(0.0), "emptied");
}

// ---- Open and HalfOpen ----------------------------------------------------

#[test]
fn an_open_period_keeps_its_end_and_the_next_lasts_the_new_reset() {
    let r = Rig::new("fail_max = 1, reset = 10s");
    r.fails(1);
    r.clock.advance(secs(2));
    r.set("reset = 30s");
    r.clock.advance(secs(7));
    assert!(!r.ok(), "still open at 9s");
    assert_eq!(
        r.breaker.retry_after(),
        Some(secs(1)),
        "the end stays at 10s"
    );
    r.clock.advance(secs(1));
    assert!(r.fail(), "the trial at 10s fails");
    assert_eq!(r.state(), State::Open);
    assert_eq!(r.breaker.retry_after(), Some(secs(30)), "the new reset");
}

#[test]
fn backoff_grows_from_the_new_reset() {
    let r = Rig::new("fail_max = 1, reset = 10s, backoff = 2");
    r.fails(1);
    r.clock.advance(secs(10));
    assert!(r.fail());
    assert_eq!(r.breaker.retry_after(), Some(secs(20)), "grown once");
    r.set("reset = 1s");
    r.clock.advance(secs(20));
    assert!(r.fail());
    assert_eq!(
        r.breaker.retry_after(),
        Some(secs(1)),
        "restarted at the new reset"
    );
    r.clock.advance(secs(1));
    assert!(r.fail());
    assert_eq!(
        r.breaker.retry_after(),
        Some(secs(2)),
        "and grows from there"
    );
}

#[test]
fn a_new_reset_in_closed_is_the_next_opening() {
    let r = Rig::new("fail_max = 1, reset = 10s");
    r.set("reset = 3s");
    r.fails(1);
    assert_eq!(r.breaker.retry_after(), Some(secs(3)));
}

#[test]
fn half_open_trials_in_flight_go_on_and_new_limits_apply_to_the_next() {
    let r = Rig::new("fail_max = 1, reset = 1s, success = 3, half_open = 1");
    r.fails(1);
    r.clock.advance(secs(1));
    let trial = r.breaker.acquire().unwrap();
    assert_eq!(r.state(), State::HalfOpen);
    assert!(r.breaker.acquire().is_err(), "one trial at a time");
    r.set("half_open = 2");
    let second = r
        .breaker
        .acquire()
        .expect("the new limit admits a second trial");
    assert!(!trial.success().straggler);
    assert!(!second.success().straggler);
    assert_eq!(r.state(), State::HalfOpen, "2 of 3 successes");
    r.set("success = 2");
    assert_eq!(r.state(), State::HalfOpen, "nothing ended yet");
    assert!(r.ok(), "the next successful trial closes");
    assert_eq!(r.state(), State::Closed);
    assert_eq!(r.reasons().last().unwrap(), "3 successful trials");
}

#[test]
fn forced_open_stays_until_reset_then_the_new_configuration_rules() {
    let r = Rig::new("fail_max = 3, reset = 10s");
    r.breaker.force_open();
    r.set("fail_max = 1");
    assert_eq!(r.state(), State::ForcedOpen);
    r.breaker.reset();
    r.fails(1);
    assert_eq!(r.state(), State::Open);
}

#[test]
fn metrics_only_dry_run_follows_the_new_configuration() {
    let r = Rig::new("fail_max = 3, reset = 10s");
    r.breaker.metrics_only();
    r.fails(2);
    r.set("fail_max = 2");
    assert_eq!(r.state(), State::MetricsOnly);
    r.fails(1);
    assert_eq!(r.state(), State::MetricsOnly, "it still admits everything");
    assert_eq!(r.breaker.stats().dry_run, Some(State::Open));
}

#[test]
fn the_config_shows_the_configuration_in_force() {
    let r = Rig::new("fail_max = 3");
    let before = r.breaker.config().clone();
    r.set("fail_max = 4");
    assert_eq!(
        before.fail_max(),
        Some(3),
        "a reference lent before stays valid"
    );
    assert_eq!(r.breaker.config().fail_max(), Some(4));
    assert_eq!(r.breaker.stats().state, State::Closed);
}

// ---- keyed breakers and the registry ----------------------------------------

#[test]
fn a_keyed_family_reconfigures_its_live_keys_and_makes_new_ones_with_it() {
    use breaker_core::Registry;
    use breaker_core::keyed::KeyedBreaker;

    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.use_clock(ManualClock::new());
    let hosts = KeyedBreaker::<String>::builder("hosts")
        .config("fail_max = 3".parse().unwrap())
        .registry(registry)
        .build()
        .unwrap();
    let a = hosts.get("a");
    a.acquire().unwrap().failure();
    a.acquire().unwrap().failure();
    assert_eq!(registry.reconfigure("hosts", "fail_max = 3"), Ok(vec![]));
    assert_eq!(
        registry.reconfigure("hosts", "fail_max = 4"),
        Ok(vec!["fail_max"])
    );
    assert_eq!(hosts.config().fail_max(), Some(4));
    assert_eq!(a.config().fail_max(), Some(4), "a live key");
    assert_eq!(a.stats().consecutive_failures, 2, "its run kept");
    assert_eq!(hosts.get("b").config().fail_max(), Some(4), "a new key");
    let refused = registry.reconfigure("hosts", "fail_max = 0").unwrap_err();
    assert!(refused.to_string().contains("fail_max"), "{refused}");
    assert_eq!(a.config().fail_max(), Some(4), "nothing changed");
    // A key's breaker is reconfigured alone by its own name.
    let name = hosts.key_name("a");
    assert_eq!(registry.reconfigure(&name, "reset = 5s"), Ok(vec!["reset"]));
    assert_eq!(hosts.get("b").config().reset(), secs(30));
    assert!(registry.reconfigure("nohosts", "reset = 5s").is_err());
}

#[test]
fn a_trip_while_open_after_a_new_reset_lets_backoff_grow_from_it() {
    let r = Rig::new("fail_max = 1, reset = 10s, backoff = 2");
    r.fails(1);
    r.clock.advance(secs(1));
    r.set("reset = 20s");
    r.clock.advance(secs(1));
    r.breaker.trip();
    assert_eq!(
        r.breaker.retry_after(),
        Some(secs(20)),
        "the trip lasts the new reset"
    );
    r.clock.advance(secs(20));
    assert!(r.fail(), "the trial fails");
    assert_eq!(
        r.breaker.retry_after(),
        Some(secs(40)),
        "grown from the trip's period"
    );
}

#[test]
fn a_time_window_only_adaptive_reads_is_kept_by_any_patch() {
    let r = Rig::new("adaptive = 1.5, window = 5s");
    assert_eq!(r.set("reset = 1m"), ["reset"]);
    assert_eq!(r.breaker.config().adaptive_window(), Some(secs(5)));
    // With a rate policy beside it on the default window, a later patch
    // does not write that default (which adaptive would refuse).
    let r = Rig::new("adaptive = 1, reset = 1ms");
    r.set("slow = 8ms, slow_rate = 50");
    assert_eq!(r.set("fail_max = 1"), ["fail_max"]);
}

#[test]
fn slow_judges_the_calls_admitted_while_it_is_set() {
    let r = Rig::new("failure_rate = 50, window = 10");
    let before = r.breaker.acquire().unwrap();
    r.set("slow = 100ms, slow_rate = 50");
    r.clock.advance(ms(200));
    assert!(!before.success().slow, "admitted untimed: never slow");
    assert!(r.ok_after(ms(200)));
    assert_eq!(
        r.breaker.stats().slow,
        1,
        "a call admitted after the change is"
    );
}

#[test]
fn a_newly_active_failure_rate_counts_its_own_calls_even_on_a_full_window() {
    // The window is full of calls the new policy does not count: a success
    // that pushes one out makes the policy's fifth call, and it trips.
    let r = Rig::new("slow = 10ms, slow_rate = 1, window = 5, reset = 1ms");
    r.oks(1);
    r.set("failure_rate = 27");
    r.fails(2);
    r.oks(2);
    assert_eq!(
        r.state(),
        State::Closed,
        "4 calls of its own, below min_calls 5"
    );
    r.oks(1);
    assert_eq!(r.state(), State::Open, "2 failures of its 5 calls");
    assert_eq!(r.reasons(), ["2 of 5 calls failed (threshold 27%)"]);
}

/// `config_sources` tells an operator which keys were changed live, whatever
/// changed them: the registry's own `reconfigure`, or the program calling
/// `Breaker::reconfigure` on a breaker it holds (the shared-state store's
/// adoption takes the same path: `tests/redis_config.rs`).
#[test]
fn every_live_change_shows_as_reconfigured_in_the_sources() {
    use breaker_core::Registry;
    use breaker_core::overrides::Source;

    let registry = Registry::new();
    let db = registry.get_or_create("db", || "fail_max = 3".parse::<Config>().unwrap());
    let source = |key: &str| {
        registry
            .config_sources("db")
            .unwrap()
            .into_iter()
            .find(|(k, _)| *k == key)
            .unwrap()
            .1
    };
    assert_eq!(source("fail_max"), Source::Code);
    assert_eq!(db.reconfigure("fail_max = 5"), Ok(vec!["fail_max"]));
    assert_eq!(
        source("fail_max"),
        Source::Reconfigured,
        "changed on the breaker"
    );
    assert_eq!(source("reset"), Source::Default);
    // A change through the registry keeps the earlier direct one.
    assert_eq!(registry.reconfigure("db", "reset = 1m"), Ok(vec!["reset"]));
    assert_eq!(source("fail_max"), Source::Reconfigured);
    assert_eq!(source("reset"), Source::Reconfigured);
    assert_eq!(source("success"), Source::Default);
    // A patch of the values in force changes nothing.
    assert_eq!(db.reconfigure("fail_max = 5"), Ok(vec![]));
    assert_eq!(source("fail_max"), Source::Reconfigured);
    assert_eq!(source("success"), Source::Default);
}
