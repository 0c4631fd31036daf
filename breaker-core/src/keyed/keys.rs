//! What the clones of one keyed breaker share ([`Keyed`]), and how a key
//! that is not in this thread's recent keys is found in the table or
//! created: the slow path of a lookup, cold and out of line, serialised per
//! keyed breaker only when a key is created.

use std::borrow::Borrow;
use std::fmt::{Display, Write as _};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::home::Home;
use super::recent;
use super::table::{Slot, Table};
use super::ticket::Ticket;
use crate::kept::Kept;
use crate::{Breaker, Config};

/// How often, at most, a full table tries again to make room.
const RETRY_ROOM_NANOS: u64 = 1_000_000_000;

/// What every clone of a [`KeyedBreaker`](super::KeyedBreaker) shares.
pub(crate) struct Keyed<K> {
    /// Tells this keyed breaker's keys from others' in the registry.
    pub(super) id: u64,
    pub(super) name: Arc<str>,
    pub(super) label: Box<str>,
    /// The configuration of new keys' breakers: reconfigured with the family.
    pub(super) config: Kept<Config>,
    pub(super) max_keys: usize,
    pub(super) idle: u64,
    pub(super) table: Table<K>,
    /// This keyed breaker's id and how many times keys were taken out of the
    /// table, a `recent::Generation`: what a thread's remembered keys are
    /// checked against.
    pub(super) generation: AtomicU64,
    pub(super) len: AtomicUsize,
    pub(super) home: Home,
    /// Until when (coarse clock) no room can be made: new keys go straight
    /// to the overflow breaker.
    pub(super) full_until: AtomicU64,
    pub(super) overflow: OnceLock<Breaker>,
    /// Serialises creating and removing keys, so the bound holds exactly.
    pub(super) admin: Mutex<Admin>,
}

pub(super) struct Admin {
    pub(super) next_seq: u64,
    pub(super) last_sweep: u64,
}

impl<K: Hash + Eq + Display> Keyed<K> {
    pub(super) fn new(
        name: Arc<str>,
        label: Box<str>,
        config: Config,
        max_keys: usize,
        idle: u64,
        home: Home,
    ) -> Keyed<K> {
        // One counter for every `K` (a static of a generic function is one):
        // `recent` relies on an id naming one keyed breaker, of one key type.
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        Keyed {
            id,
            name,
            label,
            config: Kept::new(config),
            max_keys,
            idle,
            table: Table::new(shards(max_keys)),
            generation: AtomicU64::new(recent::Generation::first(id).word()),
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
    pub(super) fn now(&self) -> u64 {
        self.home.environment().clock.coarse_ns().0
    }

    pub(super) fn admin(&self) -> MutexGuard<'_, Admin> {
        // Nothing under this lock panics by design (no user code runs there
        // but `Hash`, `Eq` and `Display` of the keys); if one did, the table
        // and the count are still consistent.
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn key_name<Q: Display + ?Sized>(&self, key: &Q) -> String {
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
    /// remembered under `recent_hash`, its `recent::hash_of`), or created.
    #[cold]
    #[inline(never)]
    pub(super) fn ticket_slow<Q>(
        &self,
        key: &Q,
        now: u64,
        generation: recent::Generation,
        recent_hash: u64,
    ) -> Ticket<K>
    where
        K: Borrow<Q> + 'static,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let hash = self.table.hash(key);
        let Some(slot) = self.table.find_slot(hash, key, now) else {
            return Ticket::owned(self.create(hash, key, now));
        };
        let breaker = slot.breaker.clone();
        match recent::remember(generation, recent_hash, slot, breaker) {
            Ok(place) => Ticket::recent(place),
            Err(slot) => Ticket::owned(slot.breaker.clone()),
        }
    }

    /// A key not found: created under the admin lock, making room first.
    #[cold]
    #[inline(never)]
    pub(super) fn create<Q>(&self, hash: u64, key: &Q, now: u64) -> Breaker
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
        let breaker = self.home.create(&name, self.config.get().clone(), self.id);
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

    pub(super) fn overflow_breaker(&self) -> Breaker {
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
                self.home.create(&name, self.config.get().clone(), self.id)
            })
            .clone()
    }
}

/// Enough shards that threads rarely meet on one: four per CPU, a power of
/// two, at most 64, and no more than keys.
fn shards(max_keys: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(4, usize::from);
    (cpus * 4).min(64).min(max_keys).max(1).next_power_of_two()
}
