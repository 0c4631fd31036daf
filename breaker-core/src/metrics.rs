//! Counters and gauges through the [`metrics`] facade (feature
//! `metrics`), so that any exporter (Prometheus, StatsD, OpenTelemetry, ...)
//! shows every breaker.
//!
//! # Design: published from the breakers' statistics, not per call
//!
//! A breaker's hot path is a load and two per-thread counter bumps, with no
//! lock. A facade call per guarded call would cost more than the breaker
//! itself (a key lookup in the recorder, an atomic on a shared counter). So
//! nothing here runs per call: each breaker already keeps cumulative,
//! striped counters ([`Breaker::stats`](crate::Breaker::stats)), and
//! [`publish`] copies them into the facade, counters with `absolute` and
//! gauges with `set`, whenever it is called: before a scrape, or every few
//! seconds from [`spawn_publisher`] (features `metrics` and `tokio`).
//! Transitions are counted as they happen by a registry listener
//! ([`count_transitions`]), which runs only when a breaker changes state.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `breaker_calls_total` | counter | `breaker`, `outcome` = `success`, `failure`, `cancelled` |
//! | `breaker_rejections_total` | counter | `breaker` |
//! | `breaker_half_open_trials_total` | counter | `breaker` |
//! | `breaker_would_reject_total` | counter | `breaker` (dry runs, `metrics_only`) |
//! | `breaker_slow_calls_total` | counter | `breaker` |
//! | `breaker_transitions_total` | counter | `breaker`, `from`, `to` (states as in [`State::as_str`](crate::State::as_str)) |
//! | `breaker_calls_in_flight` | gauge | `breaker` |
//! | `breaker_state` | gauge | `breaker`, `state`: 1 for the current state, 0 for the others |
//! | `breaker_consecutive_failures` | gauge | `breaker` |
//! | `breaker_failure_rate_ratio`, `breaker_slow_call_rate_ratio` | gauge | `breaker`, from 0 to 1 (rate policies only, once the window holds `min_calls` outcomes) |
//! | `breaker_drop_probability` | gauge | `breaker`, from 0 to 1 (`adaptive` only) |
//! | `breaker_ramp_share_ratio` | gauge | `breaker`, from 0.1 to 1 (`ramp` only, during a slow start) |
//!
//! The list, with what each family means, is also in `docs/metrics.md`.
//!
//! Half-open trials show in `breaker_transitions_total{from="half_open"}`:
//! `to="closed"` when a period's trials succeeded, `to="open"` when a trial
//! failed. The admin router's `/metrics` route renders the same families as
//! Prometheus text without any exporter.
//!
//! ```
//! use breaker_core::{Config, Registry};
//!
//! let registry = Registry::new();
//! breaker_core::metrics::describe();
//! breaker_core::metrics::count_transitions(&registry);
//! let db = registry.get_or_create("db", Config::default);
//! db.call(|| Ok::<_, breaker_core::Error>(()))?;
//! breaker_core::metrics::publish(&registry); // with no recorder installed, a no-op
//! # Ok::<(), breaker_core::Error>(())
//! ```

use ::metrics::{Unit, counter, describe_counter, describe_gauge, gauge};

use crate::Registry;
use crate::telemetry::{FAMILIES, Kind, TRANSITIONS, Value, snapshot};

/// Registers the help text of every family with the installed recorder.
/// Call it once, after installing the recorder.
pub fn describe() {
    for family in &FAMILIES {
        match family.kind {
            Kind::Counter => describe_counter!(family.name, Unit::Count, family.help),
            Kind::Gauge => describe_gauge!(family.name, family.help),
        }
    }
    describe_counter!(TRANSITIONS.0, Unit::Count, TRANSITIONS.1);
}

/// Copies every breaker's statistics of `registry` into the facade: the
/// counters with `absolute` (they are cumulative over each breaker's life),
/// the gauges with `set`.
pub fn publish(registry: &Registry) {
    for (name, stats) in snapshot(registry) {
        for family in &FAMILIES {
            (family.samples)(&stats, &mut |label, value| {
                let mut labels = vec![("breaker", name.clone())];
                if let Some((key, label_value)) = label {
                    labels.push((key, label_value.to_owned()));
                }
                match value {
                    Value::Count(n) => counter!(family.name, &labels).absolute(n),
                    Value::Level(x) => gauge!(family.name, &labels).set(x),
                }
            });
        }
    }
}

/// Counts every transition of every breaker of `registry` from now on in
/// `breaker_transitions_total{breaker, from, to}`. Call it once per
/// registry: each call adds a listener, and each listener counts.
pub fn count_transitions(registry: &Registry) {
    registry.on_transition(|t| {
        counter!(
            TRANSITIONS.0,
            "breaker" => t.name.to_string(),
            "from" => t.from.as_str(),
            "to" => t.to.as_str()
        )
        .increment(1);
    });
}

/// Describes the families, counts transitions and publishes every
/// breaker's statistics of `registry` every `every`, on the current tokio
/// runtime, until the returned task is aborted. A zero `every` is taken as
/// one second.
///
/// Needs the features `metrics` and `tokio`, and a tokio runtime with the
/// time driver enabled.
#[cfg(feature = "tokio")]
pub fn spawn_publisher(
    registry: &'static Registry,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let every = if every.is_zero() {
        std::time::Duration::from_secs(1)
    } else {
        every
    };
    describe();
    count_transitions(registry);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            publish(registry);
        }
    })
}
