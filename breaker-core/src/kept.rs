//! A value that changes rarely and is read often, lock-free, and lent out by
//! reference: a breaker's settings, a keyed breaker's configuration.
//!
//! A reader loads one pointer and reads the value it points to, whole: it
//! sees the value before a change or after it, never half of each. A value is
//! never freed while its cell lives, so a reader needs no reference count and
//! a `&T` can be lent for as long as the cell is borrowed. What that costs is
//! bounded: a value equal to one kept before is reused, so a cell keeps one
//! copy per distinct value it ever held, not one per change.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::sync::{AtomicPtr, Mutex};

/// The value in force, and every distinct value the cell has held.
pub(crate) struct Kept<T> {
    current: AtomicPtr<T>,
    /// Owns the values `current` points into; only grows. (An `Arc` only for
    /// its stable, shared address: nothing clones it.)
    kept: Mutex<Vec<Arc<T>>>,
}

impl<T> Kept<T> {
    pub(crate) fn new(value: T) -> Kept<T> {
        let first = Arc::new(value);
        let current = AtomicPtr::new(Arc::as_ptr(&first).cast_mut());
        Kept {
            current,
            kept: Mutex::new(vec![first]),
        }
    }

    /// The value in force.
    #[inline]
    pub(crate) fn get(&self) -> &T {
        // SAFETY: `current` always points to a value that `kept` owns, and
        // `kept` never drops one before the cell drops (the pointer is only
        // ever read through); the Acquire pairs with the Release of `set_with`,
        // so the value's fields written before it was published are seen.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// Puts in force the kept value `same` picks, or else the one `make`
    /// makes; returns it. Writers serialise among themselves (the caller's
    /// lock), readers never wait.
    pub(crate) fn set_with(&self, same: impl Fn(&T) -> bool, make: impl FnOnce() -> T) -> &T {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let index = match kept.iter().position(|value| same(value)) {
            Some(index) => index,
            None => {
                kept.push(Arc::new(make()));
                kept.len() - 1
            }
        };
        let value = Arc::as_ptr(&kept[index]);
        self.current.store(value.cast_mut(), Ordering::Release);
        // SAFETY: as in `get`: the value lives as long as the cell.
        unsafe { &*value }
    }

    /// How many values the cell keeps (one per distinct value).
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(all(test, not(breaker_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_value_seen_before_is_reused_not_kept_again() {
        let cell = Kept::new(String::from("a"));
        let first: *const String = cell.get();
        for _ in 0..100 {
            cell.set_with(|v| v == "b", || "b".to_owned());
            assert_eq!(cell.get(), "b");
            cell.set_with(|v| v == "a", || "a".to_owned());
        }
        assert_eq!(cell.kept(), 2, "one copy per distinct value");
        assert!(std::ptr::eq(first, cell.get()), "the first one, reused");
    }

    #[test]
    fn a_value_lent_before_a_change_stays_valid() {
        let cell = Kept::new(vec![1u8; 64]);
        let lent = cell.get();
        cell.set_with(|v| v.len() == 1, || vec![2]);
        assert_eq!(lent.len(), 64);
        assert_eq!(cell.get(), &[2]);
    }
}
