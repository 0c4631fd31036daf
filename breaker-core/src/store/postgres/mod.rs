//! Shared breaker state in a PostgreSQL table (cargo feature `postgres`):
//! processes on any number of hosts share their breakers through the
//! database they already run, and a process that restarts in the middle of
//! an incident starts with its breakers Open, with the time left.
//!
//! ```no_run
//! use std::time::Duration;
//! use breaker_core::registry;
//! use breaker_core::store::postgres::PostgresStore;
//!
//! let store = PostgresStore::builder("postgresql://app@db.internal/checkout")
//!     .table("breaker_state")
//!     .budget(Duration::from_millis(50))
//!     .open()?; // Err: a bad connection string, a table of another shape; a server down is no error
//! registry().use_store(store.clone());
//! // ... and before the process exits:
//! store.flush(Duration::from_secs(1));
//! # Ok::<(), breaker_core::store::postgres::StoreError>(())
//! ```
//!
//! The store runs on a thread of its own (a small tokio runtime), which owns
//! the connection, so it works the same in synchronous programs and under
//! any async runtime. Breakers talk to it through a channel: sharing a
//! transition never waits; only a call that would start a half-open trial
//! waits for the server, at most the budget.
//!
//! In the database, each breaker is a row of one table (`breaker_state` by
//! default), keyed by its name, in the format and with the checks of
//! `store::row` (SQLite's); every write is a compare-and-set on the row and
//! is announced with `NOTIFY` on the channel `{table}_changes`, which every
//! store `LISTEN`s to, so other processes apply it within milliseconds.
//! Times are the server's clock. The whole design is in
//! `docs/shared-state.md`.

// This file only says what is public. Its children never import it: what
// they share is in sibling modules (`hub.rs`, `failure.rs`, `schema.rs`,
// `table.rs`) and in what every table-backed store shares
// (`store::tabular`), so every import points one way.

mod builder;
mod error;
mod failure;
mod hub;
mod schema;
mod shared_state;
mod store;
mod table;
mod thread;

pub use builder::PostgresStoreBuilder;
pub use error::StoreError;
pub use store::PostgresStore;
