//! The SQLite store against a file that misbehaves: locked by another
//! connection, read-only, not there, not a database, holding a table of
//! another shape, or rows of junk. Every fault is a clear error when the
//! store opens, or a report (once) while it runs; a bad row is never
//! adopted; breakers always go on with local state; nothing panics.
//!
//! Each test has a file of its own in a directory of its own, and counts
//! the reports that name that file (one tracing subscriber serves them all).

mod sqlite_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use breaker_core::store::sqlite::{SqliteStore, StoreError};
use breaker_core::{Breaker, Config, Error, Registry, State};
use sqlite_support::{TempDir, eventually, log, raw, reports, unix_ms, unix_us};

const DOWN: &str = "SQLite shared-state store unavailable";
const UP: &str = "SQLite shared-state store available again";
const REFUSED: &str = "ignored a bad row in the SQLite store";
/// What "soon" means for a poll every 20 ms, on a loaded machine.
const SOON: Duration = Duration::from_secs(3);

fn store(path: &Path) -> SqliteStore {
    log();
    SqliteStore::builder(path)
        .poll_interval(Duration::from_millis(20))
        .budget(Duration::from_millis(300))
        .busy_timeout(Duration::from_millis(50))
        .open()
        .expect("a store")
}

fn open_err(path: &Path) -> String {
    log();
    match SqliteStore::builder(path).open() {
        Ok(_) => panic!("the store opened {}", path.display()),
        Err(e) => e.to_string(),
    }
}

fn join(store: &SqliteStore, name: &str, config: Config) -> Breaker {
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

/// The state column of `name`'s row, as text.
fn row_state(path: &Path, name: &str) -> Option<String> {
    raw(path)
        .query_row(
            "SELECT CAST(state AS TEXT) FROM breaker_state WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .ok()
}

// ---------------------------------------------------------------------------
// Files the store cannot use: an error at opening, saying what and where.
// ---------------------------------------------------------------------------

#[test]
fn a_path_that_cannot_be_opened_is_an_error_naming_it() {
    let dir = TempDir::new("unopenable");
    let missing = dir.file("no-such-directory/breakers.db");
    let message = open_err(&missing);
    assert!(
        message.contains("cannot open") && message.contains(&missing.display().to_string()),
        "{message}"
    );
    let message = open_err(dir.path());
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_a_clear_error() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("breakers.db");
    std::fs::write(&path, "breaker state, but not SQLite's\n".repeat(200)).unwrap();
    let message = open_err(&path);
    assert!(
        message.contains("is not a SQLite database") && message.contains("breakers.db"),
        "{message}"
    );
    // The file is left as it was: the store never writes over what it
    // cannot read.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("breaker state")
    );
}

#[test]
fn a_read_only_file_is_refused_with_a_clear_error() {
    let dir = TempDir::new("readonly");
    let path = dir.file("breakers.db");
    raw(&path).execute_batch("CREATE TABLE t (x)").unwrap(); // a sound file
    let _guard = ReadOnly::make(&path);
    let message = open_err(&path);
    assert!(
        message.contains("read-only") && message.contains("breakers.db"),
        "{message}"
    );
}

#[test]
fn a_table_of_another_shape_or_a_bad_table_name_is_an_error() {
    let dir = TempDir::new("shape");
    let path = dir.file("breakers.db");
    raw(&path)
        .execute_batch("CREATE TABLE breaker_state (name TEXT, opened INTEGER)")
        .unwrap();
    let message = open_err(&path);
    assert!(
        message.contains("table breaker_state")
            && message.contains("columns")
            && message.contains("trials_until_ms, trials_epoch"),
        "{message}"
    );
    // The columns of an earlier version's table and one more: not that
    // table, so not given the epoch column; refused, and left as it was.
    let conn = raw(&path);
    conn.execute_batch(
        "CREATE TABLE extended (name TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL, \
         open_until_ms INTEGER, period_ms INTEGER, reason TEXT, changed_at_ms INTEGER, \
         version INTEGER, trials INTEGER, trials_until_ms INTEGER, note TEXT)",
    )
    .unwrap();
    let message = SqliteStore::builder(&path)
        .table("extended")
        .open()
        .expect_err("a table without trials_epoch")
        .to_string();
    assert!(
        message.contains("cannot use table extended") && message.contains("trials_epoch"),
        "{message}"
    );
    let columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('extended')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(columns, 10, "the table was altered");
    let bad: Result<SqliteStore, StoreError> = SqliteStore::builder(&path)
        .table("state; DROP TABLE x")
        .open();
    let message = bad
        .expect_err("a table name that is not an identifier")
        .to_string();
    assert!(message.contains("invalid table name"), "{message}");
    // Another name in the same file is a table of its own, created.
    let other = SqliteStore::builder(&path).table("breakers_v2").open();
    assert!(other.is_ok(), "{other:?}");
}

/// Makes a file read-only for this process, root included (root ignores
/// file modes: the file is made immutable instead), until dropped.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn make(path: &Path) -> ReadOnly {
        use std::os::unix::fs::PermissionsExt;
        // The store left no -wal or -shm beside it (it was closed).
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let guard = ReadOnly(path.to_owned());
        if writable(path) {
            let chattr = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status();
            assert!(
                matches!(chattr, Ok(s) if s.success()) && !writable(path),
                "cannot make {} read-only: this process ignores file modes (root), \
                 and `chattr +i` failed ({chattr:?}); run the test on ext4 or as \
                 another user",
                path.display()
            );
        }
        guard
    }
}

fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().write(true).open(path).is_ok()
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o644));
    }
}

// ---------------------------------------------------------------------------
// A lock held by another connection: an outage, reported once each way.
// ---------------------------------------------------------------------------

#[test]
fn a_locked_file_leaves_breakers_local_and_is_reported_once_each_way() {
    let dir = TempDir::new("locked");
    let path = dir.file("breakers.db");
    let store = store(&path);
    let b = join(&store, "db", config(Duration::from_millis(200)));
    let lock = raw(&path);
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open, "the breaker opens on its own");
    assert!(
        eventually(SOON, || !store.is_available()),
        "the store noticed the lock"
    );
    // Local decisions: rejected while Open, then a trial that does not wait
    // for the lock, and a close.
    assert!(ok(&b).is_err());
    assert!(eventually(SOON, || ok(&b).is_ok()), "a local trial ran");
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(reports(&path, DOWN).len(), 1, "{:?}", reports(&path, DOWN));

    // The lock goes: the store comes back, once, and writes what the
    // breaker did meanwhile.
    lock.execute_batch("ROLLBACK").unwrap();
    assert!(
        eventually(SOON, || store.is_available()),
        "the store came back"
    );
    assert!(
        eventually(SOON, || row_state(&path, "db").as_deref() == Some("open")),
        "the Open made during the lock was written: {:?}",
        row_state(&path, "db")
    );
    assert_eq!(reports(&path, DOWN).len(), 1);
    assert_eq!(reports(&path, UP).len(), 1);
}

#[test]
fn a_call_that_needs_a_permit_while_the_file_is_locked_waits_at_most_the_budget() {
    let dir = TempDir::new("budget");
    let path = dir.file("breakers.db");
    let store = store(&path); // budget 300 ms, busy timeout 50 ms
    let b = join(&store, "db", config(Duration::from_millis(100)));
    b.trip();
    assert!(store.flush(SOON));
    assert_eq!(row_state(&path, "db").as_deref(), Some("open"));
    let lock = raw(&path);
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::sleep(Duration::from_millis(150)); // the open period ends

    let started = Instant::now();
    let outcome = ok(&b);
    let waited = started.elapsed();
    // Not a measurement: a bound that fails only if the call waited on the
    // lock instead of the budget (the lock is held for the whole test).
    assert!(
        waited < Duration::from_secs(2),
        "the call waited {waited:?}"
    );
    assert!(
        outcome.is_ok(),
        "the store could not tell, so the breaker decided locally: {outcome:?}"
    );
    assert!(!store.is_available());
    lock.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_file_locked_at_opening_is_set_up_when_the_lock_goes() {
    let dir = TempDir::new("locked-at-open");
    let path = dir.file("breakers.db");
    let lock = raw(&path);
    lock.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE other (x); ")
        .unwrap();
    let store = store(&path);
    assert!(!store.is_available(), "the store opened a locked file");
    let b = join(&store, "db", config(Duration::from_secs(30)));
    b.trip();
    assert_eq!(b.state(), State::Open);
    assert_eq!(reports(&path, DOWN).len(), 1);
    lock.execute_batch("COMMIT").unwrap();
    assert!(eventually(SOON, || store.is_available()));
    assert!(
        eventually(SOON, || row_state(&path, "db").as_deref() == Some("open")),
        "the table was created and the Open written"
    );
    assert_eq!(reports(&path, UP).len(), 1);
}

// ---------------------------------------------------------------------------
// Junk in the rows: refused, reported once per breaker and kind, never
// adopted, and written over by the next transition.
// ---------------------------------------------------------------------------

/// One junk row: the breaker's name, the columns' SQL values, and the
/// problem the report names.
struct Junk {
    name: &'static str,
    values: String,
    problem: &'static str,
}

fn junk_rows() -> Vec<Junk> {
    let now = unix_ms();
    let v = unix_us();
    let row = |name, state: &str, until: String, period: &str, version: String, changed: &str| {
        (
            name,
            format!("{state}, {until}, {period}, 'junk', {changed}, {version}"),
        )
    };
    let sound_until = (now + 10_000).to_string();
    let cases = [
        (
            row(
                "unknown_state",
                "'ajar'",
                sound_until.clone(),
                "30000",
                v.to_string(),
                "0",
            ),
            "a state that is not a state name",
        ),
        (
            row(
                "state_not_utf8",
                "CAST(X'FFFE6F70656E' AS TEXT)",
                sound_until.clone(),
                "30000",
                v.to_string(),
                "0",
            ),
            "a state that is not a state name",
        ),
        (
            row(
                "state_integer",
                "7",
                sound_until.clone(),
                "30000",
                v.to_string(),
                "0",
            ),
            "a state that is not a state name",
        ),
        (
            row(
                "until_negative",
                "'open'",
                "-5".into(),
                "30000",
                v.to_string(),
                "0",
            ),
            "open_until_ms is not a whole number",
        ),
        (
            row(
                "until_huge",
                "'open'",
                i64::MAX.to_string(),
                "30000",
                v.to_string(),
                "0",
            ),
            "longer than this breaker's longest open period",
        ),
        (
            row(
                "until_text",
                "'open'",
                "'soon'".into(),
                "30000",
                v.to_string(),
                "0",
            ),
            "open_until_ms is not a whole number",
        ),
        (
            row(
                "period_negative",
                "'open'",
                sound_until.clone(),
                "-1",
                v.to_string(),
                "0",
            ),
            "period_ms is not a whole number",
        ),
        (
            row(
                "period_too_long",
                "'open'",
                sound_until.clone(),
                "86400000",
                v.to_string(),
                "0",
            ),
            "longer than this breaker's longest open period",
        ),
        (
            row(
                "version_future",
                "'open'",
                sound_until.clone(),
                "30000",
                i64::MAX.to_string(),
                "0",
            ),
            "a version more than an hour ahead",
        ),
        (
            row(
                "version_real",
                "'open'",
                sound_until.clone(),
                "30000",
                "1.5".into(),
                "0",
            ),
            "a version that is not a whole number",
        ),
        (
            row(
                "changed_blob",
                "'closed'",
                "0".into(),
                "0",
                v.to_string(),
                "X'00'",
            ),
            "a changed_at_ms that is not a whole number",
        ),
        (
            row(
                "open_in_future",
                "'open'",
                (now + 20_000).to_string(),
                "1000",
                v.to_string(),
                "0",
            ),
            "an Open that began in the future",
        ),
    ];
    cases
        .into_iter()
        .map(|((name, values), problem)| Junk {
            name,
            values,
            problem,
        })
        .collect()
}

#[test]
fn junk_in_each_column_is_refused_once_and_joiners_start_closed() {
    let dir = TempDir::new("junk");
    let path = dir.file("breakers.db");
    let store = store(&path);
    let junk = junk_rows();
    let conn = raw(&path);
    for j in &junk {
        conn.execute(
            &format!(
                "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
                 changed_at_ms, version) VALUES (?1, {})",
                j.values
            ),
            [j.name],
        )
        .unwrap_or_else(|e| panic!("{}: {e}", j.name));
    }
    let breakers: Vec<Breaker> = junk
        .iter()
        .map(|j| join(&store, j.name, config(Duration::from_secs(30))))
        .collect();
    for (j, b) in junk.iter().zip(&breakers) {
        assert_eq!(b.state(), State::Closed, "{}: junk was adopted", j.name);
        let lines = reports(&path, &format!("breaker={} ", j.name));
        assert_eq!(lines.len(), 1, "{}: {lines:?}", j.name);
        assert!(
            lines[0].contains(REFUSED) && lines[0].contains(j.problem),
            "{}: {}",
            j.name,
            lines[0]
        );
    }
    // Polls that find the file changed read the junk again: no new report.
    conn.execute(
        "INSERT INTO breaker_state (name, state) VALUES ('other', 'closed')",
        [],
    )
    .unwrap();
    assert!(store.flush(SOON));
    std::thread::sleep(Duration::from_millis(200)); // ten polls
    assert_eq!(reports(&path, REFUSED).len(), junk.len());
    for b in &breakers {
        assert_eq!(b.state(), State::Closed);
    }

    // The next transition writes over the junk, policy's or operator's.
    fail(&breakers[0]);
    fail(&breakers[0]);
    breakers[1].trip();
    assert!(store.flush(SOON));
    assert_eq!(row_state(&path, junk[0].name).as_deref(), Some("open"));
    assert_eq!(row_state(&path, junk[1].name).as_deref(), Some("open"));
    // ...and a process joining now adopts the sound row.
    let joiner = join(
        &store_again(&path),
        junk[0].name,
        config(Duration::from_secs(30)),
    );
    assert_eq!(joiner.state(), State::Open);
}

/// Junk in the columns of the trial permits (`trials`, `trials_until_ms`,
/// `trials_epoch`: another type, negative, huge, a lease from the future)
/// never makes a taking fail. Junk in the count or its lease counts as no
/// permit held: the taking starts a count, under the next epoch. Junk in
/// the epoch counts as 0: a count that holds permits goes on under epoch 1
/// (its permits go back late, never early), and one that holds none starts
/// at 1. Each permit then goes back under the epoch it was taken under.
#[test]
fn junk_in_the_permits_columns_counts_as_none_and_never_fails_a_taking() {
    let dir = TempDir::new("junk-permits");
    let path = dir.file("breakers.db");
    let store = store(&path);
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
    let conn = raw(&path);
    let count = || -> (i64, i64) {
        conn.query_row(
            "SELECT trials, trials_epoch FROM breaker_state WHERE name = 'db'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    // The lease's end from now (ms): well within `trial_ttl` (10 s), lapsed,
    // from the future.
    let (lease, lapsed, future) = (5_000, -1, 86_400_000);
    /// (trials, lease, trials_epoch) held, and the count after a taking.
    type Case = ((&'static str, i64, &'static str), (i64, i64));
    let cases: [Case; 15] = [
        (("0", lease, "7"), (1, 8)),
        (("1", lease, "7"), (2, 7)),
        (("1", lapsed, "7"), (1, 8)),
        (("1", future, "7"), (1, 8)),
        (("'x'", lease, "7"), (1, 8)),
        (("-3", lease, "7"), (1, 8)),
        (("5000000000", lease, "7"), (1, 8)),
        (("1.5", lease, "7"), (1, 8)),
        (("0", lease, "'x'"), (1, 1)),
        (("0", lease, "-5"), (1, 1)),
        (("0", lease, "1.5"), (1, 1)),
        (("0", lease, "X'00'"), (1, 1)),
        (("0", lease, "9223372036854775807"), (1, 1)),
        (("0", lease, "9223372036854775806"), (1, i64::MAX)),
        (("1", lease, "'x'"), (2, 1)),
    ];
    for ((trials, lease, epoch), taken) in cases {
        let held = format!("trials {trials}, lease {lease} ms, epoch {epoch}");
        let until = unix_ms() as i64 + lease;
        conn.execute_batch(&format!(
            "UPDATE breaker_state SET trials = {trials}, trials_until_ms = {until}, \
             trials_epoch = {epoch} WHERE name = 'db'"
        ))
        .unwrap_or_else(|e| panic!("{held}: {e}"));
        let trial = b.acquire().unwrap_or_else(|e| panic!("{held}: {e}"));
        assert_eq!(count(), taken, "{held}: the taking");
        trial.success();
        assert!(store.flush(SOON));
        assert_eq!(count(), (taken.0 - 1, taken.1), "{held}: given back");
    }
    assert!(store.is_available());
    assert_eq!(reports(&path, DOWN).len(), 0);
}

fn store_again(path: &Path) -> SqliteStore {
    store(path)
}

#[test]
fn an_open_that_ended_before_the_restart_is_not_adopted_and_is_reported() {
    let dir = TempDir::new("elapsed");
    let path = dir.file("breakers.db");
    let store = store(&path);
    let now = unix_ms() as i64;
    raw(&path)
        .execute(
            "INSERT INTO breaker_state (name, state, open_until_ms, period_ms, reason, \
             changed_at_ms, version) VALUES ('db', 'open', ?1, 500, 'five failures', ?2, ?3)",
            [now - 1500, now - 2000, unix_us() as i64],
        )
        .unwrap();
    let b = join(&store, "db", config(Duration::from_millis(500)));
    assert_eq!(b.state(), State::Closed);
    let lines = reports(&path, "had ended when the breaker joined");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("breaker=db "), "{}", lines[0]);
    assert_eq!(
        reports(&path, REFUSED).len(),
        0,
        "an elapsed Open is not junk"
    );
}

/// A permit goes back only to the row it was taken from: one taken before
/// another process rewrote the row (and took the next period's permit) frees
/// nothing of the new row's when it is given back.
#[test]
fn a_permit_goes_back_only_to_the_row_it_was_taken_from() {
    let dir = TempDir::new("permit-version");
    let path = dir.path().join("breakers.db");
    let store = store(&path);
    let b = join(&store, "db", config(Duration::from_millis(300)));
    let trials = || -> i64 {
        raw(&path)
            .query_row(
                "SELECT trials FROM breaker_state WHERE name = 'db'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    fail(&b);
    fail(&b);
    assert!(store.flush(Duration::from_secs(1)));
    std::thread::sleep(Duration::from_millis(350));

    // Taken and given back under one version of the row.
    let trial = b.acquire().expect("a trial");
    assert_eq!(trials(), 1);
    drop(trial);
    assert!(store.flush(Duration::from_secs(1)));
    assert_eq!(trials(), 0);

    // Taken, then the row is another process's, its one permit taken.
    let trial = b.acquire().expect("a trial");
    raw(&path)
        .execute(
            "UPDATE breaker_state SET version = version + 1, trials = 1 WHERE name = 'db'",
            [],
        )
        .unwrap();
    drop(trial);
    assert!(store.flush(Duration::from_secs(1)));
    assert_eq!(trials(), 1, "the new row's permit kept");
}
