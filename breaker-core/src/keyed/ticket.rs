//! [`Ticket`]: the key's breaker a lookup hands to one call, without a
//! reference count when the key is in this thread's recent keys. It is what
//! lets the attribute run a keyed call with no atomic read-modify-write
//! beyond the breaker's own.

use super::recent;
use super::table::Slot;
use crate::Breaker;

/// A key's breaker, found by `KeyedBreaker::ticket`, to run one call on:
/// its place in this thread's recent keys, pinned there until the call runs,
/// or the breaker itself when it is not remembered there (a new key, the
/// overflow breaker, a key found from inside another key's call). Two words,
/// so that it comes back from the out-of-line lookup in registers.
pub(crate) struct Ticket<K>(Kind<K>);

enum Kind<K> {
    Recent(recent::Place<Slot<K>>),
    Owned(Breaker),
}

impl<K: 'static> Ticket<K> {
    pub(super) fn recent(place: recent::Place<Slot<K>>) -> Ticket<K> {
        Ticket(Kind::Recent(place))
    }

    pub(super) fn owned(breaker: Breaker) -> Ticket<K> {
        Ticket(Kind::Owned(breaker))
    }

    /// Runs `f` on the key's breaker. `f` is called from one place, so the
    /// compiler inlines the call into the call site (called from two, it
    /// stayed out of line, with a frame of its own).
    #[inline(always)]
    pub(crate) fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        let breaker = match &self.0 {
            Kind::Recent(place) => place.breaker(),
            Kind::Owned(breaker) => breaker,
        };
        // The ticket (the pin on its place, or the owned breaker) outlives
        // the call, then goes: also when `f` panics.
        f(breaker)
    }
}
