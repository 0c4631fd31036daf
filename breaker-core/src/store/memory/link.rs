//! [`MemoryLink`]: the [`Link`] a breaker of an in-memory store holds. It
//! decides at once, under the store's lock: nothing in memory is worth
//! waiting for, and nothing runs on a thread of its own.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::rules::Threshold;
use super::space::Space;
use crate::breaker::WeakBreaker;
use crate::store::{Change, Link, Trial};

/// The [`Link`] of one breaker.
pub(super) struct MemoryLink {
    pub(super) space: Arc<Mutex<Space>>,
    pub(super) member: usize,
    /// The breaker's configuration decides the cap and the threshold at
    /// each call, so a reconfiguration applies at once.
    pub(super) breaker: WeakBreaker,
    pub(super) cluster_failures: bool,
}

impl MemoryLink {
    fn space(&self) -> MutexGuard<'_, Space> {
        self.space.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Link for MemoryLink {
    fn publish(&self, change: &Change) {
        self.space().publish(self.member, change);
    }

    fn acquire_trial(&self) -> Trial {
        let cap = self
            .breaker
            .upgrade()
            .map_or(1, |breaker| breaker.config().half_open());
        self.space().acquire(self.member, cap)
    }

    fn release_trial(&self) {
        self.space().release(self.member);
    }

    fn counts_failures(&self) -> bool {
        self.cluster_failures
    }

    fn failure(&self) {
        let Some(breaker) = self.breaker.upgrade() else {
            return;
        };
        let config = breaker.config();
        let threshold = Threshold {
            fail_max: config.fail_max().or(config.consecutive()).unwrap_or(5),
            window: config.within().unwrap_or(config.reset()),
            period: config.reset().max(Duration::from_millis(1)),
        };
        self.space().failure(self.member, threshold);
    }
}
