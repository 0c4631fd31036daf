//! Retrying a call through a breaker: up to N attempts, each admitted (or
//! rejected) by the breaker, with exponential backoff and full jitter between
//! them.
//!
//! The rules, for the attribute's `retry = N, retry_backoff = base..max` and
//! for [`Retry`] alike:
//!
//! - Every attempt goes through the breaker and is recorded like any call.
//! - A success returns at once; so does an error that the classifier says is
//!   not a failure (a "business" error counts as a success).
//! - A failure (and, for the attribute, a timeout) is retried while attempts
//!   remain. After failed attempt `k` (0-based) the caller waits a uniformly
//!   random duration in `[0, min(max, base * 2^k)]` ("full jitter"; see
//!   [`Backoff::delay`]), then makes attempt `k + 1`. After the last attempt
//!   its failure is returned.
//! - An attempt that the breaker rejects stops the retries: the rejection (or,
//!   for the attribute, the fallback) is returned.
//! - A panic is recorded as a failure and keeps unwinding: it is not retried.
//!
//! Time and randomness are injectable so that every test and the simulator
//! replay exactly: the waits go through a [`Sleeper`] ([`ManualClock`] is one:
//! sleeping advances it), and the jitter comes from [`Jitter`], a seedable
//! splitmix64 generator.
//!
//! ```
//! use std::time::Duration;
//! use breaker_core::{Breaker, Config, Error, clock::ManualClock};
//! use breaker_core::retry::{Backoff, Retry};
//!
//! let clock = ManualClock::new();
//! let db = Breaker::with_clock("db", Config::default(), clock.clone());
//! let retry = Retry::new(3)
//!     .with_backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(5)).unwrap())
//!     .with_seed(7)
//!     .with_sleeper(clock.clone()); // virtual time: the waits advance the clock
//!
//! let mut attempts = 0;
//! let result = retry.call(&db, || {
//!     attempts += 1;
//!     if attempts < 3 { Err(Error::timeout("db".into(), Duration::ZERO)) } else { Ok(attempts) }
//! });
//! assert_eq!(result.unwrap(), 3);
//! assert!(clock.now() <= Duration::from_millis(100 + 200));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, thread};

use crate::breaker::{FailOnUnwind, RunAsync};
use crate::clock::ManualClock;
pub use crate::jitter::Jitter;
use crate::{Breaker, ConfigError, Error, MAX_DURATION, Permit};

/// The most attempts a retry makes (`retry = N` accepts 1..=100).
pub const MAX_ATTEMPTS: u32 = breaker_vocab::keys::MAX_ATTEMPTS;

/// How long to wait between attempts: exponential from `base`, capped at
/// `max`, with full jitter. Written `base..max` (`100ms..5s`), as the
/// attribute's `retry_backoff`; the default is `100ms..5s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

impl Backoff {
    /// `100ms..5s`.
    pub const DEFAULT: Backoff = Backoff {
        base: Duration::from_millis(100),
        max: Duration::from_secs(5),
    };

    /// A backoff from `base` doubling up to `max`: both in 1ns..=365 days,
    /// `base <= max`.
    pub fn new(base: Duration, max: Duration) -> Result<Backoff, ConfigError> {
        for (what, d) in [("base", base), ("max", max)] {
            if d.is_zero() || d > MAX_DURATION {
                return Err(ConfigError::new(
                    "retry_backoff",
                    format!(
                        "its {what} must be between 1ns and 365 days, got {}",
                        crate::format_duration(d)
                    ),
                ));
            }
        }
        if base > max {
            return Err(ConfigError::new(
                "retry_backoff",
                format!(
                    "is `base..max` with base <= max, got {}..{}",
                    crate::format_duration(base),
                    crate::format_duration(max)
                ),
            ));
        }
        Ok(Backoff { base, max })
    }

    /// For the attribute's expansion, whose values the macro has checked.
    pub(crate) const fn from_nanos(base: u64, max: u64) -> Backoff {
        Backoff {
            base: Duration::from_nanos(base),
            max: Duration::from_nanos(max),
        }
    }

    /// The first wait's ceiling.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The cap on every wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The longest wait after failed attempt `attempt` (0-based):
    /// `min(max, base * 2^attempt)`, in whole nanoseconds.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let base = crate::clock::saturating_nanos(self.base);
        let max = crate::clock::saturating_nanos(self.max);
        let grown = base.checked_shl(attempt).filter(|g| g >> attempt == base);
        Duration::from_nanos(grown.map_or(max, |g| g.min(max)))
    }

    /// The wait after failed attempt `attempt` (0-based): uniform in
    /// `[0, ceiling(attempt)]` (whole nanoseconds, both ends included), drawn
    /// from `jitter` with one [`Jitter::up_to`]. The simulator replays a
    /// retry by drawing the same way from a [`Jitter`] of the same seed.
    pub fn delay(&self, attempt: u32, jitter: &Jitter) -> Duration {
        let ceiling = crate::clock::saturating_nanos(self.ceiling(attempt));
        Duration::from_nanos(jitter.up_to(ceiling))
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}",
            crate::format_duration(self.base),
            crate::format_duration(self.max)
        )
    }
}

impl FromStr for Backoff {
    type Err = ConfigError;

    /// Reads `base..max` (`"100ms..5s"`), as the attribute and [`Display`](fmt::Display) write it.
    ///
    /// ```
    /// let b: breaker_core::retry::Backoff = "100ms..5s".parse().unwrap();
    /// assert_eq!(b.to_string(), "100ms..5s");
    /// assert!("5s..100ms".parse::<breaker_core::retry::Backoff>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Backoff, ConfigError> {
        let Some((base, max)) = text.split_once("..") else {
            return Err(ConfigError::new(
                "retry_backoff",
                format!("expected `base..max`, as in `100ms..5s`, got `{text}`"),
            ));
        };
        let read = |part: &str| {
            crate::parse_duration(part.trim())
                .map_err(|e| ConfigError::new("retry_backoff", e.to_string()))
        };
        Backoff::new(read(base)?, read(max)?)
    }
}

/// How a retry waits: real time in production, virtual time in tests.
pub trait Sleeper: Send + Sync + 'static {
    /// Blocks the thread for `duration` (sync calls).
    fn sleep(&self, duration: Duration);

    /// Waits `duration` without blocking (async calls).
    fn sleep_async(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Real time: `std::thread::sleep`, and for async calls tokio's
/// `time::sleep` with breaker-core's `tokio` feature (which needs a tokio
/// runtime), or without it a helper thread that wakes the task.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealSleeper;

impl Sleeper for RealSleeper {
    fn sleep(&self, duration: Duration) {
        thread::sleep(duration);
    }

    #[cfg(feature = "tokio")]
    fn sleep_async(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }

    #[cfg(not(feature = "tokio"))]
    fn sleep_async(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(thread_timer::sleep(duration))
    }
}

/// Sleeping advances the clock at once: retries in virtual time, for tests
/// and the simulator (`registry().use_sleeper(clock.clone())`).
impl Sleeper for ManualClock {
    fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }

    fn sleep_async(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(not(feature = "tokio"))]
mod thread_timer {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    #[derive(Default)]
    struct Shared {
        done: bool,
        waker: Option<Waker>,
    }

    /// A timer without a runtime: one thread per wait, which then wakes the task.
    pub(super) struct Sleep {
        duration: Option<Duration>,
        shared: Arc<Mutex<Shared>>,
    }

    pub(super) fn sleep(duration: Duration) -> Sleep {
        Sleep {
            duration: Some(duration),
            shared: Arc::default(),
        }
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            if shared.done {
                return Poll::Ready(());
            }
            shared.waker = Some(cx.waker().clone());
            drop(shared);
            if let Some(duration) = self.duration.take() {
                let shared = self.shared.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(duration);
                    let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
                    shared.done = true;
                    if let Some(waker) = shared.waker.take() {
                        waker.wake();
                    }
                });
            }
            Poll::Pending
        }
    }
}

/// A retry policy usable without the attribute: attempts, backoff, jitter
/// and how to wait. See the [module](self) for the rules.
#[derive(Clone)]
pub struct Retry {
    attempts: u32,
    backoff: Backoff,
    jitter: Arc<Jitter>,
    sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Retry {
    /// Up to `attempts` attempts (1 makes no retry; clamped to
    /// 1..=[`MAX_ATTEMPTS`]), with the default backoff (`100ms..5s`),
    /// jitter seeded from the process's randomness, in real time.
    pub fn new(attempts: u32) -> Retry {
        Retry {
            attempts: attempts.clamp(1, MAX_ATTEMPTS),
            backoff: Backoff::DEFAULT,
            jitter: Arc::new(Jitter::from_entropy()),
            sleeper: Arc::new(RealSleeper),
        }
    }

    /// The waits between attempts.
    pub fn with_backoff(mut self, backoff: Backoff) -> Retry {
        self.backoff = backoff;
        self
    }

    /// Draws the jitter from `Jitter::new(seed)`: the same seed, the same waits.
    pub fn with_seed(mut self, seed: u64) -> Retry {
        self.jitter = Arc::new(Jitter::new(seed));
        self
    }

    /// Waits with `sleeper` (a [`ManualClock`] in tests).
    pub fn with_sleeper(mut self, sleeper: impl Sleeper) -> Retry {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// The most attempts made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The backoff.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Draws the wait after failed attempt `attempt` (0-based) from this
    /// policy's jitter: what [`call`](Retry::call) waits.
    pub fn next_delay(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt, &self.jitter)
    }

    /// Runs `f` through `breaker`, retrying failures; every `Err` is a failure.
    pub fn call<T, E, F>(&self, breaker: &Breaker, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        self.call_when(breaker, |_| true, f)
    }

    /// Runs `f` through `breaker`, retrying the errors `is_failure` says are
    /// failures; the others count as successes and are returned at once.
    pub fn call_when<T, E, F>(
        &self,
        breaker: &Breaker,
        is_failure: impl Fn(&E) -> bool,
        mut f: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        let mut attempt = 0;
        loop {
            let armed = FailOnUnwind(Some(breaker.acquire()?));
            let result = f();
            let failed = record(armed.release(), &result, &is_failure);
            if !failed || attempt + 1 >= self.attempts {
                return result;
            }
            self.sleeper.sleep(self.next_delay(attempt));
            attempt += 1;
        }
    }

    /// Runs the futures `f` makes through `breaker`, one per attempt,
    /// retrying failures; every `Err` is a failure.
    pub async fn call_async<T, E, F, Fut>(&self, breaker: &Breaker, f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        self.call_async_when(breaker, |_| true, f).await
    }

    /// [`call_when`](Retry::call_when) for futures. Dropping the returned
    /// future cancels the attempt in flight (it feeds no policy).
    pub async fn call_async_when<T, E, F, Fut>(
        &self,
        breaker: &Breaker,
        is_failure: impl Fn(&E) -> bool,
        mut f: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        let mut attempt = 0;
        loop {
            let (result, permit) = RunAsync::new(Some(breaker.acquire()?), f()).await;
            let failed = record(permit, &result, &is_failure);
            if !failed || attempt + 1 >= self.attempts {
                return result;
            }
            self.sleeper.sleep_async(self.next_delay(attempt)).await;
            attempt += 1;
        }
    }
}

/// Records an attempt's result, a failure when it is an `Err` that
/// `is_failure` counts; true when it is one (to retry). Nothing to record
/// when the permit went with a panic.
fn record<T, E: fmt::Display>(
    permit: Option<Permit<'_>>,
    result: &Result<T, E>,
    is_failure: impl Fn(&E) -> bool,
) -> bool {
    let failed = matches!(result, Err(error) if is_failure(error));
    if let Some(permit) = permit {
        permit.record_when(result, |_| failed);
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_ceiling_doubles_from_base_up_to_max() {
        let b = Backoff::new(ms(100), ms(1000)).unwrap();
        let ceilings: Vec<_> = (0..6).map(|k| b.ceiling(k)).collect();
        assert_eq!(
            ceilings,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(b.ceiling(200), ms(1000));
        let big = Backoff::new(MAX_DURATION, MAX_DURATION).unwrap();
        assert_eq!(big.ceiling(63), MAX_DURATION);
    }

    #[test]
    fn delays_stay_within_their_ceiling_and_replay_by_seed() {
        let b = Backoff::default();
        let (one, two) = (Jitter::new(3), Jitter::new(3));
        for k in 0..20 {
            let d = b.delay(k, &one);
            assert!(d <= b.ceiling(k), "{k}: {d:?}");
            assert_eq!(d, b.delay(k, &two));
        }
    }

    #[test]
    fn backoff_is_checked() {
        assert_eq!(
            Backoff::new(ms(10), ms(1)).unwrap_err().to_string(),
            "invalid `retry_backoff`: is `base..max` with base <= max, got 10ms..1ms"
        );
        assert!(Backoff::new(Duration::ZERO, ms(1)).is_err());
        assert!("100ms-5s".parse::<Backoff>().is_err());
        assert_eq!(
            "1s..1s".parse::<Backoff>().unwrap().ceiling(5),
            Duration::from_secs(1)
        );
    }

    /// A breaker on `clock`, and a retry policy waiting on it.
    fn setup(attempts: u32, config: &str) -> (ManualClock, Breaker, Retry) {
        let clock = ManualClock::new();
        let breaker = Breaker::with_clock("db", config.parse().unwrap(), clock.clone());
        let retry = Retry::new(attempts)
            .with_seed(9)
            .with_sleeper(clock.clone());
        (clock, breaker, retry)
    }

    fn down() -> Result<u32, Error> {
        Err(Error::timeout("db".into(), Duration::ZERO))
    }

    /// Polls a future whose waits are all ready (a `ManualClock` sleeper).
    fn block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    #[test]
    fn retries_failures_and_waits_the_drawn_delays_in_virtual_time() {
        let (clock, breaker, retry) = setup(4, "fail_max = 10");
        let mut attempts = 0;
        let result = retry.call(&breaker, || {
            attempts += 1;
            down()
        });
        assert!(result.is_err());
        assert_eq!(attempts, 4);
        let replay = Jitter::new(9);
        let expected: Duration = (0..3).map(|k| Backoff::DEFAULT.delay(k, &replay)).sum();
        assert_eq!(clock.now(), expected);
        assert_eq!(breaker.stats().failures, 4);
    }

    #[test]
    fn a_success_is_returned_at_once() {
        let (clock, breaker, retry) = setup(4, "");
        let mut attempts = 0;
        let result = retry.call(&breaker, || {
            attempts += 1;
            Ok::<_, Error>(5)
        });
        assert_eq!((result.unwrap(), attempts), (5, 1));
        assert_eq!(clock.now(), Duration::ZERO);
    }

    #[test]
    fn a_rejection_stops_the_retries() {
        let (_, breaker, retry) = setup(10, "fail_max = 2");
        let mut attempts = 0;
        let result = retry.call(&breaker, || {
            attempts += 1;
            down()
        });
        assert!(result.unwrap_err().is_rejected());
        assert_eq!(attempts, 2);
        assert_eq!(breaker.stats().rejected, 1);
    }

    #[test]
    fn errors_that_are_not_failures_are_returned_at_once() {
        let (_, breaker, retry) = setup(4, "");
        let mut attempts = 0;
        let result = retry.call_when(
            &breaker,
            |e: &Error| !e.is_timeout(),
            || {
                attempts += 1;
                down()
            },
        );
        assert!(result.unwrap_err().is_timeout());
        assert_eq!(attempts, 1);
        assert_eq!(breaker.stats().successes, 1);
    }

    #[test]
    fn async_calls_retry_the_same_way() {
        let (clock, breaker, retry) = setup(3, "fail_max = 10");
        let attempts = std::cell::Cell::new(0);
        let result = block_on(retry.call_async(&breaker, || {
            attempts.set(attempts.get() + 1);
            async { if attempts.get() < 3 { down() } else { Ok(3) } }
        }));
        assert_eq!(result.unwrap(), 3);
        assert_eq!(attempts.get(), 3);
        assert!(clock.now() <= Backoff::DEFAULT.ceiling(0) + Backoff::DEFAULT.ceiling(1));
        let stats = breaker.stats();
        assert_eq!((stats.failures, stats.successes), (2, 1));
    }

    #[test]
    fn a_panic_is_recorded_and_not_retried() {
        let (_, breaker, retry) = setup(3, "");
        let mut attempts = 0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            retry.call(&breaker, || -> Result<u32, Error> {
                attempts += 1;
                panic!("boom")
            })
        }));
        assert!(result.is_err());
        assert_eq!(attempts, 1);
        assert_eq!(breaker.stats().failures, 1);
    }

    #[test]
    fn attempts_are_clamped() {
        assert_eq!(Retry::new(0).attempts(), 1);
        assert_eq!(Retry::new(1000).attempts(), MAX_ATTEMPTS);
    }
}
