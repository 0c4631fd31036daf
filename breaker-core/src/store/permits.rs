//! [`Permits`]: the half-open trial permits one breaker holds in a store, as
//! the generation of the store's count each was taken under, oldest first.
//!
//! A store clears its count of permits when a transition is written (the
//! trials' period is over) and when the count lapses. A permit taken before
//! such a clearing and given back after it must not free one of the new
//! count's: one trial more than `half_open` would start across the
//! processes. So a permit goes back only to the generation it was taken
//! under (a Redis counter's generation; a row's version with its count's
//! epoch), which the store checks in the same atomic step as the give-back.
//!
//! The store's answer names no permit, so a give-back is matched to the
//! oldest held: when one process holds permits of two generations, a permit
//! may go back late, never early.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// The generations the permits held were taken under, oldest first: a
/// number of the store's (`u64`), or what a store needs to name one.
#[derive(Debug)]
pub(crate) struct Permits<G = u64>(Mutex<VecDeque<G>>);

impl<G> Default for Permits<G> {
    fn default() -> Self {
        Permits(Mutex::new(VecDeque::new()))
    }
}

impl<G> Permits<G> {
    fn held(&self) -> MutexGuard<'_, VecDeque<G>> {
        // Nothing under this lock panics; if it did, the queue is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit was taken under `generation`.
    pub(crate) fn took(&self, generation: G) {
        self.held().push_back(generation);
    }

    /// A permit goes back: the generation it was taken under, or `None` when
    /// none is held (a trial admitted on local state, or one of a period a
    /// transition ended).
    pub(crate) fn give_back(&self) -> Option<G> {
        self.held().pop_front()
    }

    /// The breaker made or adopted a transition: the permits held belong to
    /// a period that ended (its write cleared them).
    pub(crate) fn forget(&self) {
        self.held().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_go_back_oldest_first_and_a_transition_forgets_them() {
        let permits = Permits::default();
        permits.took(3);
        permits.took(5);
        assert_eq!(permits.give_back(), Some(3));
        permits.forget();
        assert_eq!(permits.give_back(), None);
        permits.took(7);
        assert_eq!(permits.give_back(), Some(7));
        assert_eq!(permits.give_back(), None);
    }
}
