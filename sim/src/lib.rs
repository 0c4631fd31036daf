//! breaker-sim: replays failure traces through breaker-core under virtual time
//! and checks every event against an independent reference model.
//!
//! - [`trace`] parses the trace format of TRACES.md;
//! - [`model`] is the reference model of SEMANTICS.md, written apart from breaker-core;
//! - [`engine`] replays a trace through any [`engine::Subject`] and writes the event log of [`log`];
//! - [`stream`] replays a trace as it is read ([`trace::reader`]), building
//!   each breaker's subject when the trace declares it;
//! - [`fleet`] replays a trace across a fleet of replicas sharing a store;
//! - [`subject`] holds the subjects breaker-core is replayed through: its
//!   breakers directly, or annotated functions;
//! - [`through`] builds the cast of each way `run` replays a trace.

#![warn(missing_docs)]

pub mod check;
pub mod config;
pub mod due;
pub mod duration;
pub mod engine;
pub mod fleet;
#[doc(hidden)]
pub mod fuzz;
pub mod generate;
pub mod log;
pub mod model;
pub mod plot;
pub mod progress;
pub mod scorer;
pub mod side_by_side;
pub mod stream;
pub mod subject;
pub mod suggest;
pub mod summary;
pub mod through;
pub mod trace;
pub mod tune;
