//! Reconfigurations shared through a real redis-server: a change made on
//! one replica reaches the others and is kept for replicas that join later;
//! during an outage it stays local and the latest change wins on return;
//! junk in the configuration hash is refused, reported once, and repaired by
//! the next honest change. (Across OS processes: `redis_replicas.rs`.)

mod redis_support;

use std::time::Duration;

use breaker_core::overrides::Source;
use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Registry};
use redis_support::{RedisServer, eventually, log};

const NAME: &str = "db";
/// What "soon" means for a message between two stores on loopback.
const SOON: Duration = Duration::from_secs(2);
const REFUSED: &str = "ignored bad shared state in Redis";

fn count(ns: &str, what: &str) -> usize {
    let field = format!("namespace={ns} ");
    log()
        .text()
        .lines()
        .filter(|l| l.contains(what) && l.contains(&field))
        .count()
}

fn store(server: &RedisServer, ns: &str) -> RedisStore {
    log();
    RedisStore::builder(server.url())
        .namespace(ns)
        .budget(Duration::from_millis(500))
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .connect()
        .expect("a store")
}

/// A breaker named [`NAME`] with `fail_max = 3` (its attribute, say) in a
/// registry of its own on `store`.
fn replica(store: &RedisStore) -> Breaker {
    replica_in(store).1
}

/// [`replica`], with its registry.
fn replica_in(store: &RedisStore) -> (Registry, Breaker) {
    let registry = Registry::new();
    registry.use_store(store.clone());
    let breaker = registry.get_or_create(NAME, || {
        "fail_max = 3, reset = 30s".parse::<Config>().unwrap()
    });
    (registry, breaker)
}

fn fail_max(b: &Breaker) -> Option<u32> {
    b.config().fail_max()
}

fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("a raw connection")
}

#[test]
fn a_change_reaches_every_replica_and_a_late_joiner() {
    let server = RedisServer::start();
    let (sa, sb) = (store(&server, "share"), store(&server, "share"));
    let (a, (b_registry, b)) = (replica(&sa), replica_in(&sb));
    assert_eq!(
        a.reconfigure("fail_max = 10, reset = 1m"),
        Ok(vec!["fail_max", "reset"])
    );
    assert!(eventually(SOON, || fail_max(&b) == Some(10)));
    assert_eq!(b.config().reset(), Duration::from_secs(60));
    // What b adopted shows as reconfigured to its operators.
    let sources = b_registry.config_sources(NAME).unwrap();
    let of = |key: &str| {
        sources
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.clone())
    };
    assert_eq!(of("fail_max"), Some(Source::Reconfigured));
    assert_eq!(of("reset"), Some(Source::Reconfigured));
    assert_eq!(of("success"), Some(Source::Default));

    // Started after the change, with its own `fail_max = 3`: the change wins.
    let sc = store(&server, "share");
    let c = replica(&sc);
    assert!(eventually(SOON, || fail_max(&c) == Some(10)));
    assert_eq!(c.config().to_keys(), "fail_max = 10, reset = 1m");

    // A change adopted from Redis is not written back: the hash holds a's.
    let mut conn = raw(&server);
    let origin: String = redis::cmd("HGET")
        .arg("share:db:config")
        .arg("_origin")
        .query(&mut conn)
        .unwrap();
    let again: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("share:db:config")
        .query(&mut conn)
        .unwrap();
    assert_eq!(again.len(), 4, "{again:?}");
    assert!(!origin.is_empty());

    // A later change elsewhere wins everywhere, the state untouched.
    b.acquire().unwrap().failure();
    assert_eq!(
        c.reconfigure("success = 4"),
        Ok(vec!["success", "half_open"])
    );
    assert!(eventually(SOON, || a.config().success() == 4
        && b.config().success() == 4));
    assert_eq!(fail_max(&a), Some(10), "the earlier keys are kept");
    assert_eq!(b.stats().consecutive_failures, 1);
}

#[test]
fn during_an_outage_a_change_stays_local_and_the_latest_wins_on_return() {
    let mut server = RedisServer::start();
    let port = server.port;
    let (sa, sb) = (store(&server, "outage"), store(&server, "outage"));
    let (a, b) = (replica(&sa), replica(&sb));
    server.kill();
    assert!(eventually(SOON, || !sa.is_connected() && !sb.is_connected()));

    a.reconfigure("fail_max = 7").unwrap();
    assert_eq!(fail_max(&a), Some(7), "it takes effect locally at once");
    assert_eq!(fail_max(&b), Some(3));
    std::thread::sleep(Duration::from_millis(50));
    b.reconfigure("fail_max = 9").unwrap();

    let _server = RedisServer::start_on(port);
    assert!(eventually(Duration::from_secs(5), || sa.is_connected()
        && sb.is_connected()));
    assert!(
        eventually(Duration::from_secs(5), || fail_max(&a) == Some(9)
            && fail_max(&b) == Some(9)),
        "a: {:?}, b: {:?}",
        fail_max(&a),
        fail_max(&b)
    );
}

/// The fields of a configuration hash, as written raw.
type Fields<'a> = &'a [(&'a str, &'a str)];

#[test]
fn junk_in_the_configuration_hash_is_refused_once_and_repaired() {
    let server = RedisServer::start();
    let (sa, sb) = (store(&server, "junk"), store(&server, "junk"));
    let (a, b) = (replica(&sa), replica(&sb));
    let mut conn = raw(&server);
    let announce = |conn: &mut redis::Connection, at: &str| {
        let _: () = redis::cmd("PUBLISH")
            .arg("junk:configs")
            .arg(format!("{at}\nsomeone\n{NAME}"))
            .query(conn)
            .unwrap();
    };
    let write = |conn: &mut redis::Connection, fields: &[(&str, &str)]| {
        let _: () = redis::cmd("DEL").arg("junk:db:config").query(conn).unwrap();
        let mut hset = redis::cmd("HSET");
        hset.arg("junk:db:config");
        for (field, value) in fields {
            hset.arg(*field).arg(*value);
        }
        let _: () = hset.query(conn).unwrap();
    };
    // Each kind of junk in turn, each left in place until both replicas have
    // read and refused it (a replica reads the hash when it hears of it, so
    // junk overwritten before it reads is never seen): then more of the same
    // kind is reported no more.
    let kinds: [(&str, [Fields; 3]); 2] = [
        (
            "a reconfiguration this breaker refuses",
            [
                &[("_at", "100"), ("fail_max", "banana")],
                &[("_at", "101"), ("fail_mx", "4")],
                &[("_at", "102"), ("fail_max", "0")],
            ],
        ),
        (
            "a reconfiguration without a valid time",
            [
                &[("_at", "soon"), ("fail_max", "4")],
                &[("fail_max", "4")],
                &[("_at", "99999999999999999"), ("fail_max", "4")],
            ],
        ),
    ];
    let mut at = 200;
    for (kind, cases) in kinds {
        write(&mut conn, cases[0]);
        announce(&mut conn, &at.to_string());
        assert!(
            eventually(SOON, || count("junk", kind) == 2),
            "{kind}: reported {} times",
            count("junk", kind)
        );
        for case in &cases[1..] {
            at += 1;
            write(&mut conn, case);
            announce(&mut conn, &at.to_string());
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            count("junk", kind),
            2,
            "{kind}: once per replica, not once per read"
        );
        at += 1;
    }
    // A key of another type: bad data, not an outage.
    let _: () = redis::cmd("DEL")
        .arg("junk:db:config")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("junk:db:config")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    announce(&mut conn, "300");
    let reply = "an error reply from Redis";
    assert!(eventually(SOON, || count("junk", reply) == 2));
    announce(&mut conn, "301");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count("junk", reply), 2, "once per replica");
    assert_eq!(
        count("junk", REFUSED),
        6,
        "three kinds, once per replica each"
    );
    assert_eq!(fail_max(&b), Some(3), "junk changes nothing");
    assert!(sb.is_connected(), "junk is not an outage");

    // The next honest change replaces the junk whole.
    a.reconfigure("fail_max = 6").unwrap();
    assert!(eventually(SOON, || fail_max(&b) == Some(6)));
    let held: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("junk:db:config")
        .query(&mut conn)
        .unwrap();
    assert!(
        held.iter().any(|(k, v)| k == "fail_max" && v == "6"),
        "{held:?}"
    );
}

/// Two replicas of a breaker that opens on one failure for 200 ms, closes on
/// one good trial, and ramps for an hour.
fn ramped(server: &RedisServer, ns: &str) -> (RedisStore, Breaker, RedisStore, Breaker) {
    let replica = |store: &RedisStore| {
        let registry = Registry::new();
        registry.use_store(store.clone());
        registry.get_or_create("ramped", || {
            "fail_max = 1, reset = 200ms, success = 1, ramp = 1h"
                .parse::<Config>()
                .unwrap()
        })
    };
    let (sa, sb) = (store(server, ns), store(server, ns));
    let (a, b) = (replica(&sa), replica(&sb));
    (sa, a, sb, b)
}

#[test]
fn a_replica_adopting_a_close_on_trials_ramps_from_the_close() {
    let server = RedisServer::start();
    let (_sa, a, _sb, b) = ramped(&server, "ramp");
    a.acquire().unwrap().failure();
    assert!(eventually(SOON, || b.state() == breaker_core::State::Open));
    std::thread::sleep(Duration::from_millis(250));
    a.acquire().expect("the trial").success();
    assert_eq!(a.state(), breaker_core::State::Closed);
    assert!(a.stats().ramp_share.is_some_and(|s| s < 0.2));
    assert!(eventually(SOON, || b.state() == breaker_core::State::Closed));
    let share = b.stats().ramp_share;
    assert!(
        share.is_some_and(|s| (0.1..0.2).contains(&s)),
        "the adopting replica ramps from the close: {share:?}"
    );
}

#[test]
fn a_replica_adopting_a_reset_does_not_ramp() {
    let server = RedisServer::start();
    let (_sa, a, _sb, b) = ramped(&server, "noramp");
    a.trip();
    assert!(eventually(SOON, || b.state() == breaker_core::State::Open));
    a.reset();
    assert!(eventually(SOON, || b.state() == breaker_core::State::Closed));
    assert_eq!(
        b.stats().ramp_share,
        None,
        "an operator's reset closes outright"
    );
}
