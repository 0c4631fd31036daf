//! A whole configuration as text, the attribute's `key = value` list: how
//! [`Config`] is written (`to_keys`, `Display`) and read back (`FromStr`),
//! so that what is written always reads back the same.

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::keys::{Config, ConfigBuilder};
use super::units::Window;

impl Config {
    /// The configuration written as the attribute's keys, `key = value` joined
    /// by `, ` (only the keys that differ from the defaults).
    pub fn to_keys(&self) -> String {
        self.written_keys()
            .map(|key| format!("{key} = {}", self.value_text(key).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The keys this configuration writes (those that differ from the
    /// defaults), in [`KEYS`](crate::KEYS) order: what [`to_keys`](Config::to_keys)
    /// lists, and what the registry counts as written in code.
    pub(crate) fn written_keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        crate::KEYS.into_iter().filter(|key| self.writes(key))
    }

    /// Whether `key` differs from its default.
    fn writes(&self, key: &str) -> bool {
        match key {
            "fail_max" => self.fail_max.is_some(),
            "within" => self.within.is_some(),
            "failure_rate" => self.failure_rate.is_some(),
            "window" => self.window != Window::default(),
            "min_calls" => self.min_calls.is_some(),
            "slow" => self.slow.is_some(),
            "slow_rate" => self.slow_rate.is_some(),
            "reset" => self.reset != Duration::from_secs(30),
            "backoff" => self.backoff.is_some(),
            "reset_max" => self.reset_max.is_some(),
            "success" => self.success != 2,
            "half_open" => self.half_open.is_some(),
            "timeout" => self.timeout.is_some(),
            "max_half_open_wait" => self.max_half_open_wait.is_some(),
            "ramp" => self.ramp.is_some(),
            "adaptive" => self.adaptive.is_some(),
            _ => false,
        }
    }

    /// The effective value of `key` as the attribute and the overrides write
    /// it (`"30s"`), defaults included; `None` when the key has no value.
    pub(crate) fn value_text(&self, key: &str) -> Option<String> {
        let d = |d: Option<Duration>| d.map(crate::format_duration);
        match key {
            "fail_max" => self
                .fail_max()
                .or(self.consecutive())
                .map(|n| n.to_string()),
            "within" => d(self.within()),
            "failure_rate" => self.failure_rate().map(|p| p.to_string()),
            "window" => Some(match self.window() {
                Window::Calls(n) => n.to_string(),
                Window::Time(w) => crate::format_duration(w),
            }),
            "min_calls" => Some(self.min_calls().to_string()),
            "slow" => d(self.slow()),
            "slow_rate" => self.slow_rate().map(|p| p.to_string()),
            "reset" => Some(crate::format_duration(self.reset())),
            "backoff" => self.backoff().map(|f| f.to_string()),
            "reset_max" => d(self.reset_max()),
            "success" => Some(self.success().to_string()),
            "half_open" => Some(self.half_open().to_string()),
            "timeout" => d(self.timeout()),
            "max_half_open_wait" => d(self.max_half_open_wait()),
            "ramp" => d(self.ramp()),
            "adaptive" => self.adaptive().map(|f| f.to_string()),
            _ => None,
        }
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
        Config::builder().set_pairs(text)?.build()
    }
}

impl Config {
    /// This configuration with the keys of `patch` (the attribute's
    /// `key = value` list, as [`FromStr`](std::str::FromStr) reads it) set
    /// over it, checked whole: what
    /// [`Breaker::reconfigure`](crate::Breaker::reconfigure) puts in force.
    ///
    /// ```
    /// let config: breaker_core::Config = "fail_max = 3, reset = 10s".parse().unwrap();
    /// let patched = config.patched("reset = 1m").unwrap();
    /// assert_eq!(patched.to_keys(), "fail_max = 3, reset = 1m");
    /// assert_eq!(config.patched("failure_rate = 150").unwrap_err().field(), "failure_rate");
    /// ```
    pub fn patched(&self, patch: &str) -> Result<Config, ConfigError> {
        ConfigBuilder::from(self).set_pairs(patch)?.build()
    }

    /// The keys whose effective value differs in `new`, each with its value
    /// there as the attribute writes it, in [`KEYS`](crate::KEYS) order.
    pub(crate) fn changes_to(&self, new: &Config) -> Vec<(&'static str, String)> {
        crate::KEYS
            .into_iter()
            .filter_map(|key| {
                let value = new.value_text(key);
                (value != self.value_text(key)).then(|| (key, value.unwrap_or_default()))
            })
            .collect()
    }
}

impl ConfigBuilder {
    /// Sets each `key = value` pair of `text`: separated by commas or
    /// whitespace, `a=1` and `a = 1` alike; a key given twice is refused.
    fn set_pairs(mut self, text: &str) -> Result<ConfigBuilder, ConfigError> {
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
            self = self.set(key, value)?;
            i += used;
        }
        Ok(self)
    }
}
