//! A shared-state store in memory, on a clock you give it: the breakers of
//! several replicas (a registry each, in one process) share their state by
//! the Redis store's rules, with a link delay and partitions, and time moves
//! only when its driver says so.
//!
//! It is what `breaker-sim run --replicas N` replays a fleet through, and
//! what the rules of the Redis store are tested against without a server
//! (the same tests run against both). The rules are the Redis store's
//! scripts (`store/redis/scripts.rs`), one function each in `rules`:
//! an operator's action always wins, an Open held elsewhere wins over a
//! local close, opening while an Open is held joins it, at most `half_open`
//! trial permits across the replicas (expiring `trial_ttl` after the last
//! taking), optional failure counting across replicas and opening by quorum,
//! and epochs that only grow. What differs, and why:
//!
//! - A write is held at once, under the store's lock, where the Redis
//!   store's thread writes a moment after the transition; the writer's own
//!   adoption of what overruled it is due at once.
//! - The other replicas hear of it after the link delay, when the driver
//!   delivers ([`MemoryStore::deliver_until`]); each adopts the time left
//!   measured then, so every replica's Open ends at the same instant.
//! - Nothing is read from outside, so nothing is checked: there is no junk.
//! - Reconfigurations are not shared (the Redis store's `configs`), nor is
//!   the fleet described ([`Store::fleet`](crate::store::Store::fleet)).
//!
//! See `docs/shared-state.md`, "In memory".

mod builder;
mod link;
mod record;
mod rules;
mod space;
mod store;
#[cfg(test)]
mod tests;

pub use builder::MemoryStoreBuilder;
pub use record::Shared;
pub use space::Written;
pub use store::{Adopted, MemoryStore};
