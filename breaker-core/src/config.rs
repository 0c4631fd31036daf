//! What a breaker is configured with, built in code or from text, and checked
//! before any breaker uses it.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use breaker_vocab::duration::decimal_lenient;
use breaker_vocab::keys;

use crate::duration::parse_nanos;

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::from_nanos(keys::MAX_DURATION_NANOS);
/// The largest `fail_max`, count `window` and `min_calls`.
pub const MAX_COUNT: u32 = keys::MAX_COUNT;
/// The largest `success` and `half_open`.
pub const MAX_TRIALS: u32 = keys::MAX_TRIALS;
/// The largest `backoff` factor.
pub const MAX_BACKOFF: f64 = keys::MAX_FACTOR as f64;

/// A percentage in (0, 100] with at most two decimals, held exactly in hundredths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u32);

impl Percent {
    /// The percentage as hundredths of a percent (`50%` is 5000).
    pub fn hundredths(self) -> u32 {
        self.0
    }

    fn from_f64(value: f64) -> Option<Percent> {
        if !value.is_finite() || value <= 0.0 || value > 100.0 {
            return None;
        }
        let scaled = value * 100.0;
        let rounded = scaled.round();
        ((scaled - rounded).abs() < 1e-6).then_some(Percent(rounded as u32))
    }

    fn parse(text: &str) -> Option<Percent> {
        let hundredths = decimal_lenient(text, 100)?;
        (1..=10_000)
            .contains(&hundredths)
            .then_some(Percent(hundredths as u32))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        match frac {
            0 => write!(f, "{whole}"),
            _ if frac % 10 == 0 => write!(f, "{whole}.{}", frac / 10),
            _ => write!(f, "{whole}.{frac:02}"),
        }
    }
}

/// A backoff factor >= 1, held exactly in millionths so that
/// `period * factor` truncates the same way everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Factor(u64);

impl Factor {
    /// The factor in millionths (`1.5` is 1_500_000).
    pub fn millionths(self) -> u64 {
        self.0
    }

    /// `nanos * factor`, truncated to whole nanoseconds, saturating.
    pub fn apply(self, nanos: u64) -> u64 {
        let product = u128::from(nanos) * u128::from(self.0) / 1_000_000;
        u64::try_from(product).unwrap_or(u64::MAX)
    }

    fn from_f64(value: f64) -> Option<Factor> {
        if !value.is_finite() || !(1.0..=MAX_BACKOFF).contains(&value) {
            return None;
        }
        let scaled = value * 1e6;
        let rounded = scaled.round();
        ((scaled - rounded).abs() < 1e-3).then_some(Factor(rounded as u64))
    }

    fn parse(text: &str) -> Option<Factor> {
        let millionths = decimal_lenient(text, 1_000_000)?;
        (1_000_000..=(MAX_BACKOFF as u64) * 1_000_000)
            .contains(&millionths)
            .then_some(Factor(millionths))
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// The window the rate policies look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last `n` outcomes of the current Closed period.
    Calls(u32),
    /// The outcomes of the current Closed period that ended within this long.
    Time(Duration),
}

impl Default for Window {
    fn default() -> Self {
        Window::Calls(100)
    }
}

/// A configuration mistake: which field, and what would be right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: Cow<'static, str>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The key at fault (`fail_max`, `slow_rate`, ...), or the unknown key given.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong and what is allowed, without the field name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every key a breaker can be configured with, in the order of SEMANTICS.md.
pub const KEYS: [&str; 15] = keys::CONFIG_KEYS;

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
    fail_max: Option<u32>,
    within: Option<Duration>,
    failure_rate: Option<Percent>,
    window: Window,
    min_calls: Option<u32>,
    slow: Option<Duration>,
    slow_rate: Option<Percent>,
    reset: Duration,
    backoff: Option<Factor>,
    reset_max: Option<Duration>,
    success: u32,
    half_open: Option<u32>,
    timeout: Option<Duration>,
    max_half_open_wait: Option<Duration>,
    adaptive: Option<Factor>,
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
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

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

    /// The configuration written as the attribute's keys, `key = value` joined
    /// by `, ` (only the keys that differ from the defaults).
    pub fn to_keys(&self) -> String {
        let mut keys: Vec<String> = Vec::new();
        let d = crate::format_duration;
        if let Some(n) = self.fail_max {
            keys.push(format!("fail_max = {n}"));
        }
        if let Some(w) = self.within {
            keys.push(format!("within = {}", d(w)));
        }
        if let Some(p) = self.failure_rate {
            keys.push(format!("failure_rate = {p}"));
        }
        if self.window != Window::default() {
            match self.window {
                Window::Calls(k) => keys.push(format!("window = {k}")),
                Window::Time(w) => keys.push(format!("window = {}", d(w))),
            }
        }
        if let Some(m) = self.min_calls {
            keys.push(format!("min_calls = {m}"));
        }
        if let Some(s) = self.slow {
            keys.push(format!("slow = {}", d(s)));
        }
        if let Some(p) = self.slow_rate {
            keys.push(format!("slow_rate = {p}"));
        }
        if self.reset != Duration::from_secs(30) {
            keys.push(format!("reset = {}", d(self.reset)));
        }
        if let Some(f) = self.backoff {
            keys.push(format!("backoff = {f}"));
        }
        if let Some(m) = self.reset_max {
            keys.push(format!("reset_max = {}", d(m)));
        }
        if self.success != 2 {
            keys.push(format!("success = {}", self.success));
        }
        if let Some(h) = self.half_open {
            keys.push(format!("half_open = {h}"));
        }
        if let Some(t) = self.timeout {
            keys.push(format!("timeout = {}", d(t)));
        }
        if let Some(w) = self.max_half_open_wait {
            keys.push(format!("max_half_open_wait = {}", d(w)));
        }
        if let Some(k) = self.adaptive {
            keys.push(format!("adaptive = {k}"));
        }
        keys.join(", ")
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_keys())
    }
}

impl std::str::FromStr for Config {
    type Err = ConfigError;

    /// Reads `key = value` pairs separated by commas or whitespace, as
    /// [`Config::to_keys`] writes them and as an operator types them:
    /// `"fail_max = 5, reset = 30s"` or `"fail_max=5 reset=30s"`.
    ///
    /// ```
    /// let config: breaker_core::Config = "fail_max = 3, reset = 1m30s".parse().unwrap();
    /// assert_eq!(config.fail_max(), Some(3));
    /// assert_eq!(config.to_keys().parse::<breaker_core::Config>(), Ok(config));
    /// ```
    fn from_str(text: &str) -> Result<Config, ConfigError> {
        let mut builder = Config::builder();
        let mut seen: Vec<&str> = Vec::new();
        // Split on commas and whitespace, then glue `key`, `=`, `value` back
        // together so that both `a=1` and `a = 1` read the same.
        let tokens: Vec<&str> = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        let mut i = 0;
        while i < tokens.len() {
            let (key, value, used) = match tokens[i].split_once('=') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => (k, v, 1),
                Some((k, "")) if !k.is_empty() => (k, *tokens.get(i + 1).unwrap_or(&""), 2),
                Some(_) => {
                    return Err(ConfigError::new(
                        tokens[i].to_owned(),
                        "expected `key = value`",
                    ));
                }
                None => match (tokens.get(i + 1), tokens.get(i + 2)) {
                    (Some(&"="), Some(v)) => (tokens[i], *v, 3),
                    (Some(t), _) if t.starts_with('=') && t.len() > 1 => (tokens[i], &t[1..], 2),
                    _ => {
                        return Err(ConfigError::new(
                            tokens[i].to_owned(),
                            "expected `key = value`",
                        ));
                    }
                },
            };
            if value.is_empty() {
                return Err(ConfigError::new(
                    key.to_owned(),
                    "expected a value after `=`",
                ));
            }
            if seen.contains(&key) {
                return Err(ConfigError::new(key.to_owned(), "is given twice"));
            }
            seen.push(key);
            builder = builder.set(key, value)?;
            i += used;
        }
        builder.build()
    }
}

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

/// A value as given to the builder, checked only by [`ConfigBuilder::build`].
#[derive(Clone, Debug, Default)]
enum Given<T> {
    #[default]
    Absent,
    Value(T),
    Invalid(String),
}

impl<T: Copy> Given<T> {
    fn get(&self, field: &'static str) -> Result<Option<T>, ConfigError> {
        match self {
            Given::Absent => Ok(None),
            Given::Value(v) => Ok(Some(*v)),
            Given::Invalid(message) => Err(ConfigError::new(field, message.clone())),
        }
    }
}

/// Builds a [`Config`]; [`build`](ConfigBuilder::build) checks every rule and
/// names the first field that breaks one.
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    fail_max: Given<u32>,
    within: Given<Duration>,
    failure_rate: Given<Percent>,
    window: Given<Window>,
    min_calls: Given<u32>,
    slow: Given<Duration>,
    slow_rate: Given<Percent>,
    reset: Given<Duration>,
    backoff: Given<Factor>,
    reset_max: Given<Duration>,
    success: Given<u32>,
    half_open: Given<u32>,
    timeout: Given<Duration>,
    max_half_open_wait: Given<Duration>,
    adaptive: Given<Factor>,
}

fn percent(value: f64) -> Given<Percent> {
    match Percent::from_f64(value) {
        Some(p) => Given::Value(p),
        None => Given::Invalid(format!(
            "must be a percentage in (0, 100] with at most two decimals (got {value})"
        )),
    }
}

fn factor(value: f64) -> Given<Factor> {
    match Factor::from_f64(value) {
        Some(f) => Given::Value(f),
        None => Given::Invalid(format!(
            "must be a factor from 1 to {MAX_BACKOFF} with at most six decimals (got {value})"
        )),
    }
}

impl<T> Given<T> {
    fn of(value: Option<T>) -> Self {
        value.map_or(Given::Absent, Given::Value)
    }
}

impl From<&Config> for ConfigBuilder {
    /// A builder holding `config`'s values, to change some keys of a
    /// configuration and check it again (operator overrides do this).
    ///
    /// ```
    /// use breaker_core::{Config, ConfigBuilder};
    ///
    /// let base: Config = "fail_max = 3, reset = 10s".parse().unwrap();
    /// let changed = ConfigBuilder::from(&base).set("fail_max", "10").unwrap().build().unwrap();
    /// assert_eq!(changed.to_keys(), "fail_max = 10, reset = 10s");
    /// assert_eq!(ConfigBuilder::from(&base).build(), Ok(base));
    /// ```
    fn from(config: &Config) -> Self {
        ConfigBuilder {
            fail_max: Given::of(config.fail_max),
            within: Given::of(config.within),
            failure_rate: Given::of(config.failure_rate),
            // The window is only a key when a rate policy reads it.
            window: if config.has_rate_policy() {
                Given::Value(config.window)
            } else {
                Given::Absent
            },
            min_calls: Given::of(config.min_calls),
            slow: Given::of(config.slow),
            slow_rate: Given::of(config.slow_rate),
            reset: Given::Value(config.reset),
            backoff: Given::of(config.backoff),
            reset_max: Given::of(config.reset_max),
            success: Given::Value(config.success),
            half_open: Given::of(config.half_open),
            timeout: Given::of(config.timeout),
            max_half_open_wait: Given::of(config.max_half_open_wait),
            adaptive: Given::of(config.adaptive),
        }
    }
}

impl ConfigBuilder {
    /// Consecutive failures that open the breaker; with `within`, failures
    /// within that time. 1..=1_000_000.
    pub fn fail_max(mut self, n: u32) -> Self {
        self.fail_max = Given::Value(n);
        self
    }

    /// Turns `fail_max` into "this many failures within this long".
    pub fn within(mut self, window: Duration) -> Self {
        self.within = Given::Value(window);
        self
    }

    /// Failure rate (percent, (0, 100]) over the window that opens the breaker.
    pub fn failure_rate(mut self, percent_value: f64) -> Self {
        self.failure_rate = percent(percent_value);
        self
    }

    /// A count window: the rate policies look at the last `n` outcomes.
    pub fn window_calls(mut self, n: u32) -> Self {
        self.window = Given::Value(Window::Calls(n));
        self
    }

    /// A time window: the rate policies look at the outcomes that ended within `w`.
    pub fn window_time(mut self, w: Duration) -> Self {
        self.window = Given::Value(Window::Time(w));
        self
    }

    /// Outcomes the window must hold before a rate is evaluated.
    pub fn min_calls(mut self, n: u32) -> Self {
        self.min_calls = Given::Value(n);
        self
    }

    /// Calls slower than this count as slow.
    pub fn slow(mut self, latency: Duration) -> Self {
        self.slow = Given::Value(latency);
        self
    }

    /// Slow-call rate (percent) over the window that opens the breaker; needs `slow`.
    pub fn slow_rate(mut self, percent_value: f64) -> Self {
        self.slow_rate = percent(percent_value);
        self
    }

    /// How long the breaker stays Open (default 30 s).
    pub fn reset(mut self, period: Duration) -> Self {
        self.reset = Given::Value(period);
        self
    }

    /// Multiplies the open period by this factor each time a trial fails.
    pub fn backoff(mut self, factor_value: f64) -> Self {
        self.backoff = factor(factor_value);
        self
    }

    /// Adaptive throttling with this K (1 to 1000; 1.5 to 2 is usual): over
    /// the time `window` (default 10 s), with R requests and A successes, a
    /// call is dropped with probability `max(0, (R - K*A) / (R + 1))`.
    pub fn adaptive(mut self, k: f64) -> Self {
        self.adaptive = factor(k);
        self
    }

    /// Caps the open period under `backoff`.
    pub fn reset_max(mut self, cap: Duration) -> Self {
        self.reset_max = Given::Value(cap);
        self
    }

    /// Successful trials that close the breaker (default 2).
    pub fn success(mut self, n: u32) -> Self {
        self.success = Given::Value(n);
        self
    }

    /// Trials allowed in flight at once in HalfOpen (default: `success`).
    pub fn half_open(mut self, n: u32) -> Self {
        self.half_open = Given::Value(n);
        self
    }

    /// A half-open breaker whose trials have not all decided this long after
    /// it entered HalfOpen opens again, as after a failed trial: no breaker
    /// stays half-open because a trial hangs.
    pub fn max_half_open_wait(mut self, wait: Duration) -> Self {
        self.max_half_open_wait = Given::Value(wait);
        self
    }

    /// A guarded async call still running after this long fails as a timeout.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Given::Value(after);
        self
    }

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
        let defaults = Config::default();
        let fail_max = self.fail_max.get("fail_max")?;
        let within = self.within.get("within")?;
        let failure_rate = self.failure_rate.get("failure_rate")?;
        let window_given = self.window.get("window")?;
        let min_calls = self.min_calls.get("min_calls")?;
        let slow = self.slow.get("slow")?;
        let slow_rate = self.slow_rate.get("slow_rate")?;
        let reset = self.reset.get("reset")?.unwrap_or(defaults.reset);
        let backoff = self.backoff.get("backoff")?;
        let reset_max = self.reset_max.get("reset_max")?;
        let success = self.success.get("success")?.unwrap_or(defaults.success);
        let half_open = self.half_open.get("half_open")?;
        let timeout = self.timeout.get("timeout")?;
        let max_half_open_wait = self.max_half_open_wait.get("max_half_open_wait")?;
        let adaptive = self.adaptive.get("adaptive")?;

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

/// The known key closest to `given`, if one is close enough to be a typo.
pub fn suggest(given: &str) -> Option<&'static str> {
    breaker_vocab::suggest::config_key(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: ConfigBuilder) -> (String, String) {
        let e = b.build().unwrap_err();
        (e.field().to_owned(), e.to_string())
    }

    #[test]
    fn typed_values_build_the_config_their_text_builds() {
        let typed = |pairs: &[(&str, Value)]| {
            pairs
                .iter()
                .try_fold(Config::builder(), |b, (k, v)| b.set_value(k, *v))
                .and_then(ConfigBuilder::build)
        };
        let text = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .try_fold(Config::builder(), |b, (k, v)| b.set(k, v))
                .and_then(ConfigBuilder::build)
        };
        assert_eq!(
            typed(&[
                ("fail_max", Value::Count(3)),
                ("reset", Value::Nanos(30_000_000_000))
            ]),
            text(&[("fail_max", "3"), ("reset", "30s")])
        );
        assert_eq!(
            typed(&[
                ("failure_rate", Value::Hundredths(5050)),
                ("window", Value::Count(20))
            ]),
            text(&[("failure_rate", "50.5"), ("window", "20")])
        );
        assert!(
            Config::builder()
                .set_value("fail_max", Value::Nanos(1))
                .is_err()
        );
    }

    #[test]
    fn defaults_are_consecutive_five_thirty_seconds_two_trials() {
        let c = Config::default();
        assert_eq!(c.consecutive(), Some(5));
        assert_eq!(c.reset(), Duration::from_secs(30));
        assert_eq!(c.success(), 2);
        assert_eq!(c.half_open(), 2);
        assert_eq!(Config::builder().build().unwrap(), c);
    }

    #[test]
    fn policy_selection_follows_the_contract() {
        let rate = Config::builder().failure_rate(50.0).build().unwrap();
        assert_eq!(rate.consecutive(), None);
        let slow = Config::builder()
            .slow(Duration::from_secs(1))
            .slow_rate(50.0)
            .build()
            .unwrap();
        assert_eq!(slow.consecutive(), Some(5));
        let within = Config::builder()
            .fail_max(3)
            .within(Duration::from_secs(10))
            .build()
            .unwrap();
        assert_eq!(within.consecutive(), None);
        assert_eq!(within.failures_within(), Some((3, Duration::from_secs(10))));
    }

    #[test]
    fn validation_names_the_field_and_the_range() {
        assert_eq!(
            err(Config::builder().fail_max(0)),
            (
                "fail_max".into(),
                "invalid `fail_max`: must be between 1 and 1000000, got 0".into()
            )
        );
        assert_eq!(err(Config::builder().failure_rate(0.0)).0, "failure_rate");
        assert_eq!(
            err(Config::builder().failure_rate(12.345)).0,
            "failure_rate"
        );
        assert_eq!(err(Config::builder().slow_rate(50.0)).0, "slow_rate");
        assert_eq!(
            err(Config::builder().within(Duration::from_secs(1))).0,
            "within"
        );
        assert_eq!(
            err(Config::builder().reset_max(Duration::from_secs(60))).0,
            "reset_max"
        );
        assert_eq!(
            err(Config::builder()
                .backoff(2.0)
                .reset_max(Duration::from_secs(1)))
            .0,
            "reset_max"
        );
        assert_eq!(
            err(Config::builder()
                .failure_rate(50.0)
                .window_calls(10)
                .min_calls(11))
            .0,
            "min_calls"
        );
        assert_eq!(err(Config::builder().window_calls(10)).0, "window");
        assert_eq!(err(Config::builder().backoff(0.5)).0, "backoff");
        assert_eq!(err(Config::builder().success(0)).0, "success");
        assert_eq!(err(Config::builder().half_open(70_000)).0, "half_open");
        assert_eq!(err(Config::builder().reset(Duration::ZERO)).0, "reset");
        assert_eq!(err(Config::builder().timeout(Duration::ZERO)).0, "timeout");
    }

    #[test]
    fn text_form_is_exact() {
        let c = Config::builder()
            .set("failure_rate", "33.33")
            .unwrap()
            .set("backoff", "1.5")
            .unwrap()
            .set("window", "20")
            .unwrap()
            .set("reset", "1m30s")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.failure_rate().unwrap().hundredths(), 3333);
        assert_eq!(c.backoff().unwrap().millionths(), 1_500_000);
        assert_eq!(c.window(), Window::Calls(20));
        assert_eq!(c.min_calls(), 20);
        assert_eq!(c.reset(), Duration::from_secs(90));
        assert_eq!(
            c.to_keys(),
            "failure_rate = 33.33, window = 20, reset = 1m30s, backoff = 1.5"
        );
        assert!(Config::builder().set("window", "ten").is_err());
        assert!(Config::builder().set("failure_rate", "33.333").is_err());
        assert_eq!(
            Config::builder()
                .set("sucess", "2")
                .unwrap_err()
                .to_string(),
            "invalid `sucess`: unknown key; did you mean `success`?"
        );
    }

    #[test]
    fn text_round_trips_and_names_mistakes() {
        let c: Config = "fail_max=3 within=10s, reset = 1m30s,backoff =2 reset_max= 5m"
            .parse()
            .unwrap();
        assert_eq!(c.failures_within(), Some((3, Duration::from_secs(10))));
        assert_eq!(c.to_keys().parse::<Config>(), Ok(c));
        assert_eq!("".parse::<Config>(), Ok(Config::default()));
        for (text, field) in [
            ("fail_max", "fail_max"),
            ("fail_max =", "fail_max"),
            ("= 5", "="),
            ("fail_max=1 fail_max=2", "fail_max"),
            ("fail_max=x", "fail_max"),
            ("reset=0s", "reset"),
        ] {
            assert_eq!(text.parse::<Config>().unwrap_err().field(), field, "{text}");
        }
    }

    #[test]
    fn factor_truncates_to_whole_nanoseconds() {
        let f = Factor::parse("1.1").unwrap();
        assert_eq!(f.apply(3), 3);
        assert_eq!(f.apply(10), 11);
        assert_eq!(Factor::parse("2").unwrap().apply(u64::MAX), u64::MAX);
    }
}
