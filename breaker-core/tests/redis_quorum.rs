//! Opening by quorum (`RedisStoreBuilder::quorum`), against a real
//! redis-server: replicas are registries of one process, each with a store of
//! its own (its own connection and replica name), as separate processes would
//! be. Each test starts its own redis-server and namespace.
//!
//! Real clock, bounded: every wait for a replica to hear something polls for
//! at most five seconds, and what must *not* happen is checked after the
//! stores have flushed their writes and a subscriber has had a second to
//! deliver, far more than loopback needs.

mod redis_support;

use std::time::Duration;

use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use redis_support::{RedisServer, eventually, log};

const WAIT: Duration = Duration::from_secs(5);
/// Long enough for a message published on loopback to have arrived.
const QUIET: Duration = Duration::from_secs(1);

struct Replica {
    store: RedisStore,
    breaker: Breaker,
}

fn replica(server: &RedisServer, ns: &str, id: &str, quorum: u32, reset: Duration) -> Replica {
    log();
    let store = RedisStore::builder(server.url())
        .namespace(ns)
        .replica(id)
        .quorum(quorum)
        .budget(Duration::from_millis(500))
        .connect()
        .expect("a store");
    assert!(store.is_connected(), "{id}: not connected");
    let registry = Registry::new();
    registry.use_store(store.clone());
    let config = Config::builder().fail_max(2).reset(reset).build().unwrap();
    let breaker = registry.get_or_create("quorum", || config);
    Replica { store, breaker }
}

fn open(replica: &Replica) {
    for _ in 0..2 {
        let _ = replica
            .breaker
            .call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
    }
    assert_eq!(replica.breaker.state(), State::Open);
    assert!(replica.store.flush(WAIT), "the opening was not handled");
}

fn settled(replicas: &[&Replica]) {
    for r in replicas {
        assert!(r.store.flush(WAIT));
    }
    std::thread::sleep(QUIET);
}

fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("a raw connection")
}

#[test]
fn one_replica_s_opening_stays_local_and_a_second_within_the_period_shares_it() {
    let server = RedisServer::start();
    let reset = Duration::from_secs(30);
    let [a, b, c] = ["a", "b", "c"].map(|id| replica(&server, "q1", id, 2, reset));

    open(&a);
    settled(&[&a, &b, &c]);
    assert_eq!(b.breaker.state(), State::Closed, "one opening is local");
    assert_eq!(c.breaker.state(), State::Closed, "one opening is local");
    let state: Option<String> = redis::cmd("HGET")
        .arg("q1:quorum")
        .arg("state")
        .query(&mut raw(&server))
        .unwrap();
    assert_ne!(state.as_deref(), Some("open"), "nothing shared in Redis");

    open(&b);
    assert!(
        eventually(WAIT, || c.breaker.state() == State::Open),
        "two openings of a quorum of two open the fleet"
    );
    assert_eq!(a.breaker.state(), State::Open);
    let retry = c
        .breaker
        .call(|| Ok::<(), Error>(()))
        .unwrap_err()
        .retry_after()
        .expect("Open says when");
    assert!(
        retry > Duration::from_secs(25) && retry <= reset,
        "the shared period: {retry:?}"
    );
}

#[test]
fn openings_further_apart_than_one_period_do_not_make_a_quorum() {
    let server = RedisServer::start();
    let reset = Duration::from_millis(300);
    let [a, b, c] = ["a", "b", "c"].map(|id| replica(&server, "q2", id, 2, reset));

    open(&a);
    // Three periods later: a's opening is out of the window.
    std::thread::sleep(reset * 3);
    open(&b);
    settled(&[&a, &b, &c]);
    assert_eq!(
        c.breaker.state(),
        State::Closed,
        "two openings 900 ms apart, with a period of 300 ms, are not a quorum"
    );
}

#[test]
fn one_replica_opening_twice_is_one_opening() {
    let server = RedisServer::start();
    let reset = Duration::from_millis(200);
    let [a, b] = ["a", "b"].map(|id| replica(&server, "q3", id, 2, reset));
    open(&a);
    // Its period over, a's breaker half-opens on a call and opens again.
    std::thread::sleep(reset + Duration::from_millis(100));
    open(&a);
    settled(&[&a, &b]);
    assert_eq!(b.breaker.state(), State::Closed, "a alone is one replica");
}

#[test]
fn an_operator_s_trip_is_shared_at_once() {
    let server = RedisServer::start();
    let [a, b] = ["a", "b"].map(|id| replica(&server, "q4", id, 2, Duration::from_secs(30)));
    a.breaker.trip();
    assert!(
        eventually(WAIT, || b.breaker.state() == State::Open),
        "a trip needs no quorum"
    );
}

#[test]
fn a_quorum_out_of_reach_is_reported_once_and_the_opening_kept_local() {
    let server = RedisServer::start();
    let [a, b] = ["a", "b"].map(|id| replica(&server, "q5", id, 3, Duration::from_millis(200)));
    // Both listed among the replicas (each store does so on connecting).
    assert!(eventually(WAIT, || {
        let listed: u64 = redis::cmd("ZCARD")
            .arg("q5:replicas")
            .query(&mut raw(&server))
            .unwrap();
        listed == 2
    }));
    open(&a);
    std::thread::sleep(Duration::from_millis(300));
    open(&a);
    settled(&[&a, &b]);
    assert_eq!(b.breaker.state(), State::Closed);
    let reports: Vec<String> = log()
        .text()
        .lines()
        .filter(|l| l.contains("namespace=q5 ") && l.contains("cannot be reached"))
        .map(str::to_owned)
        .collect();
    assert_eq!(reports.len(), 1, "reported once: {reports:?}");
    assert!(reports[0].contains("quorum=3") && reports[0].contains("replicas=2"));
}

#[test]
fn junk_where_the_openings_and_replicas_are_is_replaced() {
    let server = RedisServer::start();
    let mut conn = raw(&server);
    let _: () = redis::cmd("SET")
        .arg("q6:quorum:openings")
        .arg("junk")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("q6:replicas")
        .arg("x")
        .arg("y")
        .query(&mut conn)
        .unwrap();
    let [a, b, c] =
        ["a", "b", "c"].map(|id| replica(&server, "q6", id, 2, Duration::from_secs(30)));
    open(&a);
    open(&b);
    assert!(
        eventually(WAIT, || c.breaker.state() == State::Open),
        "the quorum counts past the junk"
    );
}

#[test]
fn a_quorum_of_zero_is_refused() {
    let error = RedisStore::builder("redis://127.0.0.1:1/")
        .quorum(0)
        .connect()
        .unwrap_err();
    assert!(
        error.to_string().contains("quorum must be at least 1"),
        "{error}"
    );
}
