//! `key = expr`: a keyed call site finds its keyed breaker once, then the
//! key's breaker on each call. The key's type is checked here with a message
//! that says what a key must be.

use std::any::{Any, TypeId};
use std::fmt::{self, Display};
use std::mem::ManuallyDrop;
use std::sync::OnceLock;
use std::time::Duration;

use super::{Call, Site, acquire};
use crate::breaker::HeldCall;
use crate::keyed::{KeyHold, Keyed, KeyedBreaker};
use crate::{Breaker, Error};

/// A keyed call site's keyed breaker (`key = ...`): the global registry's
/// keyed breaker of the site's name, found on the first call and kept, for
/// the key type of that call. Keyed sites submit no [`Registration`](super::Registration): their
/// breakers are the keys', created on their first calls.
#[derive(Debug)]
pub struct KeyedHandle {
    site: &'static Site,
    label: &'static str,
    max_keys: usize,
    idle: u64,
    /// What the `KeyedBreaker<K>` of the first call's key type shares, and
    /// that type: compared without a call through `dyn Any`'s table. Kept
    /// as the shared part itself, not a clone of the handle on it, so that a
    /// call reaches the keys in one load from this static.
    set: OnceLock<(TypeId, &'static (dyn Any + Send + Sync))>,
}

impl KeyedHandle {
    /// A handle for `site`, usable in a `static`; `idle` in nanoseconds (the
    /// macro has checked `1 <= max_keys <= MAX_KEYS` and `idle > 0`).
    pub const fn new(
        site: &'static Site,
        label: &'static str,
        max_keys: usize,
        idle: u64,
    ) -> KeyedHandle {
        KeyedHandle {
            site,
            label,
            max_keys,
            idle,
            set: OnceLock::new(),
        }
    }

    /// The breaker of `key`, with a reference count of its own, for a call
    /// that neither runs inside a [`ticket`](Self::ticket)'s `with` nor
    /// holds a [`KeyedCall`] (a retried or timed one): found in this
    /// thread's recent keys, or in the keyed breaker's table.
    #[inline]
    pub fn breaker<Q: Key + ?Sized>(&'static self, key: &Q) -> Breaker {
        match self.kept::<<Q as ToOwned>::Owned>() {
            Some(keyed) => keyed.ticket(key).with(Breaker::clone),
            // A generic function called with a second key type.
            None => self.keyed::<<Q as ToOwned>::Owned>().get(key),
        }
    }

    /// Asks the breaker of `key` to admit one call of an async function:
    /// the call, holding that breaker, or the rejection. The breaker is
    /// found as [`ticket`](Self::ticket) finds it, and stays pinned in this
    /// thread's recent keys until the call may move (see [`KeyedCall`]).
    #[inline(always)]
    pub fn acquire<Q: Key + ?Sized>(&'static self, key: &Q) -> Result<KeyedCall, Error> {
        // Pinned either way, so that the call's path does not branch on
        // which: the branches merged, and the call carried a flag for them.
        KeyedCall::admit(KeyHold::pinned(self.ticket(key).0))
    }

    /// The breaker of `key`, to run one call on with [`KeyTicket::with`]:
    /// without a lock or a reference count when this thread called the key
    /// recently. The key is borrowed only here.
    #[inline(always)]
    pub fn ticket<Q: Key + ?Sized>(&'static self, key: &Q) -> KeyTicket<<Q as ToOwned>::Owned> {
        match self.kept::<<Q as ToOwned>::Owned>() {
            Some(keyed) => KeyTicket(keyed.ticket(key)),
            // A generic function called with a second key type.
            None => KeyTicket(self.keyed::<<Q as ToOwned>::Owned>().ticket(key)),
        }
    }

    /// The keyed breaker kept for the first call's key type, if it is `K`.
    #[inline(always)]
    fn kept<K>(&'static self) -> Option<&'static Keyed<K>>
    where
        K: std::hash::Hash + Eq + Display + Send + Sync + 'static,
    {
        let (kind, keyed) = self.set.get_or_init(|| {
            let keyed: &'static (dyn Any + Send + Sync) = self.keyed::<K>().leak();
            (TypeId::of::<Keyed<K>>(), keyed)
        });
        if *kind != TypeId::of::<Keyed<K>>() {
            return None;
        }
        // SAFETY: `kind` is the `TypeId` of the value `keyed` points at, set
        // with it.
        Some(unsafe { &*(*keyed as *const (dyn Any + Send + Sync)).cast::<Keyed<K>>() })
    }

    #[cold]
    fn keyed<K>(&'static self) -> KeyedBreaker<K>
    where
        K: std::hash::Hash + Eq + Display + Send + Sync + 'static,
    {
        let built = KeyedBreaker::builder(self.site.name)
            .label(self.label)
            .config(self.site.config())
            .max_keys(self.max_keys)
            .idle(Duration::from_nanos(self.idle))
            .registry(crate::registry())
            .build();
        match built {
            Ok(keyed) => keyed,
            Err(error) => {
                tracing::error!(
                    target: "breaker",
                    breaker = self.site.name,
                    function = self.site.function,
                    "#[circuit_breaker] keyed settings refused at run time ({error}); using the defaults"
                );
                KeyedBreaker::builder(self.site.name)
                    .config(self.site.config())
                    .registry(crate::registry())
                    .build()
                    .unwrap_or_else(|_| unreachable!("the default settings are valid"))
            }
        }
    }
}

/// One admitted call of an async keyed function ([`KeyedHandle::acquire`]):
/// its permit, and the key's breaker that the permit borrows.
///
/// Until the function's body first pends, the call runs on the thread that
/// looked the key up, and the breaker stays pinned in that thread's recent
/// keys, as a sync call's does: a body ready at its first poll records its
/// outcome with no reference count taken (two atomic read-modify-writes, a
/// tenth of the call). When the body pends, the call may resume on any
/// thread: [`HeldCall::pended`] then counts the breaker and unpins it. A
/// call moved to another thread some other way (not by the expansion) finds
/// its pin out of reach there, and is left unrecorded (see `KeyHold`).
///
/// One value with one drop, held by [`run_async`](super::run_async) as an
/// unkeyed call is: the outcome recorded lets go of the breaker inline, and
/// the drop (a call cancelled, or unwinding) is one test and one call out of
/// line. The permit and the breaker held apart made the function's drop two
/// calls, the second on the first's unwinding path: too large for the
/// compiler to inline where the function's future is dropped, so the whole
/// future stayed in memory, and every call wrote its state there and read
/// it back. Both fields are dropped by hand ([`Drop`] below), so that the
/// compiler's drop is that test alone, which it folds away where the call
/// was just handed back.
pub struct KeyedCall {
    /// Borrows the state of the breaker `hold` holds, which outlives it.
    call: ManuallyDrop<Call<'static>>,
    /// Empty once the call is handed back ([`HeldCall::back`]) or left
    /// behind, and the call is then empty too.
    hold: ManuallyDrop<KeyHold>,
}

impl KeyedCall {
    /// Admits one call on the breaker `hold` holds; a rejection lets go of
    /// it. The `Result` is built here, outside the lookup: built inside its
    /// ticket's `with`, it came back through memory, written in narrower
    /// stores than it was read with (a store-forwarding stall).
    #[inline(always)]
    fn admit(hold: KeyHold) -> Result<KeyedCall, Error> {
        // A hold made on this thread reaches its breaker: `None` is never
        // seen, and would run the call unguarded.
        let admitted = match hold.breaker() {
            // SAFETY: the hold stored beside the call keeps the breaker alive
            // for as long as the call exists: the call is a private field,
            // never handed out, and every method below records or drops it
            // before the hold lets go (or, on another thread, never records
            // it).
            Some(breaker) => acquire(breaker).map(|call| unsafe { call.detached() }),
            None => Ok(Call::none()),
        };
        match admitted {
            Ok(call) => Ok(KeyedCall {
                call: ManuallyDrop::new(call),
                hold: ManuallyDrop::new(hold),
            }),
            Err(rejected) => {
                hold.release();
                Err(rejected)
            }
        }
    }

    /// Takes the call out for its outcome, with the hold that keeps its
    /// breaker; a call out of its breaker's reach here is forgotten instead
    /// (see `KeyHold`), and `None` comes back with the hold.
    #[inline(always)]
    fn into_parts(self) -> (Option<Call<'static>>, KeyHold) {
        let mut this = ManuallyDrop::new(self);
        let call = this.call.back();
        let hold = this.hold.take();
        match hold.breaker() {
            Some(_) => (Some(call), hold),
            None => {
                std::mem::forget(call);
                (None, hold)
            }
        }
    }

    /// Records a success, then lets go of the breaker.
    #[inline(always)]
    pub fn success(self) {
        match self.into_parts() {
            (Some(call), hold) => {
                call.success();
                // SAFETY: `into_parts` found the breaker reachable here.
                unsafe { hold.release_here() };
            }
            (None, hold) => hold.release(),
        }
    }

    /// Records a failure (see [`Call::failure`]), then lets go of the breaker.
    #[inline]
    pub fn failure(self, message: impl FnOnce() -> String) {
        match self.into_parts() {
            (Some(call), hold) => {
                call.failure(message);
                // SAFETY: `into_parts` found the breaker reachable here.
                unsafe { hold.release_here() };
            }
            (None, hold) => hold.release(),
        }
    }
}

impl Drop for KeyedCall {
    #[inline(always)]
    fn drop(&mut self) {
        // With an empty hold, the call is empty: nothing is left behind.
        if !self.hold.is_empty() {
            cancelled(self);
        }
    }
}

// Out of line and by reference, so that the drop the compiler writes for an
// async function's future is small enough to inline where the future is
// dropped on the unwinding path; there the future's state says it panicked,
// this call folds away, and the state stays in registers. Handed the call
// and the hold by value instead, that drop copied both to the stack first,
// was too large to inline, and every call wrote its state to memory.
#[cold]
#[inline(never)]
fn cancelled(this: &mut KeyedCall) {
    let (call, hold) = (this.call.back(), this.hold.take());
    match hold.breaker() {
        // A cancelled call, if it was still held; the hold goes after it,
        // also if recording unwinds.
        Some(_) => drop(call),
        None => std::mem::forget(call),
    }
    drop(hold);
}

impl HeldCall for KeyedCall {
    type Back = KeyedCall;

    fn panicked_in_place(&mut self) {
        match self.hold.breaker() {
            Some(_) => HeldCall::panicked_in_place(&mut *self.call),
            None => std::mem::forget(self.call.back()),
        }
    }

    // Once pended, the call may resume on another thread: the breaker is
    // counted, the pin let go, and the permit lets go of this thread's
    // stripe. A call already on another thread is left behind unrecorded.
    #[inline(always)]
    fn pended(&mut self) {
        match self.hold.breaker() {
            Some(_) => self.call.pended(),
            None => std::mem::forget(self.call.back()),
        }
        self.hold.may_move();
    }

    // The future keeps an empty call, which its drop leaves alone.
    #[inline(always)]
    fn back(&mut self) -> KeyedCall {
        KeyedCall {
            call: ManuallyDrop::new(self.call.back()),
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

/// A key's breaker found by [`KeyedHandle::ticket`], for one call.
pub struct KeyTicket<K>(crate::keyed::Ticket<K>);

impl<K: 'static> KeyTicket<K> {
    /// Runs `f` (the call: admission, body, outcome) on the key's breaker.
    #[inline(always)]
    pub fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        self.0.with(f)
    }
}

impl<K> fmt::Debug for KeyTicket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyTicket")
    }
}

/// The value of `key = ...`, as a keyed breaker's table looks it up: `Hash +
/// Eq + Display`, with an owned form to keep.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot key a circuit breaker",
    label = "the value of `key = ...`",
    note = "a key must be `Hash + Eq + Display`, with an owned form (`ToOwned`) that is `Send + Sync + 'static`: a `&str`, a `String`, an integer, or a type that derives `Clone, Hash, PartialEq, Eq` and implements `Display`"
)]
pub trait Key:
    std::hash::Hash
    + Eq
    + Display
    + ToOwned<Owned: std::hash::Hash + Eq + Display + Send + Sync + 'static>
{
}

#[diagnostic::do_not_recommend]
impl<T> Key for T
where
    T: std::hash::Hash + Eq + Display + ToOwned + ?Sized,
    T::Owned: std::hash::Hash + Eq + Display + Send + Sync + 'static,
{
}

/// The key expression's value, borrowed, for autoref specialization: a
/// reference is looked up by what it points at (`req.host()`, a `&str`,
/// is looked up as a `str` and kept as a `String`), anything else as itself.
pub struct KeyProbe<'a, V: ?Sized>(pub &'a V);

/// A reference key: looked up by what it points at.
pub trait KeyOfRef<'a> {
    /// What the reference points at.
    type Key: ?Sized;
    /// It.
    fn __cb_key(&self) -> &'a Self::Key;
}

impl<'a, 'b: 'a, T: ?Sized> KeyOfRef<'a> for KeyProbe<'a, &'b T> {
    type Key = T;
    fn __cb_key(&self) -> &'a T {
        self.0
    }
}

/// Any other key: looked up as itself.
pub trait KeyOfValue<'a> {
    /// The key's type.
    type Key: ?Sized;
    /// It.
    fn __cb_key(&self) -> &'a Self::Key;
}

impl<'a, V: ?Sized> KeyOfValue<'a> for &KeyProbe<'a, V> {
    type Key = V;
    fn __cb_key(&self) -> &'a V {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyed::pinned_here;

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
        KeyedCall::admit(KeyHold::pinned(keyed.ticket(&1))).expect("closed")
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

        // A panic in the body, recorded in place: a failure; the pin goes
        // with the call's drop.
        let mut panicked = admitted(&keyed);
        HeldCall::panicked_in_place(&mut panicked);
        drop(panicked);
        let stats = breaker.stats();
        assert_eq!((stats.in_flight, stats.failures, pinned_here()), (0, 2, 0));
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

    // Only a misuse of `__private` gets here (the expansion counts a call
    // before it can move): memory-safe, the call left unrecorded.
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
        crate::keyed::unpin_all_here();
    }

    #[test]
    fn a_rejected_keyed_call_lets_go_of_its_pin() {
        let (keyed, breaker) = keyed("keyed-rejected");
        breaker.trip();
        let handles = breaker.handles();
        assert!(KeyedCall::admit(KeyHold::pinned(keyed.ticket(&1))).is_err());
        assert_eq!((breaker.handles(), pinned_here()), (handles, 0));
    }
}
