//! A breaker's configuration as a trace declares it, parsed exactly.
//!
//! Rates are kept in hundredths of a percent and the backoff factor in
//! millionths, so the reference model compares and multiplies with integers.
//! Besides the breaker's keys, a declaration takes the attribute's `retry`
//! and `retry_backoff`: they belong to the caller, not to the breaker, so
//! they are kept apart from the keys handed to breaker-core.

use crate::duration::parse_duration;

/// Every key a `breaker` declaration accepts, as the attribute spells it.
pub const KEYS: [&str; 18] = breaker_vocab::keys::TRACE_KEYS;

/// The keys that shape the caller's retries rather than the breaker.
pub const RETRY_KEYS: [&str; 2] = ["retry", "retry_backoff"];

/// The most attempts `retry` allows, as the attribute.
pub const MAX_ATTEMPTS: u32 = breaker_vocab::keys::MAX_ATTEMPTS;

/// The waits between attempts without `retry_backoff`: `100ms..5s`, in ns.
pub const DEFAULT_RETRY_BACKOFF: (u64, u64) = (100_000_000, 5_000_000_000);

/// The largest `adaptive` factor, in millionths (as breaker-core: 1000).
pub const MAX_ADAPTIVE: u64 = breaker_vocab::keys::MAX_FACTOR as u64 * 1_000_000;

/// The adaptive window without `window`: 10 s, in ns.
pub const DEFAULT_ADAPTIVE_WINDOW: u64 = 10_000_000_000;

/// The window of the rate policies (and, as a duration, of `adaptive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last K outcomes of the Closed period.
    Calls(u32),
    /// The outcomes that ended in `(t - W, t]`, W in nanoseconds.
    Time(u64),
}

/// One breaker's configuration, validated against SEMANTICS.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// The `key=value` pairs exactly as written, in order; the breaker's
    /// own ones ([`BreakerConfig::breaker_keys`]) go to breaker-core's text builder.
    pub raw: Vec<(String, String)>,
    /// `fail_max` as written, if any.
    pub fail_max: Option<u32>,
    /// `within`, in ns.
    pub within: Option<u64>,
    /// `failure_rate`, in hundredths of a percent.
    pub failure_rate: Option<u32>,
    /// `window` as written, if any.
    pub window: Option<Window>,
    /// `min_calls` as written, if any.
    pub min_calls: Option<u32>,
    /// `slow`, in ns.
    pub slow: Option<u64>,
    /// `slow_rate`, in hundredths of a percent.
    pub slow_rate: Option<u32>,
    /// `reset`, in ns (default 30 s).
    pub reset: u64,
    /// `backoff`, in millionths (1.5 is 1 500 000), if any.
    pub backoff: Option<u64>,
    /// `reset_max`, in ns, if any.
    pub reset_max: Option<u64>,
    /// `success` (default 2).
    pub success: u32,
    /// `half_open` as written, if any (default: `success`).
    pub half_open: Option<u32>,
    /// `timeout`, in ns, if any.
    pub timeout: Option<u64>,
    /// `max_half_open_wait`, in ns, if any: how long HalfOpen waits for its
    /// trials to decide before it opens again.
    pub max_half_open_wait: Option<u64>,
    /// `adaptive = K`, in millionths (1.5 is 1 500 000), if any: client-side
    /// throttling instead of the consecutive default.
    pub adaptive: Option<u64>,
    /// `retry`: attempts per call line, if given (1 makes no retry).
    pub retry: Option<u32>,
    /// `retry_backoff`: (base, max) in ns, if given.
    pub retry_backoff: Option<(u64, u64)>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            raw: Vec::new(),
            fail_max: None,
            within: None,
            failure_rate: None,
            window: None,
            min_calls: None,
            slow: None,
            slow_rate: None,
            reset: 30_000_000_000,
            backoff: None,
            reset_max: None,
            success: 2,
            half_open: None,
            timeout: None,
            max_half_open_wait: None,
            adaptive: None,
            retry: None,
            retry_backoff: None,
        }
    }
}

/// A config mistake: the key at fault and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key at fault.
    pub key: String,
    /// What was wrong and what would be right.
    pub message: String,
}

fn bad(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        message: message.into(),
    }
}

fn positive_int(key: &str, value: &str) -> Result<u32, ConfigError> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(bad(
            key,
            format!("invalid `{key}` value `{value}`; expected a whole number >= 1"),
        )),
    }
}

fn duration(key: &str, value: &str, positive: bool) -> Result<u64, ConfigError> {
    match parse_duration(value) {
        Ok(0) if positive => Err(bad(
            key,
            format!("invalid `{key}` value `{value}`; expected a duration > 0"),
        )),
        Ok(ns) => Ok(ns),
        Err(e) => Err(bad(key, format!("invalid `{key}`: {}", e.message))),
    }
}

/// Parses a decimal `int[.frac]` with at most `decimals` fraction digits,
/// scaled by 10^decimals. None on anything else.
pub fn parse_scaled(value: &str, decimals: u32) -> Option<u64> {
    breaker_vocab::duration::decimal(value, 10u64.checked_pow(decimals)?)
}

/// `base..max`, both durations > 0, base <= max.
fn backoff_range(value: &str) -> Result<(u64, u64), ConfigError> {
    const KEY: &str = "retry_backoff";
    let Some((base, max)) = value.split_once("..") else {
        return Err(bad(
            KEY,
            format!(
                "invalid `retry_backoff` value `{value}`; expected `base..max`, such as `100ms..5s`"
            ),
        ));
    };
    let (base, max) = (duration(KEY, base, true)?, duration(KEY, max, true)?);
    if base > max {
        return Err(bad(
            KEY,
            format!(
                "invalid `retry_backoff` value `{value}`; expected `base..max` with base <= max: the waits start at base and double up to max"
            ),
        ));
    }
    Ok((base, max))
}

fn percent(key: &str, value: &str) -> Result<u32, ConfigError> {
    match parse_scaled(value, 2) {
        Some(p) if (1..=10_000).contains(&p) => Ok(p as u32),
        _ => Err(bad(
            key,
            format!(
                "invalid `{key}` value `{value}`; expected a percentage in (0, 100] with at most two decimals, such as `50` or `12.5`"
            ),
        )),
    }
}

impl BreakerConfig {
    /// Sets one key from its text; the cross-key rules are checked by [`BreakerConfig::validate`].
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "fail_max" => self.fail_max = Some(positive_int(key, value)?),
            "within" => self.within = Some(duration(key, value, true)?),
            "failure_rate" => self.failure_rate = Some(percent(key, value)?),
            "window" => {
                self.window = Some(if value.bytes().all(|b| b.is_ascii_digit()) {
                    Window::Calls(positive_int(key, value).map_err(|_| {
                        bad(key, format!("invalid `window` value `{value}`; expected a number of calls >= 1 or a duration > 0"))
                    })?)
                } else {
                    Window::Time(duration(key, value, true)?)
                })
            }
            "min_calls" => self.min_calls = Some(positive_int(key, value)?),
            "slow" => self.slow = Some(duration(key, value, true)?),
            "slow_rate" => self.slow_rate = Some(percent(key, value)?),
            "reset" => self.reset = duration(key, value, true)?,
            "backoff" => match parse_scaled(value, 6) {
                Some(f) if f >= 1_000_000 => self.backoff = Some(f),
                _ => {
                    return Err(bad(
                        key,
                        format!(
                            "invalid `backoff` value `{value}`; expected a factor >= 1 with at most six decimals, such as `2` or `1.5`"
                        ),
                    ));
                }
            },
            "adaptive" => match parse_scaled(value, 6) {
                Some(k) if (1_000_000..=MAX_ADAPTIVE).contains(&k) => self.adaptive = Some(k),
                _ => {
                    return Err(bad(
                        key,
                        format!(
                            "invalid `adaptive` value `{value}`; expected a factor from 1 to 1000 with at most six decimals, such as `1.5` or `2`"
                        ),
                    ));
                }
            },
            "reset_max" => self.reset_max = Some(duration(key, value, true)?),
            "success" => self.success = positive_int(key, value)?,
            "half_open" => self.half_open = Some(positive_int(key, value)?),
            "timeout" => self.timeout = Some(duration(key, value, true)?),
            "max_half_open_wait" => self.max_half_open_wait = Some(duration(key, value, true)?),
            "retry" => match positive_int(key, value) {
                Ok(n) if n <= MAX_ATTEMPTS => self.retry = Some(n),
                _ => {
                    return Err(bad(
                        key,
                        format!(
                            "invalid `retry` value `{value}`; expected a number of attempts from 1 to {MAX_ATTEMPTS} (1 makes no retry)"
                        ),
                    ));
                }
            },
            "retry_backoff" => self.retry_backoff = Some(backoff_range(value)?),
            _ => {
                let hint = crate::suggest::did_you_mean(key, KEYS.iter().copied());
                return Err(bad(key, format!("unknown key `{key}`{hint}")));
            }
        }
        self.raw.push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// Sets `key` over this configuration as a `configure` line does: its
    /// earlier value, written or not, gives way (in [`BreakerConfig::raw`]
    /// too, so the keys handed to breaker-core stay one per key). The
    /// cross-key rules are checked by [`BreakerConfig::validate`], on the
    /// whole result.
    pub fn patch(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let mut patched = self.clone();
        patched.raw.retain(|(k, _)| k != key);
        patched.set(key, value)?;
        *self = patched;
        Ok(())
    }

    /// Checks the rules that tie keys together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.slow_rate.is_some() && self.slow.is_none() {
            return Err(bad(
                "slow_rate",
                "`slow_rate` needs `slow` (the latency above which a call is slow)",
            ));
        }
        if self.within.is_some() && self.fail_max.is_none() {
            return Err(bad(
                "within",
                "`within` needs `fail_max` (the failures to count in that window)",
            ));
        }
        if let (Some(Window::Calls(k)), Some(m)) = (self.window, self.min_calls) {
            if m > k {
                return Err(bad(
                    "min_calls",
                    format!("`min_calls` ({m}) must not exceed `window` ({k} calls)"),
                ));
            }
        }
        if let (Some(_), Some(Window::Calls(k))) = (self.adaptive, self.window) {
            return Err(bad(
                "window",
                format!(
                    "`adaptive` counts requests over a time: give `window` a duration (such as `10s`), not {k} calls"
                ),
            ));
        }
        if self.failure_rate.is_none() && self.slow_rate.is_none() {
            if self.window.is_some() && self.adaptive.is_none() {
                return Err(bad(
                    "window",
                    "`window` needs `failure_rate`, `slow_rate` or `adaptive`",
                ));
            }
            if self.min_calls.is_some() {
                return Err(bad(
                    "min_calls",
                    "`min_calls` needs `failure_rate` or `slow_rate`",
                ));
            }
        }
        if self.retry_backoff.is_some() && self.retry.is_none() {
            return Err(bad(
                "retry_backoff",
                "`retry_backoff` sets the waits between retries: give `retry = N` too, as in `retry=3 retry_backoff=100ms..5s`",
            ));
        }
        if let Some(max) = self.reset_max {
            if self.backoff.is_none() {
                return Err(bad(
                    "reset_max",
                    "`reset_max` caps `backoff`; give `backoff` too",
                ));
            }
            if max < self.reset {
                return Err(bad("reset_max", "`reset_max` must be at least `reset`"));
            }
        }
        Ok(())
    }

    /// Whether the consecutive-failures policy is active, and its N: the
    /// default 5 only when none of `fail_max`, `failure_rate` and `adaptive` is given.
    pub fn consecutive(&self) -> Option<u32> {
        match (self.fail_max, self.within) {
            (Some(n), None) => Some(n),
            (None, _) if self.failure_rate.is_none() && self.adaptive.is_none() => Some(5),
            _ => None,
        }
    }

    /// Adaptive throttling, if active: (K in millionths, window in ns; 10 s
    /// without `window`).
    pub fn adaptive_window(&self) -> Option<(u64, u64)> {
        let k = self.adaptive?;
        Some(match self.window {
            Some(Window::Time(w)) => (k, w),
            _ => (k, DEFAULT_ADAPTIVE_WINDOW),
        })
    }

    /// The count-in-a-time-window policy, if active: (N, W in ns).
    pub fn count_window(&self) -> Option<(u32, u64)> {
        match (self.fail_max, self.within) {
            (Some(n), Some(w)) => Some((n, w)),
            _ => None,
        }
    }

    /// The rate window (default 100 calls).
    pub fn rate_window(&self) -> Window {
        self.window.unwrap_or(Window::Calls(100))
    }

    /// The minimum number of outcomes in the window before a rate is evaluated.
    pub fn rate_min_calls(&self) -> u32 {
        self.min_calls.unwrap_or(match self.rate_window() {
            Window::Calls(k) => k,
            Window::Time(_) => 10,
        })
    }

    /// The `key=value` pairs for the breaker itself: all but [`RETRY_KEYS`].
    pub fn breaker_keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.raw
            .iter()
            .filter(|(k, _)| !RETRY_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Attempts per call line (1 without `retry`).
    pub fn attempts(&self) -> u32 {
        self.retry.unwrap_or(1)
    }

    /// The waits between attempts, (base, max) in ns (default `100ms..5s`).
    pub fn retry_waits(&self) -> (u64, u64) {
        self.retry_backoff.unwrap_or(DEFAULT_RETRY_BACKOFF)
    }

    /// Trials allowed in flight in HalfOpen.
    pub fn half_open_cap(&self) -> u32 {
        self.half_open.unwrap_or(self.success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_replaces_the_key_it_sets_and_keeps_the_others() {
        let mut c = parse("fail_max=3 reset=10s").unwrap();
        c.patch("reset", "1m").unwrap();
        c.patch("success", "3").unwrap();
        assert_eq!(
            (c.fail_max, c.reset, c.success),
            (Some(3), 60_000_000_000, 3)
        );
        let raw: Vec<String> = c.raw.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(raw, ["fail_max=3", "reset=1m", "success=3"]);
        assert!(c.patch("reset", "0s").is_err());
        assert_eq!(c.reset, 60_000_000_000, "a refused value changes nothing");
    }

    fn parse(text: &str) -> Result<BreakerConfig, ConfigError> {
        let mut c = BreakerConfig::default();
        for pair in text.split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap();
            c.set(k, v)?;
        }
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn adaptive_takes_a_factor_and_a_time_window_and_ends_the_default_policy() {
        let c = parse("adaptive=1.5").unwrap();
        assert_eq!(
            c.adaptive_window(),
            Some((1_500_000, DEFAULT_ADAPTIVE_WINDOW))
        );
        assert_eq!(c.consecutive(), None);
        let c = parse("adaptive=1000 window=2s fail_max=3").unwrap();
        assert_eq!(c.adaptive_window(), Some((1_000_000_000, 2_000_000_000)));
        assert_eq!(c.consecutive(), Some(3));
        for bad in [
            "adaptive=0.5",
            "adaptive=1000.000001",
            "adaptive=1.0000001",
            "adaptive=x",
        ] {
            assert_eq!(parse(bad).unwrap_err().key, "adaptive", "{bad}");
        }
        let e = parse("adaptive=2 window=100").unwrap_err();
        assert!(e.key == "window" && e.message.contains("duration"), "{e:?}");
        assert_eq!(
            parse("adaptive=2 min_calls=3").unwrap_err().key,
            "min_calls"
        );
    }
}
