//! A circuit breaker: the state machine, one file for each thing it decides.
//!
//! - `machine`: what a breaker is made of (the state word, the control data)
//!   and the steps every part takes on them.
//! - `api`: the [`Breaker`] users hold; it answers and forwards.
//! - `admission`: may this call go?
//! - `outcomes`: it succeeded; it failed.
//! - `transitions`: the state swaps, and the ones shared with a store.
//! - `manual`: operators' actions.
//! - `ramp`: the slow start after recovery.
//! - `reconfigure` and `settings`: a new configuration for a live breaker,
//!   and the configuration in force, swapped whole.
//! - `metrics_only`: the dry run of MetricsOnly, where the breaker would be.
//! - `permit`: one admitted call until its outcome is recorded.
//! - `environment` and `link`: what a breaker shares with its registry, and
//!   the seam a shared-state store plugs into.
//!
//! The trip policies are in `policy/`; this folder imports nothing from the
//! registry, the overrides, retry or any integration.

mod admission;
mod api;
mod call_future;
mod detours;
mod environment;
mod link;
mod machine;
mod manual;
mod metrics_only;
mod outcomes;
mod permit;
mod ramp;
mod reconfigure;
mod run_async;
mod settings;
mod transitions;

pub use api::Breaker;
pub(crate) use api::WeakBreaker;
pub(crate) use call_future::CallFuture;
pub(crate) use environment::Environment;
pub use link::{Change, Link, Remote, Trial};
pub(crate) use permit::{FailOnUnwind, RecordsPanic};
pub use permit::{Permit, Recorded};
#[cfg(test)]
pub(crate) use run_async::PendOnce;
pub use run_async::{HeldCall, RunAsync};
