//! Reading, writing and adopting one breaker's row: what the store's thread
//! does for a breaker while the file is available. What a row read or
//! written means for the breakers is decided in `store::tabular::apply`;
//! every write is one transaction under the file's write lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::hub::Core;
use super::schema::Sql;
use super::table;
use crate::store::row::Write;
use crate::store::tabular::apply::{self, Take, take_held};
use crate::store::tabular::membership::LinkState;

/// Reads a joining breaker's row, and adopts it.
pub(super) fn join(
    core: &Core,
    conn: &Connection,
    sql: &Sql,
    link: &LinkState,
) -> rusqlite::Result<()> {
    let raw = table::read(conn, sql, &link.name)?;
    take_held(core, link, raw.as_ref(), Take::Join);
    Ok(())
}

/// Reads the row of every breaker that joined, and adopts what changed.
pub(super) fn poll(core: &Core, conn: &Connection, sql: &Sql) -> rusqlite::Result<()> {
    for link in core.all_links() {
        let raw = table::read(conn, sql, &link.name)?;
        take_held(core, &link, raw.as_ref(), Take::Poll);
    }
    Ok(())
}

/// Writes a transition of `link`'s breaker unless the row held overrules it
/// (then the breaker adopts the row); see `apply::written` for the rest.
pub(super) fn publish(
    core: &Core,
    conn: &mut Connection,
    sql: &Sql,
    link: &Arc<LinkState>,
    write: &Write,
    adoptions: u64,
) -> rusqlite::Result<()> {
    let Some(breaker) = link.breaker.upgrade() else {
        return Ok(());
    };
    let written = table::write(conn, sql, &link.name, apply::decide(&breaker, write))?;
    // The file's change counter does not count this connection's own
    // writes: the other breakers of this name here learn it there.
    apply::written(core, link, written, adoptions);
    Ok(())
}

/// When the file is back: a transition made while it was unavailable is
/// written now (and overruled by an Open held elsewhere, which then wins
/// here); otherwise a newer row is applied here, and a local Open the table
/// lost (or holds junk in place of) is written back.
pub(super) fn reconcile(
    core: &Core,
    conn: &mut Connection,
    sql: &Sql,
    link: &Arc<LinkState>,
) -> rusqlite::Result<()> {
    let raw = table::read(conn, sql, &link.name)?;
    let Some(write) = apply::reconciling(core, link, raw.as_ref()) else {
        return Ok(());
    };
    let adoptions = link.adoptions.load(Ordering::Acquire);
    let result = publish(core, conn, sql, link, &write, adoptions);
    if result.is_err() {
        link.dirty.store(true, Ordering::Release);
    }
    result
}
