//! The SQLite store between breakers of one process, each registry with a
//! store of its own on one file, as separate processes would be (every store
//! has its own connection): the hot path makes no call to the store, manual
//! actions reach the others, an Open written elsewhere while this store
//! could not write wins when it can again, a trial permit given back after
//! its lease lapsed frees none of the count begun since, and a table made
//! by an earlier version is given the column it lacks and kept.

mod sqlite_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breaker_core::store::Store;
use breaker_core::store::sqlite::SqliteStore;
use breaker_core::{Breaker, Config, Error, Reason, Registry, State};
use rusqlite::Connection;
use sqlite_support::lapse::{self, one_trial_config, sleep_until};
use sqlite_support::{Counting, TempDir, eventually, log, raw, unix_ms, unix_us};

const SOON: Duration = Duration::from_secs(3);

fn store(path: &std::path::Path) -> SqliteStore {
    log();
    SqliteStore::builder(path)
        .poll_interval(Duration::from_millis(20))
        .budget(Duration::from_secs(1))
        .busy_timeout(Duration::from_millis(200))
        .open()
        .expect("a store")
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

#[test]
fn a_closed_success_makes_no_call_to_the_store_and_no_write_to_the_file() {
    let dir = TempDir::new("hot-path");
    let path = dir.file("breakers.db");
    let calls = Arc::new(AtomicU32::new(0));
    let counting = Counting {
        inner: store(&path),
        calls: calls.clone(),
    };
    let b = join(counting, "db", config());
    let watcher = raw(&path);
    let version = |c: &rusqlite::Connection| -> i64 {
        c.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let before = version(&watcher);
    for _ in 0..10_000 {
        ok(&b).unwrap();
    }
    fail(&b); // one failure in Closed: local only
    ok(&b).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // five polls
    assert_eq!(calls.load(Ordering::Relaxed), 0, "calls into the link");
    assert_eq!(version(&watcher), before, "the file was written");
    // The first transition is the first call, and the first write.
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[test]
fn manual_actions_reach_every_store_on_the_file_reported_as_remote() {
    let dir = TempDir::new("manual");
    let path = dir.file("breakers.db");
    let a = join(store(&path), "db", config());
    let b = join(store(&path), "db", config());
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
    // Listeners hear of a transition just after the state shows it.
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
fn an_open_written_elsewhere_during_a_lock_wins_over_a_local_close() {
    let dir = TempDir::new("open-wins");
    let path = dir.file("breakers.db");
    let store = store(&path);
    let config = Config::builder()
        .fail_max(2)
        .reset(Duration::from_millis(100))
        .backoff(2.0)
        .reset_max(Duration::from_secs(60))
        .success(1)
        .build()
        .unwrap();
    let a = join(store.clone(), "db", config);
    let lock = raw(&path);
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Locally, while the file is locked: open, then close on a trial.
    fail(&a);
    fail(&a);
    assert!(eventually(SOON, || ok(&a).is_ok()));
    assert_eq!(a.state(), State::Closed);
    assert!(eventually(SOON, || !store.is_available()));
    // Meanwhile another process (the lock's holder) opens it for 30 s.
    let now = unix_ms() as i64;
    lock.execute(
        "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
         changed_at_ms, version) VALUES ('db', 'open', ?1, 30000, 'opened elsewhere', ?2, ?3)",
        [now + 30_000, now, unix_us() as i64],
    )
    .unwrap();
    lock.execute_batch("COMMIT").unwrap();

    assert!(
        eventually(SOON, || a.state() == State::Open),
        "the local close overruled the Open held elsewhere"
    );
    let rejected = ok(&a).unwrap_err();
    let left = rejected.retry_after().expect("a time left");
    assert!(
        left > Duration::from_secs(25) && left <= Duration::from_secs(30),
        "{left:?}"
    );
    let reason = a.open_reason().unwrap();
    assert_eq!(reason.reason.to_string(), "remote: opened elsewhere");
    let state: String = raw(&path)
        .query_row(
            "SELECT state FROM breaker_state WHERE name = 'db'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "open", "the row was not written over");
}

#[test]
fn two_breakers_of_one_name_on_one_store_both_learn_a_write() {
    let dir = TempDir::new("one-store");
    let path = dir.file("breakers.db");
    let store = store(&path);
    let a = join(store.clone(), "db", config());
    let b = join(store.clone(), "db", config());
    a.trip();
    assert!(store.flush(SOON));
    assert!(eventually(SOON, || b.state() == State::Open));
}

/// A trial permit given back after its lease lapsed frees none of the new
/// count's (`store_support::lapse`).
#[test]
fn a_permit_given_back_after_its_lease_lapsed_frees_none_of_the_new_count() {
    let dir = TempDir::new("lapsed");
    let path = dir.file("breakers.db");
    // A's permits lapse 50 ms after their taking; B's and C's after 10 s.
    let short = SqliteStore::builder(&path)
        .poll_interval(Duration::from_millis(20))
        .budget(Duration::from_secs(1))
        .busy_timeout(Duration::from_millis(200))
        .trial_ttl(Duration::from_millis(50))
        .open()
        .expect("a store");
    let (b_store, c_store) = (store(&path), store(&path));
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
    name            TEXT PRIMARY KEY NOT NULL,
    state           TEXT NOT NULL,
    open_until_ms   INTEGER NOT NULL DEFAULT 0,
    period_ms       INTEGER NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    changed_at_ms   INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 0,
    trials          INTEGER NOT NULL DEFAULT 0,
    trials_until_ms INTEGER NOT NULL DEFAULT 0
)"
    )
}

/// The columns of `table`, in their order.
fn columns(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare("SELECT name FROM pragma_table_info(?1)")
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A file from an earlier version: the store opens on it, adds the epoch
/// column, adopts the Open its row holds, and shares trials through it.
#[test]
fn a_table_made_by_an_earlier_version_is_given_its_epoch_column_and_kept() {
    let dir = TempDir::new("first-shape");
    let path = dir.file("breakers.db");
    let conn = raw(&path);
    conn.execute_batch(&first_shape("breaker_state")).unwrap();
    // Open for 2 s: long enough for the stores to open and join within it.
    let reset = Duration::from_secs(2);
    let now = unix_ms();
    let ends = now + 2000;
    conn.execute(
        "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
         changed_at_ms, version) VALUES ('db', 'open', ?1, 2000, 'opened before', ?2, ?3)",
        [ends as i64, now as i64, unix_us() as i64],
    )
    .unwrap();

    let (a_store, b_store) = (store(&path), store(&path));
    let a = join(a_store.clone(), "db", one_trial_config(reset));
    let b = join(b_store, "db", one_trial_config(reset));
    assert_eq!(a.state(), State::Open, "the row was read");
    assert_eq!(
        a.open_reason().unwrap().reason.to_string(),
        "remote: opened before"
    );
    let columns = columns(&conn, "breaker_state");
    assert_eq!(columns.last().map(String::as_str), Some("trials_epoch"));
    assert_eq!(columns.len(), 10, "{columns:?}");

    sleep_until(ends + 300); // the open period ends
    let trial = a.acquire().expect("the first trial after the period");
    let (trials, epoch): (i64, i64) = conn
        .query_row(
            "SELECT trials, trials_epoch FROM breaker_state WHERE name = 'db'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((trials, epoch), (1, 1));
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

/// Processes starting together on a file from an earlier version all open
/// their stores: one adds the column, under the file's write lock, and the
/// others find it there (without that lock, some failed on a "duplicate
/// column name").
#[test]
fn stores_opened_at_once_on_a_table_made_by_an_earlier_version_all_open() {
    for round in 0..3 {
        let dir = TempDir::new("first-shape-at-once");
        let path = dir.file("breakers.db");
        raw(&path)
            .execute_batch(&first_shape("breaker_state"))
            .unwrap();
        let start = Arc::new(std::sync::Barrier::new(4));
        let stores: Vec<SqliteStore> = (0..4)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    let builder = SqliteStore::builder(path)
                        .poll_interval(Duration::from_millis(20))
                        .budget(Duration::from_secs(1))
                        .busy_timeout(Duration::from_millis(200));
                    start.wait();
                    builder.open()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap().expect("a store"))
            .collect();
        for store in &stores {
            // A lock at opening postpones the setup to the next poll.
            assert!(eventually(SOON, || store.is_available()), "round {round}");
        }
        let columns = columns(&raw(&path), "breaker_state");
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
