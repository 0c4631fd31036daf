//! How a row applies to the breakers of a table-backed store: a row read
//! (when a breaker joins, when another process changed it, after an outage)
//! is checked by `store::row` and adopted; a transition's write goes through
//! `row::decide`, and what it did (written, or overruled by the row held)
//! reaches the breakers. Pure: each store does its own I/O, then calls here.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::store::Remote;
use crate::store::row::{self, Held, Limits, NewRow, Now, RawRow, Write, millis};
use crate::store::tabular::hub::TableHub;
use crate::store::tabular::membership::LinkState;
use crate::{Breaker, State};

/// Why a row is being taken: it decides what applies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// A breaker joined the store: an elapsed Open is reported.
    Join,
    /// Another process changed the row, or it was just written.
    Poll,
    /// The row overruled the breaker's own transition: it applies even at a
    /// version the breaker has seen.
    Overruled,
}

/// What a compare-and-set write did.
pub(crate) enum Written {
    /// The row now holds this.
    Wrote(NewRow),
    /// The row held overruled the write, and stays: this is it.
    Kept(Option<RawRow>),
}

/// Applies a row read for `link`, if it passes the checks and its version
/// is not the one the breaker has seen (or, `Overruled`, in any case). What
/// a read finds is the state now held: a version lower than the one seen
/// means the row was deleted and written anew, and applies too. An Open
/// whose deadline passed is not adopted: the breaker would open for no time.
pub(crate) fn take_held(hub: &impl TableHub, link: &LinkState, raw: Option<&RawRow>, take: Take) {
    let Some(breaker) = link.breaker.upgrade() else {
        return;
    };
    let limits = Limits::new(breaker.config(), hub.now());
    let checked = match row::check(raw, &limits) {
        Ok(Some(checked)) => checked,
        Ok(None) => {
            // No row: the versions seen before mean nothing against a new one.
            link.seen.store(0, Ordering::Release);
            return;
        }
        Err(refused) => {
            hub.refuse(&link.name, &refused);
            return;
        }
    };
    let fresh = link.seen.swap(checked.version, Ordering::AcqRel) != checked.version;
    if !fresh && take != Take::Overruled {
        return;
    }
    if let Some(ago) = checked.ended_ago {
        if take == Take::Join {
            hub.ended_on_join(&link.name, ago, &checked.remote.reason);
        }
        return;
    }
    adopt(link, &breaker, &checked.remote);
}

fn adopt(link: &LinkState, breaker: &Breaker, remote: &Remote) {
    link.adoptions.fetch_add(1, Ordering::AcqRel);
    if breaker.adopt(remote) {
        link.permits.forget();
    }
}

/// The decision of a compare-and-set write of `write` for `breaker`: given
/// the row held and the clock (both read where the store reads them), the
/// row to write, or `None` when the row held overrules it.
pub(crate) fn decide(
    breaker: &Breaker,
    write: &Write,
) -> impl Fn(Option<&RawRow>, Now) -> Option<NewRow> {
    move |held, now| {
        let limits = Limits::new(breaker.config(), now);
        row::decide(&Held::of(held, &limits), write, now)
    }
}

/// After a write of `link`'s transition: the breaker adopts the row that
/// overruled it; or, written, every breaker of that name here learns it (a
/// store does not hear its own writes back), and a breaker that adopted a
/// row since it made the transition takes its own write back, to end where
/// the others end. `adoptions` is the breaker's count when it made it.
pub(crate) fn written(
    hub: &impl TableHub,
    link: &Arc<LinkState>,
    written: Written,
    adoptions: u64,
) {
    match written {
        Written::Kept(held) => take_held(hub, link, held.as_ref(), Take::Overruled),
        Written::Wrote(new) => {
            let raw = new.as_raw();
            // What was just written is the newest state held, even if a
            // higher version was seen before (a row from the clock's future).
            link.seen
                .store(u64::try_from(new.version).unwrap_or(0), Ordering::Release);
            if link.adoptions.load(Ordering::Acquire) != adoptions {
                take_held(hub, link, Some(&raw), Take::Overruled);
            }
            for other in hub.links_named(&link.name) {
                if !Arc::ptr_eq(&other, link) {
                    take_held(hub, &other, Some(&raw), Take::Poll);
                }
            }
        }
    }
}

/// When the store is back, given the row read for `link`: the transition
/// to write, when one made while the store was unavailable waits (it may
/// still be overruled by an Open held elsewhere, which then wins here), or
/// when the breaker holds a state the table lost (or holds junk in place
/// of). Otherwise the row applies here (a newer one is adopted) and `None`.
pub(crate) fn reconciling(
    hub: &impl TableHub,
    link: &LinkState,
    raw: Option<&RawRow>,
) -> Option<Write> {
    let breaker = link.breaker.upgrade()?;
    let now = hub.now();
    let limits = Limits::new(breaker.config(), now);
    let held_sound = matches!(row::check(raw, &limits), Ok(Some(_)));
    let (state, left, period) = breaker.shared_view();
    let missing = !held_sound && state != State::Closed;
    if !link.dirty.swap(false, Ordering::AcqRel) && !missing {
        take_held(hub, link, raw, Take::Poll);
        return None;
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
    Some(Write {
        state,
        remaining_ms: millis(left),
        period_ms: millis(period).max(1),
        reason,
        manual: false,
        seen: link.seen.load(Ordering::Acquire),
        at_ms: now.ms,
    })
}
