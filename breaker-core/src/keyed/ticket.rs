//! [`Ticket`]: the key's breaker a lookup hands to one call, without a
//! reference count when the key is in this thread's recent keys. It is what
//! lets the attribute run a keyed call with no atomic read-modify-write
//! beyond the breaker's own.

use std::mem::ManuallyDrop;

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
        // The ticket (the pin on its place, or the owned breaker) outlives
        // the call, then goes: also when `f` panics.
        let held = Held(ManuallyDrop::new(self.0));
        f(held.breaker())
    }
}

/// A ticket while its call runs. Its drop is written out, small, with the
/// owned breaker given back out of line, so that the unwinding path of the
/// call inlines it and the ticket stays in registers: dropped as an enum, by
/// the compiler's out-of-line drop, the ticket lived in memory, and every
/// keyed call stored and reloaded it.
struct Held<K>(ManuallyDrop<Kind<K>>);

impl<K> Held<K> {
    #[inline(always)]
    fn breaker(&self) -> &Breaker {
        match &*self.0 {
            Kind::Recent(place) => place.breaker(),
            Kind::Owned(breaker) => breaker,
        }
    }
}

impl<K> Drop for Held<K> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: taken once, here; `self.0` is not used after.
        match unsafe { ManuallyDrop::take(&mut self.0) } {
            Kind::Recent(place) => drop(place),
            Kind::Owned(breaker) => release(breaker),
        }
    }
}

#[cold]
#[inline(never)]
fn release(breaker: Breaker) {
    drop(breaker);
}
