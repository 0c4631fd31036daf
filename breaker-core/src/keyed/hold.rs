//! [`KeyHold`]: a key's breaker held for one async call. While the call runs
//! on the thread that looked the key up, the breaker stays pinned in that
//! thread's recent keys, as a sync call's does, with no reference count;
//! once the call may move (its body pended), the hold counts a reference of
//! its own and lets go of the pin.
//!
//! The count is two atomic read-modify-writes, and each one waits for every
//! store before it: an async call whose body is ready at once (a cache hit,
//! a channel with a message waiting) pays neither.

use std::fmt;
use std::mem::ManuallyDrop;

use super::recent::{self, Pinned};
use super::ticket::Ticket;
use crate::Breaker;

/// A key's breaker, held for one call that may move between threads.
///
/// It can be sent to another thread, but its breaker is only reached on the
/// thread that pinned it until [`may_move`](Self::may_move) counts it: every
/// method checks the thread first, by where its recent keys are
/// (`recent::this_home`, which says why a gone thread's address does not
/// fool it). A hold still pinned and reached from another thread cannot
/// touch its pin, nor the breaker the pin keeps: that thread may have gone,
/// and its storage with it. It answers no breaker, and its drop leaves the
/// pin where it is: the entry stays pinned, so its owning thread never
/// refills it, and keeps its breaker when it exits. The attribute's
/// expansion never gets there: its calls are counted before they can move
/// (see `KeyedCall`).
pub(crate) struct KeyHold {
    /// The entry that keeps the breaker, pinned on the thread whose recent
    /// keys are at `home`; `None` once counted, or empty.
    pinned: Option<ManuallyDrop<Pinned>>,
    /// While pinned, the entry's breaker, copied without a count of its own
    /// (never dropped); else a breaker with a count of its own, or `None`
    /// for an empty hold (taken, or left behind on another thread).
    breaker: ManuallyDrop<Option<Breaker>>,
    /// Where the pinning thread's recent keys are (`recent::this_home`).
    home: usize,
}

// Three words, which the compiler keeps in registers: an enum of the two
// kinds was moved through memory on every call.

// SAFETY: the pinned entry is the only part that is not `Send` or `Sync`
// (it is this thread's, or a heap entry this thread frees), and it is
// touched only on the thread whose recent keys are at `home`: `breaker`,
// `may_move` and `drop` check it, and leave the pin (and the breaker copied
// from its entry) alone anywhere else. A thread that got the storage of a
// gone one which left a pin behind passes that check, and fills none of its
// entries, so what it unpins is nothing it uses (`recent::this_home`). A
// `Breaker` is `Send` and `Sync`.
unsafe impl Send for KeyHold {}
// SAFETY: as above; the one method on a shared hold, `breaker`, checks the
// thread.
unsafe impl Sync for KeyHold {}

impl KeyHold {
    /// The breaker a lookup found, pinned on this thread.
    #[inline(always)]
    pub(crate) fn pinned<K: 'static>(ticket: Ticket<K>) -> KeyHold {
        let pinned = ticket.into_pinned();
        // SAFETY: a copy of the entry's handle, never dropped: the pinned
        // entry keeps the count it stands for until the pin goes, and the
        // copy is used only while pinned, on this thread (see `breaker`).
        let breaker = unsafe { std::ptr::read(pinned.breaker()) };
        KeyHold {
            pinned: Some(ManuallyDrop::new(pinned)),
            breaker: ManuallyDrop::new(Some(breaker)),
            home: recent::this_home(),
        }
    }

    /// A hold of nothing.
    #[inline(always)]
    pub(crate) fn empty() -> KeyHold {
        KeyHold {
            pinned: None,
            breaker: ManuallyDrop::new(None),
            home: 0,
        }
    }

    /// Whether this thread pinned the hold (a pinned hold only).
    #[inline(always)]
    fn pinned_here(&self) -> bool {
        self.home == recent::this_home()
    }

    /// The breaker, when this thread may reach it: always once counted;
    /// while pinned, on the pinning thread only.
    #[inline(always)]
    pub(crate) fn breaker(&self) -> Option<&Breaker> {
        if self.pinned.is_some() && !self.pinned_here() {
            return None;
        }
        self.breaker.as_ref()
    }

    /// Whether the hold holds nothing.
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.breaker.is_none()
    }

    /// The call may now resume on another thread: a pinned breaker is
    /// counted and unpinned. A hold pinned on another thread is left behind
    /// (see [`KeyHold`]), and holds nothing after.
    #[inline]
    pub(crate) fn may_move(&mut self) {
        let Some(pinned) = self.pinned.take() else {
            return;
        };
        // The copy stands for no count: never dropped, also if unpinning
        // unwinds.
        let copy = std::mem::replace(&mut self.breaker, ManuallyDrop::new(None));
        if self.pinned_here() {
            *self.breaker = copy.as_ref().map(Breaker::clone);
            drop(ManuallyDrop::into_inner(pinned));
        }
    }

    /// The hold, leaving an empty one.
    #[inline(always)]
    pub(crate) fn take(&mut self) -> KeyHold {
        std::mem::replace(self, KeyHold::empty())
    }

    /// Lets go of the breaker: unpinned (on the pinning thread), or its
    /// count given back. Inline: every call ends here.
    #[inline(always)]
    pub(crate) fn release(self) {
        let mut this = ManuallyDrop::new(self);
        let (pinned, breaker, home) = this.parts();
        release_parts(pinned, breaker, home);
    }

    /// [`release`](Self::release), on the thread that [`breaker`](Self::breaker)
    /// answered a breaker on: without asking again.
    ///
    /// # Safety
    ///
    /// `breaker` answered `Some` on this thread.
    #[inline(always)]
    pub(crate) unsafe fn release_here(self) {
        let mut this = ManuallyDrop::new(self);
        let (pinned, breaker, _) = this.parts();
        match pinned {
            // The copied breaker stands for no count (see `release`).
            Some(pinned) => drop(ManuallyDrop::into_inner(pinned)),
            None => drop(ManuallyDrop::into_inner(breaker)),
        }
    }

    /// The fields, taken out: the hold is left empty.
    #[inline(always)]
    fn parts(
        &mut self,
    ) -> (
        Option<ManuallyDrop<Pinned>>,
        ManuallyDrop<Option<Breaker>>,
        usize,
    ) {
        let pinned = self.pinned.take();
        let breaker = std::mem::replace(&mut self.breaker, ManuallyDrop::new(None));
        (pinned, breaker, self.home)
    }
}

/// [`KeyHold::release`] on the hold's fields.
#[inline(always)]
fn release_parts(
    pinned: Option<ManuallyDrop<Pinned>>,
    breaker: ManuallyDrop<Option<Breaker>>,
    home: usize,
) {
    match pinned {
        // On another thread the pin is left as it is (see `KeyHold`). The
        // copied breaker is never dropped: it stands for no count.
        Some(pinned) => {
            if home == recent::this_home() {
                drop(ManuallyDrop::into_inner(pinned));
            }
        }
        None => drop(ManuallyDrop::into_inner(breaker)),
    }
}

impl Drop for KeyHold {
    // A test and a call out of line with the fields by value: small enough
    // for the compiler to inline on an unwinding path, where a larger drop
    // was called with the hold's address, and the hold, in the function
    // that held it, stayed in memory for it.
    #[inline(always)]
    fn drop(&mut self) {
        if !self.is_empty() {
            let (pinned, breaker, home) = self.parts();
            let_go(pinned, breaker, home);
        }
    }
}

#[inline(never)]
fn let_go(
    pinned: Option<ManuallyDrop<Pinned>>,
    breaker: ManuallyDrop<Option<Breaker>>,
    home: usize,
) {
    release_parts(pinned, breaker, home);
}

impl fmt::Debug for KeyHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (&self.pinned, &*self.breaker) {
            (Some(_), _) => "KeyHold::Pinned",
            (None, Some(_)) => "KeyHold::Counted",
            (None, None) => "KeyHold::Empty",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyed::KeyedBreaker;

    fn keyed(name: &str) -> KeyedBreaker<u64> {
        KeyedBreaker::builder(name).build().expect("valid settings")
    }

    /// Creates key 1 and has this thread remember it (its first call holds
    /// it in a spare entry, its second remembers it), so that the calls
    /// after find it in this thread's recent keys.
    fn remembered(keyed: &KeyedBreaker<u64>) {
        keyed.get(&1);
        keyed.get(&1);
    }

    /// The handles of key 1's breaker: its slot's, the entry's that
    /// remembers it, and any a hold counted.
    fn handles(keyed: &KeyedBreaker<u64>) -> usize {
        keyed.peek(&1).expect("live").handles() - 1
    }

    #[test]
    fn a_pinned_hold_takes_no_count_until_its_call_may_move() {
        let keyed = keyed("hold-pinned");
        remembered(&keyed);
        let before = handles(&keyed);
        let mut hold = KeyHold::pinned(keyed.ticket(&1));
        assert_eq!(
            hold.breaker().map(Breaker::name),
            Some("hold-pinned[key=1]")
        );
        assert_eq!(
            (handles(&keyed), recent::pinned_here()),
            (before, 1),
            "pinned: no count"
        );
        hold.may_move();
        assert_eq!(handles(&keyed), before + 1, "counted once it may move");
        assert_eq!(recent::pinned_here(), 0, "and unpinned");
        // Counted, it reaches its breaker on any thread, and lets it go there.
        std::thread::scope(|s| {
            s.spawn(move || {
                assert!(hold.breaker().is_some());
                hold.release();
            });
        });
        assert_eq!(handles(&keyed), before);
    }

    #[test]
    fn a_pinned_hold_reaches_nothing_on_another_thread_and_leaves_its_pin() {
        let keyed = keyed("hold-elsewhere");
        remembered(&keyed);
        let hold = KeyHold::pinned(keyed.ticket(&1));
        let hold = std::thread::spawn(move || {
            assert!(hold.breaker().is_none());
            let mut moved = hold;
            moved.may_move();
            assert!(moved.is_empty(), "left behind: holds nothing");
            moved
        })
        .join()
        .expect("no panic");
        drop(hold);
        // The entry stayed pinned (never refilled), and the key still works
        // from here.
        assert_eq!(recent::pinned_here(), 1);
        assert_eq!(keyed.get(&1).name(), "hold-elsewhere[key=1]");
        // Unpinned by hand, so that this thread exits leaving nothing behind.
        recent::unpin_all_here();
    }

    #[test]
    fn a_hold_dropped_unpins_on_its_thread_and_counts_nothing() {
        let keyed = keyed("hold-dropped");
        remembered(&keyed);
        let before = handles(&keyed);
        drop(KeyHold::pinned(keyed.ticket(&1)));
        assert_eq!((handles(&keyed), recent::pinned_here()), (before, 0));
        // Unpinned: the next call pins the same entry without counting.
        let hold = KeyHold::pinned(keyed.ticket(&1));
        hold.release();
        assert_eq!((handles(&keyed), recent::pinned_here()), (before, 0));
        // Taken, the empty hold left behind drops to nothing.
        let mut hold = KeyHold::pinned(keyed.ticket(&1));
        let taken = hold.take();
        assert!(hold.is_empty() && !taken.is_empty());
        drop(hold);
        assert_eq!(recent::pinned_here(), 1, "the empty hold had no pin");
        drop(taken);
        assert_eq!((handles(&keyed), recent::pinned_here()), (before, 0));
    }
}
