//! [`Ticket`]: the key's breaker a lookup hands to one call, without a
//! reference count when the key is in this thread's recent keys. It is what
//! lets the attribute run a keyed call with no atomic read-modify-write
//! beyond the breaker's own.

use std::marker::PhantomData;

use super::recent;
use super::table::Slot;
use crate::Breaker;

/// A key's breaker, found by `KeyedBreaker::ticket`, to run one call on:
/// its place in this thread's recent keys, pinned there until the call runs,
/// or the breaker itself when it is not remembered there (a new key, the
/// overflow breaker, a key found from inside another key's call).
pub(crate) struct Ticket<K> {
    recent: Option<recent::Place>,
    owned: Option<Breaker>,
    key: PhantomData<fn() -> K>,
}

impl<K: 'static> Ticket<K> {
    pub(super) fn recent(place: recent::Place) -> Ticket<K> {
        Ticket {
            recent: Some(place),
            owned: None,
            key: PhantomData,
        }
    }

    pub(super) fn owned(breaker: Breaker) -> Ticket<K> {
        Ticket {
            recent: None,
            owned: Some(breaker),
            key: PhantomData,
        }
    }

    /// Runs `f` on the key's breaker.
    #[inline(always)]
    pub(crate) fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        match (self.recent, self.owned) {
            (Some(place), _) => recent::with(place, |slot: &Slot<K>| f(&slot.breaker)),
            (None, Some(breaker)) => f(&breaker),
            (None, None) => unreachable!("a ticket is made with a breaker"),
        }
    }
}
