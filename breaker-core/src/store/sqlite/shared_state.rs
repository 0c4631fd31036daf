//! Reading, writing and adopting one breaker's row: what the store's thread
//! does for a breaker while the file is available. Everything read is
//! checked by `store::row` before a breaker adopts it, and every write goes
//! through the rules of `row::decide`, under the file's write lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::hub::Core;
use super::membership::LinkState;
use super::schema::Sql;
use super::table::{self, Written};
use crate::State;
use crate::store::Remote;
use crate::store::row::{self, Held, Limits, Now, RawRow, Write, millis};

/// Why a row is being taken: it decides what applies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Take {
    /// A breaker joined the store: an elapsed Open is reported.
    Join,
    /// A poll found the file changed, or the row was just written.
    Poll,
    /// The row overruled the breaker's own transition: it applies even at a
    /// version the breaker has seen.
    Overruled,
}

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

/// Applies a row read for `link`, if it passes the checks and its version
/// is not the one the breaker has seen (or, `Overruled`, in any case). What
/// a read finds is the state now held: a version lower than the one seen
/// means the row was deleted and written anew, and applies too. An Open
/// whose deadline passed is not adopted: the breaker would open for no time.
pub(super) fn take_held(core: &Core, link: &LinkState, raw: Option<&RawRow>, take: Take) {
    let Some(breaker) = link.breaker.upgrade() else {
        return;
    };
    let limits = Limits::new(breaker.config(), Now::read());
    let checked = match row::check(raw, &limits) {
        Ok(Some(checked)) => checked,
        Ok(None) => {
            // No row: the versions seen before mean nothing against a new one.
            link.seen.store(0, Ordering::Release);
            return;
        }
        Err(refused) => {
            core.refuse(&link.name, &refused);
            return;
        }
    };
    let fresh = link.seen.swap(checked.version, Ordering::AcqRel) != checked.version;
    if !fresh && take != Take::Overruled {
        return;
    }
    if let Some(ago) = checked.ended_ago {
        if take == Take::Join {
            tracing::info!(
                target: "breaker",
                path = %core.options.path.display(),
                table = %core.options.table,
                breaker = %link.name,
                ended_ms_ago = millis(ago),
                reason = %checked.remote.reason,
                "the Open held in the SQLite store had ended when the breaker joined; \
                 not adopted"
            );
        }
        return;
    }
    adopt(link, &breaker, &checked.remote);
}

fn adopt(link: &LinkState, breaker: &crate::Breaker, remote: &Remote) {
    link.adoptions.fetch_add(1, Ordering::AcqRel);
    breaker.adopt(remote);
}

/// Writes a transition of `link`'s breaker unless the row held overrules it
/// (then the breaker adopts the row). `adoptions` is the count when the
/// breaker made the transition: if it adopted a row since, that row is
/// older than this write, and the breaker takes this write back, to end
/// where the others end.
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
    let written = table::write(conn, sql, &link.name, |held, now| {
        let limits = Limits::new(breaker.config(), now);
        row::decide(&Held::of(held, &limits), write, now)
    })?;
    match written {
        Written::Kept(held) => take_held(core, link, held.as_ref(), Take::Overruled),
        Written::Wrote(new) => {
            let raw = new.as_raw();
            // What was just written is the newest state held, even if a
            // higher version was seen before (a row from the clock's future).
            link.seen
                .store(u64::try_from(new.version).unwrap_or(0), Ordering::Release);
            if link.adoptions.load(Ordering::Acquire) != adoptions {
                take_held(core, link, Some(&raw), Take::Overruled);
            }
            // The file's change counter does not count this connection's own
            // writes: the other breakers of this name here learn it now.
            for other in core.links_named(&link.name) {
                if !Arc::ptr_eq(&other, link) {
                    take_held(core, &other, Some(&raw), Take::Poll);
                }
            }
        }
    }
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
    let Some(breaker) = link.breaker.upgrade() else {
        return Ok(());
    };
    let raw = table::read(conn, sql, &link.name)?;
    let limits = Limits::new(breaker.config(), Now::read());
    let held_sound = matches!(row::check(raw.as_ref(), &limits), Ok(Some(_)));
    let (state, left, period) = breaker.shared_view();
    let missing = !held_sound && state != State::Closed;
    if !link.dirty.swap(false, Ordering::AcqRel) && !missing {
        take_held(core, link, raw.as_ref(), Take::Poll);
        return Ok(());
    }
    let state = if state == State::HalfOpen {
        State::Open
    } else {
        state
    };
    let reason = match breaker.open_reason() {
        Some(reason) if state != State::Closed => reason.reason.to_string(),
        _ => "reconciled".to_owned(),
    };
    let write = Write {
        state,
        remaining_ms: millis(left),
        period_ms: millis(period).max(1),
        reason,
        manual: false,
        seen: link.seen.load(Ordering::Acquire),
        at_ms: Now::read().ms,
    };
    let adoptions = link.adoptions.load(Ordering::Acquire);
    let result = publish(core, conn, sql, link, &write, adoptions);
    if result.is_err() {
        link.dirty.store(true, Ordering::Release);
    }
    result
}
