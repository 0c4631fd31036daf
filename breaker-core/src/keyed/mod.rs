//! Keyed breakers: one breaker per distinct key (a host, a tenant), so that
//! one bad host does not open the breaker for everyone.
//!
//! A [`KeyedBreaker<K>`] hands out the breaker of a key, creating it on the
//! key's first call with the keyed breaker's configuration. Each key's
//! breaker is an ordinary [`Breaker`] named `name[label=key]`
//! (`upstream[host=a.example]`): in a registry, it is listed by
//! [`Registry::list`] and found by [`Registry::get`], so operators act on one
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
//! Looking up a known key hashes it once (foldhash, seeded per process),
//! compares keys and stamps the key's last use (a coarse clock reading, and a
//! relaxed store only when that clock moved on). A key this thread called
//! recently is found in the thread's own memory of its last keys (32 of
//! them, over every keyed breaker): no lock and no reference count, so
//! [`call`](KeyedBreaker::call) and the attribute run on it with no atomic
//! read-modify-write beyond the breaker's own. Any other key takes the read
//! lock of one of up to 64 shards, and is remembered. No global lock and no
//! allocation either way. Creating and evicting keys is serialised per keyed
//! breaker; a removal makes every thread forget what it remembered of that
//! keyed breaker's keys.

mod recent;
mod table;

use std::any::TypeId;
use std::borrow::Borrow;
use std::fmt::{self, Display, Write as _};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::breaker::Environment;
use crate::clock::{Clock, MonotonicClock, saturating_nanos};
use crate::overrides::KeyedSettings;
use crate::{Breaker, Config, ConfigError, Error, Registry, State};
use table::{Slot, Table};

/// The default bound on live keys.
pub const DEFAULT_MAX_KEYS: usize = 1000;
/// The largest bound on live keys.
pub const MAX_KEYS: usize = breaker_vocab::keys::MAX_KEYS as usize;
/// The default time without a call after which a key is dropped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// The default label of the keys' names (`name[key=...]`).
pub const DEFAULT_LABEL: &str = "key";

/// How often, at most, a full table tries again to make room.
const RETRY_ROOM_NANOS: u64 = 1_000_000_000;

/// One breaker per distinct key, bounded. Cheap to clone: clones are the
/// same keyed breaker. See the [module documentation](self).
pub struct KeyedBreaker<K> {
    inner: Arc<Keyed<K>>,
}

impl<K> Clone for KeyedBreaker<K> {
    fn clone(&self) -> Self {
        KeyedBreaker {
            inner: self.inner.clone(),
        }
    }
}

struct Keyed<K> {
    /// Tells this keyed breaker's keys from others' in the registry.
    id: u64,
    name: Arc<str>,
    label: Box<str>,
    config: Config,
    max_keys: usize,
    idle: u64,
    table: Table<K>,
    /// How many times keys were taken out of the table: what a thread's
    /// remembered keys (`recent.rs`) are checked against.
    removals: AtomicU64,
    len: AtomicUsize,
    home: Home,
    /// Until when (coarse clock) no room can be made: new keys go straight
    /// to the overflow breaker.
    full_until: AtomicU64,
    overflow: OnceLock<Breaker>,
    /// Serialises creating and removing keys, so the bound holds exactly.
    admin: Mutex<Admin>,
}

struct Admin {
    next_seq: u64,
    last_sweep: u64,
}

/// Where the keys' breakers live.
enum Home {
    /// Registered: listed and found by name; the registry's clock and listeners.
    Registry(&'static Registry),
    /// Unregistered, on their own clock.
    Alone(Arc<Environment>),
}

impl Home {
    fn environment(&self) -> &Arc<Environment> {
        match self {
            Home::Registry(registry) => registry.environment(),
            Home::Alone(env) => env,
        }
    }

    fn create(&self, name: &str, config: Config, owner: u64) -> Breaker {
        match self {
            Home::Registry(registry) => registry.register_key(name, config, owner),
            Home::Alone(env) => Breaker::in_environment(Arc::from(name), config, env.clone()),
        }
    }

    fn forget<'a>(&self, names: impl IntoIterator<Item = &'a str>, owner: u64) {
        if let Home::Registry(registry) = self {
            registry.unregister_keys(names, owner);
        }
    }
}

/// Builds a [`KeyedBreaker`]: [`KeyedBreaker::builder`].
#[must_use]
pub struct KeyedBuilder<K> {
    name: String,
    label: String,
    config: Config,
    max_keys: usize,
    idle: Duration,
    home: Option<Home>,
    key: PhantomData<fn() -> K>,
}

impl<K> fmt::Debug for KeyedBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBuilder")
            .field("name", &self.name)
            .field("label", &self.label)
            .field("max_keys", &self.max_keys)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl<K> KeyedBuilder<K>
where
    K: Hash + Eq + Display + Send + Sync + 'static,
{
    /// The label of the keys' names: `host` names them `name[host=...]`
    /// (default `key`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The configuration of every key's breaker (default [`Config::default`]).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// At most this many live keys, 1..=[`MAX_KEYS`] (default [`DEFAULT_MAX_KEYS`]).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// A key with no call for this long is dropped (default [`DEFAULT_IDLE`]).
    pub fn idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// The keys' breakers read `clock` and are not registered (default: the
    /// real monotonic clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.home = Some(Home::Alone(Arc::new(Environment::new(clock))));
        self
    }

    /// The keys' breakers are registered in `registry` (listed, found by
    /// name, removed on eviction), on its clock and with its listeners and
    /// store. The configuration takes the registry's overrides for the keyed
    /// breaker's name (`BREAKER_UPSTREAM_FAIL_MAX` reaches every key of
    /// `upstream`), and so do `max_keys` and `idle`
    /// (`BREAKER_UPSTREAM_MAX_KEYS=5000`).
    ///
    /// A registry holds one keyed breaker per name and key type: building one
    /// that exists returns the existing one (its settings win, as with
    /// [`Registry::get_or_create`]). [`Registry::keyed`] finds it.
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.home = Some(Home::Registry(registry));
        self
    }

    /// The keyed breaker, or the first setting that is out of range.
    pub fn build(self) -> Result<KeyedBreaker<K>, ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::new("name", "must not be empty"));
        }
        if self.label.is_empty()
            || self
                .label
                .chars()
                .any(|c| matches!(c, '[' | ']' | '=') || c.is_control())
        {
            return Err(ConfigError::new(
                "label",
                format!(
                    "must be a non-empty word without `[`, `]` or `=`, got {:?}",
                    self.label
                ),
            ));
        }
        if !(1..=MAX_KEYS).contains(&self.max_keys) {
            return Err(ConfigError::new(
                "max_keys",
                format!("must be between 1 and {MAX_KEYS}, got {}", self.max_keys),
            ));
        }
        if self.idle.is_zero() {
            return Err(ConfigError::new("idle", "must be longer than zero"));
        }
        let home = self
            .home
            .unwrap_or_else(|| Home::Alone(Arc::new(Environment::new(MonotonicClock))));
        let registry = match &home {
            Home::Registry(registry) => Some(*registry),
            Home::Alone(_) => None,
        };
        let keyed = KeyedSettings {
            max_keys: self.max_keys,
            idle: self.idle,
        };
        let make = |(config, keyed): (Config, KeyedSettings)| KeyedBreaker {
            inner: Arc::new(Keyed::new(
                self.name.as_str().into(),
                self.label.into(),
                config,
                keyed.max_keys,
                saturating_nanos(keyed.idle),
                home,
            )),
        };
        Ok(match registry {
            None => make((self.config, keyed)),
            Some(registry) => registry.keyed_or_insert(&self.name, || {
                make(registry.configured_keyed(&self.name, self.config, keyed))
            }),
        })
    }
}

impl<K> KeyedBreaker<K>
where
    K: Hash + Eq + Display + Send + Sync + 'static,
{
    /// A keyed breaker named `name`, with the default settings; set them on
    /// the builder, then [`build`](KeyedBuilder::build).
    pub fn builder(name: impl Into<String>) -> KeyedBuilder<K> {
        KeyedBuilder {
            name: name.into(),
            label: DEFAULT_LABEL.to_owned(),
            config: Config::default(),
            max_keys: DEFAULT_MAX_KEYS,
            idle: DEFAULT_IDLE,
            home: None,
            key: PhantomData,
        }
    }

    /// The breaker of `key`, created (Closed) if the key is new; marks the
    /// key used. For a known key: one lookup, no global lock, no allocation.
    ///
    /// When `max_keys` keys are live and none can go (see the
    /// [module documentation](self)), this is the shared overflow breaker.
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
        let inner = &*self.inner;
        let hash = inner.table.hash(key);
        let now = inner.now();
        let removals = inner.removals.load(Ordering::Acquire);
        let found = recent::find(inner.id, removals, hash, |slot: &Slot<K>| {
            let found = slot.key.borrow() == key;
            if found {
                slot.touch(now);
            }
            found
        });
        match found {
            Some(place) => Ticket::recent(place),
            None => inner.ticket_slow(hash, key, now, removals),
        }
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

    /// Runs a future through the breaker of `key` (see [`Breaker::call_async`]).
    pub async fn call_async<Q, T, E, Fut>(&self, key: &Q, fut: Fut) -> Result<T, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Display,
    {
        let breaker = self.get(key);
        breaker.call_async(fut).await
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

    /// Drops every idle key now (see the [module documentation](self)), and
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

    /// The configuration of every key's breaker.
    pub fn config(&self) -> &Config {
        &self.inner.config
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

/// A key's place in an eviction scan.
struct Candidate {
    last_used: u64,
    seq: u64,
    hash: u64,
}

impl<K: Hash + Eq + Display> Keyed<K> {
    fn new(
        name: Arc<str>,
        label: Box<str>,
        config: Config,
        max_keys: usize,
        idle: u64,
        home: Home,
    ) -> Keyed<K> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        Keyed {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            name,
            label,
            config,
            max_keys,
            idle,
            table: Table::new(shards(max_keys)),
            removals: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            home,
            full_until: AtomicU64::new(0),
            overflow: OnceLock::new(),
            admin: Mutex::new(Admin {
                next_seq: 0,
                last_sweep: 0,
            }),
        }
    }

    /// The cheap reading of the breakers' clock: what uses are stamped with.
    #[inline]
    fn now(&self) -> u64 {
        self.home.environment().clock.coarse_ns().0
    }

    fn admin(&self) -> MutexGuard<'_, Admin> {
        // Nothing under this lock panics by design (no user code runs there
        // but `Hash`, `Eq` and `Display` of the keys); if one did, the table
        // and the count are still consistent.
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key_name<Q: Display + ?Sized>(&self, key: &Q) -> String {
        let mut name = format!("{}[{}=", self.name, self.label);
        let mut shown = String::new();
        let _ = write!(shown, "{key}");
        for c in shown.chars() {
            if c.is_control() {
                name.extend(c.escape_default());
            } else {
                name.push(c);
            }
        }
        name.push(']');
        name
    }

    /// A key this thread did not call recently: found in the table (and
    /// remembered), or created.
    #[cold]
    #[inline(never)]
    fn ticket_slow<Q>(&self, hash: u64, key: &Q, now: u64, removals: u64) -> Ticket<K>
    where
        K: Borrow<Q> + 'static,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let Some(slot) = self.table.find_slot(hash, key, now) else {
            return Ticket::owned(self.create(hash, key, now));
        };
        match recent::remember(self.id, removals, hash, slot.clone()) {
            Some(place) => Ticket::recent(place),
            None => Ticket::owned(slot.breaker.clone()),
        }
    }

    /// A key not found: created under the admin lock, making room first.
    #[cold]
    #[inline(never)]
    fn create<Q>(&self, hash: u64, key: &Q, now: u64) -> Breaker
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if now < self.full_until.load(Ordering::Relaxed) {
            if let Some(overflow) = self.overflow.get() {
                return overflow.clone();
            }
        }
        let mut admin = self.admin();
        // Created by another thread while this one waited for the lock.
        if let Some(breaker) = self.table.find(hash, key, Some(now)) {
            return breaker;
        }
        self.make_room(&mut admin, now);
        if self.len.load(Ordering::Acquire) >= self.max_keys {
            self.full_until
                .store(now.saturating_add(RETRY_ROOM_NANOS), Ordering::Relaxed);
            return self.overflow_breaker();
        }
        let key = key.to_owned();
        let name = self.key_name(&key);
        let breaker = self.home.create(&name, self.config.clone(), self.id);
        let seq = admin.next_seq;
        admin.next_seq += 1;
        self.table.insert(Slot {
            key,
            hash,
            name: name.into_boxed_str(),
            breaker: breaker.clone(),
            last_used: AtomicU64::new(now),
            seq,
        });
        self.len.fetch_add(1, Ordering::Release);
        breaker
    }

    fn overflow_breaker(&self) -> Breaker {
        self.overflow
            .get_or_init(|| {
                let name = format!("{}[*]", self.name);
                tracing::warn!(
                    target: "breaker",
                    breaker = &*self.name,
                    max_keys = self.max_keys,
                    "keyed breaker `{}` is full of keys that cannot be evicted (open, half-open or set by an operator); new keys share the breaker `{name}`",
                    self.name,
                );
                self.home.create(&name, self.config.clone(), self.id)
            })
            .clone()
    }

    /// Drops idle keys when a scan is due, then evicts least recently used
    /// Closed keys if the bound is reached.
    fn make_room(&self, admin: &mut Admin, now: u64) {
        let full = self.len.load(Ordering::Acquire) >= self.max_keys;
        if full || now.saturating_sub(admin.last_sweep) >= self.idle / 4 {
            self.drop_idle(admin, now);
        }
        let len = self.len.load(Ordering::Acquire);
        if len < self.max_keys {
            return;
        }
        let mut closed = Vec::new();
        self.table.for_each(|slot| {
            if slot.breaker.state() == State::Closed {
                closed.push(Candidate {
                    last_used: slot.last_used(),
                    seq: slot.seq,
                    hash: slot.hash,
                });
            }
        });
        let wanted = (len + 1 - self.max_keys + self.max_keys / 64).min(closed.len());
        if wanted == 0 {
            return;
        }
        let order = |c: &Candidate| (c.last_used, c.seq);
        if wanted < closed.len() {
            closed.select_nth_unstable_by_key(wanted - 1, order);
            closed.truncate(wanted);
        }
        closed.sort_unstable_by_key(order);
        let evicted: Vec<Arc<Slot<K>>> = closed
            .iter()
            .filter_map(|c| {
                // Still Closed and not used since the scan: a key used
                // meanwhile is no longer among the least recently used.
                self.table.remove(c.hash, |slot| {
                    slot.seq == c.seq
                        && slot.last_used() == c.last_used
                        && slot.breaker.state() == State::Closed
                })
            })
            .collect();
        self.removed(&evicted);
    }

    /// Drops every idle key; returns how many.
    fn drop_idle(&self, admin: &mut Admin, now: u64) -> usize {
        admin.last_sweep = now;
        let mut idle = Vec::new();
        self.table.for_each(|slot| {
            if self.is_idle(slot, now) {
                idle.push((slot.hash, slot.seq));
            }
        });
        let dropped: Vec<Arc<Slot<K>>> = idle
            .into_iter()
            .filter_map(|(hash, seq)| {
                self.table
                    .remove(hash, |slot| slot.seq == seq && self.is_idle(slot, now))
            })
            .collect();
        self.removed(&dropped);
        dropped.len()
    }

    /// No call for `idle`, and Closed, or Open with its period over.
    fn is_idle(&self, slot: &Slot<K>, now: u64) -> bool {
        if now.saturating_sub(slot.last_used()) < self.idle {
            return false;
        }
        match slot.breaker.state() {
            State::Closed => true,
            State::Open => {
                let (state, left, _) = slot.breaker.shared_view();
                state == State::Open && left.is_zero()
            }
            _ => false,
        }
    }

    /// Accounts for slots taken out of the table, and unregisters them.
    fn removed(&self, slots: &[Arc<Slot<K>>]) {
        if slots.is_empty() {
            return;
        }
        // After the slots left the table: a thread that reads the new count
        // finds the key gone from the table too.
        self.removals.fetch_add(1, Ordering::Release);
        self.len.fetch_sub(slots.len(), Ordering::Release);
        self.home
            .forget(slots.iter().map(|slot| &*slot.name), self.id);
        for slot in slots {
            tracing::debug!(
                target: "breaker",
                breaker = &*slot.name,
                state = ?slot.breaker.state(),
                "key dropped from keyed breaker `{}`",
                self.name
            );
        }
    }
}

/// A key's breaker, found by [`KeyedBreaker::ticket`], to run one call on:
/// its place in this thread's recent keys, pinned there until the call runs,
/// or the breaker itself when it is not remembered there (a new key, the
/// overflow breaker, a key found from inside another key's call).
pub(crate) struct Ticket<K> {
    recent: Option<recent::Place>,
    owned: Option<Breaker>,
    key: PhantomData<fn() -> K>,
}

impl<K: 'static> Ticket<K> {
    fn recent(place: recent::Place) -> Ticket<K> {
        Ticket {
            recent: Some(place),
            owned: None,
            key: PhantomData,
        }
    }

    fn owned(breaker: Breaker) -> Ticket<K> {
        Ticket {
            recent: None,
            owned: Some(breaker),
            key: PhantomData,
        }
    }

    /// Runs `f` on the key's breaker.
    #[inline(always)]
    pub(crate) fn with<R>(self, f: impl FnOnce(&Breaker) -> R) -> R {
        match (self.recent, self.owned) {
            (Some(place), _) => recent::with(place, |slot: &Slot<K>| f(&slot.breaker)),
            (None, Some(breaker)) => f(&breaker),
            (None, None) => unreachable!("a ticket is made with a breaker"),
        }
    }
}

/// Enough shards that threads rarely meet on one: four per CPU, a power of
/// two, at most 64, and no more than keys.
fn shards(max_keys: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, usize::from);
    (cpus * 4).min(64).min(max_keys).max(1).next_power_of_two()
}

impl Registry {
    /// The keyed breaker named `name` whose keys are `K`, if this registry
    /// has one: built with [`KeyedBuilder::registry`], or by an annotated
    /// function with `key = ...` (for `key = req.host()`, a `&str`, `K` is
    /// `String`: the key's owned form).
    pub fn keyed<K>(&self, name: &str) -> Option<KeyedBreaker<K>>
    where
        K: Hash + Eq + Display + Send + Sync + 'static,
    {
        let sets = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        sets.iter()
            .find(|(n, ty, _)| &**n == name && *ty == TypeId::of::<K>())
            .and_then(|(_, _, set)| set.clone().downcast::<Keyed<K>>().ok())
            .map(|inner| KeyedBreaker { inner })
    }

    /// The keyed breaker `name` of key type `K`, made by `make` if there is none.
    pub(crate) fn keyed_or_insert<K>(
        &self,
        name: &str,
        make: impl FnOnce() -> KeyedBreaker<K>,
    ) -> KeyedBreaker<K>
    where
        K: Hash + Eq + Display + Send + Sync + 'static,
    {
        let mut sets = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        let found = sets
            .iter()
            .find(|(n, ty, _)| &**n == name && *ty == TypeId::of::<K>())
            .and_then(|(_, _, set)| set.clone().downcast::<Keyed<K>>().ok());
        if let Some(inner) = found {
            return KeyedBreaker { inner };
        }
        let made = make();
        sets.push((
            Arc::from(name),
            TypeId::of::<K>(),
            made.inner.clone() as Arc<dyn std::any::Any + Send + Sync>,
        ));
        made
    }
}
