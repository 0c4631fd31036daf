//! Every rule a configuration must follow, checked at once by
//! [`ConfigBuilder::build`]: each value in range, and the keys that need or
//! exclude each other. The first mistake is returned, naming its key.

use super::builder::ConfigBuilder;
use super::error::ConfigError;
use super::limits::{MAX_COUNT, MAX_DURATION, MAX_TRIALS};
use super::units::Window;
use super::validated::Config;
use std::time::Duration;

impl ConfigBuilder {
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
