//! [`LinkState`]: one breaker's membership in a table-backed store: its name
//! (its row's key), the newest version of the row it has seen, whether a
//! transition of its own still waits to be written, and the versions its
//! trial permits were taken under. Both the breaker's link and the store's
//! thread hold it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, MutexGuard};

use crate::Breaker;
use crate::breaker::WeakBreaker;

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
    /// The row's version under which each trial permit held here was taken,
    /// oldest first, for a store that gives a permit back only to the version
    /// it was taken under (PostgreSQL): a permit taken before another
    /// process rewrote the row must not free one of the new row's. Emptied
    /// at every transition, which ends the trials' period.
    permits: Mutex<VecDeque<u64>>,
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
            permits: Mutex::new(VecDeque::new()),
        }
    }

    fn permits(&self) -> MutexGuard<'_, VecDeque<u64>> {
        // Nothing under this lock panics; if it did, the queue is still whole.
        self.permits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit was taken under `version`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn took_permit(&self, version: u64) {
        self.permits().push_back(version);
    }

    /// A permit goes back: the version it was taken under, or `None` when
    /// none is held (a trial admitted on local state, or one of a period a
    /// transition ended).
    pub(crate) fn give_back_permit(&self) -> Option<u64> {
        self.permits().pop_front()
    }

    /// The breaker made or adopted a transition: the permits held belong to
    /// a period that ended (the row's write cleared them).
    pub(crate) fn forget_permits(&self) {
        self.permits().clear();
    }
}
