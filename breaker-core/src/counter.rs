//! Statistics counters that every call bumps, kept off the shared cache line.
//!
//! Each thread owns one stripe of every breaker (a dense slot id handed out
//! per thread and reused after the thread exits), so a bump is a plain load
//! and store on a line no other thread writes: no locked instruction and no
//! contention. Threads beyond the owned stripes share one overflow stripe and
//! use `fetch_add` there. Readers add up the stripes.
//!
//! Under loom the counters are plain shared atomics: loom cannot model
//! thread-locals handed between threads, and the stripes are not what the
//! model checks.

pub(crate) use count::Count;
#[cfg(breaker_loom)]
pub(crate) use loom_counters::{Counters, Here};
#[cfg(not(breaker_loom))]
pub(crate) use striped::{Counters, Here};

/// What is counted, shared by both kinds of counters below.
mod count {
    /// What is counted.
    #[derive(Clone, Copy, Debug)]
    pub(crate) enum Count {
        Admitted = 0,
        Rejected = 1,
        Successes = 2,
        Failures = 3,
        Slow = 4,
        Cancelled = 5,
        /// Calls a dry run (MetricsOnly) would have rejected.
        WouldReject = 6,
        /// Calls admitted as half-open trials.
        Trials = 7,
    }

    pub(super) const FIELDS: usize = 8;
}

#[cfg(breaker_loom)]
mod loom_counters {
    use loom::sync::atomic::{AtomicU64, Ordering};

    use super::count::{Count, FIELDS};

    pub(crate) struct Counters([AtomicU64; FIELDS]);

    impl Counters {
        pub(crate) fn new() -> Counters {
            Counters(std::array::from_fn(|_| AtomicU64::new(0)))
        }

        pub(crate) fn bump(&self, what: Count) {
            self.0[what as usize].fetch_add(1, Ordering::Relaxed);
        }

        pub(crate) fn read(&self, what: Count) -> u64 {
            self.0[what as usize].load(Ordering::Relaxed)
        }

        pub(crate) fn bump_here(&self, what: Count) -> Option<Here<'_>> {
            self.bump(what);
            Some(Here(self))
        }
    }

    /// The counters themselves: loom has no stripes.
    #[derive(Clone, Copy)]
    pub(crate) struct Here<'a>(&'a Counters);

    impl Here<'_> {
        pub(crate) fn bump(self, what: Count) {
            self.0.bump(what);
        }
    }
}

#[cfg(not(breaker_loom))]
mod striped {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{LazyLock, Mutex};

    use super::count::{Count, FIELDS};

    /// One thread's counters, alone on its cache lines (two, against the
    /// adjacent-line prefetcher).
    #[repr(align(128))]
    #[derive(Default)]
    struct Stripe([AtomicU64; FIELDS]);

    /// The number of stripes threads own exclusively, the same for every breaker.
    pub(super) static OWNED: LazyLock<usize> = LazyLock::new(|| {
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cpus * 2).clamp(4, 64)
    });

    struct SlotPool {
        next: usize,
        free: Vec<usize>,
    }

    static POOL: Mutex<SlotPool> = Mutex::new(SlotPool {
        next: 0,
        free: Vec::new(),
    });

    /// A thread's slot id, given back when the thread exits. Handing slots out
    /// and back through a mutex orders the old owner's last store before the new
    /// owner's first load.
    struct Slot(usize);

    impl Slot {
        fn acquire() -> Slot {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let id = match pool.free.pop() {
                Some(id) => id,
                None => {
                    pool.next += 1;
                    pool.next - 1
                }
            };
            STRIPE.set(id + 1);
            Slot(id)
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            // From here on this thread's bumps go to the overflow stripe: the
            // slot may be handed to another thread at once.
            STRIPE.set(GONE);
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.free.push(self.0);
        }
    }

    /// `STRIPE` before the thread's first bump. Past every breaker's
    /// stripes, as `GONE` is, so that one bounds check sends both off the
    /// hot path.
    const UNSET: usize = usize::MAX - 1;
    /// `STRIPE` once the thread's slot went back to the pool.
    const GONE: usize = usize::MAX;

    thread_local! {
        /// The index of this thread's stripe (slot id + 1), or `UNSET`/`GONE`.
        /// Kept apart from the slot: a `const` thread-local without a
        /// destructor is one load from the thread pointer, with no lazy
        /// initialisation check on the hot path.
        static STRIPE: Cell<usize> = const { Cell::new(UNSET) };
        /// Owns the slot and gives it back when the thread exits.
        static SLOT: Slot = Slot::acquire();
    }

    /// Takes a slot for this thread, unless the thread is exiting.
    #[cold]
    #[inline(never)]
    fn assign() -> usize {
        match SLOT.try_with(|_| ()) {
            // `Slot::acquire` set `STRIPE` (a slot id + 1: stripe 0, the
            // shared one, is never a thread's own).
            Ok(()) if STRIPE.get() != UNSET => STRIPE.get(),
            _ => GONE,
        }
    }

    /// This thread's own stripe of one breaker's counters, found when a call
    /// was admitted ([`Counters::bump_here`]), so that its outcome is counted
    /// without finding the stripe again.
    ///
    /// Bump it only on the thread that found it: a plain increment from
    /// another thread could lose one of the owner's (never memory safety:
    /// the fields are atomics). Its holders keep it only while their call
    /// cannot have moved (see `Permit::here`).
    #[derive(Clone, Copy)]
    pub(crate) struct Here<'a> {
        stripe: &'a Stripe,
    }

    impl Here<'_> {
        #[inline(always)]
        pub(crate) fn bump(self, what: Count) {
            let cell = &self.stripe.0[what as usize];
            cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// A breaker's striped counters: stripe 0 is the shared overflow stripe.
    pub(crate) struct Counters {
        stripes: Box<[Stripe]>,
    }

    impl Counters {
        pub(crate) fn new() -> Counters {
            Counters {
                stripes: (0..=*OWNED).map(|_| Stripe::default()).collect(),
            }
        }

        #[inline]
        pub(crate) fn bump(&self, what: Count) {
            self.bump_here(what);
        }

        /// Bumps `what`, and returns this thread's stripe for the call's
        /// outcome; `None` when the thread owns none (it shares the overflow
        /// stripe).
        #[inline]
        pub(crate) fn bump_here(&self, what: Count) -> Option<Here<'_>> {
            match self.stripes.get(STRIPE.get()) {
                Some(stripe) => {
                    // Only this thread writes this stripe: a plain store cannot lose
                    // a concurrent increment.
                    let here = Here { stripe };
                    here.bump(what);
                    Some(here)
                }
                None => self.bump_first_or_shared(what),
            }
        }

        /// The thread's first bump (`UNSET`: it takes a slot), or a bump by a
        /// thread that owns no stripe of this breaker.
        #[cold]
        #[inline(never)]
        fn bump_first_or_shared(&self, what: Count) -> Option<Here<'_>> {
            // Once the slot is taken, `STRIPE` is set and the hot path
            // bumps (or comes back here, past `UNSET`, for the shared stripe).
            if STRIPE.get() == UNSET && assign() != GONE {
                return self.bump_here(what);
            }
            self.stripes[0].0[what as usize].fetch_add(1, Ordering::Relaxed);
            None
        }

        pub(crate) fn read(&self, what: Count) -> u64 {
            self.stripes
                .iter()
                .map(|s| s.0[what as usize].load(Ordering::Relaxed))
                .sum()
        }
    }
}

#[cfg(all(test, not(breaker_loom)))]
mod tests {
    use super::Count;
    use super::striped::*;

    #[test]
    fn counts_from_many_threads_are_never_lost() {
        let counters = std::sync::Arc::new(Counters::new());
        let threads: Vec<_> = (0..3 * *OWNED)
            .map(|_| {
                let c = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.bump(Count::Admitted);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counters.read(Count::Admitted), 3000 * *OWNED as u64);
        assert_eq!(counters.read(Count::Rejected), 0);
    }
}
