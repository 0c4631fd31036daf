//! The file and its table: the connection opened for sharing one file
//! between processes (WAL, a busy timeout within the budget), the table
//! created if missing (or, made by an earlier version, given the column it
//! lacks) and its shape checked, and the statements the store runs on it
//! ([`Sql`]).
//!
//! What can never work (a path that cannot be opened, a read-only file, a
//! file that is not a database, a table without the store's columns) is a
//! [`StoreError`] when the store opens. A lock held by another process only
//! delays the setup: the store's thread tries it again.

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::builder::SqliteStoreBuilder;
use super::error::StoreError;
use crate::store::row::{COLUMNS, FIRST_SHAPE};
use crate::store::tabular::table_name;

/// The table, as the store creates it (`docs/shared-state.md` explains each
/// column). Not `STRICT`, so that any SQLite can read the file: what a
/// column holds is checked when it is read (`store::row`), whatever its type.
pub(super) fn ddl(table: &str) -> String {
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
    trials_until_ms INTEGER NOT NULL DEFAULT 0,
    trials_epoch    INTEGER NOT NULL DEFAULT 0
)"
    )
}

/// The column the first shape lacks. Every row gets 0: no permit was taken
/// under an epoch yet, and the next taking that starts a count moves it.
fn add_epoch(table: &str) -> String {
    format!("ALTER TABLE \"{table}\" ADD COLUMN trials_epoch INTEGER NOT NULL DEFAULT 0")
}

/// The permits a row holds: taken, and not yet lapsed at `?2` (now, unix
/// ms) nor further off than `?5` (now + the permits' life + the clock's
/// margin). Anything else (not an integer, negative, huge, a lease from the
/// future) counts as none, so no junk in the row can block trials for
/// longer than one lease.
const PERMITS_HELD: &str = "(CASE WHEN typeof(trials) = 'integer' AND trials BETWEEN 1 AND 4294967295 \
     AND typeof(trials_until_ms) = 'integer' AND trials_until_ms > ?2 AND trials_until_ms <= ?5 \
     THEN trials ELSE 0 END)";

/// Whether the row's epoch is one: an integer from 0, with room for the
/// next. Anything else (not an integer, negative, i64::MAX) counts as 0, so
/// no junk in the row can make a taking fail.
const EPOCH_SOUND: &str = "(typeof(trials_epoch) = 'integer' \
     AND trials_epoch BETWEEN 0 AND 9223372036854775806)";

/// The statements the store runs, for one table.
pub(super) struct Sql {
    /// `?1` name: the row's [`COLUMNS`].
    pub(super) read: String,
    /// Writes a whole row and gives its permits back.
    pub(super) upsert: String,
    /// `?1` name, `?2` now, `?3` the lease's end, `?4` the cap, `?5` the
    /// furthest lease that is not junk: takes a permit if fewer than the cap
    /// are held, in one statement. The row's version and the count's epoch
    /// when taken.
    pub(super) acquire: String,
    /// `?1` name, `?2` version, `?3` epoch: gives a permit back to the count
    /// it was taken from, never below zero.
    pub(super) release: String,
    /// `?1` name: whether the row exists.
    pub(super) exists: String,
}

impl Sql {
    pub(super) fn new(table: &str) -> Sql {
        // The epoch of the count after a taking: the count's own while it
        // holds permits; the next one when the taking starts a count (none
        // held: lapsed, junk, or none taken), junk counting as 0.
        let epoch = format!(
            "(CASE WHEN {PERMITS_HELD} > 0 AND {EPOCH_SOUND} THEN trials_epoch \
             WHEN {EPOCH_SOUND} THEN trials_epoch + 1 ELSE 1 END)"
        );
        Sql {
            read: format!("SELECT {COLUMNS} FROM \"{table}\" WHERE name = ?1"),
            // The epoch stays: a write changes the version (`row::decide`),
            // which no permit taken before it goes back under, and the next
            // taking finds no permit held and starts the next epoch.
            upsert: format!(
                "INSERT INTO \"{table}\" (name, {COLUMNS}, trials, trials_until_ms, trials_epoch) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, 0) \
                 ON CONFLICT(name) DO UPDATE SET state = excluded.state, \
                 open_until_ms = excluded.open_until_ms, period_ms = excluded.period_ms, \
                 reason = excluded.reason, changed_at_ms = excluded.changed_at_ms, \
                 version = excluded.version, trials = 0, trials_until_ms = 0"
            ),
            // SET's expressions all read the row as it was, with one clock.
            acquire: format!(
                "UPDATE \"{table}\" SET trials = {PERMITS_HELD} + 1, trials_until_ms = ?3, \
                 trials_epoch = {epoch} \
                 WHERE name = ?1 AND {PERMITS_HELD} < ?4 RETURNING version, trials_epoch"
            ),
            // Only to the count a permit was taken from: a permit taken
            // before another process rewrote the row, or before its lease
            // lapsed and another taking started a new count, must not free
            // one of the new count's (one trial more than the cap would
            // start).
            release: format!(
                "UPDATE \"{table}\" SET trials = trials - 1 \
                 WHERE name = ?1 AND version = ?2 AND trials_epoch = ?3 \
                 AND typeof(trials) = 'integer' AND trials > 0"
            ),
            exists: format!("SELECT count(*) FROM \"{table}\" WHERE name = ?1"),
        }
    }

    /// Every statement, to prepare.
    fn all(&self) -> [&str; 5] {
        [
            &self.read,
            &self.upsert,
            &self.acquire,
            &self.release,
            &self.exists,
        ]
    }
}

/// Refuses a table name that would need quoting rules to be safe in SQL.
pub(super) fn check_table_name(table: &str) -> Result<(), StoreError> {
    table_name::check(table, 63).map_err(StoreError)
}

/// Opens the file, creating it if missing, for reading and writing.
pub(super) fn open(options: &SqliteStoreBuilder) -> Result<Connection, StoreError> {
    let path = options.path.display();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&options.path, flags).map_err(|e| {
        StoreError(format!(
            "cannot open the SQLite file {path}: {e} (does its directory exist, \
             and may this process write there?)"
        ))
    })?;
    // SQLite falls back to reading alone when the file is write-protected.
    if conn.is_readonly("main").unwrap_or(false) {
        return Err(read_only(options));
    }
    conn.busy_timeout(options.busy_timeout.min(options.budget))
        .map_err(|e| setup_error(options, &e))?;
    Ok(conn)
}

/// Puts the file in WAL mode and the table in place (a table of the first
/// shape given its epoch column), and checks its shape by preparing every
/// statement the store runs. Idempotent; it only writes when something is
/// missing.
pub(super) fn set_up(conn: &Connection, table: &str, sql: &Sql) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Reported as a file that cannot be opened for sharing.
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!(
                    "cannot be put in WAL mode: journal_mode stays {mode}"
                )),
            ));
        }
    }
    // In WAL mode a commit is durable across a crash of the process (not of
    // the host's power) without an fsync per transition.
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    let exists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    if exists == 0 {
        conn.execute_batch(&ddl(table))?;
    } else if first_shape(conn, table)? {
        upgrade(conn, table, sql)?;
    }
    for statement in sql.all() {
        conn.prepare_cached(statement)?;
    }
    Ok(())
}

/// Whether the table has exactly the columns of the first shape.
fn first_shape(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    let mut columns = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")?
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    columns.sort();
    Ok(columns == FIRST_SHAPE)
}

/// Adds the epoch column to a table of the first shape, under the file's
/// write lock: of processes opening at once, one adds it, and the others,
/// each after it, find it there (the shape is read again under the lock).
/// Not kept if the store still cannot use the table (the first shape
/// without its key on `name`): that is refused as before, the table left as
/// it was.
fn upgrade(conn: &Connection, table: &str, sql: &Sql) -> rusqlite::Result<()> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    if first_shape(&tx, table)? {
        tx.execute_batch(&add_epoch(table))?;
        for statement in sql.all() {
            tx.prepare(statement)?;
        }
    }
    tx.commit()
}

/// Whether an error passes by itself: another connection holds a lock.
pub(super) fn transient(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// The error of a setup that can never work, said for a user.
pub(super) fn setup_error(options: &SqliteStoreBuilder, e: &rusqlite::Error) -> StoreError {
    let path = options.path.display();
    let table = &options.table;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError(format!(
            "{path} is not a SQLite database ({e}): give the store a path of its own, \
             or move the file away"
        )),
        Some(ErrorCode::DatabaseCorrupt) => StoreError(format!(
            "the SQLite file {path} is corrupt ({e}): move it away, the store creates a new one"
        )),
        Some(ErrorCode::ReadOnly) => read_only(options),
        Some(ErrorCode::CannotOpen) => StoreError(format!(
            "cannot open the SQLite file {path} ({e}): may this process write in its directory?"
        )),
        _ => StoreError(format!(
            "cannot use table {table} in the SQLite file {path}: {e} (a table of that name \
             with other columns? the store needs: name TEXT PRIMARY KEY, {COLUMNS}, trials, \
             trials_until_ms, trials_epoch)"
        )),
    }
}

fn read_only(options: &SqliteStoreBuilder) -> StoreError {
    StoreError(format!(
        "the SQLite file {} is read-only: the store writes every transition to it; \
         give this process write access to the file and its directory",
        options.path.display()
    ))
}
