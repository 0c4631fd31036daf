//! The breakers' counters and gauges as OpenTelemetry instruments, and their
//! transitions as OpenTelemetry log records (feature `opentelemetry`).
//!
//! This module stands on the `opentelemetry` API crate alone: the
//! application installs the SDK, its readers and its exporters (OTLP,
//! Prometheus, stdout, ...) and hands this module a [`Meter`] and a
//! [`LoggerProvider`].
//!
//! # Nothing on the hot path
//!
//! Every instrument is *observable*: [`observe`] registers callbacks that the
//! SDK runs at each collection, and each reads the breakers' own cumulative
//! statistics ([`Breaker::stats`](crate::Breaker::stats)), as a Prometheus
//! scrape does. A guarded call does not touch OpenTelemetry at all.
//! Transitions are counted, and logged by [`log_transitions`], by registry
//! listeners, which run only when a breaker changes state.
//!
//! # Instruments
//!
//! The same families as the Prometheus text and the `metrics` facade, under
//! OpenTelemetry's names: dotted, the unit in the instrument rather than in
//! the name, no `_total`. Every instrument carries the attribute
//! `breaker.name`; the rest are those of the Prometheus family.
//!
//! | instrument | kind | unit | more attributes |
//! |---|---|---|---|
//! | `breaker.calls` | observable counter (u64) | `{call}` | `outcome` = `success`, `failure`, `cancelled` |
//! | `breaker.rejections` | observable counter (u64) | `{call}` | |
//! | `breaker.half_open.trials` | observable counter (u64) | `{call}` | |
//! | `breaker.would_reject` | observable counter (u64) | `{call}` | |
//! | `breaker.slow_calls` | observable counter (u64) | `{call}` | |
//! | `breaker.transitions` | observable counter (u64) | `{transition}` | `from`, `to` |
//! | `breaker.calls.in_flight` | observable gauge (f64) | `{call}` | |
//! | `breaker.state` | observable gauge (f64) | `1` | `state`: 1 for the current state, 0 for the others |
//! | `breaker.consecutive_failures` | observable gauge (f64) | `{call}` | |
//! | `breaker.failure_rate`, `breaker.slow_call_rate` | observable gauge (f64) | `1` (0 to 1) | (rate policies only) |
//! | `breaker.drop_probability` | observable gauge (f64) | `1` (0 to 1) | (`adaptive` only) |
//! | `breaker.ramp_share` | observable gauge (f64) | `1` (0.1 to 1) | (`ramp` only, during a slow start) |
//!
//! `docs/metrics.md` lists them beside their Prometheus names.
//!
//! # Transitions as log records
//!
//! [`log_transitions`] emits one log record per transition, an event named
//! `breaker.transition`: severity `WARN` when the breaker enters `open` or
//! `forced_open`, `INFO` otherwise; the body says what happened
//! (`breaker payments: closed -> open (5 consecutive failures)`); the
//! attributes are `breaker.name`, `breaker.from`, `breaker.to`,
//! `breaker.reason`, `breaker.dry_run` and `breaker.at_ms` (the instant on
//! the breaker's clock, whose epoch is its own: see [`clock`](crate::clock));
//! the record's timestamp is the wall-clock time it was emitted, an instant
//! after the transition. A log record emitted while a span is current
//! carries that span's trace context, so a transition caused by a call is
//! tied to the call's trace.
//!
//! ```
//! use breaker_core::{Config, Registry};
//! use opentelemetry::metrics::MeterProvider as _;
//! # let meter_provider = opentelemetry::metrics::noop::NoopMeterProvider::new();
//! # let logger_provider = opentelemetry::logs::NoopLoggerProvider::new();
//!
//! let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
//! breaker_core::opentelemetry::observe(registry, &meter_provider.meter("breaker"));
//! breaker_core::opentelemetry::log_transitions(registry, &logger_provider);
//! let db = registry.get_or_create("db", Config::default);
//! db.call(|| Ok::<_, breaker_core::Error>(()))?;
//! # Ok::<(), breaker_core::Error>(())
//! ```

use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::metrics::{AsyncInstrument, Meter};

use crate::telemetry::{
    FAMILIES, Family, Kind, TRANSITIONS, TRANSITIONS_OTEL, TransitionCounts, Value, snapshot,
};
use crate::{Registry, State, Transition};

/// The attribute that names the breaker on every instrument and log record.
pub const NAME_ATTRIBUTE: &str = "breaker.name";

/// The event name of the transition log records.
pub const TRANSITION_EVENT: &str = "breaker.transition";

/// Registers on `meter` one observable instrument per family, each read from
/// the statistics of every breaker of `registry` whenever the SDK collects,
/// and starts counting `registry`'s transitions for `breaker.transitions`.
///
/// Call it once per registry and meter: each call registers its own
/// instruments (and the SDK would report them twice).
pub fn observe(registry: &'static Registry, meter: &Meter) {
    for family in &FAMILIES {
        match family.kind {
            Kind::Counter => {
                meter
                    .u64_observable_counter(family.otel_name)
                    .with_description(family.help)
                    .with_unit(family.unit)
                    .with_callback(move |observer| observe_family(registry, family, observer))
                    .build();
            }
            Kind::Gauge => {
                meter
                    .f64_observable_gauge(family.otel_name)
                    .with_description(family.help)
                    .with_unit(family.unit)
                    .with_callback(move |observer| observe_family(registry, family, observer))
                    .build();
            }
        }
    }
    let counts = TransitionCounts::listen(registry);
    meter
        .u64_observable_counter(TRANSITIONS_OTEL.0)
        .with_description(TRANSITIONS.1)
        .with_unit(TRANSITIONS_OTEL.1)
        .with_callback(move |observer| {
            for ((name, from, to), n) in counts.read() {
                let attributes = [
                    KeyValue::new(NAME_ATTRIBUTE, name.to_string()),
                    KeyValue::new("from", from),
                    KeyValue::new("to", to),
                ];
                observer.observe(n, &attributes);
            }
        })
        .build();
}

/// The samples of `family` for every breaker, in the observer's measure
/// (`u64` for counters, `f64` for gauges).
fn observe_family<T: FromValue>(
    registry: &Registry,
    family: &Family,
    observer: &dyn AsyncInstrument<T>,
) {
    for (name, stats) in snapshot(registry) {
        (family.samples)(&stats, &mut |label, value| {
            let mut attributes = vec![KeyValue::new(NAME_ATTRIBUTE, name.clone())];
            if let Some((key, label_value)) = label {
                attributes.push(KeyValue::new(key, label_value));
            }
            observer.observe(T::from_value(value), &attributes);
        });
    }
}

/// A sample's value as an instrument's measure.
trait FromValue {
    fn from_value(value: Value) -> Self;
}

impl FromValue for u64 {
    fn from_value(value: Value) -> u64 {
        match value {
            Value::Count(n) => n,
            Value::Level(x) => x as u64,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> f64 {
        match value {
            Value::Count(n) => n as f64,
            Value::Level(x) => x,
        }
    }
}

/// Emits every transition of every breaker of `registry`, from now on, as a
/// log record of a logger of `provider` (scope `breaker-core`): see the
/// [module documentation](self) for its fields. Call it once per registry.
pub fn log_transitions<P>(registry: &Registry, provider: &P)
where
    P: LoggerProvider,
    P::Logger: Send + Sync + 'static,
{
    let logger = provider.logger("breaker-core");
    registry.on_transition(move |t| emit(&logger, t));
}

fn emit<L: Logger>(logger: &L, t: &Transition) {
    let severity = match t.to {
        State::Open | State::ForcedOpen => Severity::Warn,
        _ => Severity::Info,
    };
    let mut record = logger.create_log_record();
    record.set_event_name(TRANSITION_EVENT);
    record.set_target("breaker");
    record.set_timestamp(SystemTime::now());
    record.set_severity_number(severity);
    record.set_severity_text(severity.name());
    record.set_body(AnyValue::from(format!(
        "breaker {}: {} -> {} ({}){}",
        t.name,
        t.from.as_str(),
        t.to.as_str(),
        t.reason,
        if t.dry_run { " [dry run]" } else { "" }
    )));
    record.add_attribute(NAME_ATTRIBUTE, t.name.to_string());
    record.add_attribute("breaker.from", t.from.as_str());
    record.add_attribute("breaker.to", t.to.as_str());
    record.add_attribute("breaker.reason", t.reason.to_string());
    record.add_attribute("breaker.dry_run", t.dry_run);
    let at_ms = i64::try_from(t.at.as_millis()).unwrap_or(i64::MAX);
    record.add_attribute("breaker.at_ms", at_ms);
    logger.emit(record);
}
