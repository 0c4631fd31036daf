//! The keys a reconfiguration changed, as the model writes them in the
//! `configured` event: each key whose effective value (defaults included)
//! differs, with its new value as a `breaker` line writes it, in the
//! attribute's key order.

use crate::config::{BreakerConfig, KEYS, RETRY_KEYS, Window};
use crate::duration::format_duration;

/// A factor in millionths, written with no trailing zeros (`2`, `1.5`, `1.000001`).
fn factor(millionths: u64) -> String {
    let (whole, frac) = (millionths / 1_000_000, millionths % 1_000_000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The value `key` has under `c`, defaults included (`fail_max` is 5 while
/// the default consecutive policy is on); `None` when it has none.
fn effective(c: &BreakerConfig, key: &str) -> Option<String> {
    let duration = |d: Option<u64>| d.map(format_duration);
    match key {
        "fail_max" => c.fail_max.or(c.consecutive()).map(|n| n.to_string()),
        "within" => duration(c.within),
        "failure_rate" => c.failure_rate.map(super::percent),
        "window" => Some(match c.rate_window() {
            Window::Calls(k) => k.to_string(),
            Window::Time(w) => format_duration(w),
        }),
        "min_calls" => Some(c.rate_min_calls().to_string()),
        "slow" => duration(c.slow),
        "slow_rate" => c.slow_rate.map(super::percent),
        "reset" => Some(format_duration(c.reset)),
        "backoff" => c.backoff.map(factor),
        "reset_max" => duration(c.reset_max),
        "success" => Some(c.success.to_string()),
        "half_open" => Some(c.half_open_cap().to_string()),
        "timeout" => duration(c.timeout),
        "max_half_open_wait" => duration(c.max_half_open_wait),
        "adaptive" => c.adaptive.map(factor),
        "ramp" => duration(c.ramp),
        _ => None,
    }
}

/// The keys whose effective value differs from `old` to `new`, written
/// `key=value` and joined by spaces (a key left without a value is written
/// `key=`); `None` when no value changed.
pub(super) fn changed(old: &BreakerConfig, new: &BreakerConfig) -> Option<String> {
    let pairs: Vec<String> = KEYS
        .iter()
        .filter(|key| !RETRY_KEYS.contains(key))
        .filter_map(|&key| {
            let value = effective(new, key);
            (value != effective(old, key)).then(|| format!("{key}={}", value.unwrap_or_default()))
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> BreakerConfig {
        let mut c = BreakerConfig::default();
        for pair in text.split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap();
            c.patch(k, v).unwrap();
        }
        c.validate().unwrap();
        c
    }

    #[test]
    fn writes_the_changed_effective_values_in_key_order() {
        let old = config("fail_max=3 reset=10s");
        let new = config("fail_max=10 reset=1m success=2");
        assert_eq!(changed(&old, &new).as_deref(), Some("fail_max=10 reset=1m"));
        assert_eq!(changed(&old, &config("fail_max=3 reset=10000ms")), None);
    }

    #[test]
    fn defaults_count_as_values() {
        // The default consecutive policy's 5, written, changes nothing.
        assert_eq!(changed(&config(""), &config("fail_max=5")), None);
        // A rate policy ends it; the window's default min_calls follows it.
        assert_eq!(
            changed(&config(""), &config("failure_rate=50 window=20")).as_deref(),
            Some("fail_max= failure_rate=50 window=20 min_calls=20")
        );
        assert_eq!(
            changed(&config("success=2"), &config("success=3")).as_deref(),
            Some("success=3 half_open=3")
        );
        assert_eq!(
            changed(
                &config(""),
                &config("backoff=1.50 reset_max=1m30s adaptive=1000")
            )
            .as_deref(),
            Some("fail_max= backoff=1.5 reset_max=1m30s adaptive=1000")
        );
    }
}
