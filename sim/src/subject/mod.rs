//! What a trace is replayed through, each a [`crate::engine::Subject`]: the
//! engine decides the order of events, a subject only answers for its
//! breakers.
//!
//! - [`real`]: breaker-core's breakers, driven directly, on a manual clock
//!   set to each step (or the real clock, paced by [`realtime`]);
//! - [`attr`]: real `#[circuit_breaker]` functions, sync ([`attr::sync`]) or
//!   async under tokio's paused clock ([`attr::asynchronous`]).
//!
//! The reference model ([`crate::model`]) is a subject too, written apart
//! from breaker-core: it lives beside the trace it checks, not here.

pub mod attr;
pub mod real;
pub mod realtime;
