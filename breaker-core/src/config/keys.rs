//! Every key of a configuration, from what was given to what the runtime
//! reads, in one place: the key names and the attribute's typed [`Value`],
//! the builder's field for each value as given ([`ConfigBuilder`]), setting
//! a key by name (the attribute's typed values and text), the rules
//! [`build`](ConfigBuilder::build) checks, and the validated [`Config`] with
//! what each part of the runtime reads from it. A `Config` is only made by
//! `build` (the default is what a builder given nothing builds), so whoever
//! holds one need not check it again.
//!
//! Building in code, one typed method a key, is `builder.rs`; a whole
//! configuration as text is `text.rs`.

use std::time::Duration;

use super::error::ConfigError;
use super::limits::{MAX_BACKOFF, MAX_COUNT, MAX_DURATION, MAX_TRIALS};
use super::units::{Factor, Percent, Window};
use crate::duration::parse_nanos;

/// Every key a breaker can be configured with, in the order of SEMANTICS.md.
pub const KEYS: [&str; 16] = breaker_vocab::keys::CONFIG_KEYS;

/// A value of one of [`KEYS`] as the attribute wrote it, already in the type
/// the key takes: the attribute's expansion hands it to the runtime as is
/// (`__private::Site`), so nothing it wrote is read back from text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A whole number: `fail_max`, `min_calls`, `success`, `half_open`, or a
    /// count `window`.
    Count(u32),
    /// A duration in nanoseconds: `within`, `slow`, `reset`, `reset_max`,
    /// `timeout`, `max_half_open_wait`, or a time `window`.
    Nanos(u64),
    /// A percentage in hundredths: `failure_rate`, `slow_rate`.
    Hundredths(u32),
    /// A factor in millionths: `backoff`, `adaptive`.
    Millionths(u64),
}

/// The known key closest to `given`, if one is close enough to be a typo.
pub fn suggest(given: &str) -> Option<&'static str> {
    breaker_vocab::suggest::config_key(given)
}

/// A value as given to the builder, checked only by [`ConfigBuilder::build`].
#[derive(Clone, Debug, Default)]
pub(super) enum Given<T> {
    #[default]
    Absent,
    Value(T),
    Invalid(String),
}

impl<T: Copy> Given<T> {
    pub(super) fn get(&self, field: &'static str) -> Result<Option<T>, ConfigError> {
        match self {
            Given::Absent => Ok(None),
            Given::Value(v) => Ok(Some(*v)),
            Given::Invalid(message) => Err(ConfigError::new(field, message.clone())),
        }
    }
}

impl<T> Given<T> {
    pub(super) fn of(value: Option<T>) -> Self {
        value.map_or(Given::Absent, Given::Value)
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) checks every rule and
/// names the first field that breaks one.
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    pub(super) fail_max: Given<u32>,
    pub(super) within: Given<Duration>,
    pub(super) failure_rate: Given<Percent>,
    pub(super) window: Given<Window>,
    pub(super) min_calls: Given<u32>,
    pub(super) slow: Given<Duration>,
    pub(super) slow_rate: Given<Percent>,
    pub(super) reset: Given<Duration>,
    pub(super) backoff: Given<Factor>,
    pub(super) reset_max: Given<Duration>,
    pub(super) success: Given<u32>,
    pub(super) half_open: Given<u32>,
    pub(super) timeout: Given<Duration>,
    pub(super) max_half_open_wait: Given<Duration>,
    pub(super) adaptive: Given<Factor>,
    pub(super) ramp: Given<Duration>,
}

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
    pub(super) ramp: Option<Duration>,
}

/// `reset` when none is given.
const DEFAULT_RESET: Duration = Duration::from_secs(30);
/// `success` when none is given.
const DEFAULT_SUCCESS: u32 = 2;

impl Default for Config {
    /// What a builder given no key builds: the consecutive policy with
    /// `fail_max = 5`, `reset = 30s` and `success = 2`.
    fn default() -> Self {
        ConfigBuilder::default()
            .build()
            .expect("the defaults follow every rule")
    }
}

impl ConfigBuilder {
    /// Sets `key` to a value the attribute wrote; [`build`](Self::build)
    /// checks it as any other. A key that does not take this kind of value is
    /// refused here.
    pub(crate) fn set_value(mut self, key: &str, value: Value) -> Result<Self, ConfigError> {
        let nanos = Duration::from_nanos;
        let percent = |h: u32| {
            if (1..=10_000).contains(&h) {
                Given::Value(Percent(h))
            } else {
                Given::Invalid(format!(
                    "must be a percentage in (0, 100] with at most two decimals (got {h} hundredths)"
                ))
            }
        };
        let factor = |m: u64| {
            if (1_000_000..=MAX_BACKOFF as u64 * 1_000_000).contains(&m) {
                Given::Value(Factor(m))
            } else {
                Given::Invalid(format!(
                    "must be a factor from 1 to {MAX_BACKOFF} with at most six decimals (got {m} millionths)"
                ))
            }
        };
        match (key, value) {
            ("fail_max", Value::Count(n)) => self.fail_max = Given::Value(n),
            ("within", Value::Nanos(ns)) => self.within = Given::Value(nanos(ns)),
            ("failure_rate", Value::Hundredths(h)) => self.failure_rate = percent(h),
            ("window", Value::Count(k)) => self.window = Given::Value(Window::Calls(k)),
            ("window", Value::Nanos(ns)) => self.window = Given::Value(Window::Time(nanos(ns))),
            ("min_calls", Value::Count(n)) => self.min_calls = Given::Value(n),
            ("slow", Value::Nanos(ns)) => self.slow = Given::Value(nanos(ns)),
            ("slow_rate", Value::Hundredths(h)) => self.slow_rate = percent(h),
            ("reset", Value::Nanos(ns)) => self.reset = Given::Value(nanos(ns)),
            ("backoff", Value::Millionths(m)) => self.backoff = factor(m),
            ("reset_max", Value::Nanos(ns)) => self.reset_max = Given::Value(nanos(ns)),
            ("success", Value::Count(n)) => self.success = Given::Value(n),
            ("half_open", Value::Count(n)) => self.half_open = Given::Value(n),
            ("timeout", Value::Nanos(ns)) => self.timeout = Given::Value(nanos(ns)),
            ("max_half_open_wait", Value::Nanos(ns)) => {
                self.max_half_open_wait = Given::Value(nanos(ns))
            }
            ("adaptive", Value::Millionths(m)) => self.adaptive = factor(m),
            ("ramp", Value::Nanos(ns)) => self.ramp = Given::Value(nanos(ns)),
            _ => {
                return Err(ConfigError::new(
                    key.to_owned(),
                    format!("does not take {value:?}"),
                ));
            }
        }
        Ok(self)
    }

    /// Sets a key from text, as written in a trace, a config file or an
    /// environment variable: `set("fail_max", "5")`, `set("reset", "1m30s")`,
    /// `set("window", "20")` or `set("window", "10s")`.
    ///
    /// ```
    /// let config = breaker_core::Config::builder()
    ///     .set("failure_rate", "50").unwrap()
    ///     .set("window", "10s").unwrap()
    ///     .build().unwrap();
    /// assert_eq!(config.min_calls(), 10);
    /// let err = breaker_core::Config::builder().set("fail_mx", "5").unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `fail_mx`: unknown key; did you mean `fail_max`?");
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Result<Self, ConfigError> {
        let value = value.trim();
        let key_static = KEYS.iter().copied().find(|k| *k == key);
        let Some(key) = key_static else {
            let message = match suggest(key) {
                Some(near) => format!("unknown key; did you mean `{near}`?"),
                None => format!("unknown key; expected one of {}", KEYS.join(", ")),
            };
            return Err(ConfigError::new(key.to_owned(), message));
        };
        let count = |value: &str| -> Result<u32, ConfigError> {
            value.parse::<u32>().map_err(|_| {
                ConfigError::new(key, format!("expected a whole number, got `{value}`"))
            })
        };
        let duration = |value: &str| -> Result<Duration, ConfigError> {
            parse_nanos(value)
                .map(Duration::from_nanos)
                .map_err(|e| ConfigError::new(key, e.message))
        };
        let pct = |value: &str| -> Result<Percent, ConfigError> {
            Percent::parse(value).ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!(
                        "must be a percentage in (0, 100] with at most two decimals, got `{value}`"
                    ),
                )
            })
        };
        match key {
            "fail_max" => self.fail_max = Given::Value(count(value)?),
            "within" => self.within = Given::Value(duration(value)?),
            "failure_rate" => self.failure_rate = Given::Value(pct(value)?),
            "window" => {
                self.window = Given::Value(if value.bytes().all(|b| b.is_ascii_digit()) {
                    Window::Calls(count(value)?)
                } else {
                    Window::Time(duration(value).map_err(|_| {
                        ConfigError::new(
                            key,
                            format!(
                                "expected a call count (`100`) or a duration (`10s`), got `{value}`"
                            ),
                        )
                    })?)
                })
            }
            "min_calls" => self.min_calls = Given::Value(count(value)?),
            "slow" => self.slow = Given::Value(duration(value)?),
            "slow_rate" => self.slow_rate = Given::Value(pct(value)?),
            "reset" => self.reset = Given::Value(duration(value)?),
            "backoff" | "adaptive" => {
                let parsed = Given::Value(Factor::parse(value).ok_or_else(|| {
                    ConfigError::new(
                        key,
                        format!(
                            "must be a factor from 1 to {MAX_BACKOFF} with at most six decimals, got `{value}`"
                        ),
                    )
                })?);
                if key == "backoff" {
                    self.backoff = parsed;
                } else {
                    self.adaptive = parsed;
                }
            }
            "reset_max" => self.reset_max = Given::Value(duration(value)?),
            "success" => self.success = Given::Value(count(value)?),
            "half_open" => self.half_open = Given::Value(count(value)?),
            "timeout" => self.timeout = Given::Value(duration(value)?),
            "max_half_open_wait" => self.max_half_open_wait = Given::Value(duration(value)?),
            "ramp" => self.ramp = Given::Value(duration(value)?),
            _ => {
                return Err(ConfigError::new(
                    key,
                    "is not supported by this version of breaker-core",
                ));
            }
        }
        Ok(self)
    }

    /// Checks every rule and returns the configuration, or the first mistake.
    pub fn build(self) -> Result<Config, ConfigError> {
        let fail_max = self.fail_max.get("fail_max")?;
        let within = self.within.get("within")?;
        let failure_rate = self.failure_rate.get("failure_rate")?;
        let window_given = self.window.get("window")?;
        let min_calls = self.min_calls.get("min_calls")?;
        let slow = self.slow.get("slow")?;
        let slow_rate = self.slow_rate.get("slow_rate")?;
        let reset = self.reset.get("reset")?.unwrap_or(DEFAULT_RESET);
        let backoff = self.backoff.get("backoff")?;
        let reset_max = self.reset_max.get("reset_max")?;
        let success = self.success.get("success")?.unwrap_or(DEFAULT_SUCCESS);
        let half_open = self.half_open.get("half_open")?;
        let timeout = self.timeout.get("timeout")?;
        let max_half_open_wait = self.max_half_open_wait.get("max_half_open_wait")?;
        let adaptive = self.adaptive.get("adaptive")?;
        let ramp = self.ramp.get("ramp")?;

        if let Some(n) = fail_max {
            check_count("fail_max", n, MAX_COUNT)?;
        }
        if let Some(w) = within {
            check_duration("within", w)?;
            if fail_max.is_none() {
                return Err(ConfigError::new(
                    "within",
                    "needs `fail_max`: `fail_max = N, within = W` opens after N failures within W",
                ));
            }
        }
        let has_rate = failure_rate.is_some() || slow_rate.is_some();
        if let Some(window) = window_given {
            match window {
                Window::Calls(k) => check_count("window", k, MAX_COUNT)?,
                Window::Time(w) => check_duration("window", w)?,
            }
            if !has_rate && adaptive.is_none() {
                return Err(ConfigError::new(
                    "window",
                    "is the window of `failure_rate`, `slow_rate` or `adaptive`; give one of them",
                ));
            }
            if let (Some(_), Window::Calls(k)) = (adaptive, window) {
                return Err(ConfigError::new(
                    "window",
                    format!(
                        "`adaptive` counts requests over a time: give a duration (`window = 10s`), got {k} calls"
                    ),
                ));
            }
        }
        let window = window_given.unwrap_or_default();
        if let Some(m) = min_calls {
            check_count("min_calls", m, MAX_COUNT)?;
            if !has_rate {
                return Err(ConfigError::new(
                    "min_calls",
                    "applies to `failure_rate` or `slow_rate`; give one of them",
                ));
            }
            if let Window::Calls(k) = window {
                if m > k {
                    return Err(ConfigError::new(
                        "min_calls",
                        format!("must be at most the count window ({k}), got {m}"),
                    ));
                }
            }
        }
        if let Some(s) = slow {
            check_duration("slow", s)?;
        }
        if slow_rate.is_some() && slow.is_none() {
            return Err(ConfigError::new(
                "slow_rate",
                "needs `slow`, the latency above which a call is slow",
            ));
        }
        check_duration("reset", reset)?;
        if let Some(max) = reset_max {
            check_duration("reset_max", max)?;
            if backoff.is_none() {
                return Err(ConfigError::new(
                    "reset_max",
                    "caps `backoff`; give `backoff` too",
                ));
            }
            if max < reset {
                return Err(ConfigError::new(
                    "reset_max",
                    format!(
                        "must be at least `reset` ({}), got {}",
                        crate::format_duration(reset),
                        crate::format_duration(max)
                    ),
                ));
            }
        }
        check_count("success", success, MAX_TRIALS)?;
        if let Some(h) = half_open {
            check_count("half_open", h, MAX_TRIALS)?;
        }
        if let Some(t) = timeout {
            check_duration("timeout", t)?;
        }
        if let Some(w) = max_half_open_wait {
            check_duration("max_half_open_wait", w)?;
        }
        if let Some(d) = ramp {
            check_duration("ramp", d)?;
            if adaptive.is_some() {
                return Err(ConfigError::new(
                    "ramp",
                    "does not go with `adaptive`, which already admits a share of calls after a recovery; give one of them",
                ));
            }
        }
        Ok(Config {
            fail_max,
            within,
            failure_rate,
            window,
            min_calls,
            slow,
            slow_rate,
            reset,
            backoff,
            reset_max,
            success,
            half_open,
            timeout,
            max_half_open_wait,
            adaptive,
            ramp,
        })
    }
}

fn check_count(field: &'static str, n: u32, max: u32) -> Result<(), ConfigError> {
    if (1..=max).contains(&n) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be between 1 and {max}, got {n}"),
        ))
    }
}

fn check_duration(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() || d > MAX_DURATION {
        Err(ConfigError::new(
            field,
            format!(
                "must be between 1ns and 365 days, got {}",
                crate::format_duration(d)
            ),
        ))
    } else {
        Ok(())
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

    /// Slow start after recovery: how long a breaker that closed on its
    /// trials takes to admit every call again (from a tenth at once; see
    /// docs/semantics.md).
    pub fn ramp(&self) -> Option<Duration> {
        self.ramp
    }

    /// Whether any rate policy (failure rate or slow-call rate) is active.
    pub fn has_rate_policy(&self) -> bool {
        self.failure_rate.is_some() || self.slow_rate.is_some()
    }
}
