//! [`LinkState`]: one breaker's membership in a table-backed store: its name
//! (its row's key), the newest version of the row it has seen, whether a
//! transition of its own still waits to be written, and the generations of
//! the table's count its trial permits were taken under. Both the breaker's
//! link and the store's thread hold it.

use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::Breaker;
use crate::breaker::WeakBreaker;
use crate::store::permits::Permits;

/// One breaker's membership in the store.
pub(crate) struct LinkState {
    pub(crate) name: String,
    pub(crate) breaker: WeakBreaker,
    /// The version of the row this breaker last applied or wrote.
    pub(crate) seen: AtomicU64,
    /// How many shared states were applied to the breaker.
    pub(crate) adoptions: AtomicU64,
    /// A transition could not be written (the store was unavailable): write
    /// it when the store is back.
    pub(crate) dirty: AtomicBool,
    /// The breaker's `half_open`: the cap on trials across processes.
    pub(crate) half_open: u32,
    /// The generation under which each trial permit held here was taken
    /// (see [`Permits`]).
    pub(crate) permits: Permits<Generation>,
}

/// The generation of a row's count of trial permits that a permit was taken
/// under, and may only go back to: the row's version (a transition's write
/// clears the count, and changes the version) and the count's epoch (a
/// taking that finds the count lapsed starts a new one, under the next
/// epoch, and the version stays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Generation {
    pub(crate) version: u64,
    pub(crate) epoch: u64,
}

impl LinkState {
    /// The membership of `breaker`, which has seen no row yet.
    pub(crate) fn new(breaker: &Breaker) -> LinkState {
        LinkState {
            name: breaker.name().to_owned(),
            breaker: breaker.downgrade(),
            seen: AtomicU64::new(0),
            adoptions: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            half_open: breaker.config().half_open(),
            permits: Permits::default(),
        }
    }
}
