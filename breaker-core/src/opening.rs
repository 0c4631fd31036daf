//! Where a breaker keeps its current [`Opening`], and how a rejection hands
//! it out without an atomic read-modify-write.
//!
//! Every rejection carries the opening (name, why it opened) as an owned
//! [`OpeningRef`]. With an `Arc`, a rejection cost two locked instructions
//! (the clone, then the caller's drop, usually at once: a service error that
//! keeps only "rejected"), each waiting for the store buffer to drain: half
//! of a rejection's time. So the reference count is paid in batches: each
//! thread keeps the openings it handed out last, each with a *budget* of
//! references already counted in the shared count. Handing one out spends a
//! reference of the budget; dropping one on a thread that keeps its opening
//! gives it back; both are plain stores to the thread's own memory. Only a
//! budget that runs dry, or grows past `2 * BATCH`, or a slot given up, or a
//! reference dropped on a thread that does not keep that opening, touches the
//! shared count, by many at a time where it can.
//!
//! The invariant: the shared count is at least the number of `OpeningRef`s
//! alive plus, for every thread's slot, one (the slot's own) plus its budget.
//! Every reference is interchangeable, so a thread may take back a reference
//! another thread handed out.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

use crate::reason::{OpenReason, Opening};

/// The openings this thread handed out last.
const SLOTS: usize = 4;
/// References counted at once when a slot's budget runs dry.
const BATCH: usize = 256;
/// Counts beyond this abort, as `Arc`'s do: a leak of `isize::MAX`
/// references would otherwise wrap the count and free a live opening.
const MAX_COUNT: usize = isize::MAX as usize;

/// An opening and its shared reference count.
struct Counted {
    count: AtomicUsize,
    opening: Opening,
}

/// One shared reference to an [`Opening`]: what a rejection carries.
///
/// It reads as the [`Opening`] (`Deref`), clones and drops as cheaply as a
/// plain value on the thread that made it, and is `Send + Sync` like an `Arc`.
pub struct OpeningRef {
    ptr: NonNull<Counted>,
}

// SAFETY: an `OpeningRef` is a counted shared reference to an immutable
// `Opening`, which is `Send + Sync`; the count is atomic (the thread-local
// budgets only change what each thread owns, never another thread's memory).
unsafe impl Send for OpeningRef {}
// SAFETY: as above; `&OpeningRef` gives only `&Opening`.
unsafe impl Sync for OpeningRef {}

impl OpeningRef {
    /// A new opening, with one reference: this one.
    pub(crate) fn new(opening: Opening) -> OpeningRef {
        let counted = Box::new(Counted {
            count: AtomicUsize::new(1),
            opening,
        });
        OpeningRef {
            ptr: NonNull::from(Box::leak(counted)),
        }
    }

    fn counted(&self) -> &Counted {
        // SAFETY: this reference is counted, so the allocation is alive.
        unsafe { self.ptr.as_ref() }
    }

    /// Whether two references are to the same opening.
    pub fn ptr_eq(a: &OpeningRef, b: &OpeningRef) -> bool {
        a.ptr == b.ptr
    }

    /// Gives up this reference without decrementing: the caller now owns
    /// its count.
    fn into_raw(self) -> NonNull<Counted> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }
}

impl Deref for OpeningRef {
    type Target = Opening;

    fn deref(&self) -> &Opening {
        &self.counted().opening
    }
}

impl Clone for OpeningRef {
    #[inline]
    fn clone(&self) -> OpeningRef {
        if let Some(taken) = take_from_budget(self.ptr) {
            return taken;
        }
        add(self.ptr, 1);
        OpeningRef { ptr: self.ptr }
    }
}

impl Drop for OpeningRef {
    #[inline]
    fn drop(&mut self) {
        if !give_to_budget(self.ptr) {
            // SAFETY: this reference is counted and is given up here.
            unsafe { release(self.ptr, 1) };
        }
    }
}

impl fmt::Debug for OpeningRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Counts `n` more references.
fn add(ptr: NonNull<Counted>, n: usize) {
    // SAFETY: the caller holds a counted reference, so the allocation is alive.
    let previous = unsafe { ptr.as_ref() }
        .count
        .fetch_add(n, Ordering::Relaxed);
    if previous > MAX_COUNT {
        std::process::abort();
    }
}

/// Gives up `n` counted references, freeing the opening with the last.
///
/// # Safety
/// The caller owns `n` counted references to `ptr` and uses none of them after.
unsafe fn release(ptr: NonNull<Counted>, n: usize) {
    // SAFETY: the caller's references keep the allocation alive until here.
    let counted = unsafe { ptr.as_ref() };
    if counted.count.fetch_sub(n, Ordering::Release) != n {
        return;
    }
    // Every other owner's use of the opening happened before its release.
    fence(Ordering::Acquire);
    // SAFETY: the count reached zero: no reference is left.
    drop(unsafe { Box::from_raw(ptr.as_ptr()) });
}

/// One kept opening: the slot's own reference plus `budget` more.
struct Slot {
    ptr: Cell<Option<NonNull<Counted>>>,
    budget: Cell<usize>,
}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            ptr: Cell::new(None),
            budget: Cell::new(0),
        }
    }

    /// Gives the slot's references back, leaving it empty.
    fn clear(&self) {
        if let Some(ptr) = self.ptr.take() {
            let held = self.budget.replace(0) + 1;
            // SAFETY: the slot owned `held` counted references.
            unsafe { release(ptr, held) };
        }
    }
}

thread_local! {
    /// This thread's slots. `Cell`s, not a `RefCell`: nothing here calls
    /// out while a slot is half-changed (freeing an opening drops only its
    /// name and reason, never an `OpeningRef`). No destructor of its own, so
    /// a rejection reads it without the check of a lazily registered one;
    /// [`CLEANUP`] gives its references back when the thread exits.
    static RECENT: [Slot; SLOTS] = const { [Slot::empty(), Slot::empty(), Slot::empty(), Slot::empty()] };
    /// Registered when this thread first keeps an opening.
    static CLEANUP: Cleanup = const { Cleanup };
}

/// Gives this thread's kept references back when it exits.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        RECENT.with(|recent| recent.iter().for_each(Slot::clear));
    }
}

fn slot_of(ptr: NonNull<Counted>) -> usize {
    (ptr.as_ptr() as usize >> 6) % SLOTS
}

/// A reference from this thread's budget for `ptr`, if it keeps `ptr`.
#[inline]
fn take_from_budget(ptr: NonNull<Counted>) -> Option<OpeningRef> {
    RECENT.with(|recent| {
        let slot = &recent[slot_of(ptr)];
        if slot.ptr.get() != Some(ptr) {
            return None;
        }
        match slot.budget.get() {
            0 => refill(ptr, slot),
            budget => slot.budget.set(budget - 1),
        }
        Some(OpeningRef { ptr })
    })
}

/// Counts a batch into an empty budget and spends one of it.
#[cold]
#[inline(never)]
fn refill(ptr: NonNull<Counted>, slot: &Slot) {
    add(ptr, BATCH);
    slot.budget.set(BATCH - 1);
}

/// Takes a reference to `ptr` into this thread's budget, if it keeps `ptr`.
#[inline]
fn give_to_budget(ptr: NonNull<Counted>) -> bool {
    RECENT.with(|recent| {
        let slot = &recent[slot_of(ptr)];
        if slot.ptr.get() != Some(ptr) {
            return false;
        }
        let budget = slot.budget.get() + 1;
        if budget < 2 * BATCH {
            slot.budget.set(budget);
        } else {
            give_surplus_back(ptr, slot, budget);
        }
        true
    })
}

/// A thread that drops what others made: hands the surplus back.
#[cold]
#[inline(never)]
fn give_surplus_back(ptr: NonNull<Counted>, slot: &Slot, budget: usize) {
    slot.budget.set(budget - BATCH);
    // SAFETY: the budget owned these; the slot keeps its own and the rest.
    unsafe { release(ptr, BATCH) };
}

/// Keeps `opening` (a counted reference, now the slot's own) in this
/// thread's slot for it, giving up what the slot kept before.
fn keep(opening: OpeningRef) {
    let ptr = opening.into_raw();
    // Registers the cleanup; fails once the thread is exiting and the
    // cleanup has run (or is running): nothing is kept then.
    if CLEANUP.try_with(|_| ()).is_err() {
        // SAFETY: `ptr` carries the reference `into_raw` gave up.
        unsafe { release(ptr, 1) };
        return;
    }
    RECENT.with(|recent| {
        let slot = &recent[slot_of(ptr)];
        slot.clear();
        slot.ptr.set(Some(ptr));
    });
}

/// A breaker's current opening.
pub(crate) struct OpeningCell {
    current: Mutex<OpeningRef>,
    /// The address of `current`'s opening, compared, never dereferenced. A
    /// thread's kept opening is alive (its slot holds a reference), so no
    /// other opening can have its address: equal addresses mean the kept one
    /// is current.
    address: AtomicPtr<Counted>,
}

impl OpeningCell {
    /// The cell of a breaker that never opened.
    pub(crate) fn new(name: std::sync::Arc<str>) -> OpeningCell {
        let first = OpeningRef::new(Opening::new(name, None));
        OpeningCell {
            address: AtomicPtr::new(first.ptr.as_ptr()),
            current: Mutex::new(first),
        }
    }

    /// The current opening, for a rejection.
    #[inline]
    pub(crate) fn get(&self) -> OpeningRef {
        let address = self.address.load(Ordering::Relaxed);
        match NonNull::new(address).and_then(take_from_budget) {
            Some(opening) => opening,
            None => self.get_slow(),
        }
    }

    #[cold]
    #[inline(never)]
    fn get_slow(&self) -> OpeningRef {
        let (opening, kept) = {
            let current = self.locked();
            (current.clone(), current.clone())
        };
        // Outside the lock: giving up the slot's previous opening may free it.
        keep(kept);
        opening
    }

    /// Why the breaker last opened.
    pub(crate) fn reason(&self) -> Option<std::sync::Arc<OpenReason>> {
        self.locked().reason.clone()
    }

    /// Makes `reason` the breaker's current opening.
    pub(crate) fn open(&self, reason: OpenReason) {
        let mut current = self.locked();
        let next = OpeningRef::new(Opening::new(
            current.name.clone(),
            Some(std::sync::Arc::new(reason)),
        ));
        self.address.store(next.ptr.as_ptr(), Ordering::Relaxed);
        let previous = std::mem::replace(&mut *current, next);
        drop(current);
        // The previous opening is dropped after the lock is released.
        drop(previous);
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, OpeningRef> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;
    use std::sync::Arc;
    use std::time::Duration;

    fn reason(failures: u32) -> OpenReason {
        OpenReason {
            reason: Reason::ConsecutiveFailures { failures },
            at: Duration::ZERO,
            last_failure: None,
        }
    }

    /// The shared count of `opening`, for the accounting checks.
    fn count(opening: &OpeningRef) -> usize {
        opening.counted().count.load(Ordering::Acquire)
    }

    #[test]
    fn a_rejection_sees_the_latest_opening_even_with_a_kept_one() {
        let cell = OpeningCell::new("a".into());
        assert!(cell.get().reason.is_none());
        cell.open(reason(1));
        let first = cell.get();
        assert!(
            OpeningRef::ptr_eq(&first, &cell.get()),
            "reused from the slot"
        );
        cell.open(reason(2));
        let second = cell.get();
        assert_eq!(
            second.reason.as_ref().unwrap().reason,
            Reason::ConsecutiveFailures { failures: 2 }
        );
        assert_eq!(&*second.name, "a");
        assert!(Arc::ptr_eq(
            &cell.reason().unwrap(),
            second.reason.as_ref().unwrap()
        ));
    }

    #[test]
    fn many_breakers_on_one_thread_each_get_their_own() {
        let cells: Vec<_> = (0..16)
            .map(|i| {
                let cell = OpeningCell::new(format!("b{i}").into());
                cell.open(reason(i));
                cell
            })
            .collect();
        for _ in 0..3 {
            for (i, cell) in cells.iter().enumerate() {
                let opening = cell.get();
                assert_eq!(&*opening.name, format!("b{i}"));
                assert_eq!(
                    opening.reason.as_ref().unwrap().reason,
                    Reason::ConsecutiveFailures { failures: i as u32 }
                );
            }
        }
    }

    #[test]
    fn handing_out_and_dropping_on_the_keeping_thread_leaves_the_count_alone() {
        let cell = OpeningCell::new("c".into());
        cell.open(reason(1));
        let first = cell.get(); // kept, with an empty budget
        drop(cell.get()); // the first batch counted
        let before = count(&first);
        for _ in 0..10 * BATCH {
            drop(cell.get());
        }
        assert_eq!(count(&first), before);
    }

    #[test]
    fn references_dropped_on_other_threads_are_counted_down_and_the_last_frees() {
        // A `Drop` on the name tells when the opening is freed.
        let cell = OpeningCell::new("d".into());
        cell.open(reason(1));
        let handed: Vec<OpeningRef> = (0..3 * BATCH).map(|_| cell.get()).collect();
        let probe = handed[0].clone();
        std::thread::spawn(move || drop(handed)).join().unwrap();
        // This thread's slot, `current` and `probe` remain.
        let slot_budget = RECENT.with(|r| r[slot_of(probe.ptr)].budget.get());
        assert_eq!(count(&probe), 1 + slot_budget + 1 + 1);
        // Another opening replaces it; this thread's slot gives it up when the
        // next rejection keeps the new one, and `probe` is the last reference.
        cell.open(reason(2));
        drop(cell.get());
        let mut left = count(&probe);
        if left != 1 {
            // The new opening went to another slot: clear them all.
            RECENT.with(|r| r.iter().for_each(Slot::clear));
            left = count(&probe);
        }
        assert_eq!(left, 1, "only `probe` is left");
        drop(probe);
    }

    #[test]
    fn openings_shared_across_threads_are_all_freed_once() {
        // Every opening holds a clone of the name: when all are freed, the
        // name's count is back to this test's own.
        let name: Arc<str> = "stress".into();
        let cell = Arc::new(OpeningCell::new(name.clone()));
        let (send, receive) = std::sync::mpsc::channel::<Vec<OpeningRef>>();
        let receive = Arc::new(Mutex::new(receive));
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let (cell, send, receive) = (cell.clone(), send.clone(), receive.clone());
                std::thread::spawn(move || {
                    for round in 0..200 {
                        let mine: Vec<OpeningRef> = (0..50).map(|_| cell.get()).collect();
                        let kept: Vec<OpeningRef> = mine.iter().take(5).cloned().collect();
                        send.send(mine).unwrap();
                        if (round + w) % 3 == 0 {
                            cell.open(reason(round));
                        }
                        // Drop what another thread made, if any is waiting.
                        if let Ok(theirs) = receive.lock().unwrap().try_recv() {
                            drop(theirs);
                        }
                        drop(kept);
                    }
                })
            })
            .collect();
        drop(send);
        for worker in workers {
            worker.join().unwrap();
        }
        while let Ok(left) = receive.lock().unwrap().try_recv() {
            drop(left);
        }
        drop(cell);
        RECENT.with(|r| r.iter().for_each(Slot::clear));
        assert_eq!(Arc::strong_count(&name), 1, "every opening was freed");
    }

    #[test]
    fn a_thread_that_only_drops_gives_its_surplus_back() {
        let cell = OpeningCell::new("e".into());
        cell.open(reason(1));
        let kept_here = cell.get();
        let made_elsewhere: Vec<OpeningRef> = std::thread::scope(|s| {
            s.spawn(|| (0..5 * BATCH).map(|_| cell.get()).collect())
                .join()
                .unwrap()
        });
        drop(made_elsewhere);
        let budget = RECENT.with(|r| r[slot_of(kept_here.ptr)].budget.get());
        assert!(budget < 2 * BATCH, "budget {budget}");
    }
}
