//! A breaker as the admin router shows it, in JSON.

use serde_json::{Value, json};

use crate::{Breaker, Config, Window, format_duration};

/// Name, state, statistics, configuration and open reason of `breaker`.
pub(super) fn breaker(breaker: &Breaker) -> Value {
    let stats = breaker.stats();
    json!({
        "name": breaker.name(),
        "state": stats.state.as_str(),
        "stats": {
            "admitted": stats.admitted,
            "rejected": stats.rejected,
            "successes": stats.successes,
            "failures": stats.failures,
            "slow": stats.slow,
            "cancelled": stats.cancelled,
            "in_flight": stats.in_flight,
            "consecutive_failures": stats.consecutive_failures,
            "failure_rate": stats.failure_rate,
            "slow_call_rate": stats.slow_call_rate,
            "opened_at": stats.opened_at.map(format_duration),
            "transitions": stats.transitions,
        },
        "config": config(breaker.config()),
        "open_reason": breaker.open_reason().map(|reason| json!({
            "reason": reason.reason.to_string(),
            "at": format_duration(reason.at),
            "last_failure": reason.last_failure,
        })),
    })
}

/// Every setting, durations written as the attribute writes them (`30s`),
/// and the whole as the attribute's keys (`keys`, the non-default ones).
fn config(config: &Config) -> Value {
    let duration = |d: Option<std::time::Duration>| d.map(format_duration);
    json!({
        "keys": config.to_keys(),
        "fail_max": config.fail_max(),
        "within": duration(config.within()),
        "failure_rate": config.failure_rate().map(|p| p.to_string()),
        "window": match config.window() {
            Window::Calls(n) => n.to_string(),
            Window::Time(d) => format_duration(d),
        },
        "min_calls": config.min_calls(),
        "slow": duration(config.slow()),
        "slow_rate": config.slow_rate().map(|p| p.to_string()),
        "reset": format_duration(config.reset()),
        "backoff": config.backoff().map(|f| f.to_string()),
        "reset_max": duration(config.reset_max()),
        "success": config.success(),
        "half_open": config.half_open(),
        "timeout": duration(config.timeout()),
    })
}

/// The body of every error answer: `{"error": message}`.
pub(super) fn error(message: impl Into<String>) -> Value {
    json!({ "error": message.into() })
}
