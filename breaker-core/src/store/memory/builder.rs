//! [`MemoryStoreBuilder`]: the in-memory store's settings, the Redis
//! store's that have a meaning without a network (`trial_ttl`,
//! `cluster_failures`, `quorum`) and one of its own, the link delay.

use std::time::Duration;

/// The settings of a [`MemoryStore`](super::MemoryStore), from
/// [`MemoryStore::builder`](super::MemoryStore::builder).
#[derive(Clone, Debug)]
pub struct MemoryStoreBuilder {
    pub(super) link_delay: Duration,
    pub(super) trial_ttl: Duration,
    pub(super) cluster_failures: bool,
    pub(super) quorum: u32,
    pub(super) record_writes: bool,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        MemoryStoreBuilder {
            link_delay: Duration::ZERO,
            trial_ttl: Duration::from_secs(10),
            cluster_failures: false,
            quorum: 1,
            record_writes: false,
        }
    }
}

impl MemoryStoreBuilder {
    /// How long a transition written by one replica takes to reach the
    /// others (default zero: at the same instant, once delivered).
    pub fn link_delay(mut self, delay: Duration) -> Self {
        self.link_delay = delay;
        self
    }

    /// The life of the trial permits after their last taking (default 10 s,
    /// as the Redis store's).
    pub fn trial_ttl(mut self, ttl: Duration) -> Self {
        self.trial_ttl = ttl;
        self
    }

    /// Counts every failure in Closed across the replicas too, and opens
    /// every replica when their sum reaches `fail_max` within `within`
    /// (default: `reset`), as the Redis store's `cluster_failures`.
    pub fn cluster_failures(mut self, on: bool) -> Self {
        self.cluster_failures = on;
        self
    }

    /// Opening by quorum: a replica's own opening stays local until `n`
    /// replicas opened the breaker within one open period (1, the default:
    /// every opening is shared at once). 0 counts as 1.
    pub fn quorum(mut self, n: u32) -> Self {
        self.quorum = n.max(1);
        self
    }

    /// Keeps every write of the shared state, for
    /// [`MemoryStore::take_writes`](super::MemoryStore::take_writes) (off by
    /// default: a long run would keep them all).
    pub fn record_writes(mut self, on: bool) -> Self {
        self.record_writes = on;
        self
    }
}
