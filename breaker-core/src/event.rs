//! Transitions, reported once each, in order, to tracing and to listeners.
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

pub(crate) type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// Listeners, registered on a breaker or on a registry.
#[derive(Default)]
pub(crate) struct Listeners(RwLock<Vec<Listener>>);

impl Listeners {
    pub(crate) fn add(&self, listener: Listener) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }

    fn snapshot(&self) -> Vec<Listener> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A breaker's queue of transitions not yet delivered.
pub(crate) struct Dispatch {
    queue: Mutex<VecDeque<Transition>>,
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
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(transition);
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
                let Some(transition) = next else { break };
                report(&transition, own, shared);
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
    for listener in own.snapshot().into_iter().chain(shared.snapshot()) {
        if catch_unwind(AssertUnwindSafe(|| listener(t))).is_err() {
            tracing::error!(
                target: "breaker",
                name = %t.name,
                "a transition listener panicked; the breaker carries on"
            );
        }
    }
}
