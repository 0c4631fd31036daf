//! [`Config`]: a configuration that passed every rule, and what each part
//! of the runtime reads from it. It is only made by
//! [`ConfigBuilder::build`](super::ConfigBuilder::build) (or is the
//! default), so whoever holds one need not check it again.

use std::time::Duration;

use super::units::{Factor, Percent, Window};

/// A validated breaker configuration.
///
/// The default is the consecutive policy with `fail_max = 5`, `reset = 30s`
/// and `success = 2`, as pybreaker and resilience4j users expect.
///
/// ```
/// use std::time::Duration;
/// use breaker_core::Config;
///
/// let config = Config::builder()
///     .fail_max(5)
///     .reset(Duration::from_secs(30))
///     .success(2)
///     .build()
///     .unwrap();
/// assert_eq!(config.consecutive(), Some(5));
///
/// let err = Config::builder().failure_rate(150.0).build().unwrap_err();
/// assert_eq!(err.field(), "failure_rate");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub(super) fail_max: Option<u32>,
    pub(super) within: Option<Duration>,
    pub(super) failure_rate: Option<Percent>,
    pub(super) window: Window,
    pub(super) min_calls: Option<u32>,
    pub(super) slow: Option<Duration>,
    pub(super) slow_rate: Option<Percent>,
    pub(super) reset: Duration,
    pub(super) backoff: Option<Factor>,
    pub(super) reset_max: Option<Duration>,
    pub(super) success: u32,
    pub(super) half_open: Option<u32>,
    pub(super) timeout: Option<Duration>,
    pub(super) max_half_open_wait: Option<Duration>,
    pub(super) adaptive: Option<Factor>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fail_max: None,
            within: None,
            failure_rate: None,
            window: Window::default(),
            min_calls: None,
            slow: None,
            slow_rate: None,
            reset: Duration::from_secs(30),
            backoff: None,
            reset_max: None,
            success: 2,
            half_open: None,
            timeout: None,
            max_half_open_wait: None,
            adaptive: None,
        }
    }
}

impl Config {
    /// The consecutive policy's threshold when that policy is active: `fail_max`
    /// without `within`, or 5 when none of `fail_max` and `failure_rate` is given.
    pub fn consecutive(&self) -> Option<u32> {
        match (self.fail_max, self.within, self.failure_rate, self.adaptive) {
            (Some(n), None, _, _) => Some(n),
            (None, _, None, None) => Some(5),
            _ => None,
        }
    }

    /// The count-in-a-time-window policy, as `(fail_max, within)`.
    pub fn failures_within(&self) -> Option<(u32, Duration)> {
        Some((self.fail_max?, self.within?))
    }

    /// `fail_max` as given.
    pub fn fail_max(&self) -> Option<u32> {
        self.fail_max
    }

    /// `within` as given.
    pub fn within(&self) -> Option<Duration> {
        self.within
    }

    /// The failure-rate threshold.
    pub fn failure_rate(&self) -> Option<Percent> {
        self.failure_rate
    }

    /// The window of the rate policies (default: the last 100 calls).
    pub fn window(&self) -> Window {
        self.window
    }

    /// The outcomes a rate window must hold before it is evaluated: as given,
    /// else the count window's size, or 10 for a time window.
    pub fn min_calls(&self) -> u32 {
        self.min_calls.unwrap_or(match self.window {
            Window::Calls(k) => k,
            Window::Time(_) => 10,
        })
    }

    /// The latency above which a call is slow.
    pub fn slow(&self) -> Option<Duration> {
        self.slow
    }

    /// The slow-call-rate threshold.
    pub fn slow_rate(&self) -> Option<Percent> {
        self.slow_rate
    }

    /// How long the breaker stays Open before it lets a trial through.
    pub fn reset(&self) -> Duration {
        self.reset
    }

    /// The factor a failed trial multiplies the open period by.
    pub fn backoff(&self) -> Option<Factor> {
        self.backoff
    }

    /// The cap on the open period under backoff.
    pub fn reset_max(&self) -> Option<Duration> {
        self.reset_max
    }

    /// Successful trials that close the breaker from HalfOpen.
    pub fn success(&self) -> u32 {
        self.success
    }

    /// Trials allowed in flight at once in HalfOpen (default: `success`).
    pub fn half_open(&self) -> u32 {
        self.half_open.unwrap_or(self.success)
    }

    /// The time after which a guarded async call counts as a failure.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// `adaptive = K`: client-side throttling with this K (see the `policy`
    /// docs in docs/semantics.md): a call is dropped with probability
    /// `max(0, (R - K*A) / (R + 1))` over the adaptive window.
    pub fn adaptive(&self) -> Option<Factor> {
        self.adaptive
    }

    /// The window of adaptive throttling: the time `window` when given, else
    /// 10 s. `None` without `adaptive`.
    pub fn adaptive_window(&self) -> Option<Duration> {
        self.adaptive?;
        Some(match self.window {
            Window::Time(w) => w,
            Window::Calls(_) => Duration::from_secs(10),
        })
    }

    /// How long a half-open breaker waits for its trials to decide before it
    /// opens again (none: it waits as long as they take).
    pub fn max_half_open_wait(&self) -> Option<Duration> {
        self.max_half_open_wait
    }

    /// Whether any rate policy (failure rate or slow-call rate) is active.
    pub fn has_rate_policy(&self) -> bool {
        self.failure_rate.is_some() || self.slow_rate.is_some()
    }
}
