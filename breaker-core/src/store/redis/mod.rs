//! Shared breaker state through Redis (cargo feature `redis`).
//!
//! ```no_run
//! use breaker_core::registry;
//! use breaker_core::store::redis::RedisStore;
//!
//! let store = RedisStore::builder("redis://127.0.0.1:6379/")
//!     .namespace("checkout")
//!     .connect()?;
//! registry().use_store(store);
//! # Ok::<(), breaker_core::store::redis::StoreError>(())
//! ```
//!
//! The store runs on a thread of its own (a small tokio runtime), so it works
//! the same in synchronous programs and under any async runtime. Breakers talk
//! to it through a channel: sharing a transition never waits; only a call that
//! would start a half-open trial waits for Redis, at most the budget.
//!
//! In Redis, each breaker is a hash `{namespace}:{name}` (state, epoch,
//! opened_at and period in Redis milliseconds, reason), with a trial-permit
//! counter `{namespace}:{name}:trials` and a failure counter
//! `{namespace}:{name}:failures` beside it; every read-modify-write is one Lua
//! script, so it is atomic. Transitions are pushed on the channel
//! `{namespace}:transitions`. A reconfiguration (`Breaker::reconfigure`) is
//! shared too: the breaker's reconfigured keys are the hash
//! `{namespace}:{name}:config`, announced on `{namespace}:configs`, and the
//! latest change by Redis' clock wins. The whole design is in
//! `docs/shared-state.md`.

// This file only says what is public. Its children never import it: what
// they share is in sibling modules (`core.rs`, `membership.rs`,
// `command.rs`, `scripts.rs`), so every import points one way.

mod builder;
mod command;
mod configs;
mod error;
mod fleet;
mod hub;
mod link;
mod membership;
mod scripts;
mod shared_state;
mod store;
mod thread;
mod wire;

pub use builder::RedisStoreBuilder;
pub use error::StoreError;
pub use store::RedisStore;
