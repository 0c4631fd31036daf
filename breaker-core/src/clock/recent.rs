//! A recent reading of the real clock in one word that a thread keeps fresh.
//!
//! An Open breaker's rejection and a keyed call's use-stamp need only a cheap
//! reading of the time; through the vDSO even the kernel's coarse clock is two
//! calls and a seqlock, a fifth of a rejection. Here the reading is one load.
//!
//! The word holds `CLOCK_MONOTONIC` as of the last tick of a thread that ticks
//! every millisecond, so it is never ahead of the clock. Its low bit is a
//! "read since the last tick" flag: the first reader after a tick sets it, the
//! tick clears it, and the thread stops after a second with no reader (the
//! next reading starts it again), so a process with no Open breaker and no
//! keyed breaker keeps no thread awake. A zero word (no thread yet, a thread
//! stopping, a child just forked, or a word found stale) sends readers to the
//! kernel's coarse clock.
//!
//! The word lags by one tick while the thread runs on time. A thread starved of
//! the CPU would let it lag by more, so a reader checks it against the kernel's
//! coarse clock on its first reading after each tick (every reading, when the
//! breakers are called less often than the thread ticks) and on one reading in
//! 128 of each thread's: a word behind the kernel by more than the
//! [`resolution`] is put out until the next tick. What a starved thread can
//! still cost is bounded by its own lateness, and it counts its late ticks
//! ([`stalls`]), so a test on the real clock can tell a starved machine from a
//! wrong reading.
//!
//! The thread also numbers its ticks in a word of their own ([`which_tick`]),
//! which a keyed call compares with the tick its key's use was last stamped
//! at, in one load and one compare.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The reading (`CLOCK_MONOTONIC`, in nanoseconds since boot, low bit cleared)
/// with the low bit as the read flag; zero when there is none.
static WORD: AtomicU64 = AtomicU64::new(0);
/// Which tick of the thread it is, for a keyed call's use stamp
/// (`clock::tick`): a value of 31 bits, never 0, that changes with every
/// tick; 0 when there is none (no thread, or put out). Published only by a
/// compare-and-swap from the value the thread read, so that a put-out word
/// ([`put_out_tick`]) stays out until the next tick, never overwritten by
/// the tick that raced with it.
static WHICH_TICK: AtomicU32 = AtomicU32::new(0);
static STATE: AtomicU8 = AtomicU8::new(IDLE);
static STALLS: AtomicU64 = AtomicU64::new(0);

const IDLE: u8 = 0;
const RUNNING: u8 = 1;
/// The thread could not be started: readers read the kernel from then on.
const FAILED: u8 = 2;

const READ: u64 = 1;
const TICK: Duration = Duration::from_millis(1);
/// A second of ticks nobody read.
const UNREAD_TICKS_BEFORE_STOP: u32 = 1000;
/// Each thread checks one reading in `SAMPLE + 1` against the kernel.
const SAMPLE: u8 = 127;
/// The least the word may be allowed to lag (the thread's tick, with room for
/// its wake-up): on a kernel ticking at 1000 Hz the coarse clock's own
/// resolution would be less than that.
const LEAST_RESOLUTION_NS: u64 = 2_000_000;

thread_local! {
    static READS: Cell<u8> = const { Cell::new(0) };
}

fn kernel(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clock ids exist on
    // every Linux since 2.6.32.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// How far a cheap reading moves at a time: the kernel's coarse clock's
/// resolution, or the thread's allowance if that is more.
pub(crate) fn resolution() -> u64 {
    static RESOLUTION: OnceLock<u64> = OnceLock::new();
    *RESOLUTION.get_or_init(|| {
        let mut res = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `kernel`.
        unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut res) };
        let kernel = (res.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(res.tv_nsec as u64);
        kernel.max(LEAST_RESOLUTION_NS)
    })
}

/// How many times the ticking thread found the word had lagged by more than
/// the [`resolution`] (it was not scheduled in time).
#[cfg(test)]
pub(crate) fn stalls() -> u64 {
    STALLS.load(Ordering::Relaxed)
}

/// A cheap reading of `CLOCK_MONOTONIC`, in nanoseconds since boot: never
/// later than the clock, and at most one [`resolution`] earlier than the
/// kernel's coarse clock (which is itself at most one tick early) but for a
/// starved thread (see the module's documentation).
#[inline(always)]
pub(crate) fn coarse() -> u64 {
    let word = WORD.load(Ordering::Relaxed);
    let reads = READS.get().wrapping_add(1);
    READS.set(reads);
    if word & READ == 0 || reads & SAMPLE == 0 {
        return checked(word);
    }
    word & !READ
}

/// Which tick it is (see [`WHICH_TICK`]): equal values, one tick.
#[inline(always)]
pub(crate) fn which_tick() -> u32 {
    WHICH_TICK.load(Ordering::Relaxed)
}

/// Makes [`which_tick`] 0 until the thread's next tick, so that it changes for every
/// thread, this one first.
pub(crate) fn put_out_tick() {
    WHICH_TICK.store(0, Ordering::SeqCst);
}

/// The [`which_tick`] of a reading: its microseconds (near enough: a shift, not a
/// division), 31 bits of them (35 minutes), never 0.
fn tick_of(now: u64) -> u32 {
    ((now >> 10) as u32 & 0x7fff_ffff) | 1
}

/// The readings the word cannot settle alone: none yet, the first since a
/// tick, a thread's sampled check. Each reads the kernel's coarse clock.
#[cold]
#[inline(never)]
fn checked(word: u64) -> u64 {
    let kernel = kernel(libc::CLOCK_MONOTONIC_COARSE);
    if word == 0 {
        start();
        return kernel;
    }
    let recent = word & !READ;
    if kernel > recent.saturating_add(resolution()) {
        // A compare-and-swap, so that a fresh tick's word is not put out.
        let _ = WORD.compare_exchange(word, 0, Ordering::Relaxed, Ordering::Relaxed);
        // Keyed calls stamp every use until the next tick, as they would
        // read the kernel.
        put_out_tick();
        return kernel;
    }
    if word & READ == 0 {
        // Not a `fetch_or`: on a word just put out, it would make a reading of 0.
        let _ = WORD.compare_exchange(word, word | READ, Ordering::Relaxed, Ordering::Relaxed);
    }
    recent.max(kernel)
}

/// Starts the ticking thread unless it runs (or cannot).
fn start() {
    if STATE
        .compare_exchange(IDLE, RUNNING, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    static AT_FORK: OnceLock<()> = OnceLock::new();
    AT_FORK.get_or_init(|| {
        // SAFETY: `forked` only stores to atomics, which is async-signal-safe,
        // as a child of a multithreaded fork requires.
        unsafe { libc::pthread_atfork(None, None, Some(forked)) };
    });
    let spawned = std::thread::Builder::new()
        .name("breaker-clock".into())
        .spawn(tick);
    if spawned.is_err() {
        STATE.store(FAILED, Ordering::Release);
    }
}

/// A forked child has no ticking thread: without this, its word would stop
/// at the fork's instant and its breakers would stay Open.
extern "C" fn forked() {
    WORD.store(0, Ordering::Relaxed);
    WHICH_TICK.store(0, Ordering::Relaxed);
    STATE.store(IDLE, Ordering::Release);
}

fn tick() {
    let resolution = resolution();
    let mut unread = 0;
    let mut last = kernel(libc::CLOCK_MONOTONIC);
    loop {
        let now = kernel(libc::CLOCK_MONOTONIC) & !READ;
        let tick = WHICH_TICK.load(Ordering::SeqCst);
        let was = WORD.swap(now, Ordering::Relaxed);
        // Not published if it was put out since it was read: it stays out
        // until the next tick.
        let _ =
            WHICH_TICK.compare_exchange(tick, tick_of(now), Ordering::SeqCst, Ordering::Relaxed);
        // Readers saw `last` until the swap: how stale it got.
        if kernel(libc::CLOCK_MONOTONIC).saturating_sub(last) > resolution {
            STALLS.fetch_add(1, Ordering::Relaxed);
        }
        last = now;
        unread = if was & READ == 0 { unread + 1 } else { 0 };
        if unread >= UNREAD_TICKS_BEFORE_STOP {
            // The word first: a reader that sees zero and finds the thread
            // still running reads the kernel, and the next one starts anew.
            // The tick too: a keyed call then stamps its use, which reads the
            // word and starts the thread again.
            WHICH_TICK.store(0, Ordering::Relaxed);
            WORD.store(0, Ordering::Relaxed);
            STATE.store(IDLE, Ordering::Release);
            return;
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_is_never_ahead_of_the_clock_and_lags_by_a_resolution_unless_stalled() {
        let resolution = resolution();
        for _ in 0..20_000 {
            let stalls_before = stalls();
            let before = kernel(libc::CLOCK_MONOTONIC);
            let reading = coarse();
            let after = kernel(libc::CLOCK_MONOTONIC);
            assert!(reading <= after, "a reading {reading} after {after}");
            // The word lags by a resolution, the kernel's coarse clock by
            // another.
            if reading + 2 * resolution < before {
                std::thread::sleep(Duration::from_millis(50));
                assert!(
                    stalls() > stalls_before,
                    "{} ns behind with no stall",
                    before - reading
                );
            }
        }
        // The thread ticks (a word put out comes back at the next tick).
        let ticking = (0..100).any(|_| {
            std::thread::sleep(TICK);
            coarse();
            WORD.load(Ordering::Relaxed) != 0
        });
        assert!(ticking, "no thread keeps the word");
    }

    #[test]
    fn a_forked_child_has_no_word_until_it_starts_its_own_thread() {
        coarse();
        // SAFETY: the child only loads atomics and calls `_exit`, both
        // async-signal-safe.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let clean = WORD.load(Ordering::Relaxed) == 0 && STATE.load(Ordering::Relaxed) == IDLE;
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(if clean { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is writable.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "the child did not exit");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the child kept its parent's word"
        );
    }
}
