//! Transitions and reconfigurations, reported once each, in order, to
//! tracing and to listeners.
//!
//! A transition is decided under the breaker's control lock and queued there;
//! whichever thread finds the dispatcher free after releasing that lock
//! delivers the queue in order. So listeners run outside the lock (one may act
//! on the breaker itself), never concurrently with each other for one breaker,
//! and a panicking listener is contained.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::sync::Mutex;
use crate::{Reason, State};

/// One move of a breaker from a state to another.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The state it left.
    pub from: State,
    /// The state it entered.
    pub to: State,
    /// When, on the breaker's clock: the time since that clock's epoch (the
    /// real clock's is the first time any breaker of the process read it, a
    /// [`ManualClock`](crate::clock::ManualClock)'s is zero), not a
    /// wall-clock time. A listener runs right after the move, so
    /// `SystemTime::now()` in the listener is its wall-clock time.
    pub at: Duration,
    /// Why.
    pub reason: Reason,
    /// A move a breaker in [`State::MetricsOnly`] would have made: between
    /// the states of its dry run, while it stays `MetricsOnly`.
    pub dry_run: bool,
}

/// A reconfiguration that changed a breaker's configuration (SEMANTICS.md,
/// "Reconfiguration"): it moves no state, so it is no [`Transition`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Configured {
    /// The breaker's name.
    pub name: Arc<str>,
    /// When, on the breaker's clock (as [`Transition::at`]).
    pub at: Duration,
    /// The keys whose effective value changed, each with its new value as
    /// the attribute writes it (`("reset", "1m")`), in the attribute's key
    /// order ([`KEYS`](crate::KEYS)).
    pub changed: Vec<(&'static str, String)>,
}

impl Configured {
    /// The changed keys as a trace's `configure` line writes them:
    /// `fail_max=10 reset=1m`.
    pub fn keys_text(&self) -> String {
        let pairs: Vec<String> = self
            .changed
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join(" ")
    }
}

pub(crate) type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;
pub(crate) type ConfiguredListener = Arc<dyn Fn(&Configured) + Send + Sync>;

/// Listeners, registered on a breaker or on a registry.
#[derive(Default)]
pub(crate) struct Listeners {
    transitions: RwLock<Vec<Listener>>,
    configured: RwLock<Vec<ConfiguredListener>>,
}

impl Listeners {
    pub(crate) fn add(&self, listener: Listener) {
        push(&self.transitions, listener);
    }

    pub(crate) fn add_configured(&self, listener: ConfiguredListener) {
        push(&self.configured, listener);
    }
}

fn push<T>(list: &RwLock<Vec<T>>, item: T) {
    list.write().unwrap_or_else(|e| e.into_inner()).push(item);
}

fn snapshot<T: Clone>(list: &RwLock<Vec<T>>) -> Vec<T> {
    list.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// What a breaker reports, in the order it happened.
pub(crate) enum Report {
    Transition(Transition),
    Configured(Configured),
}

/// A breaker's queue of reports not yet delivered.
pub(crate) struct Dispatch {
    queue: Mutex<VecDeque<Report>>,
    delivering: Mutex<()>,
}

impl Dispatch {
    pub(crate) fn new() -> Dispatch {
        Dispatch {
            queue: Mutex::new(VecDeque::new()),
            delivering: Mutex::new(()),
        }
    }

    /// Queues a transition; call under the control lock so the queue's order
    /// is the order of the transitions.
    pub(crate) fn push(&self, transition: Transition) {
        self.queue_report(Report::Transition(transition));
    }

    /// Queues a reconfiguration, under the control lock as `push`.
    pub(crate) fn push_configured(&self, configured: Configured) {
        self.queue_report(Report::Configured(configured));
    }

    fn queue_report(&self, report: Report) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(report);
    }

    /// Delivers what is queued, unless another thread (or this one, further up
    /// the stack) is delivering: that one will deliver it.
    pub(crate) fn deliver(&self, own: &Listeners, shared: &Listeners) {
        loop {
            let Ok(_delivering) = self.delivering.try_lock() else {
                return;
            };
            loop {
                let next = self
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_front();
                match next {
                    Some(Report::Transition(t)) => report(&t, own, shared),
                    Some(Report::Configured(c)) => report_configured(&c, own, shared),
                    None => break,
                }
            }
            drop(_delivering);
            // A transition queued after the last pop and before the release found
            // the dispatcher busy and left it to us.
            if self
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            {
                return;
            }
        }
    }
}

fn report(t: &Transition, own: &Listeners, shared: &Listeners) {
    // tracing's level is part of each event's static metadata, so the two
    // levels are two events; one macro writes their fields once.
    macro_rules! transition {
        ($level:expr) => {
            tracing::event!(
                target: "breaker",
                $level,
                name = %t.name,
                from = t.from.as_str(),
                to = t.to.as_str(),
                reason = %t.reason,
                at_ns = crate::clock::saturating_nanos(t.at),
                dry_run = t.dry_run,
                "circuit breaker transition"
            )
        };
    }
    match t.to {
        State::Open | State::ForcedOpen if !t.dry_run => transition!(tracing::Level::WARN),
        _ => transition!(tracing::Level::INFO),
    }
    for listener in snapshot(&own.transitions)
        .into_iter()
        .chain(snapshot(&shared.transitions))
    {
        if catch_unwind(AssertUnwindSafe(|| listener(t))).is_err() {
            listener_panicked(&t.name);
        }
    }
}

fn report_configured(c: &Configured, own: &Listeners, shared: &Listeners) {
    tracing::info!(
        target: "breaker",
        name = %c.name,
        keys = %c.keys_text(),
        at_ns = crate::clock::saturating_nanos(c.at),
        "circuit breaker reconfigured"
    );
    for listener in snapshot(&own.configured)
        .into_iter()
        .chain(snapshot(&shared.configured))
    {
        if catch_unwind(AssertUnwindSafe(|| listener(c))).is_err() {
            listener_panicked(&c.name);
        }
    }
}

fn listener_panicked(name: &str) {
    tracing::error!(
        target: "breaker",
        name = %name,
        "a listener panicked; the breaker carries on"
    );
}
