//! A breaker as the admin router shows it, in JSON: the one shape of
//! `GET /breakers`, `GET /breakers/{name}`, the actions' and the
//! reconfiguration's answers and the `stats` events of `/events`; and the
//! `transition` and `configured` events. `docs/admin-api.schema.json`
//! describes each.
//!
//! The rules every field follows: durations are whole milliseconds in a
//! field named `..._ms`; instants are RFC 3339 wall-clock times (`opened_at`)
//! beside the same instant on the breaker's clock (`opened_at_ms`, since the
//! clock's epoch; see [`clock`](crate::clock)); states are spelled as
//! [`State::as_str`](crate::State::as_str) everywhere; rates are percents
//! in a field named `..._percent`.

use std::time::Duration;

use serde_json::{Value, json};

use super::wall::{Wall, millis};
use crate::overrides::{Origin, Source};
use crate::{Breaker, Config, Configured, Registry, State, Transition, Window};

/// Everything about `breaker`: state, statistics, open reason and
/// configuration with each key's source.
pub(super) fn breaker(registry: &Registry, breaker: &Breaker) -> Value {
    let stats = breaker.stats();
    let wall = Wall::now(breaker.now());
    let retry_after = (stats.state == State::Open)
        .then(|| breaker.retry_after())
        .flatten();
    json!({
        "name": breaker.name(),
        "state": stats.state.as_str(),
        "dry_run_state": stats.dry_run.map(State::as_str),
        "clock_ms": millis(wall.clock_now()),
        "retry_after_ms": retry_after.map(millis),
        "stats": {
            "admitted": stats.admitted,
            "rejected": stats.rejected,
            "successes": stats.successes,
            "failures": stats.failures,
            "slow": stats.slow,
            "cancelled": stats.cancelled,
            "in_flight": stats.in_flight,
            "trials": stats.trials,
            "would_reject": stats.would_reject,
            "consecutive_failures": stats.consecutive_failures,
            "failure_rate_percent": stats.failure_rate,
            "slow_call_rate_percent": stats.slow_call_rate,
            "drop_probability": stats.drop_probability,
            "ramp_share": stats.ramp_share,
            "transitions": stats.transitions,
            "opened_at": stats.opened_at.map(|t| wall.rfc3339(t)),
            "opened_at_ms": stats.opened_at.map(millis),
        },
        "open_reason": breaker.open_reason().map(|reason| json!({
            "reason": reason.reason.to_string(),
            "at": wall.rfc3339(reason.at),
            "at_ms": millis(reason.at),
            "ago_ms": millis(wall.clock_now().saturating_sub(reason.at)),
            "last_failure": reason.last_failure,
        })),
        "config": config(breaker.config(), registry.config_sources(breaker.name())),
    })
}

/// A transition as the `transition` events of `/events` send it.
pub(super) fn transition(t: &Transition, clock_now: Duration) -> Value {
    let wall = Wall::now(clock_now);
    json!({
        "name": &*t.name,
        "from": t.from.as_str(),
        "to": t.to.as_str(),
        "reason": t.reason.to_string(),
        "at": wall.rfc3339(t.at),
        "at_ms": millis(t.at),
        "dry_run": t.dry_run,
    })
}

/// A reconfiguration as the `configured` events of `/events` send it: the
/// keys that changed, as a list and as the trace's `configure` line writes
/// them with their new values.
pub(super) fn configured(c: &Configured) -> Value {
    // `c.at` is the breaker's clock at the change, an instant ago.
    let wall = Wall::now(c.at);
    let changed: Vec<&str> = c.changed.iter().map(|(key, _)| *key).collect();
    json!({
        "name": &*c.name,
        "keys": c.keys_text(),
        "changed": changed,
        "at": wall.rfc3339(c.at),
        "at_ms": millis(c.at),
    })
}

/// The configuration the breaker runs with: every key of [`KEYS`](crate::KEYS),
/// its effective value, whether it is in effect, and where it came from;
/// `keys` is the whole in the attribute's syntax (the keys that differ from
/// the defaults).
fn config(config: &Config, sources: Option<Vec<(&'static str, Source)>>) -> Value {
    let sources = sources.unwrap_or_default();
    let mut settings = serde_json::Map::new();
    for key in crate::KEYS {
        let (value, in_effect) = setting(config, key);
        let source = sources
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Source::Default, |(_, s)| s.clone());
        let mut entry = match value {
            Setting::Count(n) => json!({ "value": n }),
            Setting::Millis(d) => json!({ "value_ms": d.map(millis) }),
            Setting::Percent(p) => json!({ "value_percent": p }),
            Setting::Factor(f) => json!({ "value": f }),
            Setting::Window(Window::Calls(n)) => json!({ "value_calls": n }),
            Setting::Window(Window::Time(d)) => json!({ "value_ms": millis(d) }),
        };
        let text = config.value_text(key);
        entry["text"] = json!(text);
        entry["in_effect"] = json!(in_effect);
        entry["source"] = json!(source.as_str());
        entry["origin"] = match &source {
            Source::Override(origin @ Origin::File { .. }) => json!(origin.to_string()),
            Source::Override(Origin::Env { var }) => json!(var),
            _ => Value::Null,
        };
        settings.insert(key.to_owned(), entry);
    }
    json!({ "keys": config.to_keys(), "settings": settings })
}

/// A key's effective value, typed for its unit.
enum Setting {
    Count(Option<u32>),
    Millis(Option<Duration>),
    Percent(Option<f64>),
    Factor(Option<f64>),
    Window(Window),
}

/// The effective value of `key` and whether the breaker uses it.
fn setting(config: &Config, key: &str) -> (Setting, bool) {
    let percent = |p: Option<crate::Percent>| p.map(|p| f64::from(p.hundredths()) / 100.0);
    let factor = |f: Option<crate::Factor>| f.map(|f| f.millionths() as f64 / 1e6);
    let rates = config.has_rate_policy();
    match key {
        "fail_max" => {
            let n = config.fail_max().or(config.consecutive());
            (Setting::Count(n), n.is_some())
        }
        "within" => (Setting::Millis(config.within()), config.within().is_some()),
        "failure_rate" => {
            let p = percent(config.failure_rate());
            (Setting::Percent(p), p.is_some())
        }
        "window" => (
            Setting::Window(config.window()),
            rates || config.adaptive().is_some(),
        ),
        "min_calls" => (Setting::Count(Some(config.min_calls())), rates),
        "slow" => (Setting::Millis(config.slow()), config.slow().is_some()),
        "slow_rate" => {
            let p = percent(config.slow_rate());
            (Setting::Percent(p), p.is_some())
        }
        "reset" => (Setting::Millis(Some(config.reset())), true),
        "backoff" => {
            let f = factor(config.backoff());
            (Setting::Factor(f), f.is_some())
        }
        "reset_max" => {
            let d = config.reset_max();
            (
                Setting::Millis(d),
                d.is_some() && config.backoff().is_some(),
            )
        }
        "success" => (Setting::Count(Some(config.success())), true),
        "half_open" => (Setting::Count(Some(config.half_open())), true),
        "timeout" => (
            Setting::Millis(config.timeout()),
            config.timeout().is_some(),
        ),
        "max_half_open_wait" => {
            let d = config.max_half_open_wait();
            (Setting::Millis(d), d.is_some())
        }
        "adaptive" => {
            let f = factor(config.adaptive());
            (Setting::Factor(f), f.is_some())
        }
        "ramp" => (Setting::Millis(config.ramp()), config.ramp().is_some()),
        _ => (Setting::Count(None), false),
    }
}

/// The body of every error answer: `{"error": message, "status": code}`.
pub(super) fn error(status: http::StatusCode, message: impl Into<String>) -> Value {
    json!({ "error": message.into(), "status": status.as_u16() })
}

/// The fleet (`GET /fleet`): every replica, then every breaker name with
/// each live replica's description of it and the fleet's totals.
pub(super) fn fleet(fleet: &crate::store::Fleet) -> Value {
    use std::collections::BTreeMap;
    let replicas: Vec<Value> = fleet
        .replicas
        .iter()
        .map(|r| json!({ "replica": r.id, "live": r.live, "age_ms": millis(r.age) }))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<(&str, &crate::store::ReplicaBreaker)>> = BTreeMap::new();
    for replica in fleet.replicas.iter().filter(|r| r.live) {
        for (name, breaker) in &replica.breakers {
            by_name
                .entry(name)
                .or_default()
                .push((&replica.id, breaker));
        }
    }
    let seconds = fleet.interval.as_secs_f64().max(f64::MIN_POSITIVE);
    let breakers: Vec<Value> = by_name
        .into_iter()
        .map(|(name, described)| {
            let mut states: BTreeMap<&str, u64> = BTreeMap::new();
            let (mut admitted, mut rejected, mut failures) = (0u64, 0u64, 0u64);
            for (_, b) in &described {
                *states.entry(b.state.as_str()).or_default() += 1;
                admitted = admitted.saturating_add(b.admitted);
                rejected = rejected.saturating_add(b.rejected);
                failures = failures.saturating_add(b.failures);
            }
            let each: Vec<Value> = described
                .iter()
                .map(|(id, b)| {
                    json!({
                        "replica": id,
                        "state": b.state.as_str(),
                        "admitted": b.admitted,
                        "rejected": b.rejected,
                        "failures": b.failures,
                        "retry_after_ms": b.retry_after.map(millis),
                    })
                })
                .collect();
            json!({
                "name": name,
                "replicas": each,
                "totals": {
                    "replicas": described.len(),
                    "states": states,
                    "admitted": admitted,
                    "rejected": rejected,
                    "failures": failures,
                    "admitted_per_second": admitted as f64 / seconds,
                    "rejected_per_second": rejected as f64 / seconds,
                    "failures_per_second": failures as f64 / seconds,
                },
            })
        })
        .collect();
    json!({
        "interval_ms": millis(fleet.interval),
        "replicas": replicas,
        "breakers": breakers,
    })
}
