//! Building a [`Config`] in code: [`Config::builder`], one typed method a
//! key (`fail_max(5)`), and a builder from a configuration, to change some
//! of its keys. The builder's fields, setting a key by name and the rules
//! [`build`](ConfigBuilder::build) checks are in `keys.rs`.

use std::time::Duration;

use super::keys::{Config, ConfigBuilder, Given};
use super::limits::MAX_BACKOFF;
use super::units::{Factor, Percent, Window};

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

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
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
            // The window as written: a default one is left unwritten, so that
            // the rules judge it as the default it is (adaptive throttling
            // refuses a count window written, not the default one), and a
            // time window that only adaptive reads is kept.
            window: if config.window != Window::default() {
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
            ramp: Given::of(config.ramp),
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

    /// Slow start after recovery: after closing on its trials, the breaker
    /// admits a tenth of the calls at once, and a share growing linearly to
    /// all of them over `ramp` (not with `adaptive`).
    pub fn ramp(mut self, ramp: Duration) -> Self {
        self.ramp = Given::Value(ramp);
        self
    }

    /// A guarded async call still running after this long fails as a timeout.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Given::Value(after);
        self
    }
}
