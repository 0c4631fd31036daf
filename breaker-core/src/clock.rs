//! Time as the breakers see it: a monotonic clock in production, a manual one in
//! tests and the simulator.
//!
//! Every breaker reads time through a [`Clock`]. Breakers of a registry share the
//! registry's clock, which [`Registry::use_clock`](crate::Registry::use_clock)
//! replaces, so a test installs a [`ManualClock`] once and never sleeps.
//!
//! A clock gives two readings: [`Clock::now`], exact, and [`Clock::coarse`], a
//! cheap one that may lag behind by a bound it states. An Open breaker rejects
//! on the cheap reading while it is clearly before the end of the period, and
//! reads the exact one near the end, so the first trial is never late. The
//! real clock's two readings share one base, taken once (see
//! [`MonotonicClock`]); [`LaggingClock`] is virtual time with a lagging cheap
//! reading, so the tests of that branch run without the real clock.
//!
//! # The epoch
//!
//! A clock's reading is the time since its own epoch, never a wall-clock
//! time: [`MonotonicClock`]'s epoch is the first time any breaker of the
//! process read it, a [`ManualClock`]'s is zero, a custom clock's its own.
//! Every instant a breaker reports is such a reading
//! ([`Stats::opened_at`](crate::Stats::opened_at),
//! [`OpenReason::at`](crate::OpenReason::at),
//! [`Transition::at`](crate::Transition::at)); subtract it from
//! [`Breaker::now`](crate::Breaker::now) for how long ago. The admin API
//! also shows each as an RFC 3339 wall-clock time (docs/admin-api.md).

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A source of time for breakers: the time elapsed since the clock's own epoch.
///
/// Implementations must never go backwards. Implement it to drive breakers
/// from another notion of time (for example tokio's paused clock).
pub trait Clock: Send + Sync + 'static {
    /// The time elapsed since this clock's epoch.
    fn now(&self) -> Duration;

    /// A cheap reading `(early, lag)`: `early` is never later than what
    /// [`now`](Clock::now) would read at the same instant, and at most `lag`
    /// earlier. An Open breaker rejects on it while `early + lag` is before
    /// the end of its period, so `retry_after` may be up to `lag` long, and
    /// reads [`now`](Clock::now) near the end. The default is exact: `now()`
    /// with a lag of zero.
    fn coarse(&self) -> (Duration, Duration) {
        (self.now(), Duration::ZERO)
    }
}

/// Real monotonic time, measured from the first time any breaker read it.
///
/// On Linux both readings come from `CLOCK_MONOTONIC` on one base, taken the
/// first time either is read: [`now`](Clock::now) reads the kernel;
/// [`coarse`](Clock::coarse) reads one word that a thread of breaker-core
/// (`breaker-clock`) refreshes every millisecond while cheap readings are
/// being taken (it stops after a second without one), and
/// `CLOCK_MONOTONIC_COARSE` (the kernel's last timer tick) when there is no
/// such word. The coarse reading's stated lag is twice the coarse clock's
/// resolution (one timer tick, 1 to 10 ms) and at least 4 ms. Each reading
/// thread checks the word against the kernel's coarse clock on its first
/// reading after each refresh and once in 128 readings, and drops a word that
/// has fallen behind (its thread starved of the CPU); readings between two
/// checks can still lag by as long as the starvation. Elsewhere both
/// readings are `Instant`'s and exact.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(real::now_ns())
    }

    fn coarse(&self) -> (Duration, Duration) {
        let (early, lag) = real::coarse_ns();
        (Duration::from_nanos(early), Duration::from_nanos(lag))
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
    // Inlined: the simulator sets it before nearly every event it replays.
    #[inline]
    pub fn set(&self, to: Duration) {
        self.nanos.store(saturating_nanos(to), Ordering::Release);
    }

    /// The current virtual time.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }

    fn now_ns(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
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

/// Virtual time whose cheap reading lags the way the kernel's coarse clock
/// does: it stands at the last multiple of `tick` and states a lag of two
/// ticks, as [`MonotonicClock`] does on Linux.
///
/// A [`ManualClock`] reads exactly both ways, so tests on it never reach the
/// code that decides on a lagging reading; this clock does, on virtual time.
/// Clones share one time.
///
/// ```
/// use std::time::Duration;
/// use breaker_core::clock::{Clock, LaggingClock};
///
/// let clock = LaggingClock::new(Duration::from_millis(4));
/// clock.advance(Duration::from_millis(10));
/// assert_eq!(clock.now(), Duration::from_millis(10));
/// assert_eq!(clock.coarse(), (Duration::from_millis(8), Duration::from_millis(8)));
/// ```
#[derive(Clone, Debug)]
pub struct LaggingClock {
    time: ManualClock,
    tick: u64,
}

impl LaggingClock {
    /// A clock standing at zero whose cheap reading moves in steps of `tick`
    /// (at least one nanosecond).
    pub fn new(tick: Duration) -> Self {
        LaggingClock {
            time: ManualClock::new(),
            tick: saturating_nanos(tick).max(1),
        }
    }

    /// The same virtual time, read exactly both ways: advancing either clock
    /// advances both.
    pub fn manual(&self) -> ManualClock {
        self.time.clone()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.time.advance(by);
    }

    /// Sets the time to `to`.
    pub fn set(&self, to: Duration) {
        self.time.set(to);
    }
}

impl Clock for LaggingClock {
    fn now(&self) -> Duration {
        self.time.now()
    }

    fn coarse(&self) -> (Duration, Duration) {
        let now = self.time.now_ns();
        (
            Duration::from_nanos(now - now % self.tick),
            Duration::from_nanos(self.tick.saturating_mul(2)),
        )
    }
}

#[inline]
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A raw clock's two readings on one base: its own module, so that the real
/// clock (and the tests) stand on it without importing the clock cell.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod timeline {
    use std::sync::OnceLock;

    /// A clock that gives a precise and a cheap reading of the same time, in
    /// nanoseconds on its own (arbitrary) base.
    pub(super) trait Raw {
        fn precise(&self) -> u64;
        /// Never later than `precise`.
        fn coarse(&self) -> u64;
        /// How far `coarse` moves at a time (0 if unknown).
        fn resolution(&self) -> u64;
    }

    /// A [`Raw`] clock's two readings on one base: the precise reading taken the
    /// first time either is read. Two bases, each taken on its reading's first
    /// use, would put every cheap reading early by the time between the two, and
    /// an Open breaker would reject past its period by as much (hours, in a
    /// service whose first failure and first opening are hours apart).
    pub(super) struct Timeline<R> {
        pub(super) raw: R,
        base: OnceLock<Base>,
    }

    #[derive(Clone, Copy)]
    struct Base {
        at: u64,
        /// Twice the cheap reading's resolution: the most it lags, with a margin.
        lag: u64,
    }

    /// An unknown resolution (0) would claim exactness: assume 10 ms.
    const UNKNOWN_RESOLUTION_NS: u64 = 10_000_000;

    impl<R: Raw> Timeline<R> {
        pub(super) const fn new(raw: R) -> Self {
            Timeline {
                raw,
                base: OnceLock::new(),
            }
        }

        #[inline]
        fn base(&self) -> Base {
            *self.base.get_or_init(|| {
                let tick = match self.raw.resolution() {
                    0 => UNKNOWN_RESOLUTION_NS,
                    tick => tick,
                };
                Base {
                    at: self.raw.precise(),
                    lag: tick.saturating_mul(2),
                }
            })
        }

        /// The base is fixed before the reading, so no reading precedes it.
        #[inline]
        pub(super) fn now_ns(&self) -> u64 {
            let base = self.base();
            self.raw.precise().saturating_sub(base.at)
        }

        /// `(early, lag)`; a cheap reading from before the base reads 0, which
        /// only errs on the early side. The base is read after the clock, so
        /// that nothing is kept across the clock's call (an Open rejection
        /// then saves fewer registers).
        #[inline(always)]
        pub(super) fn coarse_ns(&self) -> (u64, u64) {
            let raw = self.raw.coarse();
            let base = self.base();
            (raw.saturating_sub(base.at), base.lag)
        }
    }
}

#[cfg(target_os = "linux")]
mod recent;

/// The real clock's readings.
#[cfg(target_os = "linux")]
mod real {
    use super::recent;
    use super::timeline::{Raw, Timeline};

    /// `CLOCK_MONOTONIC` (what `Instant` reads), and its recent reading (or
    /// `CLOCK_MONOTONIC_COARSE`): the same clock, never ahead.
    pub(super) struct Kernel;

    /// Wrapping, not saturating: a monotonic clock counts from boot, and
    /// reaches 2^64 ns after 584 years; the checks cost an Open rejection a
    /// branch on the multiply.
    fn nanos(ts: libc::timespec) -> u64 {
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    }

    // Inlined across crates: a keyed call site in a user's crate stamps its
    // key's use with it, and called out of line it cost a call and a frame.
    #[inline]
    fn read(clock: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on
        // every Linux since 2.6.32.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        nanos(ts)
    }

    impl Raw for Kernel {
        #[inline]
        fn precise(&self) -> u64 {
            read(libc::CLOCK_MONOTONIC)
        }

        #[inline(always)]
        fn coarse(&self) -> u64 {
            recent::coarse()
        }

        fn resolution(&self) -> u64 {
            recent::resolution()
        }
    }

    static REAL: Timeline<Kernel> = Timeline::new(Kernel);

    #[inline]
    pub(super) fn now_ns() -> u64 {
        REAL.now_ns()
    }

    #[inline(always)]
    pub(super) fn coarse_ns() -> (u64, u64) {
        REAL.coarse_ns()
    }

    /// See [`super::tick`].
    #[inline(always)]
    pub(super) fn tick() -> u32 {
        recent::which_tick()
    }

    pub(super) fn put_out_tick() {
        recent::put_out_tick();
    }
}

/// The real clock's readings, where there is no cheap one: both `Instant`'s.
#[cfg(not(target_os = "linux"))]
mod real {
    use std::sync::LazyLock;
    use std::time::Instant;

    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

    pub(super) fn now_ns() -> u64 {
        // Saturating, as `saturating_nanos`, written here so that the real
        // clock does not import the cell that reads it.
        u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(super) fn coarse_ns() -> (u64, u64) {
        (now_ns(), 0)
    }

    pub(super) fn tick() -> u32 {
        0
    }

    pub(super) fn put_out_tick() {}
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

    #[inline]
    fn now_ns(&self) -> u64 {
        match self {
            Source::Monotonic => real::now_ns(),
            Source::Manual(clock) => clock.now_ns(),
            Source::Custom(clock) => saturating_nanos(clock.now()),
        }
    }

    /// A cheap reading `(early, lag)`: `early` is no later than
    /// [`now_ns`](Source::now_ns) would read, and at most `lag` earlier.
    #[inline]
    fn coarse_ns(&self) -> (u64, u64) {
        match self {
            Source::Monotonic => real::coarse_ns(),
            Source::Manual(clock) => (clock.now_ns(), 0),
            Source::Custom(clock) => {
                let (early, lag) = clock.coarse();
                (saturating_nanos(early), saturating_nanos(lag))
            }
        }
    }
}

/// How many clock cells read another clock than the real one: while none
/// does (a service in production), a [`tick`] that did not change tells that
/// no clock moved (see [`stamp_at`]).
static OTHER_CLOCKS: AtomicUsize = AtomicUsize::new(0);

/// Which tick of the real clock it is: a word that changes with every tick
/// of the recent reading (about each millisecond), and 0 when there is none
/// (no ticking thread, or a platform without one). A keyed call compares it
/// with the one its key's use was last stamped at from this thread, and
/// stamps again only when it changed: within one tick a stamp moves by less
/// than the cheap reading's resolution, and reading the clock on every call
/// cost a keyed call an eighth of its time. What it stamps at is
/// [`stamp_at`]'s.
#[inline(always)]
pub(crate) fn tick() -> u32 {
    real::tick()
}

/// What a use stamped at `tick` records: the tick, while it tells when the
/// clock moved; else [`UNSTAMPED`], which no tick equals, so that every call
/// stamps. That is when there is no tick, or some cell reads another clock
/// than the real one, whose time need not move with it. Read here, on the
/// stamping path, not on every call: [`ClockCell::install`] puts the tick out
/// after counting such a clock, so the tick changes for a thread that stamped
/// before, which then reads the count here.
#[inline]
pub(crate) fn stamp_at(tick: u32) -> u32 {
    if tick != 0 && OTHER_CLOCKS.load(Ordering::Relaxed) == 0 {
        tick
    } else {
        UNSTAMPED
    }
}

/// A stamp no [`tick`] equals (ticks are 31 bits): a use not stamped yet, or
/// stamped without a tick.
pub(crate) const UNSTAMPED: u32 = u32::MAX;

/// A replaceable clock that readers reach with one atomic load.
///
/// Replaced clocks are kept until the cell is dropped, so a reader that loaded
/// the old pointer an instant before the swap still reads valid memory.
pub(crate) struct ClockCell {
    current: AtomicPtr<Source>,
    /// Whether `current` is the real clock: an Open rejection in production
    /// reads it with one load and no dispatch. A reading that races with a
    /// swap reads the old clock or the new one, as it would through `current`.
    monotonic: AtomicBool,
    // Boxed so that a source keeps its address when the vector grows.
    #[allow(clippy::vec_box)]
    installed: Mutex<Vec<Box<Source>>>,
}

impl ClockCell {
    pub(crate) fn new<C: Clock>(clock: C) -> Self {
        let cell = ClockCell {
            current: AtomicPtr::new(std::ptr::null_mut()),
            monotonic: AtomicBool::new(false),
            installed: Mutex::new(Vec::new()),
        };
        cell.install(clock);
        cell
    }

    pub(crate) fn install<C: Clock>(&self, clock: C) {
        let mut boxed = Box::new(Source::of(clock));
        let ptr: *mut Source = &mut *boxed;
        let monotonic = matches!(*boxed, Source::Monotonic);
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        // Counted before the other clock is installed, uncounted after the
        // real one is: a `tick` racing with the swap tells either clock's,
        // as a reading through `current` reads either.
        let was_other = !installed.is_empty() && !self.monotonic.load(Ordering::Relaxed);
        if !monotonic && !was_other {
            OTHER_CLOCKS.fetch_add(1, Ordering::SeqCst);
            // After the count: a thread whose key was stamped at this tick
            // sees the tick change, then the count (`stamp_at`).
            real::put_out_tick();
        }
        installed.push(boxed);
        self.monotonic.store(monotonic, Ordering::Release);
        self.current.store(ptr, Ordering::Release);
        if monotonic && was_other {
            OTHER_CLOCKS.fetch_sub(1, Ordering::SeqCst);
        }
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
    /// and at most `lag` earlier (exact on a manual clock). The real clock's
    /// reading is inlined into every caller, a keyed call site in a user's
    /// crate too; any other clock is read out of line.
    #[inline(always)]
    pub(crate) fn coarse_ns(&self) -> (u64, u64) {
        if self.monotonic.load(Ordering::Relaxed) {
            return real::coarse_ns();
        }
        self.coarse_ns_of_source()
    }

    #[inline(never)]
    fn coarse_ns_of_source(&self) -> (u64, u64) {
        let ptr = self.current.load(Ordering::Acquire);
        // SAFETY: as in `now_ns`.
        unsafe { (*ptr).coarse_ns() }
    }
}

impl Drop for ClockCell {
    fn drop(&mut self) {
        let installed = self.installed.get_mut().unwrap_or_else(|e| e.into_inner());
        if !installed.is_empty() && !self.monotonic.load(Ordering::Relaxed) {
            OTHER_CLOCKS.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::timeline::{Raw, Timeline};
    use super::*;

    #[test]
    fn no_tick_is_told_while_a_cell_reads_another_clock() {
        // Other tests' cells may count too: only "0 while this one lives"
        // holds whatever runs beside it.
        let cell = ClockCell::new(ManualClock::new());
        assert_eq!(stamp_at(tick() | 1), UNSTAMPED);
        cell.install(MonotonicClock);
        let manual = ClockCell::new(MonotonicClock);
        manual.install(ManualClock::new());
        assert_eq!(stamp_at(tick() | 1), UNSTAMPED);
        drop((cell, manual));
        assert_eq!(stamp_at(0), UNSTAMPED, "no tick");
    }

    #[test]
    fn a_coarse_reading_is_never_late_and_lags_at_most_its_lag() {
        let cell = ClockCell::new(MonotonicClock);
        for _ in 0..10_000 {
            #[cfg(target_os = "linux")]
            let stalls_before = recent::stalls();
            let before = cell.now_ns();
            let (early, lag) = cell.coarse_ns();
            let after = cell.now_ns();
            assert!(
                early <= after,
                "coarse {early} after a later precise {after}"
            );
            if early + lag < before {
                // Only a ticking thread starved of the CPU lags so far
                // (`clock::recent`); it counts that when it next ticks.
                #[cfg(target_os = "linux")]
                {
                    std::thread::sleep(Duration::from_millis(50));
                    assert!(
                        recent::stalls() > stalls_before,
                        "coarse {early} + {lag} before an earlier {before}, with no stall"
                    );
                }
                #[cfg(not(target_os = "linux"))]
                panic!("coarse {early} + {lag} before an earlier {before}");
            }
        }
    }

    /// Virtual raw time on an arbitrary base (the kernel's is its boot), its
    /// cheap reading at the last 4 ms tick.
    struct FakeRaw {
        nanos: AtomicU64,
    }

    const TICK: u64 = 4_000_000;

    impl FakeRaw {
        fn at(nanos: u64) -> Self {
            FakeRaw {
                nanos: AtomicU64::new(nanos),
            }
        }

        fn advance(&self, by: u64) {
            self.nanos.fetch_add(by, Ordering::Relaxed);
        }
    }

    impl Raw for FakeRaw {
        fn precise(&self) -> u64 {
            self.nanos.load(Ordering::Relaxed)
        }
        fn coarse(&self) -> u64 {
            let now = self.precise();
            now - now % TICK
        }
        fn resolution(&self) -> u64 {
            TICK
        }
    }

    /// Checks one cheap reading against precise readings on either side.
    fn check_cheap_reading(timeline: &Timeline<FakeRaw>) {
        let before = timeline.now_ns();
        let (early, lag) = timeline.coarse_ns();
        let after = timeline.now_ns();
        assert!(
            early <= after,
            "cheap {early} after a later precise {after}"
        );
        assert!(
            early + lag >= before,
            "cheap {early} + lag {lag} before an earlier precise {before}"
        );
    }

    #[test]
    fn both_readings_share_the_base_taken_when_the_first_is_read() {
        // The precise reading first, the cheap one 3 s later (the first
        // failure, then the first rejection): one base for both.
        let timeline = Timeline::new(FakeRaw::at(86_400_000_000_123));
        assert_eq!(timeline.now_ns(), 0);
        timeline.raw.advance(3_000_000_000);
        check_cheap_reading(&timeline);
        assert_eq!(timeline.coarse_ns(), (3_000_000_000 - 123, 2 * TICK));
        assert_eq!(timeline.now_ns(), 3_000_000_000);

        // The cheap reading first, the precise one an hour later.
        let timeline = Timeline::new(FakeRaw::at(7_000_000_001));
        assert_eq!(timeline.coarse_ns(), (0, 2 * TICK));
        timeline.raw.advance(3_600_000_000_000);
        check_cheap_reading(&timeline);
        assert_eq!(timeline.now_ns(), 3_600_000_000_000);
        for _ in 0..1000 {
            timeline.raw.advance(1_234_567);
            check_cheap_reading(&timeline);
        }
    }

    #[test]
    fn an_unknown_resolution_states_a_lag_of_twenty_milliseconds() {
        struct Unknown;
        impl Raw for Unknown {
            fn precise(&self) -> u64 {
                5
            }
            fn coarse(&self) -> u64 {
                5
            }
            fn resolution(&self) -> u64 {
                0
            }
        }
        assert_eq!(Timeline::new(Unknown).coarse_ns(), (0, 20_000_000));
    }

    #[test]
    fn a_lagging_clock_reads_the_last_tick_and_states_two() {
        let clock = LaggingClock::new(Duration::from_millis(4));
        let cell = ClockCell::new(clock.clone());
        clock.advance(Duration::from_millis(11));
        assert_eq!(cell.now_ns(), 11_000_000);
        assert_eq!(cell.coarse_ns(), (8_000_000, 8_000_000));
        clock.manual().advance(Duration::from_millis(1));
        assert_eq!(cell.coarse_ns(), (12_000_000, 8_000_000));
    }

    #[test]
    fn a_custom_clock_is_exact_unless_it_says_otherwise() {
        struct Fixed;
        impl Clock for Fixed {
            fn now(&self) -> Duration {
                Duration::from_millis(3)
            }
        }
        assert_eq!(ClockCell::new(Fixed).coarse_ns(), (3_000_000, 0));
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
