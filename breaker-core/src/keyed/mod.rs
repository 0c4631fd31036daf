//! Keyed breakers: one breaker per distinct key (a host, a tenant), so that
//! one bad host does not open the breaker for everyone.
//!
//! A [`KeyedBreaker<K>`] hands out the breaker of a key, creating it on the
//! key's first call with the keyed breaker's configuration. Each key's
//! breaker is an ordinary [`Breaker`](crate::Breaker) named `name[label=key]`
//! (`upstream[host=a.example]`): in a registry, it is listed by
//! [`Registry::list`](crate::Registry::list) and found by
//! [`Registry::get`](crate::Registry::get), so operators act on one
//! key at a time.
//!
//! ```
//! use std::time::Duration;
//! use breaker_core::{Config, Error, State, clock::ManualClock, keyed::KeyedBreaker};
//!
//! let clock = ManualClock::new();
//! let hosts: KeyedBreaker<String> = KeyedBreaker::builder("upstream")
//!     .label("host")
//!     .config(Config::builder().fail_max(2).build()?)
//!     .max_keys(1000)
//!     .idle(Duration::from_secs(600))
//!     .clock(clock.clone())
//!     .build()?;
//!
//! for _ in 0..2 {
//!     let _ = hosts.get("bad.example").call(|| Err::<(), Error>(Error::timeout("bad".into(), Duration::ZERO)));
//! }
//! assert_eq!(hosts.get("bad.example").state(), State::Open);
//! assert_eq!(hosts.get("good.example").state(), State::Closed); // unaffected
//! assert_eq!(hosts.get("bad.example").name(), "upstream[host=bad.example]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bounds
//! At most `max_keys` keys are live. A key is *used* when it is looked up
//! ([`get`](KeyedBreaker::get), [`call`](KeyedBreaker::call)); the times are
//! read on the breakers' clock, to the resolution of its cheap reading (the
//! kernel's coarse clock, a few milliseconds; exact on a manual clock).
//!
//! - **Idle keys are dropped.** A key with no call for `idle` is dropped if it
//!   is Closed, or Open with its open period over (its next call would be a
//!   trial, which a new key's breaker would admit too; without this, keys
//!   that fail once and are never called again would hold their places for
//!   ever). Idle keys are found lazily: when a new key is created (at most one
//!   scan every `idle / 4`, and whenever the bound is reached), and by
//!   [`sweep`](KeyedBreaker::sweep).
//! - **At the bound, the least recently used Closed keys go first.** When a
//!   new key finds `max_keys` keys live and none idle, the Closed keys are
//!   evicted in order of last use (oldest first; among keys last used at the
//!   same instant, the oldest created first): the one needed, plus a margin
//!   of `max_keys / 64`, so the scan runs once per that many new keys rather
//!   than on each.
//! - **An open key is never evicted while it is open.** Open (until its
//!   period is over and it is idle, above), HalfOpen and ForcedOpen keys stay,
//!   and so do Disabled and MetricsOnly keys: those are an operator's
//!   choice, which eviction would silently undo. Only
//!   [`remove`](KeyedBreaker::remove) drops them.
//! - **When no key can go**, the new key's calls go through one shared
//!   overflow breaker, `name[*]` (with the same configuration, registered
//!   too), and a warning is logged through `tracing`; making room is tried
//!   again at most once a second. So memory stays bounded (`max_keys + 1`
//!   breakers) and new keys are still guarded, together.
//!
//! An evicted key forgets its counters: its next call creates a new, Closed
//! breaker. Calls in flight on it when it is evicted finish on the old one.
//!
//! # Cost
//! Looking up a known key hashes it (FxHash, to find it among the thread's
//! recent keys; foldhash, seeded per process, to look it up in the table),
//! compares keys and stamps the key's last use (a coarse clock reading, and a
//! relaxed store only when that clock moved on). A thread stamps a key it
//! remembers at most once a tick of the real clock's recent reading (about a
//! millisecond): within a tick the reading moves by less than its resolution.
//! A stamp may then lag by as long as that clock's ticking thread is starved
//! of the CPU; a key in use looks idle only if it is starved for longer than
//! `idle`. Under any other clock every call stamps. A key this thread called
//! recently is found in the thread's own memory of its last keys (32 of
//! them, over every keyed breaker): no lock and no reference count, so
//! [`call`](KeyedBreaker::call) and the attribute run on it with no atomic
//! read-modify-write beyond the breaker's own. Any other key takes the read
//! lock of one of up to 64 shards, and is remembered. No global lock and no
//! allocation either way. Creating and evicting keys is serialised per keyed
//! breaker; a removal makes every thread forget what it remembered of that
//! keyed breaker's keys.

// This file only says what is public. The children never import it: what
// they share is in `keys.rs` (the state of one keyed breaker) and `table.rs`
// (a key's slot), so every import points one way.

mod api;
mod builder;
pub(crate) mod call;
mod eviction;
mod hold;
mod home;
mod keys;
mod recent;
mod reconfigure;
mod registry;
mod table;
mod ticket;

pub use api::KeyedBreaker;
pub use builder::{DEFAULT_IDLE, DEFAULT_LABEL, DEFAULT_MAX_KEYS, KeyedBuilder, MAX_KEYS};
pub(crate) use keys::Keyed;
pub(crate) use ticket::Ticket;
