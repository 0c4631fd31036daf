//! The metric families every exporter shows, read from the breakers' own
//! statistics: the `metrics` facade publisher and the admin router's
//! Prometheus text both stand on this one catalogue, so names, labels and
//! help texts agree.
//!
//! Nothing here touches the hot path. Counters are the breakers' cumulative
//! [`Stats`](crate::Stats) (striped per-thread counters, summed when read);
//! transitions are counted by a registry listener, which runs only when a
//! breaker changes state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::{Registry, State, Stats, Transition};

/// A Prometheus metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// A sample's value: counters are whole numbers, gauges may not be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Count(u64),
    Level(f64),
}

/// The label a family adds to `breaker`, if any, and its value.
pub(crate) type Label = Option<(&'static str, &'static str)>;

/// One metric family read from a breaker's statistics.
pub(crate) struct Family {
    /// The Prometheus name (`breaker_calls_total`).
    #[cfg_attr(not(any(feature = "admin", feature = "metrics")), allow(dead_code))]
    pub(crate) name: &'static str,
    /// The OpenTelemetry name (`breaker.calls`): the same family, dotted,
    /// without the unit or `_total` suffix (the instrument's unit and kind
    /// carry them).
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) otel_name: &'static str,
    /// The OpenTelemetry unit, in UCUM (`{call}`, `1` for ratios).
    #[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
    pub(crate) unit: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: Kind,
    /// Emits this family's samples of one breaker.
    pub(crate) samples: fn(&Stats, &mut dyn FnMut(Label, Value)),
}

/// The families read from [`Stats`], in exposition order.
pub(crate) const FAMILIES: [Family; 12] = [
    Family {
        name: "breaker_calls_total",
        otel_name: "breaker.calls",
        unit: "{call}",
        help: "Calls admitted by the breaker that ended, by outcome (success, failure, cancelled).",
        kind: Kind::Counter,
        samples: |s, emit| {
            emit(Some(("outcome", "success")), Value::Count(s.successes));
            emit(Some(("outcome", "failure")), Value::Count(s.failures));
            emit(Some(("outcome", "cancelled")), Value::Count(s.cancelled));
        },
    },
    Family {
        name: "breaker_rejections_total",
        otel_name: "breaker.rejections",
        unit: "{call}",
        help: "Calls the breaker refused without running them.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.rejected)),
    },
    Family {
        name: "breaker_half_open_trials_total",
        otel_name: "breaker.half_open.trials",
        unit: "{call}",
        help: "Calls admitted as half-open trials.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.trials)),
    },
    Family {
        name: "breaker_would_reject_total",
        otel_name: "breaker.would_reject",
        unit: "{call}",
        help: "Calls a dry run (metrics_only) admitted that a live breaker would have rejected.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.would_reject)),
    },
    Family {
        name: "breaker_slow_calls_total",
        otel_name: "breaker.slow_calls",
        unit: "{call}",
        help: "Ended calls slower than the breaker's slow threshold.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.slow)),
    },
    Family {
        name: "breaker_calls_in_flight",
        otel_name: "breaker.calls.in_flight",
        unit: "{call}",
        help: "Calls admitted by the breaker that are still running.",
        kind: Kind::Gauge,
        samples: |s, emit| emit(None, Value::Level(s.in_flight as f64)),
    },
    Family {
        name: "breaker_state",
        otel_name: "breaker.state",
        unit: "1",
        help: "The breaker's state: 1 for the current state, 0 for the others.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            for state in State::ALL {
                let on = if s.state == state { 1.0 } else { 0.0 };
                emit(Some(("state", state.as_str())), Value::Level(on));
            }
        },
    },
    Family {
        name: "breaker_consecutive_failures",
        otel_name: "breaker.consecutive_failures",
        unit: "{call}",
        help: "The current run of consecutive failures in Closed.",
        kind: Kind::Gauge,
        samples: |s, emit| emit(None, Value::Level(f64::from(s.consecutive_failures))),
    },
    Family {
        name: "breaker_failure_rate_ratio",
        otel_name: "breaker.failure_rate",
        unit: "1",
        help: "The failure rate over the rate window, from 0 to 1, once it holds min_calls outcomes.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(rate) = s.failure_rate {
                emit(None, Value::Level(rate / 100.0));
            }
        },
    },
    Family {
        name: "breaker_drop_probability",
        otel_name: "breaker.drop_probability",
        unit: "1",
        help: "Adaptive throttling: the probability that a call arriving now is dropped.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(p) = s.drop_probability {
                emit(None, Value::Level(p));
            }
        },
    },
    Family {
        name: "breaker_ramp_share_ratio",
        otel_name: "breaker.ramp_share",
        unit: "1",
        help: "Slow start after recovery: the share of calls admitted now, from 0.1 to 1, while a ramp is under way.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(share) = s.ramp_share {
                emit(None, Value::Level(share));
            }
        },
    },
    Family {
        name: "breaker_slow_call_rate_ratio",
        otel_name: "breaker.slow_call_rate",
        unit: "1",
        help: "The slow-call rate over the rate window, from 0 to 1, once it holds min_calls outcomes.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(rate) = s.slow_call_rate {
                emit(None, Value::Level(rate / 100.0));
            }
        },
    },
];

/// The transitions family, counted by a listener (labels `from` and `to`).
/// A half-open period's end is `from="half_open"`: `to="closed"` when its
/// trials succeeded, `to="open"` when a trial failed.
pub(crate) const TRANSITIONS: (&str, &str) = (
    "breaker_transitions_total",
    "State transitions of the breaker, by the state left and the state entered.",
);

/// The OpenTelemetry name and unit of the transitions family.
#[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
pub(crate) const TRANSITIONS_OTEL: (&str, &str) = ("breaker.transitions", "{transition}");

/// A breaker's name, the state it left and the state it entered.
pub(crate) type Move = (Arc<str>, &'static str, &'static str);

/// Transitions by breaker, state left and state entered, counted by a
/// registry listener from the moment it was made. The listener runs only
/// when a breaker changes state, never per call.
#[derive(Default)]
#[cfg_attr(
    not(any(feature = "admin", feature = "opentelemetry")),
    allow(dead_code)
)]
pub(crate) struct TransitionCounts(Mutex<BTreeMap<Move, u64>>);

#[cfg_attr(
    not(any(feature = "admin", feature = "opentelemetry")),
    allow(dead_code)
)]
impl TransitionCounts {
    /// Counts from now on every transition of every breaker of `registry`,
    /// a dry run's moves included (as the `metrics` facade counts them).
    pub(crate) fn listen(registry: &Registry) -> Arc<TransitionCounts> {
        let counts = Arc::new(TransitionCounts::default());
        let listener = counts.clone();
        registry.on_transition(move |t| listener.count(t));
        counts
    }

    fn count(&self, t: &Transition) {
        let key = (t.name.clone(), t.from.as_str(), t.to.as_str());
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// Every count so far, sorted by breaker, state left, state entered.
    pub(crate) fn read(&self) -> Vec<(Move, u64)> {
        let counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        counts.iter().map(|(k, n)| (k.clone(), *n)).collect()
    }
}

/// Every breaker's name and statistics, read once each.
pub(crate) fn snapshot(registry: &Registry) -> Vec<(String, Stats)> {
    registry
        .list()
        .into_iter()
        .map(|breaker| (breaker.name().to_owned(), breaker.stats()))
        .collect()
}
