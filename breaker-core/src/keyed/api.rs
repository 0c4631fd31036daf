//! [`KeyedBreaker`] as users hold it: a cheap handle on the state its clones
//! share, with the lookups, calls and operators' actions of the
//! [module documentation](crate::keyed). The fast path of a lookup is here,
//! inlined into callers; everything slower is in `keys.rs` and `eviction.rs`.

use std::borrow::Borrow;
use std::fmt::{self, Display};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::call::KeyedCall;
use super::keys::Keyed;
use super::recent;
use super::table::Slot;
use super::ticket::Ticket;
use crate::breaker::CallFuture;
use crate::{Breaker, Config, Error};

impl<K> Keyed<K>
where
    K: Hash + Eq + Display + Send + Sync + 'static,
{
    /// The breaker of `key` as [`KeyedBreaker::get`] finds it, without
    /// taking a reference to it when this thread called the key recently:
    /// then its place in the thread's recent keys, to run the call on with
    /// [`Ticket::with`]. The key is borrowed only here, so the call's body
    /// may take what the key borrowed.
    // Always inlined: out of line, the ticket came back through memory in
    // narrower stores than the caller read it with (a store-forwarding
    // stall that cost more than the lookup).
    #[inline(always)]
    pub(crate) fn ticket<Q>(&self, key: &Q) -> Ticket<K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let hash = recent::hash_of(key);
        let generation = recent::Generation::from_word(self.generation.load(Ordering::Acquire));
        let found = recent::find(generation, hash, |slot: &Slot<K>| slot.key.borrow() == key);
        match found {
            Some(place) => {
                // The use is stamped once a tick from this thread, not on
                // every call (see `clock::tick`).
                let tick = crate::clock::tick();
                if place.stamp_due(tick, || crate::clock::stamp_at(tick)) {
                    place.slot().touch(self.now());
                }
                Ticket::recent(place)
            }
            None => self.ticket_slow(key, self.now(), generation, hash),
        }
    }
}

/// One breaker per distinct key, bounded. Cheap to clone: clones are the
/// same keyed breaker. See the [module documentation](crate::keyed).
pub struct KeyedBreaker<K> {
    pub(super) inner: Arc<Keyed<K>>,
}

impl<K> Clone for KeyedBreaker<K> {
    fn clone(&self) -> Self {
        KeyedBreaker {
            inner: self.inner.clone(),
        }
    }
}

impl<K> KeyedBreaker<K>
where
    K: Hash + Eq + Display + Send + Sync + 'static,
{
    /// The breaker of `key`, created (Closed) if the key is new; marks the
    /// key used. For a known key: one lookup, no global lock, no allocation.
    ///
    /// When `max_keys` keys are live and none can go (see the
    /// [module documentation](crate::keyed)), this is the shared overflow breaker.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Breaker
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.ticket(key).with(Breaker::clone)
    }

    /// The breaker of `key` as [`get`](KeyedBreaker::get) finds it, without
    /// taking a reference to it when this thread called the key recently:
    /// see [`Keyed::ticket`].
    #[inline(always)]
    pub(crate) fn ticket<Q>(&self, key: &Q) -> Ticket<K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.inner.ticket(key)
    }

    /// What the clones share, for a call site that keeps this keyed breaker
    /// for the life of the process (`#[circuit_breaker(key = ..)]`): reached
    /// with one load less than through a clone.
    pub(crate) fn leak(self) -> &'static Keyed<K> {
        // SAFETY: `into_raw` hands over this clone's reference, never given
        // back: the shared part lives as long as the process.
        unsafe { &*Arc::into_raw(self.inner) }
    }

    /// The breaker of `key` if it is live, without creating it or marking it
    /// used: what an operator acts on (`keyed.peek("a.example")?.trip()`).
    pub fn peek<Q>(&self, key: &Q) -> Option<Breaker>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        inner.table.find(inner.table.hash(key), key, None)
    }

    /// Runs `f` through the breaker of `key` (see [`Breaker::call`]).
    #[inline]
    pub fn call<Q, T, E, F>(&self, key: &Q, f: F) -> Result<T, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Result<T, E>,
        E: From<Error> + Display,
    {
        self.ticket(key).with(|breaker| breaker.call(f))
    }

    /// Runs a future through the breaker of `key` (see [`Breaker::call_async`]):
    /// the key is looked up at the first poll, and its breaker kept by the
    /// returned future until the call is over. A future ready at its first
    /// poll keeps it as a sync call does, pinned in this thread's recent
    /// keys, with no reference count; one that pends counts it, and may then
    /// resume on any thread.
    pub fn call_async<'a, Q, T, E, Fut>(
        &'a self,
        key: &'a Q,
        fut: Fut,
    ) -> impl Future<Output = Result<T, E>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Display,
    {
        CallFuture::new(
            move || KeyedCall::pinned(self.ticket(key)),
            KeyedCall::finish,
            fut,
        )
    }

    /// Drops `key` whatever its state (an operator's choice), unregistering
    /// its breaker. Returns it, if the key was live.
    pub fn remove<Q>(&self, key: &Q) -> Option<Breaker>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.table.hash(key);
        let _admin = inner.admin();
        let slot = inner.table.remove(hash, |slot| slot.key.borrow() == key)?;
        inner.removed(std::slice::from_ref(&slot));
        Some(slot.breaker.clone())
    }

    /// Drops every idle key now (see the [module documentation](crate::keyed)), and
    /// says how many went.
    pub fn sweep(&self) -> usize {
        let inner = &*self.inner;
        let now = inner.now();
        let mut admin = inner.admin();
        inner.drop_idle(&mut admin, now)
    }

    /// The live keys, least recently used first (among keys last used at the
    /// same instant, the oldest created first): the order of eviction, had
    /// they all been Closed.
    pub fn keys(&self) -> Vec<K>
    where
        K: Clone,
    {
        let mut keys = Vec::new();
        self.inner.table.for_each(|slot| {
            keys.push((slot.last_used(), slot.seq, slot.key.clone()));
        });
        keys.sort_by_key(|(used, seq, _)| (*used, *seq));
        keys.into_iter().map(|(_, _, key)| key).collect()
    }

    /// The live keys' breakers, sorted by name.
    pub fn breakers(&self) -> Vec<Breaker> {
        let mut breakers = Vec::new();
        self.inner
            .table
            .for_each(|slot| breakers.push(slot.breaker.clone()));
        breakers.sort_by(|a, b| a.name().cmp(b.name()));
        breakers
    }

    /// How many keys are live (the overflow breaker is not a key).
    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Acquire)
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The breaker that keys beyond the bound share, once one needed it.
    pub fn overflow(&self) -> Option<Breaker> {
        self.inner.overflow.get().cloned()
    }

    /// The name of the breaker `key` has or would have: `name[label=key]`,
    /// with control characters escaped (`\n`).
    pub fn key_name<Q: Display + ?Sized>(&self, key: &Q) -> String {
        self.inner.key_name(key)
    }

    /// The keyed breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The label of the keys' names.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The configuration of every key's breaker: the one it was built with,
    /// as changed by [`reconfigure`](KeyedBreaker::reconfigure) since.
    pub fn config(&self) -> &Config {
        self.inner.config.get()
    }

    /// Reconfigures the whole family: `patch` (the attribute's keys, as
    /// [`Breaker::reconfigure`] takes them) is set over the configuration of
    /// new keys' breakers and checked whole; a valid result then reconfigures
    /// every live key's breaker (and the overflow breaker) with the same
    /// patch, each keeping its state as SEMANTICS.md "Reconfiguration" says.
    /// An invalid result changes nothing. Returns the keys whose value
    /// changed in the family's configuration.
    ///
    /// ```
    /// use breaker_core::keyed::KeyedBreaker;
    ///
    /// let hosts = KeyedBreaker::<String>::builder("hosts").build().unwrap();
    /// let a = hosts.get("a");
    /// assert_eq!(hosts.reconfigure("fail_max = 2"), Ok(vec!["fail_max"]));
    /// assert_eq!(a.config().fail_max(), Some(2), "a live key");
    /// assert_eq!(hosts.get("b").config().fail_max(), Some(2), "a new key");
    /// ```
    pub fn reconfigure(&self, patch: &str) -> Result<Vec<&'static str>, crate::ConfigError> {
        crate::registry::Family::reconfigure(&*self.inner, patch)
    }

    /// The bound on live keys.
    pub fn max_keys(&self) -> usize {
        self.inner.max_keys
    }

    /// How long a key may go without a call before it is dropped.
    pub fn idle(&self) -> Duration {
        Duration::from_nanos(self.inner.idle)
    }
}

impl<K> fmt::Debug for KeyedBreaker<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBreaker")
            .field("name", &self.inner.name)
            .field("label", &self.inner.label)
            .field("keys", &self.inner.len.load(Ordering::Relaxed))
            .field("max_keys", &self.inner.max_keys)
            .field("idle", &Duration::from_nanos(self.inner.idle))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    use super::KeyedBreaker;
    use crate::Error;
    use crate::breaker::PendOnce;

    fn keyed() -> KeyedBreaker<u64> {
        KeyedBreaker::builder("keyed-call-async")
            .build()
            .expect("default settings")
    }

    #[test]
    fn an_async_call_keeps_its_keys_breaker_until_it_is_dropped_on_any_thread() {
        let keyed = keyed();
        let mut cx = Context::from_waker(Waker::noop());
        // Created, then remembered by this thread (which keeps references
        // of its own), then found: the count settles.
        for _ in 0..3 {
            drop(keyed.get(&1));
        }
        let key = keyed.get(&1);
        let settled = key.handles();

        // Looked up at the first poll, not before.
        let call = keyed.call_async(&1, PendOnce(false));
        assert_eq!(key.handles(), settled);
        let mut call = Box::pin(call);
        assert!(call.as_mut().poll(&mut cx).is_pending());
        assert_eq!(key.handles(), settled + 1, "kept while the call runs");
        // Finished on another thread, then dropped there.
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut cx = Context::from_waker(Waker::noop());
                assert!(matches!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
            });
        });
        assert_eq!(key.handles(), settled);
        assert_eq!((key.stats().successes, key.stats().in_flight), (1, 0));

        // Dropped while pending: cancelled, and the breaker let go.
        let mut cancelled = Box::pin(keyed.call_async(&1, PendOnce(false)));
        assert!(cancelled.as_mut().poll(&mut cx).is_pending());
        drop(cancelled);
        assert_eq!(key.handles(), settled);
        assert_eq!((key.stats().failures, key.stats().in_flight), (0, 0));

        // Rejected: answered at the first poll, nothing kept.
        key.trip();
        let mut rejected = Box::pin(keyed.call_async(&1, async { Ok::<u32, Error>(1) }));
        match rejected.as_mut().poll(&mut cx) {
            Poll::Ready(Err(error)) => assert!(error.is_rejected(), "{error}"),
            other => panic!("rejected at the first poll, got {other:?}"),
        }
        assert_eq!(key.handles(), settled);
    }

    // Whoever catches a panic may drop the future on another thread: the
    // panic is a failure, and the future holds nothing after it.
    #[test]
    fn a_panic_in_an_async_call_is_a_failure_and_lets_go_of_its_keys_breaker() {
        use std::panic::{AssertUnwindSafe, catch_unwind};

        struct Panics;
        impl Future for Panics {
            type Output = Result<(), Error>;
            fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
                panic!("the body panics");
            }
        }

        let keyed = keyed();
        for _ in 0..3 {
            drop(keyed.get(&1));
        }
        let key = keyed.get(&1);
        let settled = key.handles();
        let mut call = Box::pin(keyed.call_async(&1, Panics));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut cx))).is_err());
        let stats = key.stats();
        assert_eq!((stats.failures, stats.in_flight), (1, 0));
        assert_eq!(key.handles(), settled);
        assert_eq!(super::recent::pinned_here(), 0, "unpinned by the panic");
        std::thread::scope(|s| {
            s.spawn(move || drop(call));
        });
        assert_eq!(key.handles(), settled);
        assert_eq!(key.stats().failures, 1);
        // The key's entry was let go: its next call here runs and counts.
        let mut next = Box::pin(keyed.call_async(&1, async { Ok::<u32, Error>(2) }));
        assert!(matches!(next.as_mut().poll(&mut cx), Poll::Ready(Ok(2))));
        assert_eq!(key.stats().successes, 1);
    }
}
