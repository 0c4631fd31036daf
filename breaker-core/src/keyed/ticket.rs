//! [`Ticket`]: the key's breaker a lookup hands to one call, without a
//! reference count when the key is in this thread's recent keys. It is what
//! lets the attribute run a keyed call with no atomic read-modify-write
//! beyond the breaker's own.

use std::marker::PhantomData;

use super::recent::{self, Pinned};
use super::table::Slot;
use crate::Breaker;

/// A key's breaker, found by `KeyedBreaker::ticket`, to run one call on: a
/// pinned entry of this thread's (see [`Pinned`]), which holds the breaker
/// until the call ran. Its place in this thread's recent keys, or, when the
/// key is not remembered there (a new key, the overflow breaker, a key found
/// from inside another key's call), an entry holding the breaker itself.
/// One word, so that it comes back from the out-of-line lookup in a
/// register; either kind runs the call by the same path.
pub(crate) struct Ticket<K> {
    pinned: Pinned,
    key: PhantomData<fn() -> K>,
}

impl<K: 'static> Ticket<K> {
    pub(super) fn recent(place: recent::Place<Slot<K>>) -> Ticket<K> {
        Ticket {
            pinned: place.into_pinned(),
            key: PhantomData,
        }
    }

    pub(super) fn owned(breaker: Breaker) -> Ticket<K> {
        Ticket {
            pinned: recent::hold(breaker),
            key: PhantomData,
        }
    }

    /// The pin alone, for a hold (see `keyed::hold`).
    #[inline(always)]
    pub(super) fn into_pinned(self) -> Pinned {
        self.pinned
    }

    /// Runs `f` on the key's breaker. `f` is called from one place, so the
    /// compiler inlines the call into the call site (called from two, it
    /// stayed out of line, with a frame of its own).
    #[inline(always)]
    pub(crate) fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        // The pin outlives the call, then goes: also when `f` panics.
        f(self.pinned.breaker())
    }
}
