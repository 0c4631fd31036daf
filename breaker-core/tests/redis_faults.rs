//! Junk in Redis, and Redis misbehaving, against real redis-servers: what
//! an operator's typo or another version's bug writes into the store's keys
//! and channel is refused, reported once per kind and breaker, and never
//! taken for an outage; a frozen Redis makes no call wait past the budget; a
//! poisoned epoch cannot stop sharing once the keys are deleted.
//!
//! Every test starts its own redis-server and uses a namespace of its own:
//! the reports of all tests go to one tracing subscriber (the store reports
//! from its own thread, so a thread-local one would see nothing), and each
//! test counts the lines of its namespace.

mod redis_support;

use std::time::{Duration, Instant};

use breaker_core::clock::ManualClock;
use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use redis_support::{RedisServer, eventually, log};

const REFUSED: &str = "ignored bad shared state in Redis";
const DOWN: &str = "shared-state store unreachable";
const UP: &str = "shared-state store reachable again";
const NAME: &str = "db";
/// What "soon" means for a message between two stores on loopback.
const SOON: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// The reports: one global subscriber, lines counted by namespace.
// ---------------------------------------------------------------------------

/// The lines reported for namespace `ns` that contain `what`.
fn reports(ns: &str, what: &str) -> Vec<String> {
    let field = format!("namespace={ns} ");
    log()
        .text()
        .lines()
        .filter(|l| l.contains(what) && l.contains(&field))
        .map(str::to_owned)
        .collect()
}

fn count(ns: &str, what: &str) -> usize {
    reports(ns, what).len()
}

// ---------------------------------------------------------------------------
// Stores, breakers, and a raw connection to write the junk with.
// ---------------------------------------------------------------------------

fn store(server: &RedisServer, ns: &str) -> RedisStore {
    store_with(server, ns, Duration::from_millis(500))
}

fn store_with(server: &RedisServer, ns: &str, budget: Duration) -> RedisStore {
    log();
    let store = RedisStore::builder(server.url())
        .namespace(ns)
        .budget(budget)
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .connect()
        .expect("a store");
    assert!(store.is_connected());
    store
}

/// A breaker named [`NAME`] in a registry of its own on `store`, on a
/// manual clock: its open periods end only when the test says.
fn join(store: &RedisStore, config: Config) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let registry = Registry::new();
    registry.use_clock(clock.clone());
    registry.use_store(store.clone());
    (registry.get_or_create(NAME, || config), clock)
}

/// `reset` 500 ms, no backoff: its longest open period is 500 ms.
fn short() -> Config {
    Config::builder()
        .fail_max(2)
        .reset(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// `reset` 30 s: an Open that lasts the whole test.
fn long() -> Config {
    Config::builder()
        .fail_max(2)
        .reset(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn ok(b: &Breaker) -> Result<(), Error> {
    b.call(|| Ok::<(), Error>(()))
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("a raw connection")
}

/// Redis' clock: (ms, µs).
fn redis_now(conn: &mut redis::Connection) -> (u64, u64) {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(conn).unwrap();
    (secs * 1000 + micros / 1000, secs * 1_000_000 + micros)
}

fn write_hash(conn: &mut redis::Connection, ns: &str, fields: &[(&str, &[u8])]) {
    let key = format!("{ns}:{NAME}");
    let _: () = redis::cmd("DEL").arg(&key).query(conn).unwrap();
    let mut hset = redis::cmd("HSET");
    hset.arg(&key);
    for (field, value) in fields {
        hset.arg(*field).arg(*value);
    }
    let _: () = hset.query(conn).unwrap();
}

fn publish(conn: &mut redis::Connection, ns: &str, payload: &[u8]) {
    let _: () = redis::cmd("PUBLISH")
        .arg(format!("{ns}:transitions"))
        .arg(payload)
        .query(conn)
        .unwrap();
}

fn message(epoch: u64, state: &str, remaining_ms: u64, period_ms: u64) -> Vec<u8> {
    format!("{epoch}\n{state}\n{remaining_ms}\n{period_ms}\njunk-origin\n2\n{NAME}junk")
        .into_bytes()
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

#[test]
fn junk_in_each_field_of_the_hash_is_refused_once_per_kind_and_joiners_start_closed() {
    let ns = "faults-hash";
    let server = RedisServer::start();
    let store = store(&server, ns);
    let mut conn = raw(&server);
    let (now_ms, now_us) = redis_now(&mut conn);
    let (epoch, at) = (now_us.to_string(), now_ms.to_string());
    let sound: [(&str, &[u8]); 5] = [
        ("state", b"open"),
        ("epoch", epoch.as_bytes()),
        ("opened_at", at.as_bytes()),
        ("period", b"400"),
        ("reason", b"why"),
    ];
    let far = (now_ms + 10_000_000_000_000).to_string();
    let max = u64::MAX.to_string();
    let mut cases: Vec<(usize, &[u8])> = Vec::new();
    for field in 0..4 {
        for junk in [
            &b"abc"[..],
            b"-5",
            b"99999999999999999999999",
            b"",
            b"1.5",
            b"\xff\xfe",
        ] {
            cases.push((field, junk));
        }
    }
    cases.push((1, max.as_bytes())); // epoch u64::MAX: from Redis' future
    cases.push((2, far.as_bytes())); // opened 10^13 ms from now
    cases.push((3, b"10000000000000")); // a 317-year period
    for &(field, junk) in &cases {
        let mut fields = sound;
        fields[field].1 = junk;
        write_hash(&mut conn, ns, &fields);
        let (joiner, _) = join(&store, short());
        assert_eq!(
            joiner.state(),
            State::Closed,
            "{} = {:?}: a joiner over junk starts Closed",
            fields[field].0,
            String::from_utf8_lossy(junk)
        );
    }

    // Junk in the reason is only text: the Open is adopted, the reason kept
    // printable and short.
    let huge = vec![b'x'; 100_000];
    for reason in [&b"\xff\xfe"[..], b"", &huge] {
        let mut fields = sound;
        fields[3].1 = b"20000";
        fields[4].1 = reason;
        write_hash(&mut conn, ns, &fields);
        let (joiner, _) = join(&store, long());
        assert_eq!(joiner.state(), State::Open, "a sound Open with any reason");
        let retry = ok(&joiner).unwrap_err().retry_after().unwrap();
        assert!(retry <= Duration::from_secs(20), "{retry:?}");
        let why = joiner.open_reason().unwrap().reason.to_string();
        assert!(why.len() <= 1100, "the reason is cut: {} bytes", why.len());
    }

    // Six kinds (state, epoch, future epoch, opened_at, period, too long),
    // each reported once, however many times it was read.
    let refused = reports(ns, REFUSED);
    assert_eq!(refused.len(), 6, "{refused:#?}");
    assert!(store.is_connected());
    assert_eq!(count(ns, DOWN), 0, "bad data is not an outage");

    // A policy's transition in another replica writes over the junk, and the
    // replicas share again.
    let mut fields = sound;
    fields[0].1 = b"abc";
    write_hash(&mut conn, ns, &fields);
    let (here, _) = join(&store, long());
    let other = store_with(&server, ns, Duration::from_millis(500));
    let (there, _) = join(&other, long());
    fail(&there);
    fail(&there);
    assert_eq!(there.state(), State::Open);
    assert!(eventually(SOON, || here.state() == State::Open));
}

#[test]
fn junk_in_the_keys_is_not_an_outage_and_is_reported_once() {
    let ns = "faults-outage";
    let server = RedisServer::start();
    let store = store(&server, ns);
    let mut conn = raw(&server);
    let (b, clock) = join(&store, short());
    let hash = format!("{ns}:{NAME}");
    let junk_all = |conn: &mut redis::Connection| {
        write_hash(
            conn,
            ns,
            &[
                ("state", b"open"),
                ("epoch", b"abc"),
                ("opened_at", b"x"),
                ("period", b"y"),
                ("reason", b"\xff"),
            ],
        );
        for counter in ["trials", "failures"] {
            let _: () = redis::cmd("SET")
                .arg(format!("{hash}:{counter}"))
                .arg("junk")
                .query(conn)
                .unwrap();
        }
    };
    // What used to reconnect every 100 ms: a hash of non-numbers, read at
    // every transition. Drive the breaker through its states for a second.
    let drive = |b: &Breaker, clock: &ManualClock, conn: &mut redis::Connection| {
        let until = Instant::now() + Duration::from_millis(700);
        while Instant::now() < until {
            junk_all(conn);
            let _joiner = join(&store, short()); // reads the junk
            fail(b);
            fail(b);
            clock.advance(Duration::from_millis(500));
            let _ = ok(b); // a half-open trial: asks Redis for a permit
            let _ = ok(b);
            b.reset();
            assert!(store.flush(Duration::from_secs(1)));
        }
    };
    drive(&b, &clock, &mut conn);
    let after_first = count(ns, REFUSED);
    // A key of another type: every script answers with an error reply.
    let _: () = redis::cmd("DEL").arg(&hash).query(&mut conn).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&hash)
        .arg("a string")
        .query(&mut conn)
        .unwrap();
    for _ in 0..20 {
        fail(&b);
        fail(&b);
        b.reset();
    }
    assert!(store.flush(Duration::from_secs(1)));
    let after_wrong_type = count(ns, REFUSED);
    drive(&b, &clock, &mut conn);

    assert!(store.is_connected());
    assert_eq!(count(ns, DOWN), 0, "no outage reported");
    assert_eq!(count(ns, UP), 0, "no reconnection");
    assert_eq!(
        after_first,
        1,
        "the epoch (the first field that does not parse) reported once: {:#?}",
        reports(ns, REFUSED)
    );
    assert_eq!(
        after_wrong_type,
        after_first + 1,
        "the error reply reported once: {:#?}",
        reports(ns, REFUSED)
    );
    assert_eq!(
        count(ns, REFUSED),
        after_wrong_type,
        "the same junk again is not reported again"
    );
}

#[test]
fn junk_messages_on_the_channel_are_refused_and_sharing_goes_on() {
    let ns = "faults-channel";
    let server = RedisServer::start();
    let (store_a, store_b) = (store(&server, ns), store(&server, ns));
    let (a, _) = join(&store_a, long());
    let (b, _) = join(&store_b, long());
    let mut conn = raw(&server);
    let (_, now_us) = redis_now(&mut conn);
    let name_too_long = format!("{now_us}\nopen\n100\n100\no\n99\n{NAME}");
    let junk: [Vec<u8>; 6] = [
        message(now_us, "open", 10_000_000_000_000, 10_000_000_000_000),
        message(u64::MAX, "open", 100, 100),
        message(u64::MAX, "forced_open", 0, 0),
        format!("{now_us}\nopen\n5").into_bytes(), // truncated
        b"\xff\xfe\xfd\n\n\n".to_vec(),            // not UTF-8
        name_too_long.into_bytes(),
    ];
    for _ in 0..3 {
        for payload in &junk {
            publish(&mut conn, ns, payload);
        }
    }
    // Three kinds (too long, future epoch, malformed), once in each store.
    assert!(
        eventually(SOON, || count(ns, REFUSED) == 6),
        "{:#?}",
        reports(ns, REFUSED)
    );
    assert_eq!((a.state(), b.state()), (State::Closed, State::Closed));

    // The future epoch was not taken as seen: a trip here still reaches there.
    a.trip();
    assert!(eventually(SOON, || b.state() == State::Open));
    let retry = ok(&b).unwrap_err().retry_after().unwrap();
    assert!(retry <= Duration::from_secs(30), "{retry:?}");
    b.reset();
    assert!(eventually(SOON, || a.state() == State::Closed));
    assert_eq!(count(ns, REFUSED), 6, "{:#?}", reports(ns, REFUSED));
    assert_eq!(count(ns, DOWN), 0);
}

#[test]
fn an_open_is_adopted_up_to_the_longest_period_the_joiners_config_allows() {
    let ns = "faults-longest";
    let server = RedisServer::start();
    let store = store(&server, ns);
    let mut conn = raw(&server);
    let (now_ms, now_us) = redis_now(&mut conn);
    let (epoch, at) = (now_us.to_string(), now_ms.to_string());
    write_hash(
        &mut conn,
        ns,
        &[
            ("state", b"open"),
            ("epoch", epoch.as_bytes()),
            ("opened_at", at.as_bytes()),
            ("period", b"5000"),
            ("reason", b"backed off"),
        ],
    );
    let backoff = Config::builder()
        .reset(Duration::from_millis(500))
        .backoff(2.0)
        .reset_max(Duration::from_secs(8))
        .build()
        .unwrap();
    let (capped, _) = join(&store, backoff);
    assert_eq!(capped.state(), State::Open, "5 s <= reset_max 8 s");
    let retry = ok(&capped).unwrap_err().retry_after().unwrap();
    assert!(retry <= Duration::from_secs(5), "{retry:?}");
    let (plain, _) = join(&store, short());
    assert_eq!(plain.state(), State::Closed, "5 s > reset 500 ms");
    assert_eq!(count(ns, REFUSED), 1);
}

#[test]
fn a_poisoned_epoch_stops_no_sharing_once_the_keys_are_deleted_and_one_replica_resets() {
    let ns = "faults-epoch";
    let server = RedisServer::start();
    let (store_a, store_b) = (store(&server, ns), store(&server, ns));
    let (a, _) = join(&store_a, long());
    let (b, _) = join(&store_b, long());
    let mut conn = raw(&server);
    let (_, now_us) = redis_now(&mut conn);

    // The largest epoch, in the hash and on the channel: refused.
    let max = u64::MAX.to_string();
    write_hash(
        &mut conn,
        ns,
        &[("state", b"forced_open"), ("epoch", max.as_bytes())],
    );
    publish(&mut conn, ns, &message(u64::MAX, "forced_open", 0, 0));
    // An epoch half an hour ahead, within the skew: adopted, and every
    // honest epoch after it looks old until the keys are deleted.
    let ahead = now_us + 30 * 60 * 1_000_000;
    publish(&mut conn, ns, &message(ahead, "forced_open", 0, 0));
    assert!(eventually(SOON, || a.state() == State::ForcedOpen
        && b.state() == State::ForcedOpen));

    // The repair: DEL the keys, then reset() on one replica.
    let _: () = redis::cmd("DEL")
        .arg(format!("{ns}:{NAME}"))
        .arg(format!("{ns}:{NAME}:trials"))
        .arg(format!("{ns}:{NAME}:failures"))
        .query(&mut conn)
        .unwrap();
    a.reset();
    assert!(
        eventually(SOON, || b.state() == State::Closed),
        "the reset reached the other replica"
    );

    // Sharing is back both ways, for policies as well as operators.
    fail(&a);
    fail(&a);
    assert!(eventually(SOON, || b.state() == State::Open));
    b.reset();
    assert!(eventually(SOON, || a.state() == State::Closed));
    fail(&b);
    fail(&b);
    assert!(eventually(SOON, || a.state() == State::Open));
    assert_eq!(count(ns, DOWN), 0);
}

#[test]
fn a_paused_redis_makes_no_call_wait_past_the_budget() {
    let ns = "faults-pause";
    let budget = Duration::from_millis(100);
    let server = RedisServer::start();
    let store = store_with(&server, ns, budget);
    let (b, clock) = join(&store, short());
    fail(&b);
    fail(&b);
    assert!(store.flush(Duration::from_secs(1)));
    let mut conn = raw(&server);
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query(&mut conn)
        .unwrap();

    // Every call in the pause: half-open trials (which ask Redis for a
    // permit), rejections, transitions, successes in Closed.
    let margin = Duration::from_millis(400);
    let until = Instant::now() + Duration::from_millis(1200);
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        clock.advance(Duration::from_millis(500));
        for _ in 0..3 {
            let started = Instant::now();
            let _ = ok(&b);
            slowest = slowest.max(started.elapsed());
        }
        let started = Instant::now();
        fail(&b);
        fail(&b);
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest <= budget + margin,
        "the slowest call took {slowest:?}, the budget is {budget:?}"
    );
    assert!(
        eventually(Duration::from_secs(5), || store.is_connected()),
        "the store is back after the pause"
    );
    assert_eq!(count(ns, REFUSED), 0, "a pause is not bad data");
}

#[test]
fn redis_killed_and_restarted_empty_converges_without_reporting_bad_data() {
    let ns = "faults-restart";
    let mut server = RedisServer::start();
    let port = server.port;
    let (store_a, store_b) = (store(&server, ns), store(&server, ns));
    let (a, _) = join(&store_a, long());
    let (b, _) = join(&store_b, long());
    a.trip();
    assert!(eventually(SOON, || b.state() == State::Open));
    b.reset();
    assert!(eventually(SOON, || a.state() == State::Closed));

    server.kill();
    assert!(eventually(Duration::from_secs(3), || !store_a
        .is_connected()
        && !store_b.is_connected()));
    fail(&a);
    fail(&a);
    assert_eq!(a.state(), State::Open, "local state goes on");

    let _server = RedisServer::start_on(port);
    assert!(eventually(Duration::from_secs(5), || store_a
        .is_connected()
        && store_b.is_connected()));
    assert!(
        eventually(SOON, || b.state() == State::Open),
        "the Open made in the outage reached the other replica"
    );
    assert_eq!(count(ns, REFUSED), 0, "an empty Redis is not bad data");
}

/// The trial-permit counter is `generation:count`, and a permit goes back
/// only to the generation it was taken from: one taken before a write
/// cleared the counter (another replica reopened) and given back after the
/// next period's trials took theirs must not free one of theirs. Here the
/// next count is written by hand, as another replica's takings would leave
/// it; the breaker's permit of the old count then goes back to nothing.
#[test]
fn a_permit_goes_back_only_to_the_count_it_was_taken_from() {
    let server = RedisServer::start();
    let ns = "generations";
    let store = store(&server, ns);
    let config = Config::builder()
        .fail_max(2)
        .reset(Duration::from_millis(500))
        .half_open(2)
        .build()
        .unwrap();
    let (b, clock) = join(&store, config);
    let key = format!("{ns}:{NAME}:trials");
    let mut conn = raw(&server);
    let get = |conn: &mut redis::Connection| -> Option<String> {
        redis::cmd("GET").arg(&key).query(conn).unwrap()
    };
    fail(&b);
    fail(&b);
    assert!(store.flush(Duration::from_secs(1)));
    clock.advance(Duration::from_millis(600));

    // Taken and given back under one count.
    let trial = b.acquire().expect("a trial");
    let taken = get(&mut conn).expect("the counter");
    let (generation, count) = taken.split_once(':').expect("generation:count");
    assert!(generation.parse::<u64>().is_ok_and(|g| g > 0), "{taken}");
    assert_eq!(count, "1");
    drop(trial);
    assert!(store.flush(Duration::from_secs(1)));
    assert_eq!(get(&mut conn), Some(format!("{generation}:0")));

    // Taken, then the counter is another's: given back to nothing.
    let trial = b.acquire().expect("a trial");
    assert_eq!(get(&mut conn), Some(format!("{generation}:1")));
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("7:2")
        .arg("KEEPTTL")
        .query(&mut conn)
        .unwrap();
    drop(trial);
    assert!(store.flush(Duration::from_secs(1)));
    assert_eq!(
        get(&mut conn).as_deref(),
        Some("7:2"),
        "the next count kept"
    );
    // And that count is full: the next trial is refused.
    assert!(matches!(
        b.acquire(),
        Err(Error::Rejected {
            state: State::HalfOpen,
            ..
        })
    ));
}
