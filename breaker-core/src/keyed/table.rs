//! The keys' table: a fixed number of shards, each a hash table behind its
//! own reader-writer lock.
//!
//! A key is hashed once: the middle bits of the hash pick the shard, and the
//! shard's table uses the low bits (the bucket) and the top seven (the
//! control byte), so the shard choice takes no entropy from either. Looking a
//! known key up takes the read lock of one shard: two atomic operations on
//! that shard's line, never a lock shared by every key.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::Breaker;

/// One live key. Shared: a thread's recently called keys (`recent.rs`)
/// keep their slots alive, so that a slot evicted meanwhile is still whole.
pub(super) struct Slot<K> {
    pub(super) key: K,
    pub(super) hash: u64,
    /// The key's name in the registry: `upstream[host=a.example]`.
    pub(super) name: Box<str>,
    pub(super) breaker: Breaker,
    /// When the key was last looked up, on the breaker's coarse clock.
    pub(super) last_used: AtomicU64,
    /// The order keys were created in: the tie-break between keys last used
    /// at the same instant (the older goes first).
    pub(super) seq: u64,
}

impl<K> Slot<K> {
    /// Marks the key used at `now`. Writes only when the time moved on, so
    /// calls of one key at one instant of the coarse clock share its line
    /// without bouncing it.
    #[inline]
    pub(super) fn touch(&self, now: u64) {
        if self.last_used.load(Ordering::Relaxed) < now {
            self.last_used.fetch_max(now, Ordering::Relaxed);
        }
    }

    pub(super) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }
}

/// A shard alone on its cache lines, so that readers of two shards do not
/// write to one line.
#[repr(align(128))]
struct Shard<K>(RwLock<HashTable<Arc<Slot<K>>>>);

pub(super) struct Table<K> {
    shards: Box<[Shard<K>]>,
    hasher: DefaultHashBuilder,
}

/// Where the shard index is taken from: above the bucket bits of any table
/// smaller than 2^32 buckets, below the control byte's seven bits.
const SHARD_SHIFT: u32 = 32;

impl<K> Table<K> {
    /// A table of `shards` shards (a power of two).
    pub(super) fn new(shards: usize) -> Table<K> {
        debug_assert!(shards.is_power_of_two());
        Table {
            shards: (0..shards)
                .map(|_| Shard(RwLock::new(HashTable::new())))
                .collect(),
            hasher: DefaultHashBuilder::default(),
        }
    }

    #[inline]
    pub(super) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<HashTable<Arc<Slot<K>>>> {
        let index = (hash >> SHARD_SHIFT) as usize & (self.shards.len() - 1);
        &self.shards[index].0
    }

    /// The breaker of `key`, marked used at `now` (when given).
    #[inline]
    pub(super) fn find<Q>(&self, hash: u64, key: &Q, now: Option<u64>) -> Option<Breaker>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.look(hash, key, now, |slot| slot.breaker.clone())
    }

    /// The slot of `key`, marked used at `now`: what a thread remembers.
    #[inline]
    pub(super) fn find_slot<Q>(&self, hash: u64, key: &Q, now: u64) -> Option<Arc<Slot<K>>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.look(hash, key, Some(now), Arc::clone)
    }

    #[inline]
    fn look<Q, T>(
        &self,
        hash: u64,
        key: &Q,
        now: Option<u64>,
        take: impl FnOnce(&Arc<Slot<K>>) -> T,
    ) -> Option<T>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        // A panic never happens under these locks (no user code runs there
        // but `Eq`); if one did, the table is still consistent.
        let table = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        let slot = table.find(hash, |slot| slot.key.borrow() == key)?;
        if let Some(now) = now {
            slot.touch(now);
        }
        Some(take(slot))
    }

    /// Adds a key known to be absent.
    pub(super) fn insert(&self, slot: Slot<K>) {
        let mut table = self
            .shard(slot.hash)
            .write()
            .unwrap_or_else(|e| e.into_inner());
        table.insert_unique(slot.hash, Arc::new(slot), |slot| slot.hash);
    }

    /// Removes the slot with this hash that `which` chooses (under the
    /// shard's write lock, so a slot it says yes to is removed as seen).
    pub(super) fn remove(
        &self,
        hash: u64,
        mut which: impl FnMut(&Slot<K>) -> bool,
    ) -> Option<Arc<Slot<K>>> {
        let mut table = self.shard(hash).write().unwrap_or_else(|e| e.into_inner());
        let entry = table.find_entry(hash, |slot| which(slot)).ok()?;
        Some(entry.remove().0)
    }

    /// Calls `f` with every slot, one shard at a time (under its read lock).
    pub(super) fn for_each(&self, mut f: impl FnMut(&Slot<K>)) {
        for shard in &*self.shards {
            let table = shard.0.read().unwrap_or_else(|e| e.into_inner());
            table.iter().for_each(|slot| f(slot));
        }
    }
}
