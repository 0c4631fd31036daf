//! Reading, writing and adopting breakers' rows: what the store's thread
//! does for breakers while the server is reachable. What a row read or
//! written means for the breakers is decided in `store::tabular::apply`;
//! every write is a compare-and-set (`table.rs`), every permit one
//! statement.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::failure::Failure;
use super::hub::Core;
use super::table::Table;
use crate::store::Trial;
use crate::store::row::{self, Limits, Write, millis};
use crate::store::tabular::apply::{self, Take, take_held};
use crate::store::tabular::hub::TableHub;
use crate::store::tabular::membership::LinkState;
use crate::store::trial_answer::Reply;

/// Reads a joining breaker's row, and adopts it.
pub(super) async fn join(core: &Core, table: &Table<'_>, link: &LinkState) -> Result<(), Failure> {
    let read = table.read(&link.name).await?;
    core.clock.note(read.now_us);
    take_held(core, link, read.row.as_ref(), Take::Join);
    Ok(())
}

/// Reads the row of `name` once, and applies it to every breaker of that
/// name here: another process wrote it (its notification).
pub(super) async fn reread(core: &Core, table: &Table<'_>, name: &str) -> Result<(), Failure> {
    let links = core.links_named(name);
    if links.is_empty() {
        return Ok(());
    }
    let read = table.read(name).await?;
    core.clock.note(read.now_us);
    for link in links {
        take_held(core, &link, read.row.as_ref(), Take::Poll);
    }
    Ok(())
}

/// Writes a transition of `link`'s breaker unless the row held overrules it
/// (then the breaker adopts the row); see `apply::written` for the rest.
pub(super) async fn publish(
    core: &Core,
    table: &Table<'_>,
    link: &Arc<LinkState>,
    write: &Write,
    adoptions: u64,
) -> Result<(), Failure> {
    let Some(breaker) = link.breaker.upgrade() else {
        return Ok(());
    };
    match table
        .write(&link.name, apply::decide(&breaker, write))
        .await?
    {
        Some(written) => apply::written(core, link, written, adoptions),
        // Every try lost a race to another writer: written, or overruled,
        // at the next reconnection.
        None => link.dirty.store(true, Ordering::Release),
    }
    Ok(())
}

/// After a reconnection: a transition made while the server was
/// unreachable is written now (and overruled by an Open held elsewhere,
/// which then wins here); otherwise the row, which may have changed
/// unannounced to this process meanwhile, is applied here, and a local Open
/// the table lost (or holds junk in place of) is written back.
pub(super) async fn reconcile(
    core: &Core,
    table: &Table<'_>,
    link: &Arc<LinkState>,
) -> Result<(), Failure> {
    let read = table.read(&link.name).await?;
    core.clock.note(read.now_us);
    let Some(write) = apply::reconciling(core, link, read.row.as_ref()) else {
        return Ok(());
    };
    let adoptions = link.adoptions.load(Ordering::Acquire);
    publish(core, table, link, &write, adoptions).await
}

/// Answers a trial-permit request: a permit of the row at the version the
/// breaker has seen, if one is free. When none is taken, the row says why:
/// none (`Local`: nothing shared to count against), junk (`Local`: it is
/// not believed), written since (adopted here, and `Denied`), or every
/// permit taken (`Denied`). A permit granted to a caller that stopped
/// waiting goes back at once.
pub(super) async fn acquire(
    core: &Core,
    table: &Table<'_>,
    link: &LinkState,
    reply: Reply,
) -> Result<(), Failure> {
    let seen = link.seen.load(Ordering::Acquire);
    let ttl = millis(core.options.trial_ttl);
    let taken = match table.acquire(&link.name, seen, link.half_open, ttl).await {
        Ok(taken) => taken,
        Err(e) => {
            reply.answer(Trial::Local);
            return Err(e);
        }
    };
    if let Some(taken) = taken {
        if reply.answer(Trial::Granted) {
            link.permits.took(taken);
        } else {
            table.release(&link.name, taken).await?;
        }
        return Ok(());
    }
    let read = match table.read(&link.name).await {
        Ok(read) => read,
        Err(e) => {
            reply.answer(Trial::Local);
            return Err(e);
        }
    };
    core.clock.note(read.now_us);
    let trial = match link.breaker.upgrade() {
        Some(breaker) => {
            let limits = Limits::new(breaker.config(), core.now());
            match row::check(read.row.as_ref(), &limits) {
                Ok(Some(checked)) => {
                    if checked.version != seen {
                        take_held(core, link, read.row.as_ref(), Take::Poll);
                    }
                    Trial::Denied
                }
                Ok(None) => Trial::Local,
                Err(refused) => {
                    core.refuse(&link.name, &refused);
                    Trial::Local
                }
            }
        }
        None => Trial::Local,
    };
    reply.answer(trial);
    Ok(())
}

/// Gives back the oldest permit held here, under the version and epoch it
/// was taken under (none held: a trial admitted on local state, nothing to
/// give).
pub(super) async fn release(table: &Table<'_>, link: &LinkState) -> Result<(), Failure> {
    match link.permits.give_back() {
        Some(taken) => table.release(&link.name, taken).await,
        None => Ok(()),
    }
}
