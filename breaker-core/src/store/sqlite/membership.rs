//! [`LinkState`]: one breaker's membership in the store: its name (its
//! row's key), the newest version of the row it has seen, and whether a
//! transition of its own still waits to be written. Both the breaker's link
//! and the store's thread hold it.

use std::sync::atomic::{AtomicBool, AtomicU64};

use crate::breaker::WeakBreaker;

/// One breaker's membership in the store.
pub(super) struct LinkState {
    pub(super) name: String,
    pub(super) breaker: WeakBreaker,
    /// The version of the row this breaker last applied or wrote.
    pub(super) seen: AtomicU64,
    /// How many shared states were applied to the breaker.
    pub(super) adoptions: AtomicU64,
    /// A transition could not be written (the file was unavailable): write
    /// it when the file is back.
    pub(super) dirty: AtomicBool,
    /// The breaker's `half_open`: the cap on trials across processes.
    pub(super) half_open: u32,
}
