//! A circuit breaker: admission, outcomes, transitions and manual control.
//!
//! The state lives in one packed atomic word (see `state::Word`). Admission
//! and the outcomes that change nothing but a counter are lock-free
//! compare-and-swaps on that word. Every transition is made under the control
//! lock, so that transitions are totally ordered and each is reported once; it
//! is still a compare-and-swap, because lock-free updates race with it. A
//! transition bumps the word's generation, which is how an outcome knows its
//! period is over and it is a straggler.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

mod environment;
mod link;
mod metrics_only;

use crate::clock::{Clock, MonotonicClock};
use crate::counter::{Count, Counters};
use crate::event::{Dispatch, Listeners, Transition};
use crate::opening::OpeningCell;
use crate::policy::{
    Batched, Consecutive, Outcome, Trip, Windows, decide_closed, nanos, reopen_period,
};
use crate::reason::{Action, OpenReason, Reason};
use crate::state::Word;
use crate::sync::{AtomicU64, Mutex, MutexGuard};
use crate::tap::{Tap, Ticket};
use crate::{Config, Error, State, Stats, Window};
pub(crate) use environment::Environment;
pub use link::{Change, Link, Remote, Trial};
use metrics_only::{DryRun, Move, Role};

/// `Permit::started` when the breaker does not time its calls.
const UNTIMED: u64 = u64::MAX;
/// `opened_at` of a breaker that never opened.
const NEVER: u64 = u64::MAX;

/// Bits of `Inner::detours`: why a call may not take the inlined fast paths.
/// Calls are timed: `slow` is configured.
const TIMED: u8 = 1;
/// Outcomes go through the windowed policies, under the lock.
const WINDOWED: u8 = 2;
/// A recorder taps the breaker's calls (set once, never cleared).
const TAPPED: u8 = 4;
/// Adaptive throttling decides each admission.
const ADAPTIVE: u8 = 8;
/// The detours that take admission off its fast path.
const ACQUIRE_DETOURS: u8 = TIMED | TAPPED | ADAPTIVE;

/// What every call reads, alone on its cache lines.
#[repr(align(128))]
struct Hot {
    word: AtomicU64,
    /// End of the current open period (valid while the word says Open). Written
    /// before the compare-and-swap that publishes Open.
    deadline: AtomicU64,
    /// Start of the open period `deadline` ends, written just before it: a
    /// reader that sees a deadline sees its start too.
    since: AtomicU64,
}

/// A call the slow path refused: what the rejection error will say.
#[derive(Clone, Copy)]
struct Refusal {
    state: State,
    retry_after: Option<u64>,
}

/// What is only touched under the control lock.
struct Control {
    /// The length of the current (or next) open period: `reset`, grown by backoff.
    period: u64,
    windows: Option<Windows>,
    /// Where the breaker would be, while it is MetricsOnly.
    dry_run: DryRun,
}

struct Inner {
    hot: Hot,
    name: Arc<str>,
    config: Config,
    /// The consecutive policy (its run is the word's `aux` in Closed).
    consecutive: Consecutive,
    /// `max_half_open_wait` in nanoseconds, 0 when it is not set.
    half_open_wait: u64,
    /// Whether a windowed policy is active: outcomes then go through the lock.
    windowed: bool,
    /// Whether successes on a full count window skip the lock (`batched`):
    /// a count window, and neither adaptive throttling nor the consecutive
    /// policy, which must see successes in the same order as the window.
    batch_successes: bool,
    /// The successes counted without the lock, for the window to take in.
    batched: Batched,
    /// Whether adaptive throttling decides admissions (under the lock).
    adaptive: bool,
    /// Adaptive throttling's dice: seedable, so a replay drops the same calls.
    random: crate::jitter::Jitter,
    /// Whether calls are timed (a `slow` latency is configured).
    timed: bool,
    /// `TIMED | WINDOWED | TAPPED`: one byte the fast paths test, so they
    /// read one field, and a recorder can join a live breaker.
    detours: AtomicU8,
    /// Where its calls are recorded, once a recorder taps it (`tap` module).
    tap: OnceLock<Arc<dyn Tap>>,
    /// Whether outcomes need their end time: timed calls, or a time window.
    dated: bool,
    counters: Counters,
    control: Mutex<Control>,
    /// Why it last opened, shared by its rejections.
    opening: OpeningCell,
    opened_at: AtomicU64,
    transitions: AtomicU64,
    env: Arc<Environment>,
    listeners: Listeners,
    dispatch: Dispatch,
    /// The breaker's link to a shared-state store, once it joined one
    /// (`store` module). Read only off the Closed fast paths.
    link: OnceLock<Arc<dyn Link>>,
}

/// A named circuit breaker. Cheap to clone: clones are the same breaker.
///
/// ```
/// use std::time::Duration;
/// use breaker_core::{Breaker, Config, Error, State, clock::ManualClock};
///
/// let clock = ManualClock::new();
/// let config = Config::builder().fail_max(2).reset(Duration::from_secs(10)).success(1).build()?;
/// let db = Breaker::with_clock("db", config, clock.clone());
///
/// for _ in 0..2 {
///     let _ = db.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::from_secs(1))));
/// }
/// assert_eq!(db.state(), State::Open);
/// let rejected = db.call(|| Ok::<_, Error>(1)).unwrap_err();
/// assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));
///
/// clock.advance(Duration::from_secs(10));
/// assert_eq!(db.call(|| Ok::<_, Error>(1))?, 1); // the trial closes it again
/// assert_eq!(db.state(), State::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Breaker {
    inner: Arc<Inner>,
}

/// What recording an outcome found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// How long the call ran, when the breaker times calls (`slow` is set,
    /// or a recorder taps the breaker).
    pub latency: Option<Duration>,
    /// Whether the call was slower than `slow`.
    pub slow: bool,
    /// Whether the call's period had ended: the outcome only reached the statistics.
    pub straggler: bool,
}

impl Breaker {
    /// A breaker on the real monotonic clock, outside any registry.
    pub fn new(name: impl Into<Arc<str>>, config: Config) -> Breaker {
        Breaker::with_clock(name, config, MonotonicClock)
    }

    /// A breaker on its own clock (a [`ManualClock`](crate::clock::ManualClock)
    /// in tests and the simulator), outside any registry.
    pub fn with_clock(name: impl Into<Arc<str>>, config: Config, clock: impl Clock) -> Breaker {
        Breaker::in_environment(name.into(), config, Arc::new(Environment::new(clock)))
    }

    pub(crate) fn in_environment(name: Arc<str>, config: Config, env: Arc<Environment>) -> Breaker {
        let windows = Windows::for_config(&config);
        let period = nanos(config.reset());
        let dry_run = DryRun::new(&config);
        let opening = OpeningCell::new(name.clone());
        Breaker {
            inner: Arc::new(Inner {
                hot: Hot {
                    word: AtomicU64::new(Word::new(State::Closed, 0, 0).0),
                    deadline: AtomicU64::new(0),
                    since: AtomicU64::new(0),
                },
                consecutive: Consecutive::for_config(&config),
                half_open_wait: config.max_half_open_wait().map_or(0, nanos),
                windowed: windows.is_some(),
                batch_successes: config.consecutive().is_none()
                    && windows.as_ref().is_some_and(Windows::batches_successes),
                batched: Batched::new(),
                detours: AtomicU8::new(
                    if config.slow().is_some() { TIMED } else { 0 }
                        | if windows.is_some() { WINDOWED } else { 0 }
                        | if config.adaptive().is_some() {
                            ADAPTIVE
                        } else {
                            0
                        },
                ),
                adaptive: config.adaptive().is_some(),
                random: crate::jitter::Jitter::from_entropy(),
                tap: OnceLock::new(),
                dated: config.slow().is_some()
                    || config.within().is_some()
                    || config.adaptive().is_some()
                    || (config.has_rate_policy() && matches!(config.window(), Window::Time(_))),
                timed: config.slow().is_some(),
                name,
                config,
                counters: Counters::new(),
                control: Mutex::new(Control {
                    period,
                    windows,
                    dry_run,
                }),
                opening,
                opened_at: AtomicU64::new(NEVER),
                transitions: AtomicU64::new(0),
                env,
                listeners: Listeners::default(),
                dispatch: Dispatch::new(),
                link: OnceLock::new(),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current state. Open stays Open until a call arrives after the open
    /// period: the move to HalfOpen is made by that call.
    pub fn state(&self) -> State {
        self.inner.word().state()
    }

    /// In Open, how long until a call would be let through as the first
    /// trial (zero once the period is over and no call has come yet); `None`
    /// in every other state. What a rejection's `retry_after` says, without
    /// making a call.
    pub fn retry_after(&self) -> Option<Duration> {
        let inner = &self.inner;
        if !inner.word().is(State::Open) {
            return None;
        }
        let deadline = inner.hot.deadline.load(Ordering::Acquire);
        Some(Duration::from_nanos(deadline.saturating_sub(inner.now())))
    }

    /// The time on this breaker's clock.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.now())
    }

    /// Calls `listener` with every transition of this breaker, in order, once
    /// each. Listeners run on the thread that caused the transition, after the
    /// breaker's internal lock is released; a panic in one is contained.
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) {
        self.inner.listeners.add(Arc::new(listener));
    }

    /// Asks to run one call. `Ok` holds a permit: report the call's outcome
    /// with it, or drop it to cancel the call. `Err` is the rejection.
    #[inline]
    pub fn acquire(&self) -> Result<Permit<'_>, Error> {
        self.inner.acquire()
    }

    /// Runs `f` through the breaker. `Err` from `f` is a failure; a panic is a
    /// failure and is resumed; a rejection returns `Err(Error::Rejected {..}.into())`
    /// without running `f`.
    #[inline]
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        // A guard rather than `catch_unwind`: it costs nothing unless the
        // closure panics (catch_unwind moves the result through the stack).
        let armed = FailOnUnwind(Some(self.acquire()?));
        let result = f();
        let permit = armed.release();
        // Taken apart and rebuilt rather than borrowed and returned: the
        // value goes back in registers, and the whole `Result` is not copied
        // from one stack slot to another (a store-forwarding stall that cost
        // more than the breaker itself under criterion).
        match result {
            Ok(value) => {
                if let Some(permit) = permit {
                    permit.success();
                }
                Ok(value)
            }
            Err(error) => {
                if let Some(permit) = permit {
                    permit.failure_with(|| error.to_string());
                }
                Err(error)
            }
        }
    }

    /// Runs `f` through the breaker, with `is_failure` deciding which results
    /// count as failures: an `Ok` that answers a failure as a value (an HTTP
    /// 503 returned as `Ok(response)`, as the attribute's `ok_is_failure`), or
    /// an `Err` that is not the dependency's fault (as `failure`). A panic is
    /// a failure and is resumed; a rejection returns without running `f`.
    ///
    /// ```
    /// use breaker_core::{Breaker, Config, Error, State};
    ///
    /// struct Response { status: u16 }
    /// let api = Breaker::new("api", Config::builder().fail_max(1).build()?);
    /// let unavailable = |r: &Result<Response, Error>| matches!(r, Ok(r) if r.status >= 500) || r.is_err();
    /// let response = api.call_when(unavailable, || Ok::<_, Error>(Response { status: 503 }))?;
    /// assert_eq!(response.status, 503);
    /// assert_eq!(api.state(), State::Open);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn call_when<T, E, F>(
        &self,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
        f: F,
    ) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        E: From<Error> + fmt::Display,
    {
        let armed = FailOnUnwind(Some(self.acquire()?));
        let result = f();
        if let Some(permit) = armed.release() {
            permit.record_when(&result, is_failure);
        }
        result
    }

    /// Runs a future through the breaker with `is_failure` classifying its
    /// result, as [`call_when`](Breaker::call_when) does for a closure.
    pub async fn call_async_when<T, E, Fut>(
        &self,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
        fut: Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        let (permit, result) = armed(self.acquire()?, fut).await;
        if let Some(permit) = permit {
            permit.record_when(&result, is_failure);
        }
        result
    }

    /// Runs a future through the breaker, as [`call`](Breaker::call) runs a
    /// closure. Dropping the returned future before it finishes cancels the
    /// call: it feeds no policy and gives its half-open permit back.
    pub async fn call_async<T, E, Fut>(&self, fut: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        let (permit, result) = armed(self.acquire()?, fut).await;
        match permit {
            Some(permit) => permit.finish(result),
            None => result,
        }
    }

    /// Opens the breaker now for `reset`; it recovers as usual. While Open it
    /// restarts the open period (no transition is reported).
    pub fn trip(&self) {
        self.inner.act(Action::Trip);
    }

    /// Opens the breaker now for exactly `open_for` (instead of `reset`), then
    /// recovers as usual: the next call after it is the first half-open trial.
    /// While Open it restarts the open period with that length (no transition
    /// is reported). Reported as a manual trip. If a trial then fails, the
    /// breaker reopens as it would after [`trip`](Breaker::trip): for `reset`,
    /// grown by `backoff`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use breaker_core::{Breaker, Config, State, clock::ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let db = Breaker::with_clock("db", Config::default(), clock.clone());
    /// db.trip_for(Duration::from_secs(300)); // a planned maintenance window
    /// assert_eq!(db.acquire().unwrap_err().retry_after(), Some(Duration::from_secs(300)));
    /// clock.advance(Duration::from_secs(300));
    /// let trial = db.acquire()?;
    /// assert_eq!(db.state(), State::HalfOpen);
    /// # drop(trial);
    /// # Ok::<(), breaker_core::Error>(())
    /// ```
    pub fn trip_for(&self, open_for: Duration) {
        self.inner.act_for(Action::Trip, Some(nanos(open_for)));
    }

    /// Opens the breaker until [`reset`](Breaker::reset): every call is rejected.
    pub fn force_open(&self) {
        self.inner.act(Action::ForceOpen);
    }

    /// Lets every call through until [`reset`](Breaker::reset), counting
    /// statistics but never tripping.
    pub fn disable(&self) {
        self.inner.act(Action::Disable);
    }

    /// Starts a dry run until [`reset`](Breaker::reset): the breaker admits
    /// every call, and runs its policies as if it were live, reporting the
    /// transitions it would make with [`Transition::dry_run`] set, without
    /// making them. How a team rolls a new breaker out: watch what it would
    /// have done (the listeners, tracing, [`Stats::dry_run`] and
    /// [`Stats::would_reject`]) before letting it reject anything.
    ///
    /// ```
    /// use breaker_core::{Breaker, Config, Error, State, clock::ManualClock};
    ///
    /// let db = Breaker::with_clock("db", Config::builder().fail_max(2).build()?, ManualClock::new());
    /// db.metrics_only();
    /// for _ in 0..3 {
    ///     let ran = db.call(|| Err::<(), Error>(Error::timeout("db".into(), Default::default())));
    ///     assert!(!ran.unwrap_err().is_rejected(), "every call runs");
    /// }
    /// let stats = db.stats();
    /// assert_eq!(stats.state, State::MetricsOnly);
    /// assert_eq!(stats.dry_run, Some(State::Open), "it would be open");
    /// assert_eq!(stats.would_reject, 1, "and would have rejected the third call");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics_only(&self) {
        self.inner.act(Action::MetricsOnly);
    }

    /// Closes the breaker and clears its policies' counters (the statistics
    /// stay), restoring the open period to `reset`.
    pub fn reset(&self) {
        self.inner.act(Action::Reset);
    }

    /// What the breaker has seen so far.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Why the breaker last opened (or was forced open), if it ever did.
    pub fn open_reason(&self) -> Option<Arc<OpenReason>> {
        self.inner.open_reason()
    }

    /// Whether the breaker joined a store already.
    pub(crate) fn has_link(&self) -> bool {
        self.inner.link.get().is_some()
    }

    /// Keeps the link of the store the breaker joined: `false` if it had one.
    pub(crate) fn set_link(&self, link: Arc<dyn Link>) -> bool {
        self.inner.link.set(link).is_ok()
    }

    /// Lets `tap` see every call and action of this breaker from now on
    /// (what a recorder uses). A breaker is tapped once: `false` if it was
    /// already. Calls admitted before are not seen.
    #[cfg_attr(not(feature = "record"), allow(dead_code))]
    pub(crate) fn set_tap(&self, tap: Arc<dyn Tap>) -> bool {
        let set = self.inner.tap.set(tap).is_ok();
        if set {
            self.inner.detours.fetch_or(TAPPED, Ordering::Release);
        }
        set
    }

    /// Restarts adaptive throttling's random sequence at `seed`: with the same
    /// seed and the same calls, the same calls are dropped (how the simulator
    /// replays it). Each breaker starts from a seed of its own, different in
    /// every process.
    pub fn reseed(&self, seed: u64) {
        self.inner.random.reseed(seed);
    }

    /// Applies a state learned from another process (the store seam).
    ///
    /// A change of state is reported like any transition, with
    /// [`Reason::Remote`], and is not shared back with the store. Entering or
    /// staying Open sets the open period to end `remote.remaining` from now.
    /// `HalfOpen` is never applied (each process enters it on its own). In-flight
    /// calls of the period this ends are stragglers. Returns whether the
    /// state changed.
    pub fn adopt(&self, remote: &Remote) -> bool {
        self.inner.adopt(remote)
    }

    /// The state as a store shares it: the state, and in Open the time left
    /// and the length of the open period.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn shared_view(&self) -> (State, Duration, Duration) {
        let inner = &self.inner;
        let ctl = inner.lock();
        let w = inner.word();
        let now = inner.now();
        let left = inner
            .hot
            .deadline
            .load(Ordering::Acquire)
            .saturating_sub(now);
        (
            w.state(),
            Duration::from_nanos(left),
            Duration::from_nanos(ctl.period),
        )
    }

    /// A handle that does not keep the breaker alive (what a store keeps).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn downgrade(&self) -> WeakBreaker {
        WeakBreaker(Arc::downgrade(&self.inner))
    }
}

/// A breaker held without keeping it alive.
#[derive(Clone)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct WeakBreaker(Weak<Inner>);

impl WeakBreaker {
    /// The breaker, if it still exists.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn upgrade(&self) -> Option<Breaker> {
        self.0.upgrade().map(|inner| Breaker { inner })
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// The right to run one call through a breaker.
///
/// Report how the call ended with [`success`](Permit::success),
/// [`failure`](Permit::failure) or [`timeout`](Permit::timeout); dropping the
/// permit instead records the call as cancelled, which feeds no policy and
/// gives a half-open trial permit back.
#[must_use = "a permit dropped without an outcome records a cancelled call"]
pub struct Permit<'a> {
    inner: &'a Inner,
    generation: u32,
    /// The call's place in a recording (meaningless when untapped).
    ticket: Ticket,
    started: u64,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.inner.name)
            .field("generation", &self.generation)
            .finish()
    }
}

impl Permit<'_> {
    /// The call succeeded (or failed with an error that is not counted as a failure).
    #[inline]
    pub fn success(self) -> Recorded {
        let this = ManuallyDrop::new(self);
        let inner = this.inner;
        // The common case, small enough to inline: an untimed success in a
        // Closed period whose consecutive run is already 0 changes nothing but
        // this thread's counter.
        if inner.detours.load(Ordering::Relaxed) == 0 {
            let clean = Word::new(State::Closed, this.generation, 0);
            if inner.word() == clean {
                inner.counters.bump(Count::Successes);
                return Recorded {
                    latency: None,
                    slow: false,
                    straggler: false,
                };
            }
        }
        inner.end(
            this.generation,
            this.ticket,
            this.started,
            false,
            String::new,
        )
    }

    /// The call failed.
    pub fn failure(self) -> Recorded {
        self.failure_with(String::new)
    }

    /// The call failed; `message` describes the failure and is kept (called)
    /// only if this failure opens the breaker.
    pub fn failure_with(self, message: impl FnOnce() -> String) -> Recorded {
        let this = ManuallyDrop::new(self);
        this.inner
            .end(this.generation, this.ticket, this.started, true, message)
    }

    /// The call ran past the breaker's `timeout`: a failure.
    pub fn timeout(self) -> Recorded {
        let after = self.inner.config.timeout().unwrap_or_default();
        self.failure_with(|| format!("timed out after {}", crate::format_duration(after)))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.inner
            .cancel(self.generation, self.ticket, self.started);
    }
}

impl Permit<'_> {
    /// Records a call's `Result`: `Ok` a success, `Err` a failure described
    /// by the error's `Display`. Returns the result unchanged.
    #[inline]
    pub fn finish<T, E: fmt::Display>(self, result: Result<T, E>) -> Result<T, E> {
        // Taken apart and rebuilt, not borrowed and returned (see `Breaker::call`).
        match result {
            Ok(value) => {
                self.success();
                Ok(value)
            }
            Err(error) => {
                self.failure_with(|| error.to_string());
                Err(error)
            }
        }
    }

    /// Records a call's `Result` as `is_failure` classifies it: a failure
    /// (described by the error's `Display`, or as a classified `Ok`) when it
    /// says so, a success otherwise.
    pub fn record_when<T, E: fmt::Display>(
        self,
        result: &Result<T, E>,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Recorded {
        if !is_failure(result) {
            return self.success();
        }
        match result {
            Ok(_) => self.failure_with(|| "`Ok` counted as a failure".to_owned()),
            Err(error) => self.failure_with(|| error.to_string()),
        }
    }

    /// Records a call's `Result` by reference (see [`finish`](Permit::finish)).
    #[inline]
    pub fn record<T, E: fmt::Display>(self, result: &Result<T, E>) -> Recorded {
        match result {
            Ok(_) => self.success(),
            Err(error) => self.failure_with(|| error.to_string()),
        }
    }
}

/// Runs `fut` with `permit` armed around each poll: a panic inside a poll
/// records the failure on its way out (the permit is then gone), and dropping
/// the returned future between polls drops the permit: a cancelled call.
pub(crate) async fn armed<'a, F: Future>(
    permit: Permit<'a>,
    fut: F,
) -> (Option<Permit<'a>>, F::Output) {
    let mut permit = Some(permit);
    let mut fut = std::pin::pin!(fut);
    let output = std::future::poll_fn(|cx| {
        let armed = FailOnUnwind(permit.take());
        let poll = fut.as_mut().poll(cx);
        permit = armed.release();
        poll
    })
    .await;
    (permit, output)
}

/// A permit that can record the panic of the code it guards.
pub(crate) trait RecordsPanic {
    /// The guarded code panicked: a failure, `panicked`.
    fn panicked(self);
}

impl RecordsPanic for Permit<'_> {
    fn panicked(self) {
        self.failure_with(|| "panicked".to_owned());
    }
}

/// Holds a permit (borrowed, or an [`OwnedPermit`](crate::OwnedPermit) in a
/// tower future) while guarded code runs; dropped while still armed (the
/// code panicked) it records a failure, and the panic goes on.
pub(crate) struct FailOnUnwind<P: RecordsPanic>(pub(crate) Option<P>);

impl<P: RecordsPanic> FailOnUnwind<P> {
    /// The guarded code returned: hands the permit back.
    #[inline]
    pub(crate) fn release(mut self) -> Option<P> {
        let permit = self.0.take();
        std::mem::forget(self);
        permit
    }
}

impl<P: RecordsPanic> Drop for FailOnUnwind<P> {
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            permit.panicked();
        }
    }
}

impl Inner {
    #[inline]
    fn word(&self) -> Word {
        Word(self.hot.word.load(Ordering::Acquire))
    }

    #[inline]
    fn cas(&self, current: Word, new: Word) -> bool {
        self.hot
            .word
            .compare_exchange(current.0, new.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    #[inline]
    fn now(&self) -> u64 {
        self.env.clock.now_ns()
    }

    /// Starts an open period of `period` at `at` (before the word says Open,
    /// or while it does).
    fn open_until(&self, at: u64, period: u64) {
        self.hot.since.store(at, Ordering::Relaxed);
        self.hot
            .deadline
            .store(at.saturating_add(period), Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, Control> {
        // A panic never happens under this lock by design; if one did, the
        // control data is still consistent (every write to it is a single step).
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self) {
        self.dispatch.deliver(&self.listeners, &self.env.listeners);
    }

    #[inline]
    fn admit(&self, generation: u32, now: Option<u64>) -> Permit<'_> {
        self.counters.bump(Count::Admitted);
        let tap = self.tap.get();
        let (started, ticket) = if self.timed || tap.is_some() {
            let now = now.unwrap_or_else(|| self.now());
            (now, tap.map_or(Ticket::NONE, |tap| tap.admitted(now)))
        } else {
            (UNTIMED, Ticket::NONE)
        };
        Permit {
            inner: self,
            generation,
            ticket,
            started,
        }
    }

    fn open_reason(&self) -> Option<Arc<OpenReason>> {
        self.opening.reason()
    }

    /// Counts and records a refused call; the caller builds the `Error`.
    /// Inlined into the slow path, where rejections are the common case.
    #[inline(always)]
    fn refuse(&self, state: State, retry_after: Option<u64>) -> Refusal {
        self.counters.bump(Count::Rejected);
        if let Some(tap) = self.tap.get() {
            self.tap_rejected(tap, state, retry_after);
        }
        Refusal { state, retry_after }
    }

    #[cold]
    fn tap_rejected(&self, tap: &Arc<dyn Tap>, state: State, retry_after: Option<u64>) {
        // In Open the caller read the clock to decide; elsewhere it did not.
        let at = match (state, retry_after) {
            (State::Open, Some(after)) => self
                .hot
                .deadline
                .load(Ordering::Acquire)
                .saturating_sub(after),
            _ => self.now(),
        };
        tap.rejected(at);
    }

    /// The error of a refused call. Inlined into the caller, so the error is
    /// written once, where the caller keeps it: a copy out of the slow path
    /// reads it back with wider loads than its fields were stored with, and
    /// stalls on store forwarding.
    #[inline]
    fn reject(&self, refusal: Refusal) -> Error {
        Error::Rejected {
            state: refusal.state,
            retry_after: refusal.retry_after.map(Duration::from_nanos),
            opening: self.opening.get(),
        }
    }

    // Always inlined, also where the compiler would not: a rejection's
    // `Error` is then built in the caller's frame (see `reject`).
    #[inline(always)]
    fn acquire(&self) -> Result<Permit<'_>, Error> {
        // The common case first, small enough to inline: Closed, untimed.
        let w = self.word();
        if w.is(State::Closed) && self.detours.load(Ordering::Relaxed) & ACQUIRE_DETOURS == 0 {
            self.counters.bump(Count::Admitted);
            return Ok(Permit {
                inner: self,
                generation: w.generation(),
                ticket: Ticket::NONE,
                started: UNTIMED,
            });
        }
        self.acquire_slow().map_err(|refusal| self.reject(refusal))
    }

    #[inline(never)]
    fn acquire_slow(&self) -> Result<Permit<'_>, Refusal> {
        // Most calls that get here are rejections in Open, well before the
        // deadline: settled first, in straight-line code, before the state
        // dispatch below.
        if self.word().is(State::Open) {
            let deadline = self.hot.deadline.load(Ordering::Acquire);
            // A cheap reading settles them; `retry_after` is then at most
            // `lag` long (exact on a manual clock, where `lag` is 0).
            let (early, lag) = self.env.clock.coarse_ns();
            // Now is past the period's start (written before the deadline
            // just read), so `retry_after` never exceeds the period.
            let early = early.max(self.hot.since.load(Ordering::Relaxed));
            if early.saturating_add(lag) < deadline {
                return Err(self.refuse(State::Open, Some(deadline - early)));
            }
        }
        self.admit_or_refuse()
    }

    /// Every admission decision but the Closed fast path and the cheap Open
    /// rejection: the state machine proper.
    fn admit_or_refuse(&self) -> Result<Permit<'_>, Refusal> {
        loop {
            let w = self.word();
            match w.state() {
                State::Closed if self.adaptive => {
                    let now = self.now();
                    if self
                        .lock()
                        .windows
                        .as_mut()
                        .is_some_and(|windows| windows.throttle(now, &self.random))
                    {
                        return Err(self.refuse(State::Closed, None));
                    }
                    return Ok(self.admit(w.generation(), Some(now)));
                }
                State::Closed | State::Disabled => return Ok(self.admit(w.generation(), None)),
                State::HalfOpen => {
                    if self.half_open_wait > 0 && self.trials_expired(w.generation()) {
                        continue;
                    }
                    let in_flight = w.trials_in_flight();
                    if in_flight >= self.config.half_open() {
                        return Err(self.refuse(State::HalfOpen, None));
                    }
                    let shared = self.shared_trial()?;
                    let taken = w.with_aux(Word::trials(in_flight + 1, w.trial_successes()));
                    if self.cas(w, taken) {
                        self.counters.bump(Count::Trials);
                        return Ok(self.admit(w.generation(), None));
                    }
                    self.give_back_trial(shared);
                }
                State::Open => {
                    // Near the deadline (or after it, or after a race with
                    // the opening): the precise clock decides.
                    let deadline = self.hot.deadline.load(Ordering::Acquire);
                    let now = self.now();
                    if now < deadline {
                        return Err(self.refuse(State::Open, Some(deadline - now)));
                    }
                    let shared = self.shared_trial()?;
                    if let Some(generation) = self.begin_trials(w, now) {
                        self.counters.bump(Count::Trials);
                        return Ok(self.admit(generation, Some(now)));
                    }
                    self.give_back_trial(shared);
                }
                State::ForcedOpen => return Err(self.refuse(State::ForcedOpen, None)),
                State::MetricsOnly => {
                    if let Some(permit) = self.dry_run_admit() {
                        return Ok(permit);
                    }
                }
            }
        }
    }

    /// With a store: takes one of the cluster's trial permits for a call about
    /// to start a trial, or rejects the call when they are all taken. `true`
    /// when a permit was taken (to give back if the call is not admitted).
    #[cold]
    fn shared_trial(&self) -> Result<bool, Refusal> {
        match self.link.get().map(|link| link.acquire_trial()) {
            Some(Trial::Granted) => Ok(true),
            Some(Trial::Denied) => Err(self.refuse(State::HalfOpen, None)),
            Some(Trial::Local) | None => Ok(false),
        }
    }

    /// Gives back a cluster trial permit taken by [`shared_trial`](Inner::shared_trial).
    #[cold]
    fn give_back_trial(&self, taken: bool) {
        if taken {
            if let Some(link) = self.link.get() {
                link.release_trial();
            }
        }
    }

    /// Shares a transition or an action with the store, unless it came from
    /// the store. Under the control lock, with `ctl.period` the open period.
    fn share(&self, ctl: &Control, to: State, reason: &Reason) {
        let Some(link) = self.link.get() else { return };
        if matches!(reason, Reason::Remote { .. }) || to == State::HalfOpen {
            return;
        }
        link.publish(&Change {
            to,
            open_for: Duration::from_nanos(ctl.period),
            reason: reason.clone(),
            manual: matches!(reason, Reason::Manual(_)),
        });
    }

    /// Applies a state learned from the store (see [`Breaker::adopt`]).
    fn adopt(&self, remote: &Remote) -> bool {
        let mut ctl = self.lock();
        let at = self.now();
        let reason = Reason::Remote {
            reason: remote.reason.clone(),
        };
        let period = nanos(remote.period).max(1);
        let left = nanos(remote.remaining);
        loop {
            let w = self.word();
            match remote.state {
                State::HalfOpen => return false,
                State::Open if w.state() == State::Open => {
                    // Joined, not reset: the shared period decides when it ends.
                    ctl.period = period;
                    self.open_until(at, left);
                    return false;
                }
                target if w.state() == target => return false,
                State::Open => {
                    // `transition` sets the deadline from `ctl.period`: the time
                    // left, then the full period for backoff and reporting.
                    ctl.period = left;
                    let moved = self.transition(
                        &mut ctl,
                        w,
                        w.next(State::Open, 0),
                        at,
                        reason.clone(),
                        None,
                    );
                    ctl.period = period;
                    if moved {
                        break;
                    }
                }
                target => {
                    if self.transition(&mut ctl, w, w.next(target, 0), at, reason.clone(), None) {
                        break;
                    }
                }
            }
        }
        drop(ctl);
        self.deliver();
        true
    }

    /// With `max_half_open_wait`: whether half-open period `generation` is
    /// over, because its trials had not decided in time (it then reopens it,
    /// now, as a failed trial would) or because it ended otherwise.
    #[cold]
    fn trials_expired(&self, generation: u32) -> bool {
        let now = self.now();
        if now < self.hot.deadline.load(Ordering::Acquire) {
            return false;
        }
        let mut ctl = self.lock();
        let w = self.word();
        if !w.is_period(generation) || w.state() != State::HalfOpen {
            return true;
        }
        // Read under the lock: the deadline the transition to HalfOpen set.
        if now < self.hot.deadline.load(Ordering::Acquire) {
            return false;
        }
        // Under the lock the word stays in this period: only the trial counts
        // move (lock-free), which the retries below absorb.
        ctl.period = reopen_period(&self.config, ctl.period);
        let waited = Duration::from_nanos(self.half_open_wait);
        loop {
            let w = self.word();
            if self.open(&mut ctl, w, now, Reason::TrialsUndecided { waited }, None) {
                drop(ctl);
                self.deliver();
                return true;
            }
        }
    }

    /// Open -> HalfOpen for a call at `now`, past the open period; the call
    /// takes the first trial permit. `None` if the word moved meanwhile.
    #[cold]
    fn begin_trials(&self, open: Word, now: u64) -> Option<u32> {
        let mut ctl = self.lock();
        if self.word() != open || now < self.hot.deadline.load(Ordering::Acquire) {
            return None;
        }
        // The period that passed: `reset`, grown by backoff, a `trip_for`'s
        // own length, or what was left of a period adopted from a store.
        let period =
            self.hot.deadline.load(Ordering::Acquire) - self.hot.since.load(Ordering::Relaxed);
        let trial = open.next(State::HalfOpen, Word::trials(1, 0));
        let moved = self.transition(
            &mut ctl,
            open,
            trial,
            now,
            Reason::OpenElapsed {
                period: Duration::from_nanos(period),
            },
            None,
        );
        drop(ctl);
        moved.then(|| {
            self.deliver();
            trial.generation()
        })
    }

    /// Moves the word from `from` to `to` (a new period) and does what
    /// entering `to` requires. Under the control lock; `false` if the word
    /// changed since `from` was read.
    fn transition(
        &self,
        ctl: &mut Control,
        from: Word,
        to: Word,
        at: u64,
        reason: Reason,
        message: Option<String>,
    ) -> bool {
        match to.state() {
            State::Open => self.open_until(at, ctl.period),
            // In HalfOpen the deadline is when undecided trials expire.
            State::HalfOpen if self.half_open_wait > 0 => self
                .hot
                .deadline
                .store(at.saturating_add(self.half_open_wait), Ordering::Release),
            _ => {}
        }
        if !self.cas(from, to) {
            return false;
        }
        if self.batch_successes && from.state() == State::Closed {
            // Successes that ended before the move belong to the period that
            // ends; later ones go through the lock, and find they are late.
            self.take_batched(ctl, from.generation());
            self.batched.clear(to.generation());
        }
        match to.state() {
            State::Open | State::ForcedOpen => self.record_opening(at, &reason, message),
            State::Closed => {
                self.clear_windows(ctl, to.generation());
                ctl.period = nanos(self.config.reset());
            }
            State::MetricsOnly => {
                self.clear_windows(ctl, to.generation());
                ctl.dry_run = DryRun::new(&self.config);
            }
            _ => {}
        }
        self.share(ctl, to.state(), &reason);
        self.transitions.fetch_add(1, Ordering::Relaxed);
        self.dispatch.push(Transition {
            name: self.name.clone(),
            from: from.state(),
            to: to.state(),
            at: Duration::from_nanos(at),
            reason,
            dry_run: false,
        });
        true
    }

    /// A call in MetricsOnly: always admitted, in the role the dry run gives
    /// it (kept in the permit's generation). `None` if the breaker left
    /// MetricsOnly meanwhile.
    #[cold]
    fn dry_run_admit(&self) -> Option<Permit<'_>> {
        let mut ctl = self.lock();
        // Under the lock a MetricsOnly word does not change: only transitions
        // and dry-run moves (both under the lock) write it.
        let w = self.word();
        if w.state() != State::MetricsOnly {
            return None;
        }
        let now = self.now();
        let (mut role, moved) = ctl.dry_run.admit(now, &self.config);
        // Adaptive throttling decides in the dry run's Closed state as it
        // would live, from the same dice: a call it would drop runs, and
        // feeds nothing.
        if role == Role::Closed
            && self.adaptive
            && ctl
                .windows
                .as_mut()
                .is_some_and(|windows| windows.throttle(now, &self.random))
        {
            role = Role::Rejected;
        }
        let generation = match moved {
            Some(m) => self.dry_move(w, now, m).generation(),
            None => w.generation(),
        };
        if role == Role::Rejected {
            self.counters.bump(Count::WouldReject);
        }
        drop(ctl);
        self.deliver();
        Some(self.admit(role.mark(generation), Some(now)))
    }

    /// Reports a move of the dry run and starts a new period of the word, so
    /// that calls of the dry run's previous state end as stragglers.
    fn dry_move(&self, w: Word, at: u64, m: Move) -> Word {
        let next = w.next(State::MetricsOnly, 0);
        // Under the lock, nothing else writes a MetricsOnly word.
        let _ = self.cas(w, next);
        self.dispatch.push(Transition {
            name: self.name.clone(),
            from: m.from,
            to: m.to,
            at: Duration::from_nanos(at),
            reason: m.reason,
            dry_run: true,
        });
        next
    }

    /// An outcome in MetricsOnly, fed to the dry run. `false` if the period
    /// (of the breaker or of the dry run) is over.
    fn feed_dry_run(
        &self,
        generation: u32,
        failure: bool,
        slow: bool,
        message: impl FnOnce() -> String,
    ) -> bool {
        let mut guard = self.lock();
        let w = self.word();
        if !w.is_period(generation) || w.state() != State::MetricsOnly {
            return false;
        }
        let at = self.now();
        let ctl = &mut *guard;
        if Role::of(generation) == Role::Trial {
            // Decided too late: the dry run's trials expired first.
            if let Some(m) = ctl.dry_run.expire(at, &self.config) {
                self.dry_move(w, at, m);
                drop(guard);
                self.deliver();
                return false;
            }
        }
        let moved = match Role::of(generation) {
            Role::Rejected => None,
            Role::Trial => ctl.dry_run.trial_ended(at, failure, &self.config),
            Role::Closed => {
                let outcome = Outcome { at, failure, slow };
                let (run, trip) = decide_closed(
                    self.consecutive,
                    ctl.dry_run.run,
                    ctl.windows.as_mut(),
                    outcome,
                );
                ctl.dry_run.run = run;
                trip.map(|trip| ctl.dry_run.trip(at, trip.into()))
            }
        };
        let Some(m) = moved else { return true };
        if m.to == State::Closed || m.from == State::Closed {
            self.clear_windows(ctl, w.generation());
        }
        // The message of the failure is only kept for live openings.
        drop(message);
        self.dry_move(w, at, m);
        drop(guard);
        self.deliver();
        true
    }

    fn record_opening(&self, at: u64, reason: &Reason, message: Option<String>) {
        self.opened_at.store(at, Ordering::Relaxed);
        self.opening.open(OpenReason {
            reason: reason.clone(),
            at: Duration::from_nanos(at),
            last_failure: message.filter(|m| !m.is_empty()),
        });
    }

    /// Opens a Closed (or other) word for `reason`, with the open period the
    /// caller put in `ctl.period`.
    fn open(
        &self,
        ctl: &mut Control,
        from: Word,
        at: u64,
        reason: Reason,
        message: Option<String>,
    ) -> bool {
        self.transition(ctl, from, from.next(State::Open, 0), at, reason, message)
    }

    #[inline(never)]
    fn end(
        &self,
        generation: u32,
        ticket: Ticket,
        started: u64,
        failure: bool,
        message: impl FnOnce() -> String,
    ) -> Recorded {
        let tap = self.tap.get().filter(|_| ticket != Ticket::NONE);
        let now = (self.dated || tap.is_some()).then(|| self.now());
        let latency = match now {
            Some(now) if started != UNTIMED => Some(now.saturating_sub(started)),
            _ => None,
        };
        if let (Some(tap), Some(latency)) = (tap, latency) {
            tap.ended(ticket, latency, failure);
        }
        let slow = match (self.config.slow(), latency) {
            (Some(slow), Some(latency)) => latency > nanos(slow),
            _ => false,
        };
        if failure {
            self.counters.bump(Count::Failures);
            if let Some(link) = self.link.get() {
                if link.counts_failures()
                    && self.word().is_period(generation)
                    && self.word().is(State::Closed)
                {
                    link.failure();
                }
            }
        } else {
            self.counters.bump(Count::Successes);
        }
        if slow {
            self.counters.bump(Count::Slow);
        }
        let w = self.word();
        let current = w.is_period(generation)
            && match w.state() {
                // Undated outcomes (count windows only) carry time 0: their
                // windows never look at it.
                State::Closed if self.windowed => {
                    (!failure && !slow && self.batch_successes && self.batched.add(w.generation()))
                        || self.feed_windows(generation, failure, slow, now.unwrap_or(0), message)
                }
                State::Closed => self.feed_consecutive(generation, failure, message),
                State::HalfOpen => self.feed_trial(generation, failure, message),
                State::MetricsOnly => self.feed_dry_run(generation, failure, slow, message),
                _ => true,
            };
        Recorded {
            latency: latency.map(Duration::from_nanos),
            slow,
            straggler: !current,
        }
    }

    /// An outcome in Closed when only the consecutive policy is active: a
    /// lock-free update of the run in the word, and the lock only to trip.
    /// `false` if the period is over.
    #[inline]
    fn feed_consecutive(
        &self,
        generation: u32,
        failure: bool,
        message: impl FnOnce() -> String,
    ) -> bool {
        let mut ctl: Option<MutexGuard<'_, Control>> = None;
        let mut message = Some(message);
        loop {
            let w = self.word();
            if !w.is_period(generation) || w.state() != State::Closed {
                return false;
            }
            let (run, trip) = self.consecutive.record(w.aux(), failure);
            if trip.is_none() {
                // Only write when the run changes: a success on a clean run
                // writes nothing, so successes do not bounce the line.
                if run == w.aux() || self.cas(w, w.with_aux(run)) {
                    return true;
                }
                continue;
            }
            let Some(guard) = ctl.as_mut() else {
                ctl = Some(self.lock());
                continue;
            };
            let at = self.now();
            let reason = Reason::ConsecutiveFailures { failures: run };
            if self.open(guard, w, at, reason, message.take().map(|m| m())) {
                drop(ctl);
                self.deliver();
                return true;
            }
        }
    }

    /// An outcome in Closed with a windowed policy: every policy, in the order
    /// of SEMANTICS.md, under the lock.
    fn feed_windows(
        &self,
        generation: u32,
        failure: bool,
        slow: bool,
        at: u64,
        message: impl FnOnce() -> String,
    ) -> bool {
        let mut ctl = self.lock();
        let w = self.word();
        if !w.is_period(generation) || w.state() != State::Closed {
            return false;
        }
        self.take_batched(&mut ctl, w.generation());
        let outcome = Outcome { at, failure, slow };
        let (run, trip) = decide_closed(self.consecutive, w.aux(), ctl.windows.as_mut(), outcome);
        // Under the lock nothing else writes a Closed word, so these
        // compare-and-swaps cannot fail.
        match trip {
            Some(trip) => {
                let message = failure.then(message);
                self.open_for_window(ctl, w, at, trip, message);
            }
            None => {
                if run != w.aux() {
                    self.cas(w, w.with_aux(run));
                }
                if self.batch_successes && ctl.windows.as_ref().is_some_and(Windows::is_full) {
                    self.batched.window_full(w.generation());
                }
            }
        }
        true
    }

    /// Clears the policies' windows, and the successes batched for them, for
    /// the period `generation` that starts with them empty.
    fn clear_windows(&self, ctl: &mut Control, generation: u32) {
        if let Some(windows) = &mut ctl.windows {
            windows.clear();
        }
        if self.batch_successes {
            self.batched.clear(generation);
        }
    }

    /// Takes the successes batched for `generation` into the window. Under
    /// the lock, before anything else reads or feeds the window.
    #[inline]
    fn take_batched(&self, ctl: &mut Control, generation: u32) {
        if !self.batch_successes {
            return;
        }
        let count = self.batched.take(generation);
        if count > 0 {
            if let Some(windows) = &mut ctl.windows {
                windows.successes(count);
            }
        }
    }

    /// Opens a Closed word for a policy of `feed_windows`; releases the lock.
    #[cold]
    fn open_for_window(
        &self,
        mut ctl: MutexGuard<'_, Control>,
        w: Word,
        at: u64,
        trip: Trip,
        message: Option<String>,
    ) {
        // Count windows do not date their outcomes; the opening needs a time.
        let at = if self.dated { at } else { self.now() };
        let opened = self.open(&mut ctl, w, at, trip.into(), message);
        drop(ctl);
        if opened {
            self.deliver();
        }
    }

    /// A trial's outcome in HalfOpen. `false` if the period is over.
    fn feed_trial(&self, generation: u32, failure: bool, message: impl FnOnce() -> String) -> bool {
        let mut ctl: Option<MutexGuard<'_, Control>> = None;
        let mut message = Some(message);
        let mut reopened = None;
        if self.half_open_wait > 0 && self.trials_expired(generation) {
            return false;
        }
        loop {
            let w = self.word();
            if !w.is_period(generation) || w.state() != State::HalfOpen {
                return false;
            }
            let successes = w.trial_successes() + u32::from(!failure);
            if !failure && successes < self.config.success() {
                let in_flight = w.trials_in_flight().saturating_sub(1);
                if self.cas(w, w.with_aux(Word::trials(in_flight, successes))) {
                    self.give_back_trial(true);
                    return true;
                }
                continue;
            }
            let Some(guard) = ctl.as_mut() else {
                ctl = Some(self.lock());
                continue;
            };
            let at = self.now();
            let moved = if failure {
                // The lock is held from here on, so the period read once stays
                // the one to grow, however often the compare-and-swap retries.
                let period =
                    *reopened.get_or_insert_with(|| reopen_period(&self.config, guard.period));
                guard.period = period;
                let message = message.take().map(|m| m());
                self.open(guard, w, at, Reason::TrialFailed, message)
            } else {
                let reason = Reason::TrialsSucceeded { successes };
                self.transition(guard, w, w.next(State::Closed, 0), at, reason, None)
            };
            if moved {
                drop(ctl);
                self.deliver();
                return true;
            }
        }
    }

    fn cancel(&self, generation: u32, ticket: Ticket, started: u64) {
        self.counters.bump(Count::Cancelled);
        if let Some(tap) = self.tap.get().filter(|_| ticket != Ticket::NONE) {
            tap.cancelled(ticket, self.now().saturating_sub(started));
        }
        if Role::of(generation) == Role::Trial {
            // A dry run's trial: its permit goes back to the dry run.
            let mut ctl = self.lock();
            let w = self.word();
            if w.is_period(generation) && w.state() == State::MetricsOnly {
                ctl.dry_run.trial_cancelled();
            }
            return;
        }
        loop {
            let w = self.word();
            if !w.is_period(generation) || w.state() != State::HalfOpen {
                return;
            }
            let in_flight = w.trials_in_flight().saturating_sub(1);
            if self.cas(w, w.with_aux(Word::trials(in_flight, w.trial_successes()))) {
                self.give_back_trial(true);
                return;
            }
        }
    }

    fn act(&self, action: Action) {
        self.act_for(action, None);
    }

    /// An operator's action; `open_for`, with `Trip`, replaces `reset` for
    /// this one open period.
    fn act_for(&self, action: Action, open_for: Option<u64>) {
        let mut ctl = self.lock();
        let at = self.now();
        if let Some(tap) = self.tap.get() {
            tap.acted(at, action, open_for);
        }
        let reason = Reason::Manual(action);
        loop {
            let w = self.word();
            let target = match action {
                Action::Trip => State::Open,
                Action::ForceOpen => State::ForcedOpen,
                Action::Disable => State::Disabled,
                Action::Reset => State::Closed,
                Action::MetricsOnly => State::MetricsOnly,
            };
            if matches!(action, Action::Trip | Action::Reset) {
                ctl.period = nanos(self.config.reset());
            }
            if let (Action::Trip, Some(open_for)) = (action, open_for) {
                // Restored below, once the opening (and its sharing) used it:
                // backoff then grows from `reset`, as after `trip()`.
                ctl.period = open_for;
            }
            if w.state() == target {
                // No transition, but the action still takes effect.
                match action {
                    Action::Trip => {
                        self.open_until(at, ctl.period);
                        self.record_opening(at, &reason, None);
                    }
                    Action::Reset => {
                        self.clear_windows(&mut ctl, w.generation());
                        if w.aux() != 0 && !self.cas(w, w.with_aux(0)) {
                            continue;
                        }
                    }
                    _ => {}
                }
                // It takes effect in the other processes sharing the breaker too.
                self.share(&ctl, target, &reason);
                ctl.period = nanos(self.config.reset());
                return;
            }
            if self.transition(&mut ctl, w, w.next(target, 0), at, reason.clone(), None) {
                break;
            }
        }
        if open_for.is_some() {
            ctl.period = nanos(self.config.reset());
        }
        drop(ctl);
        self.deliver();
    }

    fn stats(&self) -> Stats {
        // Ended calls first: every call they count was admitted before, so
        // in_flight never comes out negative.
        let successes = self.counters.read(Count::Successes);
        let failures = self.counters.read(Count::Failures);
        let cancelled = self.counters.read(Count::Cancelled);
        let admitted = self.counters.read(Count::Admitted);
        let w = self.word();
        let rates = if self.windowed {
            let now = self.now();
            let mut ctl = self.lock();
            let w = self.word();
            if w.state() == State::Closed {
                self.take_batched(&mut ctl, w.generation());
            }
            ctl.windows.as_ref().and_then(|w| w.rates(now))
        } else {
            None
        };
        let opened_at = self.opened_at.load(Ordering::Relaxed);
        let dry_run = (w.state() == State::MetricsOnly).then(|| self.lock().dry_run.state);
        // In a dry run, adaptive throttling decides in the dry run's Closed
        // state: the probability is the one it draws against.
        let throttling = w.state() == State::Closed || dry_run == Some(State::Closed);
        let drop_probability = if self.adaptive && throttling {
            let now = self.now();
            self.lock()
                .windows
                .as_ref()
                .and_then(|w| w.drop_probability(now))
        } else {
            self.adaptive.then_some(0.0)
        };
        Stats {
            state: w.state(),
            admitted,
            rejected: self.counters.read(Count::Rejected),
            successes,
            failures,
            slow: self.counters.read(Count::Slow),
            cancelled,
            in_flight: admitted.saturating_sub(successes + failures + cancelled),
            consecutive_failures: if w.state() == State::Closed && self.consecutive.is_on() {
                w.aux()
            } else {
                0
            },
            failure_rate: rates
                .filter(|_| self.config.failure_rate().is_some())
                .map(|r| r.0),
            slow_call_rate: rates
                .filter(|_| self.config.slow_rate().is_some())
                .map(|r| r.1),
            opened_at: (opened_at != NEVER).then(|| Duration::from_nanos(opened_at)),
            transitions: self.transitions.load(Ordering::Relaxed),
            dry_run,
            would_reject: self.counters.read(Count::WouldReject),
            drop_probability,
            trials: self.counters.read(Count::Trials),
        }
    }
}
