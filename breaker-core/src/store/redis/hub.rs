//! [`Core`]: what the store's thread and the breakers' links share: the
//! settings, whether Redis is up, every breaker that joined, the bad data
//! already reported, and Redis' clock as last read.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::builder::RedisStoreBuilder;
use super::membership::LinkState;
use super::wire::{Fault, Refused};
use crate::store::joined::Joined;
use crate::store::server_clock::ServerClock;

/// What the store's thread and the links share.
pub(super) struct Core {
    pub(super) options: RedisStoreBuilder,
    pub(super) channel: String,
    /// Where reconfigurations are announced (`configs` module).
    pub(super) config_channel: String,
    /// This process among the replicas, and the set of every replica that
    /// joined the namespace (scored by when it was last seen).
    pub(super) replica: String,
    pub(super) replicas_key: String,
    /// The breakers whose quorum was reported out of reach, once each.
    pub(super) unreachable_quorum: Mutex<HashSet<String>>,
    pub(super) up: AtomicBool,
    /// Every breaker that joined, by name (several may share one).
    pub(super) links: Joined<LinkState>,
    /// The kinds of bad data already reported, by breaker name: junk is
    /// read again at every transition, and reported only the first time.
    pub(super) reported: Mutex<HashSet<(String, Fault)>>,
    /// Redis' `TIME` as last read: a message has no time of its own to
    /// check its epoch against.
    pub(super) redis_time: ServerClock,
}

impl Core {
    /// Reports a refused value, once per breaker and kind.
    pub(super) fn refuse(&self, name: &str, refused: &Refused) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name.to_owned(), refused.fault));
        if first {
            tracing::warn!(
                target: "breaker",
                namespace = %self.options.namespace,
                breaker = name,
                problem = %refused.fault,
                value = %refused.detail,
                "ignored bad shared state in Redis; the breaker keeps its local state \
                 (reported once)"
            );
        }
    }

    /// Reports a replica's description left out of the fleet, once per
    /// replica and kind.
    pub(super) fn refuse_description(&self, replica: &str, refused: &Refused) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((format!("replica {replica}"), refused.fault));
        if first {
            tracing::warn!(
                target: "breaker",
                namespace = %self.options.namespace,
                replica = %replica,
                problem = %refused.fault,
                value = %refused.detail,
                "left a replica's description out of the fleet (reported once)"
            );
        }
    }

    pub(super) fn note_redis_time(&self, now_us: u64) {
        self.redis_time.note(now_us);
    }

    /// Redis' clock now, in µs: the last one read, advanced by the time
    /// passed here since (this process's clock, if Redis never said).
    pub(super) fn redis_now_us(&self) -> u64 {
        self.redis_time.now_us()
    }

    pub(super) fn links_named(&self, name: &str) -> Vec<Arc<LinkState>> {
        self.links.named(name)
    }

    pub(super) fn all_links(&self) -> Vec<Arc<LinkState>> {
        self.links.all()
    }
}
