//! [`Counting`]: a store wrapped so that every call a breaker makes into its
//! link is counted, to show what makes none (a Closed success, a failure in
//! Closed) whatever the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use breaker_core::store::{Change, Link, Store, Trial};
use breaker_core::{Breaker, Configured};

/// `inner`, with every call into a breaker's link added to `calls`.
pub struct Counting<S> {
    pub inner: S,
    pub calls: Arc<AtomicU32>,
}

struct CountingLink {
    inner: Arc<dyn Link>,
    calls: Arc<AtomicU32>,
}

impl CountingLink {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: Store> Store for Counting<S> {
    fn attach(&self, breaker: &Breaker) -> Option<Arc<dyn Link>> {
        let inner = self.inner.attach(breaker)?;
        Some(Arc::new(CountingLink {
            inner,
            calls: self.calls.clone(),
        }))
    }
}

impl Link for CountingLink {
    fn publish(&self, change: &Change) {
        self.count();
        self.inner.publish(change);
    }
    fn acquire_trial(&self) -> Trial {
        self.count();
        self.inner.acquire_trial()
    }
    fn release_trial(&self) {
        self.count();
        self.inner.release_trial();
    }
    fn counts_failures(&self) -> bool {
        self.inner.counts_failures()
    }
    fn failure(&self) {
        self.count();
        self.inner.failure();
    }
    fn configured(&self, configured: &Configured) {
        self.count();
        self.inner.configured(configured);
    }
}
