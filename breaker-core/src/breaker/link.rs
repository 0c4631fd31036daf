//! The seam a shared-state store plugs into: what a breaker tells its store
//! and what it learns back.
//!
//! The state machine calls a [`Link`] and applies a [`Remote`]; it never knows
//! which store is behind them, so the store (and Redis) stand on the core and
//! not the other way round. `breaker_core::store` re-exports these beside its
//! `Store` trait, which is where users meet them.

use std::sync::Arc;
use std::time::Duration;

use crate::{Reason, State};

/// One breaker's connection to a [`Store`](crate::store::Store). Every method returns quickly;
/// none may panic.
pub trait Link: Send + Sync + 'static {
    /// The breaker made a transition of its own (or an operator acted on it).
    /// Called under the breaker's control lock: queue the change, do not wait.
    fn publish(&self, change: &Change);

    /// A call would start a half-open trial: may this process take one of the
    /// cluster's `half_open` trial permits? Waits at most the store's budget.
    fn acquire_trial(&self) -> Trial;

    /// A trial that took a permit with [`Trial::Granted`] ended (or was
    /// cancelled) without ending the half-open period.
    fn release_trial(&self);

    /// Whether the breaker should call [`failure`](Link::failure) for each
    /// failure it records in Closed (cluster-wide failure counting).
    fn counts_failures(&self) -> bool {
        false
    }

    /// A failure recorded in Closed, when [`counts_failures`](Link::counts_failures).
    fn failure(&self) {}

    /// The breaker was reconfigured here ([`Breaker::reconfigure`](crate::Breaker::reconfigure)),
    /// not by the store ([`Breaker::adopt_config`](crate::Breaker::adopt_config)):
    /// share the change. Called under the breaker's control lock: queue it, do
    /// not wait.
    fn configured(&self, configured: &crate::Configured) {
        let _ = configured;
    }
}

/// The answer to [`Link::acquire_trial`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trial {
    /// A cluster-wide permit was taken: give it back with
    /// [`Link::release_trial`].
    Granted,
    /// Every cluster-wide permit is taken: reject the call.
    Denied,
    /// The store cannot tell (it is unreachable): decide on local state alone.
    Local,
}

/// A transition (or manual action) of a breaker, as shared with other processes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The state entered (or kept, for an action that changes nothing but
    /// takes effect, such as `trip()` while Open).
    pub to: State,
    /// When entering Open: the length of the open period.
    pub open_for: Duration,
    /// Why.
    pub reason: Reason,
    /// Whether an operator did it: an operator's action always wins over what
    /// the store holds, a policy's decision may be overruled (an Open seen
    /// elsewhere wins over a local close).
    pub manual: bool,
}

/// What a store learned from another process, to apply to a local breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remote {
    /// The shared state: `Closed`, `Open`, `ForcedOpen` or `Disabled`
    /// (half-open is never shared: every process moves to it on its own, when
    /// its first call after the open period arrives).
    pub state: State,
    /// In Open: the time left of the open period, measured by the store.
    pub remaining: Duration,
    /// In Open: the open period's length (what backoff grows from).
    pub period: Duration,
    /// Why, as the process that made the transition reported it.
    pub reason: Arc<str>,
    /// In Closed, when the other process closed on its half-open trials: how
    /// long ago, measured by the store. A breaker with `ramp` adopting it
    /// ramps from then, so a fleet returns gradually, not all at once.
    pub recovered_ago: Option<Duration>,
}

impl Remote {
    /// A remote state.
    pub fn new(state: State, remaining: Duration, period: Duration, reason: Arc<str>) -> Remote {
        Remote {
            state,
            remaining,
            period,
            reason,
            recovered_ago: None,
        }
    }

    /// This Closed state, made by a close on half-open trials `ago` ago.
    pub fn recovered(mut self, ago: Duration) -> Remote {
        self.recovered_ago = Some(ago);
        self
    }
}
