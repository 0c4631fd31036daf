//! Time as the breakers see it: a monotonic clock in production, a manual one in
//! tests and the simulator.
//!
//! Every breaker reads time through a [`Clock`]. Breakers of a registry share the
//! registry's clock, which [`Registry::use_clock`](crate::Registry::use_clock)
//! replaces, so a test installs a [`ManualClock`] once and never sleeps.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A source of time for breakers: the time elapsed since the clock's own epoch.
///
/// Implementations must never go backwards. Implement it to drive breakers
/// from another notion of time (for example tokio's paused clock).
pub trait Clock: Send + Sync + 'static {
    /// The time elapsed since this clock's epoch.
    fn now(&self) -> Duration;
}

/// Real monotonic time, measured from the first time any breaker read it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        EPOCH.elapsed()
    }
}

/// Virtual time that moves only when told to.
///
/// Clones share one time, so a test keeps one clone and hands another to the
/// registry or to a breaker:
///
/// ```
/// use std::time::Duration;
/// use breaker_core::clock::ManualClock;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(shared.now(), Duration::from_secs(30));
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` (saturating at the largest representable time).
    pub fn advance(&self, by: Duration) {
        let by = saturating_nanos(by);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(by))
            });
    }

    /// Sets the time to `to`. Setting it earlier than it was is the caller's
    /// responsibility: breakers treat time that goes back as no time passing.
    pub fn set(&self, to: Duration) {
        self.nanos.store(saturating_nanos(to), Ordering::Release);
    }

    /// The current virtual time.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now", &self.now())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        ManualClock::now(self)
    }
}

pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The clocks a breaker can read; the two built-in ones avoid a virtual call.
enum Source {
    Monotonic,
    Manual(ManualClock),
    Custom(Box<dyn Clock>),
}

impl Source {
    fn of<C: Clock>(clock: C) -> Self {
        let any: &dyn Any = &clock;
        if any.is::<MonotonicClock>() {
            Source::Monotonic
        } else if let Some(manual) = any.downcast_ref::<ManualClock>() {
            Source::Manual(manual.clone())
        } else {
            Source::Custom(Box::new(clock))
        }
    }

    fn now_ns(&self) -> u64 {
        match self {
            Source::Monotonic => {
                // Seconds and nanoseconds, not `as_nanos()`: no 128-bit arithmetic.
                let elapsed = EPOCH.elapsed();
                elapsed
                    .as_secs()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(elapsed.subsec_nanos()))
            }
            Source::Manual(clock) => clock.nanos.load(Ordering::Acquire),
            Source::Custom(clock) => saturating_nanos(clock.now()),
        }
    }

    /// A cheap reading `(early, lag)`: `early` is no later than
    /// [`now_ns`](Source::now_ns) would read, and at most `lag` earlier.
    /// Exact (`lag` 0) for every clock but the real one on Linux.
    fn coarse_ns(&self) -> (u64, u64) {
        match self {
            #[cfg(target_os = "linux")]
            Source::Monotonic => coarse::now_ns(),
            _ => (self.now_ns(), 0),
        }
    }
}

/// The kernel's coarse monotonic clock: the time of the last timer tick, read
/// from the vDSO in a few nanoseconds (a precise read costs 25 to 35 ns on a
/// virtual machine). It runs on the same base as `CLOCK_MONOTONIC`, which
/// `Instant` reads, and is never ahead of it.
#[cfg(target_os = "linux")]
mod coarse {
    use std::sync::LazyLock;

    use super::EPOCH;

    struct Base {
        /// `EPOCH` on `CLOCK_MONOTONIC`, read after it: never earlier than EPOCH.
        epoch: u64,
        /// Twice the coarse clock's resolution (one tick, 1 to 10 ms): the most
        /// a coarse reading lags behind, with a margin.
        lag: u64,
    }

    fn read(clock: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on
        // every Linux since 2.6.32.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    }

    static BASE: LazyLock<Base> = LazyLock::new(|| {
        let _ = *EPOCH;
        let epoch = read(libc::CLOCK_MONOTONIC);
        let mut res = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `read`.
        unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) };
        let tick = (res.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(res.tv_nsec as u64);
        Base {
            epoch,
            // An unknown resolution (0) would claim exactness: assume 10 ms.
            lag: if tick == 0 {
                20_000_000
            } else {
                tick.saturating_mul(2)
            },
        }
    });

    /// `(early, lag)` on the `MonotonicClock`'s epoch. `epoch` was read after
    /// `EPOCH`, so `early` only errs further on the early side.
    pub(super) fn now_ns() -> (u64, u64) {
        let base = &*BASE;
        (
            read(libc::CLOCK_MONOTONIC_COARSE).saturating_sub(base.epoch),
            base.lag,
        )
    }
}

/// A replaceable clock that readers reach with one atomic load.
///
/// Replaced clocks are kept until the cell is dropped, so a reader that loaded
/// the old pointer an instant before the swap still reads valid memory.
pub(crate) struct ClockCell {
    current: AtomicPtr<Source>,
    // Boxed so that a source keeps its address when the vector grows.
    #[allow(clippy::vec_box)]
    installed: Mutex<Vec<Box<Source>>>,
}

impl ClockCell {
    pub(crate) fn new<C: Clock>(clock: C) -> Self {
        let cell = ClockCell {
            current: AtomicPtr::new(std::ptr::null_mut()),
            installed: Mutex::new(Vec::new()),
        };
        cell.install(clock);
        cell
    }

    pub(crate) fn install<C: Clock>(&self, clock: C) {
        let mut boxed = Box::new(Source::of(clock));
        let ptr: *mut Source = &mut *boxed;
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        installed.push(boxed);
        self.current.store(ptr, Ordering::Release);
    }

    /// Now, in nanoseconds since the installed clock's epoch.
    #[inline]
    pub(crate) fn now_ns(&self) -> u64 {
        let ptr = self.current.load(Ordering::Acquire);
        // SAFETY: `ptr` always points into a `Box` owned by `installed`, and
        // boxes are only freed when the cell itself is dropped.
        unsafe { (*ptr).now_ns() }
    }

    /// A cheap reading `(early, lag)`: no later than [`now_ns`](ClockCell::now_ns),
    /// and at most `lag` earlier (exact on a manual clock).
    #[inline]
    pub(crate) fn coarse_ns(&self) -> (u64, u64) {
        let ptr = self.current.load(Ordering::Acquire);
        // SAFETY: as in `now_ns`.
        unsafe { (*ptr).coarse_ns() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coarse_reading_is_never_late_and_lags_at_most_its_lag() {
        let cell = ClockCell::new(MonotonicClock);
        for _ in 0..10_000 {
            let before = cell.now_ns();
            let (early, lag) = cell.coarse_ns();
            let after = cell.now_ns();
            assert!(
                early <= after,
                "coarse {early} after a later precise {after}"
            );
            assert!(
                early + lag >= before,
                "coarse {early} + {lag} before an earlier {before}"
            );
        }
    }

    #[test]
    fn a_manual_clock_reads_exactly_even_coarsely() {
        let manual = ManualClock::new();
        manual.set(Duration::from_nanos(42));
        assert_eq!(ClockCell::new(manual).coarse_ns(), (42, 0));
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(5));
        b.advance(Duration::from_millis(5));
        assert_eq!(a.now(), Duration::from_millis(10));
    }

    #[test]
    fn clock_cell_follows_the_installed_clock() {
        let cell = ClockCell::new(MonotonicClock);
        let manual = ManualClock::new();
        manual.set(Duration::from_secs(7));
        cell.install(manual.clone());
        assert_eq!(cell.now_ns(), 7_000_000_000);
        manual.advance(Duration::from_nanos(1));
        assert_eq!(cell.now_ns(), 7_000_000_001);
    }
}
