//! Each thread's recently called keys, so that calling a key again finds its
//! breaker without the shard's lock and without a reference count: both are
//! atomic read-modify-writes, four per call, and they cost several times the
//! breaker's own work.
//!
//! A small set-associative cache per thread, over every keyed breaker. An
//! entry names its keyed breaker and that breaker's removal count when it
//! was filled (one word, `owner`, a [`Generation`]), the key's
//! [`hash_of`], and holds the key's slot. A removal (eviction, idle drop, `remove`) bumps the count after the
//! slot left the table, so an entry filled before it no longer matches: the
//! next call of that key goes to the table, as every call did before. The
//! entry's own reference keeps its slot whole until then, so a call that
//! matched just before the removal finishes on the old breaker, as a call in
//! flight at the eviction does.
//!
//! A hit is used in two steps, because the key borrows the arguments that
//! the body then takes: [`find`] pins the entry and gives its place, then the
//! call runs on the place's slot, and dropping the place unpins it. A pinned
//! entry is never replaced, so its slot lives as long as the pin: the call
//! reaches it through the place alone, without looking the thread's storage
//! up again.
//!
//! A breaker the cache does not remember (a key just created, the overflow
//! breaker, a key whose set is all pinned) is pinned for its call in a spare
//! entry ([`hold`]), which no lookup finds, so that every call runs the same
//! way: the breaker read from a pinned entry, the entry unpinned after.
//!
//! Every field is a `Cell`, so that a key's `Eq` or `Drop` calling another
//! key (user code runs here) finds the cache usable, never half-borrowed.
//! The cache has no destructor of its own, so a call reads it without the
//! check of a lazily registered one (as `opening.rs`'s do); [`CLEANUP`]
//! gives its slots back when the thread exits.

use std::any::Any;
#[cfg(debug_assertions)]
use std::any::TypeId;
use std::cell::{Cell, UnsafeCell};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::Breaker;
use crate::clock::UNSTAMPED;

/// Sets of the cache; the key's hash picks one.
const SETS: usize = 8;
/// Entries per set: keys of one keyed breaker called in turn rarely evict
/// each other.
const WAYS: usize = 4;
/// Spare entries: calls of unremembered breakers nested this deep on one
/// thread before one needs an entry on the heap.
const SPARES: usize = 4;

// A line each, so that looking one entry up touches one line; and no more
// than a line, with `kind` kept in debug builds only.
#[repr(align(64))]
struct Entry {
    /// The keyed breaker's [`Generation`] when the entry was filled; 0 for an
    /// empty entry (no generation is 0).
    owner: Cell<u64>,
    hash: Cell<u64>,
    /// The type `slot` holds: checked in debug builds (see `slot_of`).
    #[cfg(debug_assertions)]
    kind: Cell<Option<TypeId>>,
    /// Where `slot` points, read without touching its reference count.
    at: Cell<*const ()>,
    /// The places on the entry (from [`find`] or `remember` until the end
    /// of the call) are `held` (0 or 1) plus `pins`: a place pins by setting
    /// `held` when it is clear, and unpins by clearing it when `pins` is 0.
    /// So a call of a key its thread is not already calling writes a
    /// constant twice. A count alone (load, add, store) chained each call's
    /// unpinning to the next call's pinning through memory, and cost a keyed
    /// call a fourteenth of its time.
    held: Cell<bool>,
    /// The places beyond the first (a call of the key nested in its own
    /// call, or in its `Eq`).
    pins: Cell<u16>,
    /// An entry of its own on the heap (see [`hold`]), freed when unpinned.
    /// In the padding too.
    heap: Cell<bool>,
    /// The clock's tick (`clock::tick`) at which this thread last stamped the
    /// key's use, or `clock::UNSTAMPED`. In the padding after `pins`.
    stamped: Cell<u32>,
    /// Keeps the slot alive while the entry names it; given back by
    /// `remember` when it refills the entry, or by [`Cleanup`].
    slot: Cell<ManuallyDrop<Option<Arc<dyn Any>>>>,
    /// The slot's breaker, held here too: the call reaches its state through
    /// the entry in one load less than through the slot, and that chain of
    /// dependent loads is what a keyed call waits on most. Written only
    /// while the entry is unpinned (`remember`, `hold`, `clear`), read only while it
    /// is pinned ([`Pinned::breaker`]).
    breaker: UnsafeCell<ManuallyDrop<Option<Breaker>>>,
}

impl Entry {
    const fn empty() -> Entry {
        Entry {
            owner: Cell::new(0),
            hash: Cell::new(0),
            #[cfg(debug_assertions)]
            kind: Cell::new(None),
            at: Cell::new(std::ptr::null()),
            held: Cell::new(false),
            pins: Cell::new(0),
            heap: Cell::new(false),
            stamped: Cell::new(UNSTAMPED),
            slot: Cell::new(ManuallyDrop::new(None)),
            breaker: UnsafeCell::new(ManuallyDrop::new(None)),
        }
    }

    /// Whether a place holds the entry: then it is never refilled.
    fn is_pinned(&self) -> bool {
        self.held.get() || self.pins.get() != 0
    }

    #[inline]
    fn is(&self, owner: Generation, hash: u64) -> bool {
        self.owner.get() == owner.0 && self.hash.get() == hash
    }

    /// Empties the entry; returns the slot and the breaker it kept, for the
    /// caller to drop once the entry is consistent again.
    fn clear(&self) -> (Option<Arc<dyn Any>>, Option<Breaker>) {
        self.owner.set(0);
        self.at.set(std::ptr::null());
        let slot = ManuallyDrop::into_inner(self.slot.replace(ManuallyDrop::new(None)));
        // SAFETY: the entry is unpinned (both callers check, or the thread is
        // exiting), so no `Place` borrows `breaker`.
        let breaker = unsafe { (*self.breaker.get()).take() };
        (slot, breaker)
    }

    /// The slot of a filled entry. An `S`: an owner stores one type of slot
    /// (see [`find`]), and the owner matched. Not checked at run time: the
    /// type's 16 bytes, compared on every call, were a tenth of a keyed call.
    #[inline]
    fn slot_of<S: Any>(&self) -> &S {
        #[cfg(debug_assertions)]
        assert_eq!(self.kind.get(), Some(TypeId::of::<S>()));
        debug_assert!(!self.at.get().is_null());
        // SAFETY: `at` (and `kind`) are set with `slot`, from the `Arc<S>` it
        // holds (`remember`), before `owner`, and cleared after it, so an
        // entry whose owner matched holds its owner's one type of slot. Only
        // an unpinned entry is refilled; both callers pin the entry first and
        // use the borrow only while pinned (`find` during `matches`, `with`
        // during `f`).
        unsafe { &*self.at.get().cast::<S>() }
    }
}

struct Recent {
    /// Set by set, `WAYS` entries each.
    sets: [[Entry; WAYS]; SETS],
    /// The way each set fills next, round robin.
    next: [Cell<u8>; SETS],
    /// Entries no lookup finds (their owner is 0), for breakers this thread
    /// does not remember (see [`hold`]).
    spares: [Entry; SPARES],
    /// The spare [`hold`] tries first, round robin.
    next_spare: Cell<u8>,
    /// Whether this thread may fill its entries: [`UNSETTLED`] until it
    /// first fills one, then [`SETTLED`], or [`REFUSED`] when its storage
    /// was a gone thread's that left a pin behind (see [`this_home`]).
    settled: Cell<u8>,
}

impl Recent {
    /// Every entry: the sets' ways, then the spares.
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sets.iter().flatten().chain(&self.spares)
    }

    /// Where these recent keys are, as a number (see [`this_home`]).
    #[inline(always)]
    fn home(&self) -> usize {
        self as *const Recent as usize
    }
}

thread_local! {
    static RECENT: Recent = const {
        Recent {
            sets: [const { [const { Entry::empty() }; WAYS] }; SETS],
            next: [const { Cell::new(0) }; SETS],
            spares: [const { Entry::empty() }; SPARES],
            next_spare: Cell::new(0),
            settled: Cell::new(UNSETTLED),
        }
    };
    /// Registered when this thread first remembers a key.
    static CLEANUP: Cleanup = const { Cleanup };
}

/// Gives this thread's remembered slots back when it exits.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let recent = this_thread();
        if clean(recent) {
            leave_behind(recent.home());
        }
    }
}

/// Gives back the slots of `recent`'s entries that are not pinned; answers
/// whether any still is.
///
/// A pinned entry is kept, slot and breaker, for as long as the thread's
/// storage lasts: its pin may still be used, by a thread-local destroyed
/// after the cleanup, or on another thread (a call kept there by code
/// outside the expansion), and the breaker it reads must still be there.
/// Its thread then leaves its address behind (see [`this_home`]).
fn clean(recent: &Recent) -> bool {
    let mut pinned = false;
    for entry in recent.entries() {
        if entry.is_pinned() {
            pinned = true;
        } else {
            drop(entry.clear());
        }
    }
    pinned
}

/// A pinned entry, whose breaker a call runs on: of this thread's recent
/// keys (found or remembered, see [`Place`]) or holding a breaker this thread
/// does not remember ([`hold`]). Either kind is used alike, its breaker read
/// from the entry and the entry unpinned after, so a call's path does not
/// branch on which it has. One pointer, so that a ticket holding it comes
/// back in a register. Not `Send`: it points into this thread's storage, or
/// at a heap entry this thread unpins.
#[derive(Debug)]
pub(super) struct Pinned {
    entry: NonNull<Entry>,
}

/// A pinned entry of this thread's recent keys, whose slot is an `S`.
#[derive(Debug)]
pub(super) struct Place<S> {
    pinned: Pinned,
    slot: PhantomData<*const S>,
}

/// What a thread's recent keys are found by: FxHash, for an integer key one
/// multiply and a rotation. A keyed call is bound by its longest chain of
/// dependent steps, and the key's hash comes first in it (the set, the
/// entry, the key's breaker, its state all wait on it); the table's foldhash
/// loads its seed, multiplies to 128 bits and folds, and took a keyed call
/// an eighth longer. The table's hash is taken only when the key is looked up
/// there. Unseeded: keys chosen to collide here only send their calls to the
/// table, as every call went before this cache.
#[inline(always)]
pub(super) fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The set of a key's `hash_of`: its low bits, where FxHash's `finish` puts
/// the product's best ones.
#[inline]
fn set_of(hash: u64) -> usize {
    hash as usize % SETS
}

/// What an entry is checked against: a keyed breaker's id (bits 32 to 62)
/// and its count of removals (the low 32 bits, wrapping), in one word, so that
/// a lookup loads and compares one word for both. A removal (eviction, idle
/// drop, `remove`) moves to the next generation after the slot left the
/// table, so an entry filled before it no longer matches. After 2^32 removals
/// the count comes round: an entry untouched all that time matches again, and
/// its key's call runs on the breaker it kept, which the key had then; the
/// keyed breaker is the entry's, so its slot's type is right. An id that does
/// not fit (past 2^31 keyed breakers in one process) has bit 63 set, and its
/// keys are never remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Generation(u64);

/// Bit 63 of a [`Generation`]: a keyed breaker whose keys are not remembered.
const UNREMEMBERED: u64 = 1 << 63;

impl Generation {
    /// The first generation of keyed breaker `id` (ids start at 1, so no
    /// generation is 0, an empty entry's).
    pub(super) fn first(id: u64) -> Generation {
        match u32::try_from(id) {
            Ok(id) if id != 0 && id < 1 << 31 => Generation(u64::from(id) << 32),
            _ => Generation(UNREMEMBERED),
        }
    }

    /// The generation after a removal.
    pub(super) fn next(self) -> Generation {
        let count = (self.0 as u32).wrapping_add(1);
        Generation((self.0 & !u64::from(u32::MAX)) | u64::from(count))
    }

    /// Read from the keyed breaker's word.
    #[inline(always)]
    pub(super) fn from_word(word: u64) -> Generation {
        Generation(word)
    }

    /// Written to the keyed breaker's word.
    pub(super) fn word(self) -> u64 {
        self.0
    }
}

/// The entry of `owner`'s key with this `hash`, filled in this generation of
/// it, whose slot `matches` (the key compared, and marked used), pinned.
///
/// Every call of `find` and [`remember`] with one `owner`'s id names one `S`:
/// an id is a keyed breaker's, unique in the process, and a keyed breaker
/// stores slots of its own key type only. The slot's type is not checked.
#[inline(always)]
pub(super) fn find<S: Any>(
    owner: Generation,
    hash: u64,
    matches: impl FnOnce(&S) -> bool,
) -> Option<Place<S>> {
    let recent = this_thread();
    let entry = recent.sets[set_of(hash)]
        .iter()
        .find(|e| e.is(owner, hash))?;
    // Pinned before `matches` runs the key's `Eq`, which may call other keys
    // and fill entries: never this one.
    let place = Place::pin(entry)?;
    // Dropped unpins: a key that does not match, or whose `Eq` panics.
    matches(entry.slot_of::<S>()).then_some(place)
}

/// This thread's recent keys. Fetched on their own, so that the lookup
/// around them is small enough to inline: `with` given the whole lookup
/// stayed out of line, and reached the storage through a function pointer.
#[inline(always)]
fn this_thread() -> &'static Recent {
    let recent = RECENT.with(|recent| recent as *const Recent);
    // SAFETY: `RECENT` has no destructor, so this thread's copy lives as
    // long as the thread; `Recent` is not `Sync`, so the reference stays on
    // it.
    unsafe { &*recent }
}

/// Where this thread's recent keys are: what a pin that may be carried to
/// another thread (see `keyed::hold`) is checked against before its entry
/// is touched. Compared with the address the pin was made at, in the same
/// function the compiler folds the check away.
///
/// An address is not a thread's for ever: a new thread may get the storage
/// of one that has gone. If that one left a pin behind (kept by code outside
/// the expansion), the pin would pass the check on the new thread and unpin
/// an entry of its. So a thread that exits with an entry still pinned says
/// so ([`Cleanup`] adds its address to [`LEFT`]), and a thread that finds
/// its own address there never fills an entry of its recent keys
/// ([`REFUSED`]): every call it makes runs on an entry of its own on the
/// heap, and what a stale pin unpins is never used.
#[inline(always)]
pub(super) fn this_home() -> usize {
    this_thread().home()
}

/// [`Recent::settled`]: not settled yet.
const UNSETTLED: u8 = 0;
/// [`Recent::settled`]: the thread fills its entries.
const SETTLED: u8 = 1;
/// [`Recent::settled`]: the thread has the storage of a gone thread that
/// left a pin behind, and fills none of its entries.
const REFUSED: u8 = 2;

/// The addresses of the recent keys of threads that exited with an entry
/// still pinned (see [`this_home`]). Only code outside the expansion leaves
/// a pin behind, so this stays empty; `ANY_LEFT` spares every new thread
/// the lock.
static LEFT: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
static ANY_LEFT: AtomicBool = AtomicBool::new(false);

/// Whether this thread may fill its entries (see [`this_home`]): settled
/// once, before the first entry it fills.
fn may_fill(recent: &Recent) -> bool {
    if recent.settled.get() == UNSETTLED {
        let refused = left_behind_at(recent.home());
        recent.settled.set(if refused { REFUSED } else { SETTLED });
    }
    recent.settled.get() == SETTLED
}

/// Whether a thread that exited with a pin still held had its recent keys
/// at `home`.
fn left_behind_at(home: usize) -> bool {
    ANY_LEFT.load(Ordering::Acquire)
        && LEFT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&home)
}

/// Records that the thread whose recent keys are at `home` exits with a pin
/// still held.
fn leave_behind(home: usize) {
    let mut left = LEFT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !left.contains(&home) {
        left.push(home);
    }
    ANY_LEFT.store(true, Ordering::Release);
}

/// Remembers `slot`, whose breaker is `breaker`, as `owner`'s key with this
/// `hash`, and pins it; hands `slot` back when every entry of its set is
/// pinned, this thread's storage is being torn down, or `owner`'s keys are
/// never remembered.
pub(super) fn remember<S: Any>(
    owner: Generation,
    hash: u64,
    slot: Arc<S>,
    breaker: Breaker,
) -> Result<Place<S>, Arc<S>> {
    // Registers the cleanup; refused once it ran, so nothing is kept after.
    if owner.0 & UNREMEMBERED != 0 || CLEANUP.try_with(|_| ()).is_err() {
        return Err(slot);
    }
    let recent = this_thread();
    if !may_fill(recent) {
        return Err(slot);
    }
    let set = set_of(hash);
    let start = recent.next[set].get() as usize;
    let Some(way) = (0..WAYS)
        .map(|i| (start + i) % WAYS)
        .find(|&way| !recent.sets[set][way].is_pinned())
    else {
        return Err(slot);
    };
    recent.next[set].set(((way + 1) % WAYS) as u8);
    let entry = &recent.sets[set][way];
    // Emptied first, filled, then the old slot dropped last: its key's `Drop`
    // is user code, and may call keys too.
    let old = entry.clear();
    // SAFETY: unpinned (checked above), so no `Place` borrows it.
    unsafe { *entry.breaker.get() = ManuallyDrop::new(Some(breaker)) };
    entry.at.set(Arc::as_ptr(&slot).cast());
    #[cfg(debug_assertions)]
    entry.kind.set(Some(TypeId::of::<S>()));
    let slot: Arc<dyn Any> = slot;
    entry.slot.set(ManuallyDrop::new(Some(slot)));
    entry.hash.set(hash);
    entry.owner.set(owner.0);
    entry.held.set(true);
    entry.stamped.set(UNSTAMPED);
    drop(old);
    Ok(Place {
        pinned: Pinned {
            entry: NonNull::from(entry),
        },
        slot: PhantomData,
    })
}

/// Pins `breaker`, which this thread does not remember (a new key, the
/// overflow breaker, a key whose set has every way pinned), in an entry no
/// lookup finds, for one call: one of this thread's spare entries, which
/// keeps the breaker until it is used again (as an entry keeps a remembered
/// slot); or, when every spare is pinned (as many such calls nested) or this
/// thread's storage is being torn down, an entry of its own on the heap,
/// freed with the breaker when it is unpinned.
pub(super) fn hold(breaker: Breaker) -> Pinned {
    let recent = this_thread();
    // Registers the cleanup; refused once it ran, so nothing is kept after.
    if CLEANUP.try_with(|_| ()).is_ok() && may_fill(recent) {
        let start = recent.next_spare.get() as usize;
        if let Some(spare) = (0..SPARES)
            .map(|i| (start + i) % SPARES)
            .find(|&spare| !recent.spares[spare].is_pinned())
        {
            recent.next_spare.set(((spare + 1) % SPARES) as u8);
            let entry = &recent.spares[spare];
            // SAFETY: unpinned (checked above), so no `Pinned` borrows it.
            let old = unsafe {
                std::mem::replace(&mut *entry.breaker.get(), ManuallyDrop::new(Some(breaker)))
            };
            entry.held.set(true);
            // Last: a breaker's drop may run user code (its listeners'),
            // which may call keys and take spares, never this pinned one.
            drop(ManuallyDrop::into_inner(old));
            return Pinned {
                entry: NonNull::from(entry),
            };
        }
    }
    let mut entry = Entry::empty();
    entry.breaker = UnsafeCell::new(ManuallyDrop::new(Some(breaker)));
    entry.held.set(true);
    // A count of places beyond the first sends the unpinning to `unpin_more`,
    // which frees the entry.
    entry.pins.set(1);
    entry.heap.set(true);
    Pinned {
        entry: NonNull::from(Box::leak(Box::new(entry))),
    }
}

impl Pinned {
    /// The pinned entry's breaker: what the call runs on.
    #[inline(always)]
    pub(super) fn breaker(&self) -> &Breaker {
        // SAFETY: set with the slot by `remember` (or by `hold`) and taken
        // only by `clear`, which never runs on a pinned entry, or when the
        // heap entry is freed, by this pin's own drop.
        let breaker: &Option<Breaker> = unsafe { &*self.entry().breaker.get() };
        match breaker {
            Some(breaker) => breaker,
            // SAFETY: a pin is made only for an entry holding a breaker
            // (`find` matched a filled entry's owner; `remember` and `hold`
            // filled it), and filled entries hold their breaker.
            None => unsafe { std::hint::unreachable_unchecked() },
        }
    }

    #[inline(always)]
    fn entry(&self) -> &Entry {
        // SAFETY: a `Pinned` is made only for an entry of this thread's
        // storage (it is not `Send`), which lives until the thread ends,
        // after every call on it, or for a heap entry freed only by its drop.
        unsafe { self.entry.as_ref() }
    }
}

// Unpinning: after `with`, or for a call found and not made.
impl Drop for Pinned {
    #[inline(always)]
    fn drop(&mut self) {
        // Whichever pin goes first, `held + pins` counts those left.
        let entry = self.entry();
        match entry.pins.get() {
            0 => entry.held.set(false),
            _ => unpin_more(self.entry),
        }
    }
}

/// Unpins an entry that has other places, or frees a heap entry.
#[cold]
#[inline(never)]
fn unpin_more(entry: NonNull<Entry>) {
    // SAFETY: pinned by the caller, so alive (see `Pinned::entry`).
    let pinned = unsafe { entry.as_ref() };
    if !pinned.heap.get() {
        pinned.pins.set(pinned.pins.get() - 1);
        return;
    }
    // SAFETY: made by `hold` with `Box::leak`, and held by one `Pinned`
    // only, whose drop this is.
    let boxed = unsafe { Box::from_raw(entry.as_ptr()) };
    // SAFETY: no `Pinned` is left to borrow it.
    let breaker = unsafe { (*boxed.breaker.get()).take() };
    drop(boxed);
    drop(breaker);
}

impl<S> Place<S> {
    /// Pins `entry` (see its `held`); `None` when its count of places is
    /// full, and the call goes to the table.
    #[inline(always)]
    fn pin(entry: &Entry) -> Option<Place<S>> {
        if !entry.held.get() {
            entry.held.set(true);
        } else {
            entry.pins.set(entry.pins.get().checked_add(1)?);
        }
        Some(Place {
            pinned: Pinned {
                entry: NonNull::from(entry),
            },
            slot: PhantomData,
        })
    }

    /// Whether the key's use is to be stamped, at `tick` (see
    /// `clock::tick`): not when this thread stamped it at the same tick.
    /// When it is, the entry records `stamp` (`clock::stamp_at(tick)`) as
    /// stamped.
    #[inline(always)]
    pub(super) fn stamp_due(&self, tick: u32, stamp: impl FnOnce() -> u32) -> bool {
        let stamped = &self.pinned.entry().stamped;
        if stamped.get() == tick {
            return false;
        }
        stamped.set(stamp());
        true
    }

    /// The pinned slot.
    #[inline(always)]
    pub(super) fn slot(&self) -> &S {
        // SAFETY: the entry held an `S` when the place was made (its owner's
        // one type, see `find`; `remember` put it there), and a pinned entry is
        // never refilled, so `at` still points at it, kept alive by the
        // entry's reference while this place pins it.
        unsafe { &*self.pinned.entry().at.get().cast::<S>() }
    }

    /// The pin alone, for the call.
    #[inline(always)]
    pub(super) fn into_pinned(self) -> Pinned {
        self.pinned
    }
}

/// How many of this thread's entries are pinned, for tests of what holds
/// a pin.
#[cfg(test)]
pub(crate) fn pinned_here() -> usize {
    this_thread()
        .entries()
        .filter(|entry| entry.is_pinned())
        .count()
}

/// Unpins every entry of this thread's: for a test that left a pin behind
/// on purpose, so that its thread exits leaving nothing behind (see
/// [`this_home`]), and no later test's thread refuses its entries.
#[cfg(test)]
pub(crate) fn unpin_all_here() {
    for entry in this_thread().entries() {
        entry.held.set(false);
        entry.pins.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn breaker() -> Breaker {
        Breaker::new("recent", Config::default())
    }

    /// Keyed breaker `id`'s generation after `removals` removals.
    fn at(id: u64, removals: u32) -> Generation {
        (0..removals).fold(Generation::first(id), |at, _| at.next())
    }

    fn pins(owner: Generation, hash: u64) -> u32 {
        this_thread().sets[set_of(hash)]
            .iter()
            .find(|e| e.is(owner, hash))
            .map_or(0, |e| u32::from(e.held.get()) + u32::from(e.pins.get()))
    }

    #[test]
    fn a_call_that_panics_unpins_its_entry() {
        let place = remember(at((1 << 31) - 1, 0), 7, Arc::new(5_u32), breaker())
            .ok()
            .unwrap();
        assert_eq!(pins(at((1 << 31) - 1, 0), 7), 1);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _call = place;
            panic!("the body panicked")
        }));
        assert!(caught.is_err());
        assert_eq!(pins(at((1 << 31) - 1, 0), 7), 0);
        // Found again and used: pinned during the call only.
        let place = find(at((1 << 31) - 1, 0), 7, |n: &u32| *n == 5).unwrap();
        assert_eq!((*place.slot(), pins(at((1 << 31) - 1, 0), 7)), (5, 1));
        drop(place);
        assert_eq!(pins(at((1 << 31) - 1, 0), 7), 0);

        // A key's `Eq` that panics leaves the entry unpinned.
        let caught =
            std::panic::catch_unwind(|| find(at((1 << 31) - 1, 0), 7, |_: &u32| panic!("Eq")));
        assert!(caught.is_err());
        assert_eq!(pins(at((1 << 31) - 1, 0), 7), 0);
    }

    #[test]
    fn a_use_is_stamped_once_a_tick_and_always_without_one() {
        let owner = (1 << 31) - 4;
        let place = remember(at(owner, 0), 13, Arc::new(1_u64), breaker())
            .ok()
            .unwrap();
        assert!(place.stamp_due(7, || 7), "never stamped from this thread");
        assert!(!place.stamp_due(7, || 7), "stamped at this tick");
        assert!(place.stamp_due(8, || 8), "the clock ticked");
        // No tick (0), or one that tells nothing: stamped as none.
        assert!(place.stamp_due(0, || UNSTAMPED));
        assert!(place.stamp_due(0, || UNSTAMPED));
        assert!(place.stamp_due(9, || UNSTAMPED));
        assert!(place.stamp_due(9, || UNSTAMPED));
        drop(place);
        // Refilled, the entry has stamped nothing yet, not even at tick 0.
        drop(remember(at(owner, 1), 13, Arc::new(1_u64), breaker()));
        let again = find(at(owner, 1), 13, |_: &u64| true).unwrap();
        assert!(again.stamp_due(0, || UNSTAMPED));
    }

    #[test]
    fn another_epoch_or_a_mismatch_is_not_found_and_not_pinned() {
        let owner = (1 << 31) - 2;
        drop(remember(at(owner, 3), 9, Arc::new(1_u64), breaker()));
        assert!(
            find(at(owner, 4), 9, |_: &u64| true).is_none(),
            "a removal since"
        );
        assert!(
            find(at(owner, 3), 9, |_: &u64| false).is_none(),
            "another key"
        );
        assert_eq!(pins(at(owner, 3), 9), 0);
        assert!(find(at(owner, 3), 9, |n: &u64| *n == 1).is_some());
        assert_eq!(pins(at(owner, 3), 9), 0, "a place dropped unused unpins");
    }

    /// Remembers key `i` of `owner` in the first set (hashes that agree in
    /// their low bits share a set), its slot holding `i`.
    fn remember_in_first_set(owner: Generation, i: u64) -> Result<Place<u64>, Arc<u64>> {
        remember(owner, i * SETS as u64, Arc::new(i), breaker())
    }

    #[test]
    fn pinned_entries_are_never_replaced() {
        let owner = at((1 << 31) - 3, 0);
        // Every way of one set pinned: a fifth key of that set is not kept.
        let places: Vec<Place<u64>> = (0..WAYS as u64)
            .map(|i| remember_in_first_set(owner, i).ok().unwrap())
            .collect();
        assert!(remember_in_first_set(owner, WAYS as u64).is_err());
        for (i, place) in places.into_iter().enumerate() {
            assert_eq!(*place.slot(), i as u64);
        }
        assert!(remember_in_first_set(owner, WAYS as u64).is_ok());
    }

    #[test]
    fn an_entry_stays_pinned_until_its_last_place_goes_whatever_the_order() {
        let owner = at((1 << 31) - 5, 0);
        // The first place holds the flag, the others count; the first goes
        // first, as a ticket dropped before another of the same key would.
        let first = remember_in_first_set(owner, 0).ok().unwrap();
        let second = find(owner, 0, |_: &u64| true).unwrap();
        let third = find(owner, 0, |_: &u64| true).unwrap();
        assert_eq!(pins(owner, 0), 3);
        drop(first);
        assert_eq!(pins(owner, 0), 2);
        // Still pinned: the set's other ways fill, and a key more finds
        // every way taken rather than this entry.
        let others: Vec<Place<u64>> = (1..WAYS as u64)
            .map(|i| remember_in_first_set(owner, i).ok().unwrap())
            .collect();
        assert!(remember_in_first_set(owner, WAYS as u64).is_err());
        // A place found while the flag is clear takes it.
        let fourth = find(owner, 0, |_: &u64| true).unwrap();
        assert_eq!(pins(owner, 0), 3);
        drop(third);
        drop(fourth);
        assert_eq!((*second.slot(), pins(owner, 0)), (0, 1));
        drop(second);
        assert_eq!(pins(owner, 0), 0);
        drop(others);
        assert!(remember_in_first_set(owner, WAYS as u64).is_ok());
    }

    #[test]
    fn a_breaker_held_unremembered_runs_from_a_spare_or_from_the_heap() {
        // Nested deeper than the spares: the last two are on the heap, and
        // each pin reads its own breaker whichever kind it is.
        let held: Vec<Pinned> = (0..SPARES + 2)
            .map(|i| hold(Breaker::new(format!("held-{i}"), Config::default())))
            .collect();
        let names: Vec<&str> = held.iter().map(|pinned| pinned.breaker().name()).collect();
        let expected: Vec<String> = (0..SPARES + 2).map(|i| format!("held-{i}")).collect();
        assert_eq!(names, expected);
        let spares = this_thread()
            .spares
            .iter()
            .filter(|e| e.is_pinned())
            .count();
        assert_eq!(spares, SPARES, "the spares first");
        // Owner 0, which no keyed breaker has: never found.
        assert!(this_thread().spares.iter().all(|e| e.owner.get() == 0));
        assert!(held[SPARES].entry().heap.get() && held[SPARES + 1].entry().heap.get());
        // Dropped in any order: a heap entry is freed with its breaker
        // (memcheck, in CI, finds a leak), a spare unpinned.
        let mut held = held;
        held.swap(0, SPARES + 1);
        drop(held);
        assert!(this_thread().spares.iter().all(|e| !e.is_pinned()));
        // A spare is used again, the breaker it kept replaced.
        let again = hold(breaker());
        assert_eq!(again.breaker().name(), "recent");
        assert!(!again.entry().heap.get());
    }

    #[test]
    fn a_thread_that_exits_with_a_pin_keeps_its_breaker_and_leaves_its_address() {
        let owner = at((1 << 31) - 7, 0);
        let place = remember(owner, 11, Arc::new(1_u64), breaker())
            .ok()
            .unwrap();
        drop(remember(owner, 12, Arc::new(2_u64), breaker()));
        // What the thread's exit runs; here, on a thread still alive, whose
        // address therefore no other thread has.
        drop(Cleanup);
        // The pinned entry kept its breaker, for a pin used after; the other
        // entry gave its slot back.
        assert_eq!(place.pinned.breaker().name(), "recent");
        assert!(find(owner, 12, |_: &u64| true).is_none());
        assert!(left_behind_at(this_home()));
        LEFT.lock().unwrap().retain(|&home| home != this_home());
        drop(place);
        assert!(!clean(this_thread()), "nothing pinned now");
    }

    #[test]
    fn a_thread_with_the_storage_of_one_that_left_a_pin_behind_fills_no_entry() {
        // No thread's recent keys are at an odd address (they are aligned).
        leave_behind(1);
        assert!(left_behind_at(1) && !left_behind_at(this_home()));
        let recent = this_thread();
        let settled = recent.settled.replace(REFUSED);
        // Refused: the slot comes back, and a breaker is held on the heap.
        assert!(remember(at((1 << 31) - 8, 0), 3, Arc::new(3_u64), breaker()).is_err());
        let held = hold(breaker());
        assert!(held.entry().heap.get());
        assert_eq!(held.breaker().name(), "recent");
        drop(held);
        assert_eq!(pinned_here(), 0);
        recent.settled.set(settled);
    }

    #[test]
    fn a_generation_counts_removals_apart_from_the_id_and_comes_round() {
        let first = Generation::first(7);
        assert_eq!(first.word(), 7 << 32);
        assert_ne!(first.next(), first);
        // 2^32 removals: the count comes round, the id stays.
        let last = Generation((7 << 32) | u64::from(u32::MAX));
        assert_eq!(last.next(), first);
        assert_ne!(Generation::first(8), first);
        // No id fits beyond 2^31, nor 0: such keys are never remembered.
        for id in [0, 1 << 31, u64::MAX] {
            let never = Generation::first(id);
            assert_eq!(never.word(), UNREMEMBERED);
            assert!(remember(never, 3, Arc::new(3_u64), breaker()).is_err());
            assert!(find(never, 3, |_: &u64| true).is_none());
        }
    }

    #[test]
    fn a_count_of_places_that_would_overflow_is_not_found() {
        let owner = (1 << 31) - 6;
        let first = remember(at(owner, 0), 5, Arc::new(5_u64), breaker())
            .ok()
            .unwrap();
        let places: Vec<Place<u64>> = (0..u16::MAX)
            .map(|_| find(at(owner, 0), 5, |_: &u64| true).unwrap())
            .collect();
        assert!(find(at(owner, 0), 5, |_: &u64| true).is_none());
        drop(places);
        drop(first);
        assert_eq!(pins(at(owner, 0), 5), 0);
    }
}
