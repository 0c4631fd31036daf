//! The PostgreSQL store against a server that misbehaves: stopped mid-run,
//! down at start, a connection cut, a backend that hangs, a table of another
//! shape, rows of junk. Every fault is a clear error when the store opens,
//! or a report (once) while it runs; a bad row is never adopted; breakers
//! always go on with local state; nothing panics.
//!
//! Each test has a server of its own, and counts the reports that name it
//! (one tracing subscriber serves them all).

mod postgres_support;

use std::time::{Duration, Instant};

use breaker_core::store::postgres::PostgresStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use postgres_support::{PgServer, eventually, log, unix_ms, unix_us};

const DOWN: &str = "PostgreSQL shared-state store unreachable";
const UP: &str = "PostgreSQL shared-state store reachable again";
const REFUSED: &str = "ignored a bad row in the PostgreSQL store";
const SOON: Duration = Duration::from_secs(5);

fn builder(url: &str) -> breaker_core::store::postgres::PostgresStoreBuilder {
    log();
    PostgresStore::builder(url)
        .budget(Duration::from_millis(300))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(200))
}

fn store(server: &PgServer) -> PostgresStore {
    builder(&server.url()).open().expect("a store")
}

fn open_err(url: &str) -> String {
    match builder(url).open() {
        Ok(_) => panic!("the store opened {url}"),
        Err(e) => e.to_string(),
    }
}

fn join(store: &PostgresStore, name: &str, config: Config) -> Breaker {
    let registry = Registry::new();
    registry.use_store(store.clone());
    registry.get_or_create(name, || config)
}

fn config(reset: Duration) -> Config {
    Config::builder()
        .fail_max(2)
        .reset(reset)
        .success(1)
        .half_open(1)
        .build()
        .unwrap()
}

fn ok(b: &Breaker) -> Result<(), Error> {
    b.call(|| Ok::<(), Error>(()))
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

fn row_state(server: &PgServer, name: &str) -> Option<String> {
    server.value(&format!(
        "SELECT state FROM breaker_state WHERE name = '{name}'"
    ))
}

// ---------------------------------------------------------------------------
// What can never work: an error at opening, saying what and where.
// ---------------------------------------------------------------------------

#[test]
fn a_bad_connection_string_a_bad_table_name_or_a_missing_database_is_an_error() {
    for bad in ["postgresql://127.0.0.1:notaport/db", "colour=blue"] {
        let message = open_err(bad);
        assert!(
            message.contains("invalid PostgreSQL connection string"),
            "{bad}: {message}"
        );
    }
    let message = open_err("dbname=postgres user=postgres");
    assert!(message.contains("names no host"), "{message}");
    let server = PgServer::start();
    let message = builder(&server.url())
        .table("state; DROP TABLE x")
        .open()
        .expect_err("a table name that is not an identifier")
        .to_string();
    assert!(message.contains("invalid table name"), "{message}");
    let message = open_err(&format!(
        "postgresql://postgres@127.0.0.1:{}/nosuchdb",
        server.port
    ));
    assert!(message.contains("\"nosuchdb\" does not exist"), "{message}");
}

#[test]
fn a_table_of_another_shape_is_an_error_naming_what_is_wrong() {
    let server = PgServer::start();
    server.sql("CREATE TABLE breaker_state (name text, opened integer)");
    let message = open_err(&server.url());
    assert!(
        message.contains("cannot use table breaker_state")
            && message.contains("no column state")
            && message.contains("the store needs"),
        "{message}"
    );
    // The right columns, one of the wrong type.
    server.sql(
        "CREATE TABLE wrong_type (name text PRIMARY KEY, state text, open_until_ms bigint, \
         period_ms bigint, reason text, changed_at_ms bigint, version integer, trials bigint, \
         trials_until_ms bigint)",
    );
    let message = builder(&server.url())
        .table("wrong_type")
        .open()
        .expect_err("a version of 32 bits")
        .to_string();
    assert!(message.contains("version is int4, not int8"), "{message}");
    // An earlier version's columns, no unique key on the name: not given
    // the epoch column, since the store could not use it anyway.
    server.sql(
        "CREATE TABLE no_key (name text, state text, open_until_ms bigint, period_ms bigint, \
         reason text, changed_at_ms bigint, version bigint, trials bigint, \
         trials_until_ms bigint)",
    );
    let message = builder(&server.url())
        .table("no_key")
        .open()
        .expect_err("no unique key on name")
        .to_string();
    assert!(
        message.contains("cannot use table no_key")
            && message.contains("no column trials_epoch")
            && message.contains("no unique key on name")
            && message.contains("trials_until_ms bigint, trials_epoch bigint"),
        "{message}"
    );
    // An earlier version's columns and one more: another shape, refused.
    server.sql(
        "CREATE TABLE extended (name text PRIMARY KEY, state text, open_until_ms bigint, \
         period_ms bigint, reason text, changed_at_ms bigint, version bigint, trials bigint, \
         trials_until_ms bigint, note text)",
    );
    let message = builder(&server.url())
        .table("extended")
        .open()
        .expect_err("no trials_epoch")
        .to_string();
    assert!(
        message.contains("cannot use table extended") && message.contains("no column trials_epoch"),
        "{message}"
    );
    for table in ["no_key", "extended"] {
        assert_eq!(
            server
                .value(&format!(
                    "SELECT count(*) FROM information_schema.columns \
                     WHERE table_name = '{table}' AND column_name = 'trials_epoch'"
                ))
                .as_deref(),
            Some("0"),
            "{table} was altered"
        );
    }
    // Another name on the same server is a table of its own, created.
    let other = builder(&server.url()).table("breakers_v2").open();
    assert!(other.is_ok(), "{other:?}");
    assert_eq!(
        server.value("SELECT count(*) FROM breakers_v2").as_deref(),
        Some("0")
    );
}

// ---------------------------------------------------------------------------
// The server unreachable: an outage, reported once each way.
// ---------------------------------------------------------------------------

#[test]
fn a_server_stopped_mid_run_leaves_breakers_local_and_is_reported_once_each_way() {
    let mut server = PgServer::start();
    let store = store(&server);
    assert!(store.is_connected());
    let b = join(&store, "db", config(Duration::from_millis(500)));
    server.stop();

    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open, "the breaker opens on its own");
    assert!(
        eventually(SOON, || !store.is_connected()),
        "the store noticed the server stopped"
    );
    // Local decisions: rejected while Open, then a trial that does not wait
    // for the server, and a close.
    assert!(ok(&b).is_err());
    assert!(eventually(SOON, || ok(&b).is_ok()), "a local trial ran");
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    // Several reconnection attempts (every 50 to 200 ms) fail meanwhile.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.reports(DOWN).len(), 1, "{:?}", server.reports(DOWN));

    // The server comes back: so does the store, once, and it writes what
    // the breaker did meanwhile.
    server.restart();
    assert!(
        eventually(SOON, || store.is_connected()),
        "the store came back"
    );
    assert!(
        eventually(SOON, || row_state(&server, "db").as_deref() == Some("open")),
        "the Open made during the outage was written: {:?}",
        row_state(&server, "db")
    );
    assert_eq!(server.reports(DOWN).len(), 1);
    assert_eq!(server.reports(UP).len(), 1);
}

#[test]
fn a_server_down_at_start_is_no_error_and_the_store_connects_when_it_is_up() {
    let mut server = PgServer::start();
    server.stop();
    let store = store(&server);
    assert!(!store.is_connected());
    let b = join(&store, "db", config(Duration::from_secs(30)));
    assert_eq!(b.state(), State::Closed);
    b.trip();
    assert_eq!(b.state(), State::Open, "breakers work on their own");
    assert!(eventually(SOON, || server.reports(DOWN).len() == 1));
    server.restart();
    assert!(eventually(SOON, || store.is_connected()));
    assert!(
        eventually(SOON, || row_state(&server, "db").as_deref() == Some("open")),
        "the table was created and the Open written"
    );
    assert_eq!(server.reports(DOWN).len(), 1);
    assert_eq!(server.reports(UP).len(), 1);
}

#[test]
fn a_store_cut_off_reads_every_row_again_when_it_reconnects() {
    let server = PgServer::start();
    let cut_url = format!("{}?application_name=cut_off", server.url());
    // It waits 2 s before reconnecting: the other store writes meanwhile.
    let cut = builder(&cut_url)
        .reconnect_backoff(Duration::from_secs(2), Duration::from_secs(2))
        .open()
        .expect("a store");
    let other = store(&server);
    let (a, b) = (
        join(&cut, "db", config(Duration::from_secs(30))),
        join(&other, "db", config(Duration::from_secs(30))),
    );
    server.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'cut_off'",
    );
    assert!(eventually(SOON, || !cut.is_connected()));
    b.trip(); // announced while the cut-off store cannot hear it
    assert!(other.flush(SOON));
    assert_eq!(row_state(&server, "db").as_deref(), Some("open"));
    assert_eq!(a.state(), State::Closed, "the announcement was missed");
    assert!(eventually(SOON, || cut.is_connected()));
    assert!(
        eventually(SOON, || a.state() == State::Open),
        "the row was read again on reconnection"
    );
    let left = ok(&a).unwrap_err().retry_after().expect("a time left");
    assert!(left > Duration::from_secs(20), "{left:?}");
}

#[test]
fn a_call_that_needs_a_permit_while_the_server_hangs_waits_at_most_the_budget() {
    let server = PgServer::start();
    // A long command timeout: the store does not count the server as lost.
    let store = builder(&server.url())
        .command_timeout(Duration::from_secs(10))
        .open()
        .expect("a store");
    let b = join(&store, "db", config(Duration::from_millis(100)));
    b.trip();
    assert!(store.flush(SOON));
    std::thread::sleep(Duration::from_millis(150)); // the open period ends
    let backend: i32 = server
        .value("SELECT pid FROM pg_stat_activity WHERE application_name = 'breaker'")
        .and_then(|pid| pid.parse().ok())
        .expect("the store's backend");
    unsafe {
        libc::kill(backend, libc::SIGSTOP);
    }
    let started = Instant::now();
    let outcome = ok(&b);
    let waited = started.elapsed();
    unsafe {
        libc::kill(backend, libc::SIGCONT);
    }
    // Not a measurement: a bound that fails only if the call waited on the
    // server instead of the budget (300 ms).
    assert!(
        waited < Duration::from_secs(2),
        "the call waited {waited:?}"
    );
    assert!(
        matches!(
            outcome,
            Err(Error::Rejected {
                state: State::HalfOpen,
                ..
            })
        ),
        "past the budget the trial is refused: {outcome:?}"
    );
    // The permit granted to the caller that gave up goes back.
    assert!(store.flush(SOON));
    assert!(
        eventually(SOON, || server
            .value("SELECT trials FROM breaker_state WHERE name = 'db'")
            .as_deref()
            == Some("0")),
        "a permit is held by no one"
    );
    assert!(eventually(SOON, || ok(&b).is_ok()), "the next trial runs");
}

// ---------------------------------------------------------------------------
// Junk in the rows: refused, reported once per breaker and kind, never
// adopted, and written over by the next transition.
// ---------------------------------------------------------------------------

/// One junk row: the breaker's name, its columns as SQL (state, until,
/// period, changed_at, version), and the problem the report names.
struct Junk {
    name: &'static str,
    values: String,
    problem: &'static str,
}

fn junk_rows() -> Vec<Junk> {
    let now = unix_ms() as i64;
    let v = unix_us() as i64;
    let until = now + 10_000;
    let max = i64::MAX;
    let cases: [(&str, String, &str); 16] = [
        (
            "unknown_state",
            format!("'ajar', {until}, 30000, 0, {v}"),
            "a state that is not a state name",
        ),
        (
            "upper_state",
            format!("'OPEN', {until}, 30000, 0, {v}"),
            "a state that is not a state name",
        ),
        (
            "half_open_state",
            format!("'half_open', {until}, 30000, 0, {v}"),
            "a state that is not a state name",
        ),
        (
            "null_state",
            format!("NULL, {until}, 30000, 0, {v}"),
            "a state that is not a state name",
        ),
        (
            "until_negative",
            format!("'open', -5, 30000, 0, {v}"),
            "open_until_ms is not a whole number",
        ),
        (
            "until_null",
            format!("'open', NULL, 30000, 0, {v}"),
            "open_until_ms is not a whole number",
        ),
        (
            "until_huge",
            format!("'open', {max}, 30000, 0, {v}"),
            "longer than this breaker's longest open period",
        ),
        (
            "period_negative",
            format!("'open', {until}, -1, 0, {v}"),
            "period_ms is not a whole number",
        ),
        (
            "period_zero",
            format!("'open', {until}, 0, 0, {v}"),
            "period_ms is not a whole number",
        ),
        (
            "period_too_long",
            format!("'open', {until}, 86400000, 0, {v}"),
            "longer than this breaker's longest open period",
        ),
        (
            "version_future",
            format!("'open', {until}, 30000, 0, {max}"),
            "a version more than an hour ahead",
        ),
        (
            "version_negative",
            format!("'open', {until}, 30000, 0, -1"),
            "a version that is not a whole number",
        ),
        (
            "version_null",
            format!("'open', {until}, 30000, 0, NULL"),
            "a version that is not a whole number",
        ),
        (
            "changed_negative",
            format!("'closed', 0, 0, -7, {v}"),
            "a changed_at_ms that is not a whole number",
        ),
        (
            "changed_null",
            format!("'closed', 0, 0, NULL, {v}"),
            "a changed_at_ms that is not a whole number",
        ),
        (
            "open_in_future",
            format!("'open', {}, 1000, 0, {v}", now + 20_000),
            "an Open that began in the future",
        ),
    ];
    cases
        .into_iter()
        .map(|(name, values, problem)| Junk {
            name,
            values,
            problem,
        })
        .collect()
}

#[test]
fn junk_in_each_column_is_refused_once_and_joiners_start_closed() {
    let server = PgServer::start();
    let store = store(&server);
    // A table made by hand may allow NULLs: the store reads them as junk.
    server.sql(
        "ALTER TABLE breaker_state ALTER COLUMN state DROP NOT NULL, \
         ALTER COLUMN open_until_ms DROP NOT NULL, ALTER COLUMN changed_at_ms DROP NOT NULL, \
         ALTER COLUMN version DROP NOT NULL",
    );
    let junk = junk_rows();
    for j in &junk {
        server.sql(&format!(
            "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, changed_at_ms, \
             version, reason) VALUES ('{}', {}, 'junk')",
            j.name, j.values
        ));
    }
    let breakers: Vec<Breaker> = junk
        .iter()
        .map(|j| join(&store, j.name, config(Duration::from_secs(30))))
        .collect();
    for (j, b) in junk.iter().zip(&breakers) {
        assert_eq!(b.state(), State::Closed, "{}: junk was adopted", j.name);
        let lines = server.reports(&format!("breaker={} ", j.name));
        assert_eq!(lines.len(), 1, "{}: {lines:?}", j.name);
        assert!(
            lines[0].contains(REFUSED) && lines[0].contains(j.problem),
            "{}: {}",
            j.name,
            lines[0]
        );
    }
    // Announcements make the store read the junk again: no new report.
    for j in &junk {
        server.sql(&format!(
            "SELECT pg_notify('breaker_state_changes', '{}')",
            j.name
        ));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(store.flush(SOON));
    assert_eq!(server.reports(REFUSED).len(), junk.len());
    for b in &breakers {
        assert_eq!(b.state(), State::Closed);
    }

    // The next transition writes over the junk, policy's or operator's.
    fail(&breakers[0]);
    fail(&breakers[0]);
    breakers[1].trip();
    assert!(store.flush(SOON));
    assert_eq!(row_state(&server, junk[0].name).as_deref(), Some("open"));
    assert_eq!(row_state(&server, junk[1].name).as_deref(), Some("open"));
    // ...and a process joining now adopts the sound row.
    let joiner = join(
        &store_again(&server),
        junk[0].name,
        config(Duration::from_secs(30)),
    );
    assert_eq!(joiner.state(), State::Open);
}

/// Junk in the columns of the trial permits (NULL in a table made by hand,
/// negative, huge, a lease from the future) never makes a taking fail. Junk
/// in the count or its lease counts as no permit held: the taking starts a
/// count, under the next epoch. Junk in the epoch counts as 0: a count that
/// holds permits goes on under epoch 1 (its permits go back late, never
/// early), and one that holds none starts at 1. Each permit then goes back
/// under the epoch it was taken under.
#[test]
fn junk_in_the_permits_columns_counts_as_none_and_never_fails_a_taking() {
    let server = PgServer::start();
    let store = store(&server);
    let config = Config::builder()
        .fail_max(1)
        .reset(Duration::from_millis(300))
        .success(100) // every success gives its permit back
        .half_open(2)
        .build()
        .unwrap();
    let b = join(&store, "db", config);
    b.trip();
    assert!(store.flush(SOON));
    std::thread::sleep(Duration::from_millis(600)); // the open period (300 ms) ends
    server.sql(
        "ALTER TABLE breaker_state ALTER COLUMN trials DROP NOT NULL, \
         ALTER COLUMN trials_until_ms DROP NOT NULL, ALTER COLUMN trials_epoch DROP NOT NULL",
    );
    let count = || {
        server.sql("SELECT trials, trials_epoch FROM breaker_state WHERE name = 'db'")[0]
            .iter()
            .map(|v| v.as_deref().unwrap_or("NULL").parse::<i64>().unwrap())
            .collect::<Vec<_>>()
    };
    // The lease's end from now (ms): well within `trial_ttl` (10 s), lapsed,
    // from the future.
    let (lease, lapsed, future) = ("5000", "-1", "86400000");
    /// (trials, lease, trials_epoch) held, and the count after a taking.
    type Case = ((&'static str, &'static str, &'static str), [i64; 2]);
    let cases: [Case; 12] = [
        (("0", lease, "7"), [1, 8]),
        (("1", lease, "7"), [2, 7]),
        (("1", lapsed, "7"), [1, 8]),
        (("1", future, "7"), [1, 8]),
        (("1", "NULL", "7"), [1, 8]),
        (("NULL", lease, "7"), [1, 8]),
        (("-3", lease, "7"), [1, 8]),
        (("5000000000", lease, "7"), [1, 8]),
        (("0", lease, "NULL"), [1, 1]),
        (("0", lease, "-5"), [1, 1]),
        (("0", lease, "9223372036854775807"), [1, 1]),
        (("1", lease, "NULL"), [2, 1]),
    ];
    for ((trials, lease, epoch), taken) in cases {
        let held = format!("trials {trials}, lease {lease} ms, epoch {epoch}");
        server.sql(&format!(
            "UPDATE breaker_state SET trials = {trials}, trials_epoch = {epoch}, \
             trials_until_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + {lease} \
             WHERE name = 'db'"
        ));
        let trial = b.acquire().unwrap_or_else(|e| panic!("{held}: {e}"));
        assert_eq!(count(), taken, "{held}: the taking");
        trial.success();
        assert!(store.flush(SOON));
        assert_eq!(count(), [taken[0] - 1, taken[1]], "{held}: given back");
    }
    assert!(store.is_connected());
    assert_eq!(server.reports(DOWN).len(), 0);
}

fn store_again(server: &PgServer) -> PostgresStore {
    store(server)
}

#[test]
fn an_open_that_ended_before_the_restart_is_not_adopted_and_is_reported() {
    let server = PgServer::start();
    let store = store(&server);
    let now = unix_ms();
    server.sql(&format!(
        "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
         changed_at_ms, version) VALUES ('db', 'open', {}, 500, 'five failures', {}, {})",
        now - 1500,
        now - 2000,
        unix_us()
    ));
    let b = join(&store, "db", config(Duration::from_millis(500)));
    assert_eq!(b.state(), State::Closed);
    let lines = server.reports("had ended when the breaker joined");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("breaker=db "), "{}", lines[0]);
    assert_eq!(
        server.reports(REFUSED).len(),
        0,
        "an elapsed Open is not junk"
    );
}
