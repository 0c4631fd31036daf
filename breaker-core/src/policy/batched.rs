//! Successes on a full count window, counted without the breaker's lock.
//!
//! Once a count window holds its K outcomes, a success that is not slow cannot
//! open the breaker: the window keeps K calls and its failures can only stay
//! or fall. It still has to enter the window (it pushes the oldest outcome
//! out), but it need not do so at once: it is counted here with one
//! compare-and-swap, and whoever next holds the lock for the window (the next
//! failure, a slow call, a reader of the rates) first pushes the counted
//! successes in, in one step. Under the lock that step takes them all, so the
//! window sees every outcome in an order they could have ended in, and a
//! sequential run gives exactly the window of one outcome at a time.
//!
//! The count is tagged with the generation of the Closed period whose window
//! is full. Every clearing of the window (a new Closed period, a reset) puts a
//! new tag with no count, so a success from an earlier period (a straggler)
//! can never be counted into a later window.

use std::sync::atomic::Ordering;

use crate::sync::AtomicU64;

/// Set once the tagged period's window is full: successes may be counted here.
const FULL: u64 = 1 << 31;
/// The counted successes, below `FULL`.
const COUNT: u64 = FULL - 1;

/// `generation << 32 | FULL? | count`.
pub(crate) struct Batched(AtomicU64);

impl Batched {
    /// No window full yet: every outcome takes the lock.
    pub(crate) fn new() -> Batched {
        Batched(AtomicU64::new(0))
    }

    /// A success of the Closed period `generation`, not slow: `true` if it
    /// was counted here, `false` if it must go through the lock.
    #[inline]
    pub(crate) fn add(&self, generation: u32) -> bool {
        let p = self.0.load(Ordering::Relaxed);
        if (p >> 32) as u32 != generation || p & FULL == 0 || p & COUNT == COUNT {
            return false;
        }
        // A lost race (another success, a clearing) takes the lock instead.
        self.0
            .compare_exchange(p, p + 1, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Under the lock: takes the successes counted for `generation`.
    #[inline]
    pub(crate) fn take(&self, generation: u32) -> u32 {
        let mut p = self.0.load(Ordering::Relaxed);
        loop {
            if (p >> 32) as u32 != generation || p & COUNT == 0 {
                return 0;
            }
            match self
                .0
                .compare_exchange_weak(p, p & !COUNT, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (p & COUNT) as u32,
                Err(now) => p = now,
            }
        }
    }

    /// Under the lock: the window of `generation` holds its K outcomes.
    #[inline]
    pub(crate) fn window_full(&self, generation: u32) {
        let p = self.0.load(Ordering::Relaxed);
        if (p >> 32) as u32 == generation && p & FULL == 0 {
            self.0.fetch_or(FULL, Ordering::Relaxed);
        }
    }

    /// Under the lock: an empty batch for `generation`, handing back the
    /// successes counted for it until then (in one step, so none is lost to
    /// a success counted between a `take` and a `clear`).
    pub(crate) fn restart(&self, generation: u32) -> u32 {
        let p = self.0.swap(u64::from(generation) << 32, Ordering::Relaxed);
        if (p >> 32) as u32 == generation {
            (p & COUNT) as u32
        } else {
            0
        }
    }

    /// Under the lock, whenever the window is cleared: an empty window for
    /// `generation`. Successes counted before are dropped with the window.
    pub(crate) fn clear(&self, generation: u32) {
        self.0.store(u64::from(generation) << 32, Ordering::Relaxed);
    }
}

#[cfg(all(test, not(breaker_loom)))]
mod tests {
    use super::*;

    #[test]
    fn successes_are_counted_only_for_the_full_window_of_their_period() {
        let b = Batched::new();
        assert!(!b.add(0), "not full yet");
        b.window_full(0);
        assert!(b.add(0));
        assert!(b.add(0));
        assert!(!b.add(1), "another period");
        assert_eq!(b.take(1), 0);
        assert_eq!(b.take(0), 2);
        assert_eq!(b.take(0), 0, "taken once");
        assert!(b.add(0), "still full");
        b.clear(3);
        assert!(!b.add(0), "a straggler after the clearing");
        assert!(!b.add(3), "the new window is not full");
        assert_eq!(b.take(0), 0, "dropped with the old window");
        b.window_full(2);
        assert!(!b.add(3), "full is for the tagged period only");
        b.window_full(3);
        assert!(b.add(3));
        assert_eq!(b.take(3), 1);
    }

    #[test]
    fn a_saturated_count_sends_successes_to_the_lock() {
        let b = Batched::new();
        b.window_full(0);
        b.0.fetch_or(COUNT - 1, Ordering::Relaxed);
        assert!(b.add(0));
        assert!(!b.add(0), "no room left");
        assert_eq!(b.take(0), COUNT as u32);
    }

    #[test]
    fn counts_from_threads_are_never_lost() {
        let b = std::sync::Arc::new(Batched::new());
        b.window_full(7);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut counted = 0u32;
                    for _ in 0..10_000 {
                        counted += u32::from(b.add(7));
                    }
                    counted
                })
            })
            .collect();
        let mut taken = 0;
        for _ in 0..100 {
            taken += b.take(7);
        }
        let counted: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        taken += b.take(7);
        assert_eq!(taken, counted);
    }
}
