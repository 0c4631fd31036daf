//! The store's statements on the table, one function each: read a row, write
//! a transition under compare-and-set, take and give back a half-open trial
//! permit, and the cheap questions the store's thread asks (has another
//! process written since? is the write lock free?). They return what SQLite
//! said; what it means for a breaker is decided in `shared_state.rs`.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::schema::Sql;
use crate::store::Trial;
use crate::store::row::{CLOCK_MARGIN, Field, NewRow, Now, RawRow, millis, signed};
use crate::store::tabular::apply::Written;
use crate::store::tabular::membership::Generation;

/// A breaker's row, each column as it is, whatever its type: nothing in the
/// row can make a read fail.
pub(super) fn read(conn: &Connection, sql: &Sql, name: &str) -> rusqlite::Result<Option<RawRow>> {
    conn.prepare_cached(&sql.read)?
        .query_row([name], raw_row)
        .optional()
}

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    let field = |i: usize| -> rusqlite::Result<Field> {
        Ok(match row.get_ref(i)? {
            ValueRef::Null => Field::Null,
            ValueRef::Integer(n) => Field::Integer(n),
            ValueRef::Real(x) => Field::Real(x),
            ValueRef::Text(t) => Field::Text(t.to_vec()),
            ValueRef::Blob(b) => Field::Blob(b.to_vec()),
        })
    };
    Ok(RawRow {
        state: field(0)?,
        open_until_ms: field(1)?,
        period_ms: field(2)?,
        reason: field(3)?,
        changed_at_ms: field(4)?,
        version: field(5)?,
    })
}

/// Writes a row if `decide`, given the row held and the clock (both read
/// under the write lock), returns one: read, decide and write are one
/// transaction, so no other process writes in between.
pub(super) fn write(
    conn: &mut Connection,
    sql: &Sql,
    name: &str,
    decide: impl FnOnce(Option<&RawRow>, Now) -> Option<NewRow>,
) -> rusqlite::Result<Written> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let held = read(&tx, sql, name)?;
    let Some(row) = decide(held.as_ref(), Now::read()) else {
        tx.commit()?;
        return Ok(Written::Kept(held));
    };
    tx.prepare_cached(&sql.upsert)?.execute(params![
        name,
        row.state,
        row.open_until_ms,
        row.period_ms,
        row.reason,
        row.changed_at_ms,
        row.version,
    ])?;
    tx.commit()?;
    Ok(Written::Wrote(row))
}

/// Takes one of `cap` permits, each lease renewed for `ttl_ms`, in one
/// statement, with the clock read under the write lock (read before it, a
/// wait for the lock would make a lease just written by another process
/// look like one from the future, that is junk). `Local` when the row is
/// missing: there is nothing shared to count against (the breaker's
/// transition to Open was never written). A permit comes with the row's
/// version and the count's epoch, to give it back under (`None` when the
/// version is not a whole number: the permit is not given back, and lapses).
pub(super) fn acquire(
    conn: &mut Connection,
    sql: &Sql,
    name: &str,
    cap: u32,
    ttl_ms: u64,
) -> rusqlite::Result<(Trial, Option<Generation>)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = Now::read();
    let until = now.ms.saturating_add(ttl_ms);
    let furthest = until.saturating_add(millis(CLOCK_MARGIN));
    let taken: Option<(i64, i64)> = tx
        .prepare_cached(&sql.acquire)?
        .query_row(
            params![
                name,
                signed(now.ms),
                signed(until),
                i64::from(cap),
                signed(furthest),
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let generation = taken.and_then(|(version, epoch)| {
        Some(Generation {
            version: u64::try_from(version).ok()?,
            epoch: u64::try_from(epoch).ok()?,
        })
    });
    let trial = if taken.is_some() {
        Trial::Granted
    } else {
        let exists: i64 = tx
            .prepare_cached(&sql.exists)?
            .query_row([name], |r| r.get(0))?;
        if exists > 0 {
            Trial::Denied
        } else {
            Trial::Local
        }
    };
    tx.commit()?;
    Ok((trial, generation))
}

/// Gives back a permit taken under `taken`, never below zero; nothing when
/// the row was rewritten since (the write cleared its permits) or its count
/// lapsed and another began.
pub(super) fn release(
    conn: &Connection,
    sql: &Sql,
    name: &str,
    taken: Generation,
) -> rusqlite::Result<()> {
    conn.prepare_cached(&sql.release)?.execute(params![
        name,
        signed(taken.version),
        signed(taken.epoch)
    ])?;
    Ok(())
}

/// A number that changes whenever another connection commits to the file:
/// comparing it is how a poll finds nothing to do at the cost of one read.
pub(super) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// Takes the write lock and lets it go: whether a write would pass now.
pub(super) fn probe(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)?
        .rollback()
}
