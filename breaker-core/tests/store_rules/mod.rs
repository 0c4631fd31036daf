//! The rules every shared-state store obeys, written once and run against
//! each store (`memory_rules.rs`: the in-memory store on a manual clock;
//! `redis_rules.rs`: the Redis store against a real redis-server, on the
//! real clock). A store takes part through [`Fleet`]: replicas of one
//! breaker, a way to let what they wrote reach the others, and time.
//!
//! The rules are those of the Redis store's scripts (docs/shared-state.md,
//! "Atomicity", "Opening by quorum"): an opening is shared, a replica that
//! joins an Open starts Open with the time left, an operator's action
//! always wins, a trip restarts the period everywhere, at most `half_open`
//! trials across the replicas, a failed trial reopens every replica,
//! failures counted across replicas, and opening by quorum. Times are
//! checked within a tolerance, which the real clock needs.

#![allow(dead_code)]

use std::time::Duration;

use breaker_core::{Breaker, Config, Error, State};

/// How the store is set up for a rule.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Opening by quorum (1: off).
    pub quorum: u32,
    /// Failures counted across replicas.
    pub cluster_failures: bool,
}

/// Replicas sharing one store.
pub trait Fleet {
    /// The breaker `db` of replica `replica` (a replica of its own, joined
    /// to the store, made on first use), configured as `config`.
    fn breaker(&mut self, replica: &str, config: Config) -> Breaker;
    /// Lets what every replica wrote reach the others.
    fn settle(&mut self);
    /// Lets time pass by `by`.
    fn pass(&mut self, by: Duration);
}

/// An open period no test waits out.
const LONG: Duration = Duration::from_secs(30);
/// An open period a test waits out (for real, against Redis).
const SHORT: Duration = Duration::from_millis(400);
/// What a time read on the real clock may be off by.
const SLACK: Duration = Duration::from_millis(300);

fn config(reset: Duration) -> Config {
    Config::builder()
        .fail_max(2)
        .reset(reset)
        .success(2)
        .half_open(2)
        .build()
        .unwrap()
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

fn open(b: &Breaker) {
    fail(b);
    fail(b);
    assert_eq!(b.state(), State::Open);
}

fn retry_after(b: &Breaker) -> Duration {
    match b.acquire() {
        Err(Error::Rejected {
            retry_after: Some(r),
            ..
        }) => r,
        other => panic!("expected an Open rejection, got {:?}", other.map(|_| ())),
    }
}

fn near(actual: Duration, expected: Duration) -> bool {
    actual <= expected && actual + SLACK >= expected
}

/// The remote reason of a breaker that adopted an opening.
fn reason(b: &Breaker) -> String {
    b.open_reason()
        .map(|r| r.reason.to_string())
        .unwrap_or_default()
}

/// One replica's opening opens every other, reported as remote, with the
/// opener's period.
pub fn an_opening_is_shared(fleet: &mut dyn Fleet) {
    let [a, b, c] = ["a", "b", "c"].map(|r| fleet.breaker(r, config(LONG)));
    fleet.settle();
    open(&a);
    fleet.settle();
    for other in [&b, &c] {
        assert_eq!(other.state(), State::Open);
        assert_eq!(reason(other), "remote: 2 consecutive failures");
        let left = retry_after(other);
        assert!(near(left, LONG), "{left:?}");
    }
}

/// A replica joining while the breaker is Open starts Open, with the time left.
pub fn a_joiner_starts_open_with_the_time_left(fleet: &mut dyn Fleet) {
    let a = fleet.breaker("a", config(LONG));
    open(&a);
    fleet.settle();
    fleet.pass(Duration::from_secs(1));
    let late = fleet.breaker("late", config(LONG));
    assert_eq!(late.state(), State::Open);
    let left = retry_after(&late);
    assert!(near(left, LONG - Duration::from_secs(1)), "{left:?}");
}

/// An operator's reset wins over the Open held, and reaches every replica.
pub fn an_operators_action_always_wins(fleet: &mut dyn Fleet) {
    let [a, b] = ["a", "b"].map(|r| fleet.breaker(r, config(LONG)));
    open(&a);
    fleet.settle();
    assert_eq!(b.state(), State::Open);
    b.reset();
    fleet.settle();
    assert_eq!(a.state(), State::Closed, "a reset wins over the Open held");
    b.force_open();
    fleet.settle();
    assert_eq!(a.state(), State::ForcedOpen);
    a.reset();
    fleet.settle();
    assert_eq!(b.state(), State::Closed);
}

/// `trip()` while Open restarts the open period on every replica.
pub fn a_trip_while_open_restarts_the_period_everywhere(fleet: &mut dyn Fleet) {
    let [a, b] = ["a", "b"].map(|r| fleet.breaker(r, config(LONG)));
    open(&a);
    fleet.settle();
    fleet.pass(Duration::from_secs(1));
    a.trip();
    fleet.settle();
    let left = retry_after(&b);
    assert!(near(left, LONG), "{left:?}");
}

/// At most `half_open` trials run at once across the replicas; a trial
/// that ends without ending the period gives its permit back.
pub fn at_most_half_open_trials_across_the_replicas(fleet: &mut dyn Fleet) {
    let [a, b, c] = ["a", "b", "c"].map(|r| fleet.breaker(r, config(SHORT)));
    fleet.settle();
    open(&a);
    fleet.settle();
    fleet.pass(SHORT + Duration::from_millis(50));
    let first = a.acquire().expect("a trial");
    let second = b.acquire().expect("a trial");
    match c.acquire() {
        Err(Error::Rejected {
            state: State::HalfOpen,
            retry_after: None,
            ..
        }) => {}
        other => panic!("the third trial: {:?}", other.map(|_| ())),
    }
    drop(first); // cancelled: the permit goes back
    fleet.settle();
    let third = c.acquire().expect("the permit came back");
    drop(third);
    drop(second);
}

/// A permit goes back only to the count it was taken from. The race this
/// closes: another replica's write clears the permits (its trial failed and
/// it reopened) while this replica's trial runs, before this replica hears
/// of the write; replicas that have not heard either take the new count's
/// permits; this trial, ending in what is still its half-open period, must
/// free none of them. Run against the in-memory store only, whose
/// deliveries wait for `settle`: a redis-server delivers within a
/// millisecond, too soon to hold the race open. The fleet simulation
/// (`sim/tests/fleet.rs`) runs it at scale against the same rules.
pub fn a_permit_cleared_by_a_write_frees_none_of_the_next(fleet: &mut dyn Fleet) {
    let [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(|r| fleet.breaker(r, config(SHORT)));
    fleet.settle();
    open(&a);
    fleet.settle();
    fleet.pass(SHORT + Duration::from_millis(50));
    let cleared = a.acquire().expect("a trial");
    fail(&b); // its trial fails: b reopens, and its write clears the permits
    // Not settled: no other replica has heard of b's write.
    let first = c.acquire().expect("a trial under the new count");
    let second = d.acquire().expect("a trial under the new count");
    drop(cleared); // ends in a's half-open period, and gives back nothing
    match e.acquire() {
        Err(Error::Rejected {
            state: State::HalfOpen,
            retry_after: None,
            ..
        }) => {}
        other => panic!("a third trial under the new count: {:?}", other.map(|_| ())),
    }
    drop(first);
    drop(second);
}

/// A trial failing in one replica reopens every replica.
pub fn a_failed_trial_reopens_every_replica(fleet: &mut dyn Fleet) {
    let [a, b] = ["a", "b"].map(|r| fleet.breaker(r, config(SHORT)));
    fleet.settle();
    open(&a);
    fleet.settle();
    fleet.pass(SHORT + Duration::from_millis(50));
    fail(&a); // the trial fails
    assert_eq!(a.state(), State::Open);
    fleet.settle();
    assert_eq!(b.state(), State::Open);
    let left = retry_after(&b);
    assert!(near(left, SHORT), "reopened with the period: {left:?}");
}

/// With failures counted across replicas, their sum opens every replica.
pub fn failures_across_replicas_open_every_replica(fleet: &mut dyn Fleet) {
    let config = || {
        Config::builder()
            .fail_max(3)
            .within(Duration::from_secs(10))
            .reset(LONG)
            .build()
            .unwrap()
    };
    let [a, b, c] = ["a", "b", "c"].map(|r| fleet.breaker(r, config()));
    fleet.settle();
    fail(&a);
    fail(&b);
    fleet.settle();
    assert_eq!(c.state(), State::Closed, "two failures of three");
    fail(&c);
    fleet.settle();
    for breaker in [&a, &b, &c] {
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(reason(breaker), "remote: 3 failures across replicas");
    }
}

/// A quorum of two keeps one replica's opening local (twice is still one),
/// and a second replica's opening within the period shares it.
pub fn a_quorum_of_two_holds_one_opening_and_shares_two(fleet: &mut dyn Fleet) {
    let [a, b, c] = ["a", "b", "c"].map(|r| fleet.breaker(r, config(LONG)));
    fleet.settle();
    open(&a);
    a.reset();
    fleet.settle();
    open(&a);
    fleet.settle();
    assert_eq!(
        b.state(),
        State::Closed,
        "one replica's opening stays local"
    );
    assert_eq!(c.state(), State::Closed);
    open(&b);
    fleet.settle();
    assert_eq!(c.state(), State::Open, "two replicas' openings are shared");
}

/// Runs every rule against the fleets `$fleet(options)` makes, one fresh
/// fleet a rule, as tests named after the rules.
#[macro_export]
macro_rules! rules {
    ($fleet:expr) => {
        #[test]
        fn an_opening_is_shared() {
            store_rules::an_opening_is_shared(&mut $fleet(store_rules::Options::default()));
        }
        #[test]
        fn a_joiner_starts_open_with_the_time_left() {
            store_rules::a_joiner_starts_open_with_the_time_left(&mut $fleet(
                store_rules::Options::default(),
            ));
        }
        #[test]
        fn an_operators_action_always_wins() {
            store_rules::an_operators_action_always_wins(&mut $fleet(
                store_rules::Options::default(),
            ));
        }
        #[test]
        fn a_trip_while_open_restarts_the_period_everywhere() {
            store_rules::a_trip_while_open_restarts_the_period_everywhere(&mut $fleet(
                store_rules::Options::default(),
            ));
        }
        #[test]
        fn at_most_half_open_trials_across_the_replicas() {
            store_rules::at_most_half_open_trials_across_the_replicas(&mut $fleet(
                store_rules::Options::default(),
            ));
        }
        #[test]
        fn a_failed_trial_reopens_every_replica() {
            store_rules::a_failed_trial_reopens_every_replica(&mut $fleet(
                store_rules::Options::default(),
            ));
        }
        #[test]
        fn failures_across_replicas_open_every_replica() {
            store_rules::failures_across_replicas_open_every_replica(&mut $fleet(
                store_rules::Options {
                    cluster_failures: true,
                    ..store_rules::Options::default()
                },
            ));
        }
        #[test]
        fn a_quorum_of_two_holds_one_opening_and_shares_two() {
            store_rules::a_quorum_of_two_holds_one_opening_and_shares_two(&mut $fleet(
                store_rules::Options {
                    quorum: 2,
                    ..store_rules::Options::default()
                },
            ));
        }
    };
}
