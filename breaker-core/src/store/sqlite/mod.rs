//! Shared breaker state in a SQLite file (cargo feature `sqlite`): the
//! processes of one host share their breakers through a file, with no
//! server to run, and a process that restarts in the middle of an incident
//! starts with its breakers Open, with the time left.
//!
//! ```
//! use std::time::Duration;
//! use breaker_core::{Config, Registry, State};
//! use breaker_core::store::sqlite::SqliteStore;
//!
//! let path = std::env::temp_dir().join(format!("breaker-doc-{}.db", std::process::id()));
//! let store = SqliteStore::builder(&path)
//!     .table("breaker_state")
//!     .poll_interval(Duration::from_secs(1))
//!     .open()?;
//! let registry = Registry::new(); // or `breaker_core::registry()`
//! registry.use_store(store.clone());
//! let db = registry.get_or_create("db", || Config::builder().fail_max(1).build().unwrap());
//! db.trip();
//! store.flush(Duration::from_secs(1)); // before exiting: the Open outlives the process
//!
//! // A process started now (here: another registry) starts Open.
//! let restarted = Registry::new();
//! restarted.use_store(SqliteStore::builder(&path).open()?);
//! let db = restarted.get_or_create("db", || Config::builder().fail_max(1).build().unwrap());
//! assert_eq!(db.state(), State::Open);
//! # for suffix in ["", "-wal", "-shm"] {
//! #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
//! # }
//! # Ok::<(), breaker_core::store::sqlite::StoreError>(())
//! ```
//!
//! The store runs on a thread of its own, which owns the connection, so it
//! works the same in synchronous programs and under any async runtime.
//! Breakers talk to it through a channel: sharing a transition never waits;
//! only a call that would start a half-open trial waits for the file, at
//! most the budget. Other processes' changes are applied within the poll
//! interval.
//!
//! In the file, each breaker is a row of one table (`breaker_state` by
//! default), keyed by its name; the row's format and the checks a row
//! passes before a breaker believes it are in `store::row`. The whole design
//! is in `docs/shared-state.md`.

// This file only says what is public. Its children never import it: what
// they share is in sibling modules (`hub.rs`, `schema.rs`) and in what every
// table-backed store shares (`store::tabular`), so every import points one
// way.

mod builder;
mod error;
mod hub;
mod schema;
mod shared_state;
mod store;
mod table;
mod thread;

pub use builder::SqliteStoreBuilder;
pub use error::StoreError;
pub use store::SqliteStore;
