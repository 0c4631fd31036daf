//! [`KeyedCall`]: one admitted async call of a key's breaker, holding that
//! breaker. What an async keyed function (`#[circuit_breaker(key = ..)]`)
//! and [`KeyedBreaker::call_async`](super::KeyedBreaker::call_async) run
//! their bodies with.

use std::fmt::{self, Display};
use std::mem::ManuallyDrop;

use super::hold::KeyHold;
use super::ticket::Ticket;
use crate::Error;
use crate::breaker::{HeldCall, Permit};

/// One admitted call of a key's breaker: its permit, and the key's breaker
/// that the permit borrows.
///
/// Until the call's body first pends, the call runs on the thread that
/// looked the key up, and the breaker stays pinned in that thread's recent
/// keys, as a sync call's does: a body ready at its first poll records its
/// outcome with no reference count taken (two atomic read-modify-writes, a
/// tenth of the call). When the body pends, the call may resume on any
/// thread: [`HeldCall::pended`] then counts the breaker and unpins it. A
/// panic in the body ends the call there and then (a failure), so that the
/// unwinding future, which may be dropped anywhere, holds nothing. A call moved to another thread some other way (only by misuse
/// of `__private`) finds its pin out of reach there, and is left unrecorded
/// (see `KeyHold`).
///
/// One value with one drop, held by a `RunAsync` as an unkeyed call is: the
/// outcome recorded lets go of the breaker inline, and the drop (a call
/// cancelled, or unwinding) is one test and one call out of line. The permit
/// and the breaker held apart made the function's drop two calls, the second
/// on the first's unwinding path: too large for the compiler to inline where
/// the function's future is dropped, so the whole future stayed in memory,
/// and every call wrote its state there and read it back. Both fields are
/// dropped by hand ([`Drop`] below), so that the compiler's drop is that
/// test alone, which it folds away where the call was just handed back.
pub struct KeyedCall {
    /// Borrows the state of the breaker `hold` holds, which outlives it.
    permit: ManuallyDrop<Option<Permit<'static>>>,
    /// Empty once the call is handed back ([`HeldCall::back`]) or left
    /// behind, and the permit is then gone too.
    hold: ManuallyDrop<KeyHold>,
}

impl KeyedCall {
    /// Asks the breaker a lookup found to admit one call: the call, holding
    /// that breaker pinned on this thread, or the rejection.
    #[inline(always)]
    pub(crate) fn pinned<K: 'static>(ticket: Ticket<K>) -> Result<KeyedCall, Error> {
        // Pinned either way (found in this thread's recent keys or not), so
        // that the call's path does not branch on which: the branches
        // merged, and the call carried a flag for them.
        KeyedCall::admit(KeyHold::pinned(ticket))
    }

    /// Admits one call on the breaker `hold` holds; a rejection lets go of
    /// it. The `Result` is built here, outside the lookup: built inside its
    /// ticket's `with`, it came back through memory, written in narrower
    /// stores than it was read with (a store-forwarding stall).
    #[inline(always)]
    fn admit(hold: KeyHold) -> Result<KeyedCall, Error> {
        // A hold made on this thread reaches its breaker: `None` is never
        // seen, and would run the call unguarded.
        let admitted = match hold.breaker() {
            // SAFETY: the hold stored beside the permit keeps the breaker
            // alive for as long as the permit exists: the permit is a private
            // field, never handed out, and every method below records or
            // drops it before the hold lets go (or, on another thread, never
            // records it).
            Some(breaker) => breaker
                .acquire_here()
                .map(|permit| Some(unsafe { permit.detached() })),
            None => Ok(None),
        };
        match admitted {
            Ok(permit) => Ok(KeyedCall {
                permit: ManuallyDrop::new(permit),
                hold: ManuallyDrop::new(hold),
            }),
            Err(rejected) => {
                hold.release();
                Err(rejected)
            }
        }
    }

    /// The permit, where this thread may reach its breaker (`None` inside
    /// if a panic recorded it already); else it is forgotten, left behind
    /// (see `KeyHold`), and `None` comes back.
    #[inline(always)]
    fn permit_here(&mut self) -> Option<&mut Option<Permit<'static>>> {
        match self.hold.breaker() {
            Some(_) => Some(&mut self.permit),
            None => {
                std::mem::forget(self.permit.take());
                None
            }
        }
    }

    /// Ends the call: `record` is handed the permit, where there is one to
    /// record here, then the breaker is let go.
    #[inline(always)]
    fn end(self, record: impl FnOnce(Permit<'static>)) {
        let mut this = ManuallyDrop::new(self);
        let permit = this.permit_here().map(Option::take);
        let hold = this.hold.take();
        match permit {
            Some(permit) => {
                if let Some(permit) = permit {
                    record(permit);
                }
                // SAFETY: `permit_here` found the breaker reachable here.
                unsafe { hold.release_here() };
            }
            None => hold.release(),
        }
    }

    /// Records a success, then lets go of the breaker.
    #[inline(always)]
    pub fn success(self) {
        self.end(|permit| {
            let _ = permit.success();
        });
    }

    /// Records a failure; `message` is called only if the failure opens the
    /// breaker. Then lets go of the breaker.
    #[inline]
    pub fn failure(self, message: impl FnOnce() -> String) {
        self.end(|permit| {
            let _ = permit.failure_with(message);
        });
    }

    /// Records `result` as [`Permit::finish`] does, then lets go of the
    /// breaker; hands `result` back.
    #[inline(always)]
    pub(crate) fn finish<T, E: Display>(self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.success(),
            Err(error) => self.failure(|| error.to_string()),
        }
        result
    }
}

/// An empty call, which records nothing: what a future holds before its
/// call is admitted.
impl Default for KeyedCall {
    #[inline(always)]
    fn default() -> KeyedCall {
        KeyedCall {
            permit: ManuallyDrop::new(None),
            hold: ManuallyDrop::new(KeyHold::empty()),
        }
    }
}

impl Drop for KeyedCall {
    #[inline(always)]
    fn drop(&mut self) {
        // With an empty hold, the permit is gone: nothing is left behind.
        if !self.hold.is_empty() {
            cancelled(self);
        }
    }
}

// Out of line and by reference, so that the drop the compiler writes for an
// async function's future is small enough to inline where the future is
// dropped on the unwinding path; there the future's state says it panicked,
// this call folds away, and the state stays in registers. Handed the permit
// and the hold by value instead, that drop copied both to the stack first,
// was too large to inline, and every call wrote its state to memory.
#[cold]
#[inline(never)]
fn cancelled(this: &mut KeyedCall) {
    // A cancelled call, if it was still held; the hold goes after it, also
    // if recording unwinds.
    let permit = this.permit_here().and_then(Option::take);
    let hold = this.hold.take();
    drop(permit);
    drop(hold);
}

impl HeldCall for KeyedCall {
    type Back = KeyedCall;

    // The panic is a failure, and the call is over: the breaker is let go
    // here, so that the future, which whoever catches the panic may drop on
    // another thread, holds nothing after.
    fn panicked_in_place(&mut self) {
        let mut call = self.back();
        if let Some(permit) = call.permit_here() {
            HeldCall::panicked_in_place(permit);
        }
    }

    // Once pended, the call may resume on another thread: the breaker is
    // counted, the pin let go, and the permit lets go of this thread's
    // stripe. A call already on another thread is left behind unrecorded.
    #[inline(always)]
    fn pended(&mut self) {
        if let Some(permit) = self.permit_here() {
            HeldCall::pended(permit);
        }
        self.hold.may_move();
    }

    // The future keeps an empty call, which its drop leaves alone.
    #[inline(always)]
    fn back(&mut self) -> KeyedCall {
        KeyedCall {
            permit: ManuallyDrop::new(self.permit.take()),
            hold: ManuallyDrop::new(self.hold.take()),
        }
    }
}

impl fmt::Debug for KeyedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCall")
            .field("hold", &*self.hold)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::KeyedBreaker;
    use super::super::recent::{pinned_here, unpin_all_here};
    use super::*;
    use crate::Breaker;

    /// A keyed breaker whose key 1 this thread remembers (the key's first
    /// call holds it in a spare entry, its second remembers it, so that the
    /// next calls find it in this thread's recent keys), and that key's
    /// breaker.
    fn keyed(name: &str) -> (KeyedBreaker<u64>, Breaker) {
        let keyed = KeyedBreaker::builder(name).build().expect("valid settings");
        keyed.get(&1);
        let breaker = keyed.get(&1);
        (keyed, breaker)
    }

    fn admitted(keyed: &KeyedBreaker<u64>) -> KeyedCall {
        KeyedCall::pinned(keyed.ticket(&1)).expect("closed")
    }

    #[test]
    fn a_keyed_call_records_on_its_pinned_breaker_without_a_count() {
        let (keyed, breaker) = keyed("keyed-call");
        let handles = breaker.handles();
        let call = admitted(&keyed);
        assert_eq!((breaker.handles(), pinned_here()), (handles, 1));
        call.success();
        assert_eq!((breaker.handles(), pinned_here()), (handles, 0));
        admitted(&keyed).failure(|| "down".to_owned());
        assert_eq!(pinned_here(), 0);

        // A call cancelled, or unwinding: the permit goes, then the pin.
        let dropped = admitted(&keyed);
        assert_eq!(breaker.stats().in_flight, 1);
        drop(dropped);
        let stats = breaker.stats();
        assert_eq!(
            (
                stats.in_flight,
                stats.successes,
                stats.failures,
                pinned_here()
            ),
            (0, 1, 1, 0)
        );

        // Handed back by a finished run: the whole call goes with it, and
        // the empty one left behind keeps nothing.
        let mut held = admitted(&keyed);
        let back = held.back();
        drop(held);
        assert_eq!((breaker.stats().in_flight, pinned_here()), (1, 1));
        back.success();
        assert_eq!(pinned_here(), 0);

        // Finished with a `Result`: as `Permit::finish` records it.
        assert_eq!(admitted(&keyed).finish(Ok::<u8, Error>(3)).ok(), Some(3));
        assert!(admitted(&keyed).finish(Err::<u8, _>("down")).is_err());
        let stats = breaker.stats();
        assert_eq!((stats.successes, stats.failures), (3, 2));
        assert_eq!(breaker.handles(), handles);
        assert_eq!(pinned_here(), 0);
    }

    // Whoever catches the panic may drop the future on another thread: the
    // panic ends the call, and the call left in the future holds nothing.
    #[test]
    fn a_panic_in_the_body_is_a_failure_and_ends_the_call() {
        let (keyed, breaker) = keyed("keyed-panicked");
        let handles = breaker.handles();
        let mut panicked = admitted(&keyed);
        HeldCall::panicked_in_place(&mut panicked);
        let stats = breaker.stats();
        assert_eq!((stats.in_flight, stats.failures), (0, 1));
        assert_eq!((breaker.handles(), pinned_here()), (handles, 0));
        std::thread::spawn(move || drop(panicked))
            .join()
            .expect("no panic");
        assert_eq!(breaker.stats().failures, 1);
        assert_eq!(breaker.handles(), handles);
    }

    #[test]
    fn a_keyed_call_that_pends_counts_its_breaker_and_may_finish_anywhere() {
        let (keyed, breaker) = keyed("keyed-pended");
        let handles = breaker.handles();
        let mut call = admitted(&keyed);
        HeldCall::pended(&mut call);
        assert_eq!((breaker.handles(), pinned_here()), (handles + 1, 0));
        std::thread::spawn(move || call.success())
            .join()
            .expect("no panic");
        let stats = breaker.stats();
        assert_eq!((stats.successes, stats.in_flight), (1, 0));
        assert_eq!(breaker.handles(), handles);
    }

    // Only a misuse of `__private` gets here (a call is counted before it
    // can move): memory-safe, the call left unrecorded.
    #[test]
    fn a_keyed_call_moved_before_it_pended_is_left_behind_unrecorded() {
        let (keyed, breaker) = keyed("keyed-moved");
        let call = admitted(&keyed);
        std::thread::spawn(move || call.success())
            .join()
            .expect("no panic");
        assert_eq!(breaker.stats().in_flight, 1, "never recorded");
        assert_eq!(pinned_here(), 1, "the pin left where it was");
        let mut moved = admitted(&keyed);
        std::thread::spawn(move || {
            HeldCall::pended(&mut moved);
            HeldCall::panicked_in_place(&mut moved);
            drop(moved);
        })
        .join()
        .expect("no panic");
        assert_eq!(breaker.stats().in_flight, 2);
        // The key still runs calls from this thread.
        admitted(&keyed).success();
        assert_eq!(breaker.stats().successes, 1);
        // Unpinned by hand, so that this thread exits leaving nothing behind.
        unpin_all_here();
    }

    #[test]
    fn a_rejected_keyed_call_lets_go_of_its_pin() {
        let (keyed, breaker) = keyed("keyed-rejected");
        breaker.trip();
        let handles = breaker.handles();
        assert!(KeyedCall::pinned(keyed.ticket(&1)).is_err());
        assert_eq!((breaker.handles(), pinned_here()), (handles, 0));
        // An empty call records nothing and keeps nothing.
        KeyedCall::default().success();
        drop(KeyedCall::default());
        assert_eq!(breaker.stats().in_flight, 0);
    }
}
