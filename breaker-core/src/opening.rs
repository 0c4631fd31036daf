//! Where a breaker keeps its current [`Opening`], and how a rejection gets it
//! without taking a lock.
//!
//! A rejection hands out an owned `Arc<Opening>`: one reference count, the
//! least an owned error can cost. Reading it under the mutex would add the
//! lock's two atomic read-modify-writes to every rejection, so each thread
//! keeps the openings it handed out last, and reuses one while it is still
//! the breaker's current opening.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{OpenReason, Opening};

/// The openings this thread handed out last, by address.
const SLOTS: usize = 4;

thread_local! {
    static RECENT: RefCell<[Option<Arc<Opening>>; SLOTS]> =
        const { RefCell::new([None, None, None, None]) };
}

/// A breaker's current opening.
pub(crate) struct OpeningCell {
    current: Mutex<Arc<Opening>>,
    /// The address of `current`, compared, never dereferenced. A thread's
    /// cached opening is alive (the cache holds it), so no other opening can
    /// have its address: equal addresses mean the cached one is current.
    address: AtomicUsize,
}

impl OpeningCell {
    /// The cell of a breaker that never opened.
    pub(crate) fn new(name: Arc<str>) -> OpeningCell {
        let first = Arc::new(Opening::new(name, None));
        OpeningCell {
            address: AtomicUsize::new(Arc::as_ptr(&first) as usize),
            current: Mutex::new(first),
        }
    }

    /// The current opening, for a rejection.
    #[inline]
    pub(crate) fn get(&self) -> Arc<Opening> {
        let address = self.address.load(Ordering::Relaxed);
        let slot = (address >> 5) % SLOTS;
        let cached = RECENT.try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            recent[slot]
                .as_ref()
                .filter(|opening| Arc::as_ptr(opening) as usize == address)
                .cloned()
        });
        match cached {
            Ok(Some(opening)) => opening,
            _ => self.get_slow(slot),
        }
    }

    #[cold]
    fn get_slow(&self, slot: usize) -> Arc<Opening> {
        let opening = self.locked().clone();
        // Dropped here, outside the lock: it may be the last reference.
        let _evicted = RECENT
            .try_with(|recent| {
                let mut recent = recent.try_borrow_mut().ok()?;
                recent[slot].replace(opening.clone())
            })
            .ok()
            .flatten();
        opening
    }

    /// Why the breaker last opened.
    pub(crate) fn reason(&self) -> Option<Arc<OpenReason>> {
        self.locked().reason.clone()
    }

    /// Makes `reason` the breaker's current opening.
    pub(crate) fn open(&self, reason: OpenReason) {
        let mut current = self.locked();
        let next = Arc::new(Opening::new(current.name.clone(), Some(Arc::new(reason))));
        self.address
            .store(Arc::as_ptr(&next) as usize, Ordering::Relaxed);
        let previous = std::mem::replace(&mut *current, next);
        drop(current);
        // The previous opening is dropped after the lock is released.
        drop(previous);
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, Arc<Opening>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;
    use std::time::Duration;

    fn reason(failures: u32) -> OpenReason {
        OpenReason {
            reason: Reason::ConsecutiveFailures { failures },
            at: Duration::ZERO,
            last_failure: None,
        }
    }

    #[test]
    fn a_rejection_sees_the_latest_opening_even_with_a_cached_one() {
        let cell = OpeningCell::new("a".into());
        assert!(cell.get().reason.is_none());
        cell.open(reason(1));
        let first = cell.get();
        assert!(Arc::ptr_eq(&first, &cell.get()), "reused from the cache");
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
}
