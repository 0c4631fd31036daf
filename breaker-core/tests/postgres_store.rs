//! The PostgreSQL store between breakers of one process, each registry with
//! a store of its own on one server, as separate processes would be (every
//! store has its own connection): the hot path makes no call to the store,
//! manual actions reach the others through NOTIFY, an Open written
//! elsewhere while this store was cut off wins when it is back, a trial
//! permit goes back only to the row and the count it was taken from, and a
//! table made by an earlier version is given the column it lacks and kept.

mod postgres_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breaker_core::store::Store;
use breaker_core::store::postgres::PostgresStore;
use breaker_core::{Breaker, Config, Error, Reason, Registry, State};
use postgres_support::lapse::{self, one_trial_config, sleep_until};
use postgres_support::{Counting, PgServer, eventually, log, unix_ms, unix_us};

const SOON: Duration = Duration::from_secs(5);

fn store(server: &PgServer) -> PostgresStore {
    log();
    let store = PostgresStore::builder(server.url())
        .budget(Duration::from_secs(1))
        .open()
        .expect("a store");
    assert!(store.is_connected(), "{}", log().text());
    store
}

fn join(store: impl Store, name: &str, config: Config) -> Breaker {
    let registry = Registry::new();
    registry.use_store(store);
    registry.get_or_create(name, || config)
}

fn config() -> Config {
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

/// The statements the server ran on the table (inserts, updates, deletes),
/// as its statistics count them once they are flushed.
fn writes(server: &PgServer) -> u64 {
    server.sql("SELECT pg_stat_force_next_flush()");
    server
        .value(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables \
             WHERE relname = 'breaker_state'",
        )
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_closed_success_makes_no_call_to_the_store_and_no_write_to_the_table() {
    let server = PgServer::start();
    let calls = Arc::new(AtomicU32::new(0));
    let counting = Counting {
        inner: store(&server),
        calls: calls.clone(),
    };
    let b = join(counting, "db", config());
    for _ in 0..10_000 {
        ok(&b).unwrap();
    }
    fail(&b); // one failure in Closed: local only
    ok(&b).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(calls.load(Ordering::Relaxed), 0, "calls into the link");
    assert_eq!(
        server
            .value("SELECT count(*) FROM breaker_state")
            .as_deref(),
        Some("0")
    );
    // The first transition is the first call, and the first write.
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert!(
        eventually(SOON, || server
            .value("SELECT state FROM breaker_state WHERE name = 'db'")
            .as_deref()
            == Some("open")),
        "the Open was written"
    );
    assert!(
        eventually(SOON, || writes(&server) == 1),
        "{} writes",
        writes(&server)
    );
}

#[test]
fn manual_actions_reach_every_store_on_the_server_reported_as_remote() {
    let server = PgServer::start();
    let a = join(store(&server), "db", config());
    let b = join(store(&server), "db", config());
    let reasons = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = reasons.clone();
    b.on_transition(move |t| log.lock().unwrap().push(t.reason.clone()));
    for (act, wanted) in [
        (Breaker::force_open as fn(&Breaker), State::ForcedOpen),
        (Breaker::disable, State::Disabled),
        (Breaker::reset, State::Closed),
        (Breaker::trip, State::Open),
    ] {
        act(&a);
        assert!(
            eventually(SOON, || b.state() == wanted),
            "{wanted} never reached the other store (it is {})",
            b.state()
        );
    }
    assert!(
        eventually(SOON, || reasons.lock().unwrap().len() == 4),
        "{:?}",
        reasons.lock().unwrap()
    );
    let reasons = reasons.lock().unwrap();
    assert!(
        reasons.iter().all(|r| matches!(r, Reason::Remote { .. })),
        "{reasons:?}"
    );
    // Applied, not shared back: A is where it left itself.
    assert_eq!(a.state(), State::Open);
}

#[test]
fn an_open_written_elsewhere_while_the_server_was_down_wins_over_a_local_close() {
    let mut server = PgServer::start();
    log();
    // Reconnection waits 3 s: the test writes the row before the store is back.
    let store = PostgresStore::builder(server.url())
        .budget(Duration::from_secs(1))
        .reconnect_backoff(Duration::from_secs(3), Duration::from_secs(3))
        .open()
        .expect("a store");
    let config = Config::builder()
        .fail_max(2)
        .reset(Duration::from_millis(100))
        .backoff(2.0)
        .reset_max(Duration::from_secs(60))
        .success(1)
        .build()
        .unwrap();
    let a = join(store.clone(), "db", config);
    server.stop();
    assert!(eventually(SOON, || !store.is_connected()));
    // Locally, while the server is down: open, then close on a trial.
    fail(&a);
    fail(&a);
    assert!(eventually(SOON, || ok(&a).is_ok()));
    assert_eq!(a.state(), State::Closed);
    // Meanwhile another process, on a server back before this store is,
    // opens it for 30 s.
    server.restart();
    let now = unix_ms();
    server.sql(&format!(
        "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
         changed_at_ms, version) VALUES ('db', 'open', {}, 30000, 'opened elsewhere', {now}, {})",
        now + 30_000,
        unix_us()
    ));
    assert!(
        !store.is_connected(),
        "the store came back before the row was written"
    );

    assert!(
        eventually(Duration::from_secs(10), || a.state() == State::Open),
        "the local close overruled the Open held elsewhere"
    );
    let left = ok(&a).unwrap_err().retry_after().expect("a time left");
    assert!(
        left > Duration::from_secs(20) && left <= Duration::from_secs(30),
        "{left:?}"
    );
    assert_eq!(
        a.open_reason().unwrap().reason.to_string(),
        "remote: opened elsewhere"
    );
    assert_eq!(
        server
            .value("SELECT state FROM breaker_state WHERE name = 'db'")
            .as_deref(),
        Some("open"),
        "the row was not written over"
    );
}

#[test]
fn two_breakers_of_one_name_on_one_store_both_learn_a_write() {
    let server = PgServer::start();
    let store = store(&server);
    let a = join(store.clone(), "db", config());
    let b = join(store.clone(), "db", config());
    a.trip();
    assert!(store.flush(SOON));
    assert!(eventually(SOON, || b.state() == State::Open));
}

#[test]
fn a_permit_goes_back_only_to_the_row_it_was_taken_from() {
    let server = PgServer::start();
    let store = store(&server);
    let config = Config::builder()
        .fail_max(1)
        .reset(Duration::from_millis(300))
        .success(2)
        .half_open(1)
        .build()
        .unwrap();
    let a = join(store.clone(), "db", config);
    a.trip();
    assert!(store.flush(SOON));
    std::thread::sleep(Duration::from_millis(400));
    let permit = a.acquire().expect("the first trial after the period");
    assert_eq!(
        server
            .value("SELECT trials FROM breaker_state WHERE name = 'db'")
            .as_deref(),
        Some("1")
    );
    // Another process rewrites the row and takes its one permit, and this
    // one has not heard of it yet (no NOTIFY).
    server.sql(&format!(
        "UPDATE breaker_state SET version = version + 1, trials = 1, trials_until_ms = {}",
        unix_ms() + 10_000
    ));
    permit.success(); // one of two successes: the period goes on, the permit goes back
    assert_eq!(a.state(), State::HalfOpen);
    assert!(store.flush(SOON));
    assert_eq!(
        server
            .value("SELECT trials FROM breaker_state WHERE name = 'db'")
            .as_deref(),
        Some("1"),
        "the permit went back to a row written since it was taken"
    );
}

/// Replicas that start together against a database without the table all
/// open their stores: the ones that lose the race to create it use the
/// winner's (three processes of `postgres_processes.rs` once lost it to a
/// "type already exists").
#[test]
fn stores_opened_at_once_on_a_missing_table_all_open() {
    let server = PgServer::start();
    for round in 0..3 {
        let table = format!("breakers_{round}");
        let start = Arc::new(std::sync::Barrier::new(8));
        let opened: Vec<Result<(), String>> = (0..8)
            .map(|_| {
                let (url, table, start) = (server.url(), table.clone(), start.clone());
                std::thread::spawn(move || {
                    let builder = PostgresStore::builder(url).table(&table);
                    start.wait();
                    builder.open().map(drop).map_err(|e| e.to_string())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        for result in opened {
            assert_eq!(result, Ok(()), "round {round}");
        }
    }
}

/// A trial permit given back after its lease lapsed frees none of the new
/// count's (`store_support::lapse`).
#[test]
fn a_permit_given_back_after_its_lease_lapsed_frees_none_of_the_new_count() {
    let server = PgServer::start();
    log();
    // A's permits lapse 50 ms after their taking; B's and C's after 10 s.
    let short = PostgresStore::builder(server.url())
        .budget(Duration::from_secs(1))
        .trial_ttl(Duration::from_millis(50))
        .open()
        .expect("a store");
    assert!(short.is_connected(), "{}", log().text());
    let (b_store, c_store) = (store(&server), store(&server));
    let reset = Duration::from_secs(1);
    let a = join(short.clone(), "db", one_trial_config(reset));
    let b = join(b_store.clone(), "db", one_trial_config(reset));
    let c = join(c_store, "db", one_trial_config(reset));
    lapse::a_lapsed_permit_frees_none_of_the_new_count(
        [&a, &b, &c],
        reset,
        || short.flush(SOON),
        || b_store.flush(SOON),
        SOON,
    );
}

/// The table as versions before `trials_epoch` made it, with its name.
fn first_shape(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS \"{table}\" (
    name            text PRIMARY KEY,
    state           text NOT NULL,
    open_until_ms   bigint NOT NULL DEFAULT 0,
    period_ms       bigint NOT NULL DEFAULT 0,
    reason          text NOT NULL DEFAULT '',
    changed_at_ms   bigint NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,
    trials          bigint NOT NULL DEFAULT 0,
    trials_until_ms bigint NOT NULL DEFAULT 0
)"
    )
}

/// The columns of `table`, in their order.
fn columns(server: &PgServer, table: &str) -> Vec<String> {
    server
        .sql(&format!(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = '{table}' ORDER BY ordinal_position"
        ))
        .into_iter()
        .filter_map(|row| row.into_iter().next().flatten())
        .collect()
}

/// A database from an earlier version: the store opens on it, adds the
/// epoch column, adopts the Open its row holds, and shares trials through
/// it.
#[test]
fn a_table_made_by_an_earlier_version_is_given_its_epoch_column_and_kept() {
    let server = PgServer::start();
    server.sql(&first_shape("breaker_state"));
    // Open for 2 s: long enough for the stores to open and join within it.
    let reset = Duration::from_secs(2);
    let now = unix_ms();
    let ends = now + 2000;
    server.sql(&format!(
        "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
         changed_at_ms, version) VALUES ('db', 'open', {ends}, 2000, 'opened before', {now}, {})",
        unix_us()
    ));

    let (a_store, b_store) = (store(&server), store(&server));
    let a = join(a_store.clone(), "db", one_trial_config(reset));
    let b = join(b_store, "db", one_trial_config(reset));
    assert_eq!(a.state(), State::Open, "the row was read");
    assert_eq!(
        a.open_reason().unwrap().reason.to_string(),
        "remote: opened before"
    );
    let columns = columns(&server, "breaker_state");
    assert_eq!(columns.last().map(String::as_str), Some("trials_epoch"));
    assert_eq!(columns.len(), 10, "{columns:?}");

    sleep_until(ends + 300); // the open period ends
    let trial = a.acquire().expect("the first trial after the period");
    assert_eq!(
        server.sql("SELECT trials, trials_epoch FROM breaker_state WHERE name = 'db'"),
        vec![vec![Some("1".to_owned()), Some("1".to_owned())]]
    );
    let refused = b.acquire();
    assert!(
        matches!(refused, Err(Error::Rejected { .. })),
        "a second trial across the stores: {:?}",
        refused.map(|_| "admitted")
    );
    trial.success();
    assert!(a_store.flush(SOON));
    b.acquire().expect("A's permit went back").success();
}

/// Replicas that start together against a table from an earlier version
/// all open their stores: one adds the column, the others find it (without
/// `IF NOT EXISTS`, six of 24 here failed on "column already exists", and
/// read the shape again to find it there).
#[test]
fn stores_opened_at_once_on_a_table_made_by_an_earlier_version_all_open() {
    let server = PgServer::start();
    for round in 0..3 {
        let table = format!("breakers_{round}");
        server.sql(&first_shape(&table));
        let start = Arc::new(std::sync::Barrier::new(8));
        let stores: Vec<PostgresStore> = (0..8)
            .map(|_| {
                let (url, table, start) = (server.url(), table.clone(), start.clone());
                std::thread::spawn(move || {
                    let builder = PostgresStore::builder(url)
                        .table(&table)
                        .budget(Duration::from_secs(1));
                    start.wait();
                    builder.open()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap().expect("a store"))
            .collect();
        for store in &stores {
            assert!(store.is_connected(), "round {round}: {}", log().text());
        }
        let columns = columns(&server, &table);
        assert_eq!(columns.len(), 10, "round {round}: {columns:?}");
        // Every store uses the table: an Open made in one reaches the others.
        let breakers: Vec<Breaker> = stores
            .iter()
            .map(|s| join(s.clone(), "db", config()))
            .collect();
        breakers[0].trip();
        assert!(stores[0].flush(SOON));
        for b in &breakers[1..] {
            assert!(
                eventually(SOON, || b.state() == State::Open),
                "round {round}"
            );
        }
    }
}
