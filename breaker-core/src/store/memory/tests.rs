//! Each rule of the in-memory store, through real breakers on a manual
//! clock: the Redis store's rules (`store/redis/scripts.rs`), the link
//! delay, partitions and their reconciliation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::{Config, Error, Reason, Registry, State};

const RESET: Duration = Duration::from_secs(30);

/// A fleet of `n` replicas (named 1..=n), each a registry on one clock.
struct Fleet {
    clock: ManualClock,
    store: MemoryStore,
    replicas: Vec<(MemoryStore, Registry)>,
}

impl Fleet {
    fn new(n: usize, builder: MemoryStoreBuilder) -> Fleet {
        let clock = ManualClock::new();
        let store = builder.record_writes(true).build(clock.clone());
        let replicas = (1..=n)
            .map(|i| {
                let handle = store.replica(&i.to_string());
                let registry = Registry::new();
                registry.use_clock(clock.clone());
                registry.use_store(handle.clone());
                (handle, registry)
            })
            .collect();
        Fleet {
            clock,
            store,
            replicas,
        }
    }

    fn breakers(&self, config: &Config) -> Vec<crate::Breaker> {
        self.replicas
            .iter()
            .map(|(_, r)| r.get_or_create("db", || config.clone()))
            .collect()
    }

    /// Moves time on by `by`, delivering what falls due on the way, each
    /// at its own time.
    fn advance(&self, by: Duration) {
        let until = self.clock.now() + by;
        while let Some(due) = self.store.next_due().filter(|&d| d <= until) {
            self.clock.set(due.max(self.clock.now()));
            self.store.deliver_until(due);
        }
        self.clock.set(until);
    }

    /// Delivers what is due now.
    fn settle(&self) {
        self.advance(Duration::ZERO);
    }

    /// Replica 0 of `b` (`fail_max = 1`) fails, every replica hears its
    /// opening, and the open period ends: each one's next call is a trial.
    fn trials_due(&self, b: &[crate::Breaker]) {
        fail(&b[0]);
        self.settle();
        self.advance(RESET);
    }
}

fn config() -> Config {
    Config::builder()
        .fail_max(2)
        .reset(RESET)
        .success(2)
        .build()
        .unwrap()
}

/// One failure opens it, for `RESET`; `success` trials close it, at most
/// `half_open` at once.
fn trial_config(success: u32, half_open: u32) -> Config {
    Config::builder()
        .fail_max(1)
        .reset(RESET)
        .success(success)
        .half_open(half_open)
        .build()
        .unwrap()
}

fn fail(b: &crate::Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("x".into(), Duration::ZERO)));
}

fn succeed(b: &crate::Breaker) -> bool {
    b.call(|| Ok::<(), Error>(())).is_ok()
}

fn open(b: &crate::Breaker) {
    fail(b);
    fail(b);
    assert_eq!(b.state(), State::Open);
}

fn retry_after(b: &crate::Breaker) -> Option<Duration> {
    b.call(|| Ok::<(), Error>(())).unwrap_err().retry_after()
}

#[test]
fn an_opening_reaches_the_other_replicas_after_the_link_delay() {
    let fleet = Fleet::new(
        3,
        MemoryStore::builder().link_delay(Duration::from_millis(5)),
    );
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.advance(Duration::from_millis(4));
    assert_eq!(b[1].state(), State::Closed, "not before the link delay");
    fleet.advance(Duration::from_millis(1));
    assert_eq!(b[1].state(), State::Open);
    assert_eq!(b[2].state(), State::Open);
    assert_eq!(
        retry_after(&b[1]),
        Some(RESET - Duration::from_millis(5)),
        "every replica's Open ends when the first's does"
    );
    let shared = fleet.store.shared("db").unwrap();
    assert_eq!(shared.state, State::Open);
    assert_eq!(&*shared.reason, "2 consecutive failures");
}

#[test]
fn an_adopted_state_is_reported_as_remote_and_never_written_back() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let seen = reasons.clone();
    b[1].on_transition(move |t| seen.lock().unwrap().push(t.reason.to_string()));
    open(&b[0]);
    fleet.settle();
    assert_eq!(*reasons.lock().unwrap(), ["remote: 2 consecutive failures"]);
    let writes = fleet.store.take_writes();
    assert_eq!(writes.len(), 1, "one write, by the replica that opened");
    assert_eq!(writes[0].replica.as_deref(), Some("1"));
}

#[test]
fn a_replica_joining_while_open_starts_open_with_the_time_left() {
    let fleet = Fleet::new(1, MemoryStore::builder());
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.advance(Duration::from_secs(10));
    let late = Registry::new();
    late.use_clock(fleet.clock.clone());
    late.use_store(fleet.store.replica("late"));
    let joined = late.get_or_create("db", config);
    assert_eq!(joined.state(), State::Open);
    assert_eq!(retry_after(&joined), Some(Duration::from_secs(20)));
}

#[test]
fn opening_while_an_open_is_held_joins_it_and_the_first_deadline_stands() {
    let fleet = Fleet::new(
        2,
        MemoryStore::builder().link_delay(Duration::from_millis(10)),
    );
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.advance(Duration::from_millis(3));
    open(&b[1]); // before the first opening reached it
    fleet.settle();
    assert_eq!(
        retry_after(&b[1]),
        Some(RESET - Duration::from_millis(3)),
        "joined: the first opener's deadline"
    );
    assert_eq!(fleet.store.take_writes().len(), 1, "the join wrote nothing");
}

#[test]
fn an_open_held_elsewhere_wins_over_a_local_close() {
    let fleet = Fleet::new(2, MemoryStore::builder().link_delay(Duration::from_secs(1)));
    let b = fleet.breakers(
        &Config::builder()
            .fail_max(1)
            .reset(RESET)
            .success(1)
            .build()
            .unwrap(),
    );
    fail(&b[0]);
    fleet.advance(Duration::from_secs(1));
    fleet.advance(RESET);
    // Both half-open; the first trial on 0 fails (shared Open, not yet
    // heard by 1), the one on 1 succeeds: its close is overruled.
    fail(&b[0]);
    assert_eq!(b[0].state(), State::Open);
    assert!(succeed(&b[1]), "the trial runs");
    assert_eq!(b[1].state(), State::Closed, "locally closed, for now");
    fleet.settle();
    assert_eq!(b[1].state(), State::Open, "the Open held wins");
    assert_eq!(fleet.store.shared("db").unwrap().state, State::Open);
}

#[test]
fn an_operators_action_always_wins() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.settle();
    b[1].reset();
    fleet.settle();
    assert_eq!(
        b[0].state(),
        State::Closed,
        "a reset wins over the Open held"
    );
    b[1].force_open();
    fleet.settle();
    assert_eq!(b[0].state(), State::ForcedOpen);
    b[0].reset();
    fleet.settle();
    assert_eq!(b[1].state(), State::Closed);
    // A policy's close gives way to an operator's mode held.
    b[0].disable();
    fleet.settle();
    assert_eq!(b[1].state(), State::Disabled);
}

#[test]
fn a_trip_while_open_restarts_the_period_everywhere() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.settle();
    fleet.advance(Duration::from_secs(10));
    b[0].trip();
    fleet.settle();
    assert_eq!(retry_after(&b[1]), Some(RESET));
}

#[test]
fn no_more_than_half_open_trials_run_across_the_replicas() {
    let fleet = Fleet::new(3, MemoryStore::builder());
    let b = fleet.breakers(&trial_config(2, 2));
    fleet.trials_due(&b);
    let first = b[0].acquire().expect("a trial");
    let second = b[1].acquire().expect("a trial");
    assert_eq!(fleet.store.trials_taken("db"), 2);
    let refused = b[2].acquire().unwrap_err();
    assert!(matches!(
        refused,
        Error::Rejected {
            state: State::HalfOpen,
            retry_after: None,
            ..
        }
    ));
    first.success(); // not the last needed: its permit goes back
    assert_eq!(fleet.store.trials_taken("db"), 1);
    let third = b[2].acquire().expect("a permit came back");
    drop(third); // cancelled: back again
    drop(second);
    assert_eq!(fleet.store.trials_taken("db"), 0);
}

#[test]
fn trial_permits_lapse_after_the_trial_ttl() {
    let fleet = Fleet::new(2, MemoryStore::builder().trial_ttl(Duration::from_secs(10)));
    let b = fleet.breakers(&trial_config(1, 1));
    fleet.trials_due(&b);
    let held = b[0].acquire().expect("the one trial");
    assert!(b[1].acquire().is_err(), "the one permit is taken");
    fleet.advance(Duration::from_secs(10));
    let other = b[1].acquire().expect("the permit lapsed");
    drop(other);
    drop(held);
}

#[test]
fn a_write_clears_the_trial_permits() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&trial_config(2, 1));
    fleet.trials_due(&b);
    let trial = b[0].acquire().expect("a trial");
    trial.failure(); // reopens: a write, the counter cleared
    assert_eq!(fleet.store.trials_taken("db"), 0);
}

#[test]
fn failures_counted_across_replicas_open_every_replica_on_their_sum() {
    let fleet = Fleet::new(3, MemoryStore::builder().cluster_failures(true));
    let b = fleet.breakers(
        &Config::builder()
            .fail_max(3)
            .within(Duration::from_secs(10))
            .reset(RESET)
            .build()
            .unwrap(),
    );
    fail(&b[0]);
    fail(&b[1]);
    assert_eq!(b[2].state(), State::Closed);
    fail(&b[2]);
    fleet.settle();
    for breaker in &b {
        assert_eq!(breaker.state(), State::Open);
    }
    assert_eq!(
        &*fleet.store.shared("db").unwrap().reason,
        "3 failures across replicas"
    );
}

#[test]
fn failures_counted_across_replicas_lapse_with_their_window() {
    let fleet = Fleet::new(2, MemoryStore::builder().cluster_failures(true));
    let b = fleet.breakers(
        &Config::builder()
            .fail_max(3)
            .within(Duration::from_secs(10))
            .reset(RESET)
            .build()
            .unwrap(),
    );
    fail(&b[0]);
    fail(&b[1]);
    fleet.advance(Duration::from_secs(10));
    fail(&b[0]);
    fleet.settle();
    assert_eq!(b[1].state(), State::Closed, "the window began at the first");
}

#[test]
fn a_quorum_of_two_keeps_one_replica_s_opening_local_and_shares_the_second() {
    let fleet = Fleet::new(3, MemoryStore::builder().quorum(2));
    let b = fleet.breakers(&config());
    open(&b[0]);
    open(&b[0]); // one replica counts once
    fleet.settle();
    assert_eq!(b[1].state(), State::Closed, "one opening stays local");
    assert!(fleet.store.shared("db").is_none(), "nothing written");
    fleet.advance(Duration::from_secs(5));
    open(&b[1]);
    fleet.settle();
    assert_eq!(b[2].state(), State::Open, "two openings share it");
    assert_eq!(retry_after(&b[2]), Some(RESET));
}

#[test]
fn openings_further_apart_than_one_period_make_no_quorum() {
    let fleet = Fleet::new(2, MemoryStore::builder().quorum(2));
    let b = fleet.breakers(&config());
    open(&b[0]);
    fleet.advance(RESET + Duration::from_secs(1));
    open(&b[1]);
    fleet.settle();
    assert!(fleet.store.shared("db").is_none());
}

#[test]
fn a_trip_needs_no_quorum() {
    let fleet = Fleet::new(2, MemoryStore::builder().quorum(2));
    let b = fleet.breakers(&config());
    b[0].trip();
    fleet.settle();
    assert_eq!(b[1].state(), State::Open);
    assert_eq!(
        b[1].open_reason().unwrap().reason,
        Reason::Remote {
            reason: Arc::from("manual trip"),
        }
    );
}

#[test]
fn a_replica_cut_off_decides_trials_locally_and_loses_what_is_sent() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&trial_config(1, 1));
    fleet.trials_due(&b);
    let held = b[0].acquire().expect("the one permit");
    fleet.replicas[1].0.cut_off();
    let local = b[1]
        .acquire()
        .expect("decided locally: the store cannot tell");
    held.failure(); // shared Open, lost to the cut-off replica
    fleet.settle();
    assert_eq!(b[1].state(), State::HalfOpen, "it heard nothing");
    drop(local);
}

#[test]
fn a_transition_made_while_cut_off_is_written_when_the_replica_heals() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    fleet.replicas[0].0.cut_off();
    open(&b[0]);
    fleet.settle();
    assert!(fleet.store.shared("db").is_none(), "kept for later");
    fleet.advance(Duration::from_secs(10));
    fleet.replicas[0].0.heal();
    fleet.settle();
    assert_eq!(b[1].state(), State::Open, "written on healing, then heard");
    assert_eq!(
        retry_after(&b[1]),
        Some(Duration::from_secs(20)),
        "with the time left of the local Open"
    );
}

#[test]
fn an_open_written_while_a_replica_was_cut_off_wins_over_its_local_close_on_healing() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    fleet.replicas[1].0.cut_off();
    open(&b[0]);
    fleet.settle();
    b[1].trip();
    b[1].reset(); // an operator's reset, made while cut off: kept
    assert_eq!(b[1].state(), State::Closed);
    fleet.replicas[1].0.heal();
    fleet.settle();
    assert_eq!(
        (b[0].state(), b[1].state()),
        (State::Open, State::Open),
        "reconciled as a policy's close (as the Redis store does), it gives way"
    );
    // So does a policy's close made while cut off.
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(
        &Config::builder()
            .fail_max(1)
            .reset(RESET)
            .success(1)
            .build()
            .unwrap(),
    );
    fleet.trials_due(&b);
    fleet.replicas[1].0.cut_off();
    assert!(succeed(&b[1]), "a trial decided locally closes it");
    assert_eq!(b[1].state(), State::Closed);
    fleet.advance(Duration::from_secs(1));
    fail(&b[0]); // a trial on the other replica reopens it (shared)
    fleet.replicas[1].0.heal();
    fleet.settle();
    assert_eq!(b[1].state(), State::Open, "the Open held wins on healing");
}

#[test]
fn a_replica_that_heals_without_changes_takes_the_shared_state() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    fleet.replicas[1].0.cut_off();
    open(&b[0]);
    fleet.settle();
    assert_eq!(b[1].state(), State::Closed, "lost while cut off");
    fleet.advance(Duration::from_secs(5));
    fleet.replicas[1].0.heal();
    fleet.settle();
    assert_eq!(b[1].state(), State::Open);
    assert_eq!(retry_after(&b[1]), Some(RESET - Duration::from_secs(5)));
}

#[test]
fn epochs_grow_with_every_write() {
    let fleet = Fleet::new(2, MemoryStore::builder());
    let b = fleet.breakers(&config());
    open(&b[0]);
    b[0].reset();
    b[1].trip();
    let epochs: Vec<u64> = fleet
        .store
        .take_writes()
        .iter()
        .map(|w| w.shared.epoch)
        .collect();
    assert_eq!(epochs.len(), 3);
    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
}
