//! The breaker as users hold it: construction, what it reports (state,
//! statistics, why it opened) and the ways to run a call through it. Each
//! decision is made elsewhere in this folder; this file only answers and
//! forwards.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use super::call_future::CallFuture;
use super::detours::TAPPED;
use super::environment::Environment;
use super::link::{Link, Remote};
use super::machine::{Control, Hot, Inner, NEVER};
use super::metrics_only::DryRun;
use super::permit::{FailOnUnwind, Permit};
use super::settings::SettingsCell;
use crate::clock::{Clock, MonotonicClock};
use crate::counter::{Count, Counters};
use crate::event::{Configured, Dispatch, Listeners, Transition};
use crate::opening::OpeningCell;
use crate::policy::{Batched, Windows, nanos};
use crate::reason::OpenReason;
use crate::state::Word;
use crate::sync::{AtomicU64, Mutex};
use crate::tap::Tap;
use crate::{Config, ConfigError, Error, State, Stats};

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
    pub(super) inner: Arc<Inner>,
}

impl Breaker {
    /// How many handles share this breaker (its `Arc`'s strong count): for
    /// tests of code that counts handles by hand.
    #[cfg(test)]
    pub(crate) fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

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
        let settings = SettingsCell::new(config);
        let detours = settings.get().detours();
        Breaker {
            inner: Arc::new(Inner {
                hot: Hot {
                    word: AtomicU64::new(Word::new(State::Closed, 0, 0).0),
                    deadline: AtomicU64::new(0),
                    since: AtomicU64::new(0),
                },
                batched: Batched::new(),
                random: crate::jitter::Jitter::from_entropy(),
                detours: AtomicU8::new(detours),
                tap: OnceLock::new(),
                name,
                settings,
                counters: Counters::new(),
                control: Mutex::new(Control {
                    period,
                    restart_period: false,
                    windows,
                    dry_run,
                }),
                opening,
                opened_at: AtomicU64::new(NEVER),
                ramp_from: AtomicU64::new(0),
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

    /// The configuration in force: the one it was created with, as changed
    /// by [`reconfigure`](Breaker::reconfigure) since.
    pub fn config(&self) -> &Config {
        &self.inner.settings().config
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

    /// The time on this breaker's clock, since the clock's epoch (the real
    /// clock: the first time any breaker of the process read it; a
    /// [`ManualClock`](crate::clock::ManualClock): zero). Every instant a
    /// breaker reports (`Stats::opened_at`, `OpenReason::at`,
    /// `Transition::at`) is on this clock.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.now())
    }

    /// Calls `listener` with every transition of this breaker, in order, once
    /// each. Listeners run on the thread that caused the transition, after the
    /// breaker's internal lock is released; a panic in one is contained.
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) {
        self.inner.listeners.add(Arc::new(listener));
    }

    /// Calls `listener` with every reconfiguration of this breaker that
    /// changed a value, in order with its transitions, once each, as
    /// [`on_transition`](Breaker::on_transition) does.
    pub fn on_configured(&self, listener: impl Fn(&Configured) + Send + Sync + 'static) {
        self.inner.listeners.add_configured(Arc::new(listener));
    }

    /// Changes the configuration of this live breaker: `patch` holds the
    /// attribute's keys (`"fail_max = 10, reset = 1m"`), set over the
    /// configuration in force and checked whole. An invalid result changes
    /// nothing and names the key. A valid one takes effect at once, without
    /// moving the state or ending the period, as SEMANTICS.md
    /// ("Reconfiguration") says: counts are kept where only a threshold
    /// changed, an open period keeps its end, calls in flight stay current.
    ///
    /// Returns the keys whose effective value changed, in the attribute's key
    /// order; when there are any, a [`Configured`] event is reported to
    /// tracing and to [`on_configured`](Breaker::on_configured) listeners.
    ///
    /// ```
    /// use breaker_core::{Breaker, Config};
    ///
    /// let breaker = Breaker::new("db", "fail_max = 5, reset = 30s".parse().unwrap());
    /// assert_eq!(breaker.reconfigure("fail_max = 10, reset = 30s"), Ok(vec!["fail_max"]));
    /// assert_eq!(breaker.config().fail_max(), Some(10));
    ///
    /// let refused = breaker.reconfigure("fail_max = 0").unwrap_err();
    /// assert_eq!(refused.field(), "fail_max");
    /// assert_eq!(breaker.config().fail_max(), Some(10), "unchanged");
    /// ```
    pub fn reconfigure(&self, patch: &str) -> Result<Vec<&'static str>, ConfigError> {
        self.reconfigure_with(|config| config.patched(patch))
    }

    /// Puts `config` in force whole, as [`reconfigure`](Breaker::reconfigure)
    /// does with a patch (the same rules; a key it leaves out is at its
    /// default, not kept).
    pub fn reconfigure_to(&self, config: Config) -> Vec<&'static str> {
        // A built `Config` is valid: nothing here can refuse it.
        self.reconfigure_with(|_| Ok::<_, ConfigError>(config))
            .unwrap_or_default()
    }

    /// Reconfigures with what `patch` makes of the configuration in force,
    /// under the breaker's lock (so no other change comes in between).
    pub(crate) fn reconfigure_with<E>(
        &self,
        patch: impl FnOnce(&Config) -> Result<Config, E>,
    ) -> Result<Vec<&'static str>, E> {
        self.inner.reconfigure(patch, true)
    }

    /// Reconfigures the breaker with `patch` (as [`reconfigure`](Breaker::reconfigure))
    /// on behalf of its shared-state store: a change another process made,
    /// which is applied and reported here but not sent back to the store.
    /// For [`Store`](crate::store::Store) implementations.
    pub fn adopt_config(&self, patch: &str) -> Result<Vec<&'static str>, ConfigError> {
        self.inner
            .reconfigure(|config| config.patched(patch), false)
    }

    /// Asks to run one call. `Ok` holds a permit: report the call's outcome
    /// with it, or drop it to cancel the call. `Err` is the rejection.
    #[inline]
    pub fn acquire(&self) -> Result<Permit<'_>, Error> {
        self.inner.acquire().map(Permit::anywhere)
    }

    /// [`acquire`](Breaker::acquire), for a caller that records the outcome
    /// on this thread, or calls `Permit::may_move` first: the permit counts
    /// a success on the stripe its admission found.
    #[inline(always)]
    pub(crate) fn acquire_here(&self) -> Result<Permit<'_>, Error> {
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
        let armed = FailOnUnwind(Some(self.acquire_here()?));
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
        let armed = FailOnUnwind(Some(self.acquire_here()?));
        let result = f();
        if let Some(permit) = armed.release() {
            permit.record_when(&result, is_failure);
        }
        result
    }

    /// Runs a future through the breaker with `is_failure` classifying its
    /// result, as [`call_when`](Breaker::call_when) does for a closure.
    pub fn call_async_when<T, E, Fut>(
        &self,
        is_failure: impl FnOnce(&Result<T, E>) -> bool,
        fut: Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        CallFuture::new(
            || self.acquire_here().map(Some),
            move |permit: Option<Permit<'_>>, result: Result<T, E>| {
                if let Some(permit) = permit {
                    permit.record_when(&result, is_failure);
                }
                result
            },
            fut,
        )
    }

    /// Runs a future through the breaker, as [`call`](Breaker::call) runs a
    /// closure. Dropping the returned future before it finishes cancels the
    /// call: it feeds no policy and gives its half-open permit back.
    pub fn call_async<T, E, Fut>(&self, fut: Fut) -> impl Future<Output = Result<T, E>>
    where
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + fmt::Display,
    {
        CallFuture::new(
            || self.acquire_here().map(Some),
            |permit: Option<Permit<'_>>, result: Result<T, E>| match permit {
                Some(permit) => permit.finish(result),
                None => result,
            },
            fut,
        )
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
    /// [`Reason::Remote`](crate::Reason::Remote), and is not shared back with the store. Entering or
    /// staying Open sets the open period to end `remote.remaining` from now.
    /// `HalfOpen` is never applied (each process enters it on its own). In-flight
    /// calls of the period this ends are stragglers. Returns whether the
    /// state changed.
    pub fn adopt(&self, remote: &Remote) -> bool {
        self.inner.adopt(remote)
    }

    /// The state as a store shares it: the state, and in Open the time left
    /// and the length of the open period.
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
    pub(crate) fn downgrade(&self) -> WeakBreaker {
        WeakBreaker(Arc::downgrade(&self.inner))
    }
}

/// A breaker held without keeping it alive.
#[derive(Clone)]
pub(crate) struct WeakBreaker(Weak<Inner>);

impl WeakBreaker {
    /// The breaker, if it still exists.
    pub(crate) fn upgrade(&self) -> Option<Breaker> {
        self.0.upgrade().map(|inner| Breaker { inner })
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .field("config", &self.inner.settings().config)
            .finish()
    }
}

impl Inner {
    pub(super) fn stats(&self) -> Stats {
        // Ended calls first: every call they count was admitted before, so
        // in_flight never comes out negative.
        let successes = self.counters.read(Count::Successes);
        let failures = self.counters.read(Count::Failures);
        let cancelled = self.counters.read(Count::Cancelled);
        let admitted = self.counters.read(Count::Admitted);
        let w = self.word();
        let settings = self.settings();
        let rates = if settings.windowed {
            let now = self.now();
            let mut ctl = self.lock();
            let w = self.word();
            if w.state() == State::Closed {
                self.take_batched(&mut ctl, w.generation());
            }
            ctl.windows.as_ref().map_or((None, None), |w| w.rates(now))
        } else {
            (None, None)
        };
        let opened_at = self.opened_at.load(Ordering::Relaxed);
        let dry_run = (w.state() == State::MetricsOnly).then(|| self.lock().dry_run.state);
        // In a dry run, adaptive throttling decides in the dry run's Closed
        // state: the probability is the one it draws against.
        let throttling = w.state() == State::Closed || dry_run == Some(State::Closed);
        let drop_probability = if settings.adaptive && throttling {
            let now = self.now();
            self.lock()
                .windows
                .as_ref()
                .and_then(|w| w.drop_probability(now))
        } else {
            settings.adaptive.then_some(0.0)
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
            consecutive_failures: if w.state() == State::Closed && settings.consecutive.is_on() {
                w.aux()
            } else {
                0
            },
            failure_rate: rates.0.filter(|_| settings.config.failure_rate().is_some()),
            slow_call_rate: rates.1.filter(|_| settings.config.slow_rate().is_some()),
            opened_at: (opened_at != NEVER).then(|| Duration::from_nanos(opened_at)),
            transitions: self.transitions.load(Ordering::Relaxed),
            dry_run,
            would_reject: self.counters.read(Count::WouldReject),
            drop_probability,
            ramp_share: (w.state() == State::Closed)
                .then(|| self.ramp_share(self.now(), settings.ramp))
                .flatten(),
            trials: self.counters.read(Count::Trials),
        }
    }
}
