//! The metric families every exporter shows, read from the breakers' own
//! statistics: the `metrics` facade publisher and the admin router's
//! Prometheus text both stand on this one catalogue, so names, labels and
//! help texts agree.
//!
//! Nothing here touches the hot path. Counters are the breakers' cumulative
//! [`Stats`](crate::Stats) (striped per-thread counters, summed when read);
//! transitions are counted by a registry listener, which runs only when a
//! breaker changes state.

use crate::{Registry, State, Stats};

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
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: Kind,
    /// Emits this family's samples of one breaker.
    pub(crate) samples: fn(&Stats, &mut dyn FnMut(Label, Value)),
}

/// The families read from [`Stats`], in exposition order.
pub(crate) const FAMILIES: [Family; 11] = [
    Family {
        name: "breaker_calls_total",
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
        help: "Calls the breaker refused without running them.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.rejected)),
    },
    Family {
        name: "breaker_half_open_trials_total",
        help: "Calls admitted as half-open trials.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.trials)),
    },
    Family {
        name: "breaker_would_reject_total",
        help: "Calls a dry run (metrics_only) admitted that a live breaker would have rejected.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.would_reject)),
    },
    Family {
        name: "breaker_slow_calls_total",
        help: "Ended calls slower than the breaker's slow threshold.",
        kind: Kind::Counter,
        samples: |s, emit| emit(None, Value::Count(s.slow)),
    },
    Family {
        name: "breaker_calls_in_flight",
        help: "Calls admitted by the breaker that are still running.",
        kind: Kind::Gauge,
        samples: |s, emit| emit(None, Value::Level(s.in_flight as f64)),
    },
    Family {
        name: "breaker_state",
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
        help: "The current run of consecutive failures in Closed.",
        kind: Kind::Gauge,
        samples: |s, emit| emit(None, Value::Level(f64::from(s.consecutive_failures))),
    },
    Family {
        name: "breaker_failure_rate_percent",
        help: "The failure rate over the rate window, once it holds min_calls outcomes.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(rate) = s.failure_rate {
                emit(None, Value::Level(rate));
            }
        },
    },
    Family {
        name: "breaker_drop_probability",
        help: "Adaptive throttling: the probability that a call arriving now is dropped.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(p) = s.drop_probability {
                emit(None, Value::Level(p));
            }
        },
    },
    Family {
        name: "breaker_slow_call_rate_percent",
        help: "The slow-call rate over the rate window, once it holds min_calls outcomes.",
        kind: Kind::Gauge,
        samples: |s, emit| {
            if let Some(rate) = s.slow_call_rate {
                emit(None, Value::Level(rate));
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

/// Every breaker's name and statistics, read once each.
pub(crate) fn snapshot(registry: &Registry) -> Vec<(String, Stats)> {
    registry
        .list()
        .into_iter()
        .map(|breaker| (breaker.name().to_owned(), breaker.stats()))
        .collect()
}
