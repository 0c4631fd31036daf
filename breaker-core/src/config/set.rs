//! Setting one key by name, as the attribute's typed values
//! ([`Value`]) and as text (a trace, a config file, an environment
//! variable): each value is turned into the builder's, or refused with what
//! the key takes.

use std::time::Duration;

use super::builder::{ConfigBuilder, Given};
use super::error::ConfigError;
use super::keys::{KEYS, Value, suggest};
use super::limits::MAX_BACKOFF;
use super::units::{Factor, Percent, Window};
use crate::duration::parse_nanos;

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
}
