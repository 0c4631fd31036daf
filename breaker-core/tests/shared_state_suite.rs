//! One suite of shared-state behaviours, run against every store: what a
//! user may count on whichever store their replicas share (docs/shared-state.md).
//! Each store's own tests (`redis_*.rs`, `sqlite_*.rs`) go further into what
//! is particular to it (outages, junk, its wire format).
//!
//! Every test below runs once per backend, each time against a real one: a
//! redis-server of its own, a SQLite file of its own, a PostgreSQL server of
//! its own, an in-memory store of its own (on the real clock; what one
//! replica writes reaches the others when its flush delivers it). Replicas are
//! registries of one process, each with a store of its own, as separate
//! processes would be (both stores' multi-process tests prove that much).
//! Real clock, bounded: waits poll for at most five seconds; periods are a
//! few seconds with margins of a second.

// The stores' supports include the shared `store_support`: a copy of it in
// this binary behind each is what it takes to use them all.
#![allow(clippy::duplicate_mod)]

mod postgres_support;
mod redis_support;
mod sqlite_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use breaker_core::clock::{Clock, MonotonicClock};
use breaker_core::store::memory::MemoryStore;
use breaker_core::store::postgres::PostgresStore;
use breaker_core::store::redis::RedisStore;
use breaker_core::store::sqlite::SqliteStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use postgres_support::PgServer;
use redis_support::{RedisServer, eventually};
use sqlite_support::TempDir;

const WAIT: Duration = Duration::from_secs(5);

/// Replicas made, for the names of the in-memory store's.
static REPLICAS: AtomicU64 = AtomicU64::new(0);

/// A store's server or file, for the life of one test.
enum Backend {
    Redis(RedisServer),
    Sqlite(TempDir),
    Postgres(PgServer),
    Memory(MemoryStore),
}

/// One replica: its registry, and a way to wait until its store has handled
/// everything asked of it.
struct Replica {
    registry: &'static Registry,
    flush: Box<dyn Fn() -> bool>,
}

impl Backend {
    fn every(test: &str) -> Vec<Backend> {
        vec![
            Backend::Redis(RedisServer::start()),
            Backend::Sqlite(TempDir::new(test)),
            Backend::Postgres(PgServer::start()),
            Backend::Memory(MemoryStore::new(MonotonicClock)),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Redis(_) => "redis",
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
            Backend::Memory(_) => "memory",
        }
    }

    fn replica(&self) -> Replica {
        let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
        let flush: Box<dyn Fn() -> bool> = match self {
            Backend::Redis(server) => {
                let store = RedisStore::builder(server.url())
                    .namespace("suite")
                    .budget(Duration::from_millis(500))
                    .connect()
                    .expect("a Redis store");
                assert!(store.is_connected());
                registry.use_store(store.clone());
                Box::new(move || store.flush(WAIT))
            }
            Backend::Sqlite(dir) => {
                let store = SqliteStore::builder(dir.file("breakers.db"))
                    .poll_interval(Duration::from_millis(20))
                    .budget(Duration::from_millis(500))
                    .open()
                    .expect("a SQLite store");
                registry.use_store(store.clone());
                Box::new(move || store.flush(WAIT))
            }
            Backend::Postgres(server) => {
                let store = PostgresStore::builder(server.url())
                    .budget(Duration::from_millis(500))
                    .open()
                    .expect("a PostgreSQL store");
                assert!(store.is_connected());
                registry.use_store(store.clone());
                Box::new(move || store.flush(WAIT))
            }
            Backend::Memory(space) => {
                // A replica of its own name: the registries made so far.
                let named = format!("replica-{}", REPLICAS.fetch_add(1, Ordering::Relaxed));
                let store = space.replica(&named);
                registry.use_store(store.clone());
                Box::new(move || {
                    store.deliver_until(MonotonicClock.now());
                    true
                })
            }
        };
        Replica { registry, flush }
    }
}

impl Replica {
    fn breaker(&self, config: &str) -> Breaker {
        let config: Config = config.parse().expect("a valid config");
        self.registry.get_or_create("db", || config)
    }
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

#[test]
fn an_opening_in_one_replica_opens_the_others() {
    for backend in Backend::every("suite-opening") {
        let (a, b) = (backend.replica(), backend.replica());
        let (in_a, in_b) = (
            a.breaker("fail_max = 2, reset = 30s"),
            b.breaker("fail_max = 2, reset = 30s"),
        );
        fail(&in_a);
        fail(&in_a);
        assert!((a.flush)());
        assert!(
            eventually(WAIT, || in_b.state() == State::Open),
            "{}: the other replica is {}",
            backend.name(),
            in_b.state()
        );
        let left = in_b.retry_after().expect("Open says when");
        assert!(
            left > Duration::from_secs(25),
            "{}: {left:?}",
            backend.name()
        );
    }
}

#[test]
fn a_replica_that_starts_while_open_starts_open_with_the_time_left() {
    for backend in Backend::every("suite-restart") {
        let a = backend.replica();
        let opened = a.breaker("fail_max = 1, reset = 4s");
        fail(&opened);
        assert!((a.flush)());
        std::thread::sleep(Duration::from_millis(1000));
        let late = backend.replica().breaker("fail_max = 1, reset = 4s");
        assert_eq!(late.state(), State::Open, "{}", backend.name());
        let left = late.retry_after().expect("Open says when");
        // About 3 s left: not the whole period again, not already over.
        assert!(
            left > Duration::from_millis(1500) && left <= Duration::from_secs(3),
            "{}: {left:?}",
            backend.name()
        );
    }
}

#[test]
fn an_operator_s_trip_and_reset_reach_every_replica() {
    for backend in Backend::every("suite-operator") {
        let (a, b) = (backend.replica(), backend.replica());
        let (in_a, in_b) = (a.breaker("reset = 30s"), b.breaker("reset = 30s"));
        in_a.trip();
        assert!((a.flush)());
        assert!(
            eventually(WAIT, || in_b.state() == State::Open),
            "{}: trip",
            backend.name()
        );
        in_a.reset();
        assert!((a.flush)());
        assert!(
            eventually(WAIT, || in_b.state() == State::Closed),
            "{}: reset",
            backend.name()
        );
    }
}

#[test]
fn half_open_trials_are_capped_across_replicas() {
    for backend in Backend::every("suite-trials") {
        let (a, b) = (backend.replica(), backend.replica());
        let config = "fail_max = 1, reset = 1s, half_open = 1, success = 1";
        let (in_a, in_b) = (a.breaker(config), b.breaker(config));
        fail(&in_a);
        assert!((a.flush)());
        assert!(
            eventually(WAIT, || in_b.state() == State::Open),
            "{}",
            backend.name()
        );
        std::thread::sleep(Duration::from_millis(1300));
        let trial = in_a.acquire().expect("the first trial after the period");
        assert_eq!(in_a.state(), State::HalfOpen);
        let refused = in_b.acquire();
        assert!(
            matches!(refused, Err(Error::Rejected { .. })),
            "{}: a second trial across replicas: {:?}",
            backend.name(),
            refused.map(|_| "admitted")
        );
        trial.success();
        assert_eq!(in_a.state(), State::Closed, "{}", backend.name());
    }
}
