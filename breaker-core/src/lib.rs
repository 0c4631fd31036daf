//! Circuit breakers for Rust services.
//!
//! A breaker stands between your code and a dependency. After enough failures
//! it *opens* and rejects calls at once instead of letting them pile up on a
//! dependency that is down; after a while it lets a few *trial* calls through
//! (*half-open*) and *closes* again when they succeed. The exact behaviour,
//! call by call, is in `docs/semantics.md`.
//!
//! The usual way in is the attribute, which routes a function through a named
//! breaker of the global [`registry()`]:
//!
//! ```ignore
//! use breaker_core::circuit_breaker;
//!
//! #[circuit_breaker(payments, fail_max = 5, reset = 30s, success = 2)]
//! async fn charge(order: &Order) -> Result<Receipt, PayError> { /* ... */ }
//! ```
//!
//! The same machinery is available in code:
//!
//! ```
//! use std::time::Duration;
//! use breaker_core::{Config, Error, State, clock::ManualClock, registry};
//!
//! #[derive(Debug)]
//! enum ApiError { Down, Breaker(Error) }
//! impl From<Error> for ApiError { fn from(e: Error) -> Self { ApiError::Breaker(e) } }
//! impl std::fmt::Display for ApiError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
//! }
//!
//! let clock = ManualClock::new();
//! registry().use_clock(clock.clone()); // virtual time: no test ever sleeps
//! let quotes = registry().get_or_create("quotes", || {
//!     Config::builder().fail_max(3).reset(Duration::from_secs(30)).success(2).build().unwrap()
//! });
//!
//! for _ in 0..3 {
//!     let _ = quotes.call(|| Err::<u32, _>(ApiError::Down));
//! }
//! assert_eq!(quotes.state(), State::Open);
//! match quotes.call(|| Ok::<u32, ApiError>(1)) {
//!     Err(ApiError::Breaker(Error::Rejected { retry_after, .. })) => {
//!         assert_eq!(retry_after, Some(Duration::from_secs(30)))
//!     }
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//!
//! clock.advance(Duration::from_secs(30));
//! quotes.call(|| Ok::<u32, ApiError>(1)).unwrap(); // first trial: HalfOpen
//! quotes.call(|| Ok::<u32, ApiError>(1)).unwrap(); // second trial: Closed
//! assert_eq!(quotes.state(), State::Closed);
//! ```
//!
//! # Features
//! All off by default; the default build has no dependency beyond `tracing`,
//! `inventory` and the attribute.
//!
//! | feature | what it adds |
//! |---|---|
//! | `tokio` | the timer of `#[circuit_breaker(timeout = ..)]` |
//! | `redis` | shared state across processes ([`store`], `store::redis`) |
//! | `sqlite` | shared state across the processes of one host, kept across restarts, in a SQLite file ([`store`], `store::sqlite`) |
//! | `postgres` | shared state across processes on several hosts, kept across restarts, in a PostgreSQL table, changes announced with `LISTEN`/`NOTIFY` ([`store`], `store::postgres`) |
//! | `tower` | `tower::BreakerLayer`: guards any tower service; 503 + `Retry-After` for HTTP |
//! | `grpc` | `grpc::GrpcLayer`: a tower layer for gRPC (tonic) clients and servers, the outcome read from `grpc-status` in the headers or the trailers |
//! | `reqwest` | `reqwest::BreakerMiddleware`: guards a reqwest client (reqwest-middleware), one breaker per host; 5xx, 429 and transport errors are failures |
//! | `admin` | `admin::router`: an axum `Router` for operators, with Prometheus text on `/metrics` |
//! | `metrics` | `metrics::publish`: counters and gauges through the `metrics` facade |
//! | `opentelemetry` | `opentelemetry::observe`: the same as observable OpenTelemetry instruments; transitions as log records |
//!
//! # Design
//! The state is one packed atomic word; a successful call in Closed reads it
//! and bumps two per-thread counters, with no lock and no allocation.
//! Transitions are compare-and-swaps made under a per-breaker lock, so each is
//! reported exactly once, in order, to `tracing` (target `breaker`) and to the
//! listeners of the breaker and of its registry.

#![warn(missing_docs)]

mod attribute_runtime;
mod breaker;
pub mod clock;
mod config;
mod counter;
mod duration;
mod error;
mod event;
mod global;
mod jitter;
mod kept;
pub mod keyed;
mod opening;
pub mod overrides;
mod owned;
mod policy;
mod reason;
#[cfg(feature = "record")]
pub mod record;
mod registry;
pub mod retry;
mod state;
mod stats;
pub mod store;
mod sync;
mod tap;

#[cfg(feature = "admin")]
pub mod admin;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod opentelemetry;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(any(feature = "admin", feature = "metrics", feature = "opentelemetry"))]
mod telemetry;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{Breaker, Permit, Recorded};
pub use config::{
    Config, ConfigBuilder, ConfigError, Factor, KEYS, MAX_BACKOFF, MAX_COUNT, MAX_DURATION,
    MAX_TRIALS, Percent, Window, suggest,
};
pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{Error, Shedding};
pub use event::{Configured, Transition};
pub use global::registry;
pub use opening::OpeningRef;
pub use owned::OwnedPermit;
pub use reason::{Action, OpenReason, Opening, Reason};
#[cfg(feature = "config-file")]
pub use registry::{ConfigWatcher, WatchError};
pub use registry::{ConfigureError, ReconfigureError, Registry};
pub use state::State;
pub use stats::Stats;

pub use breaker_macros::circuit_breaker;

#[doc(hidden)]
pub mod fuzz;

/// What code generated by `#[circuit_breaker]` names: the attribute's runtime
/// half (`attribute_runtime`), under the path the expansion has always
/// written. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::attribute_runtime::*;
}
