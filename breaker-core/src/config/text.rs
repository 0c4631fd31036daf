//! A whole configuration as text, the attribute's `key = value` list: how
//! [`Config`] is written (`to_keys`, `Display`) and read back (`FromStr`),
//! so that what is written always reads back the same.

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::units::Window;
use super::validated::Config;

impl Config {
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
