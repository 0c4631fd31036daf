//! Which keys leave a keyed breaker, and when: idle keys are dropped, and at
//! the bound the least recently used Closed keys are evicted (the rules of
//! the [module documentation](crate::keyed), "Bounds"). Runs under the
//! keyed breaker's admin lock, never on a lookup of a known key.

use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::keys::{Admin, Keyed};
use super::recent;
use super::table::Slot;
use crate::State;

/// A key's place in an eviction scan.
struct Candidate {
    last_used: u64,
    seq: u64,
    hash: u64,
}

impl<K: Hash + Eq + Display> Keyed<K> {
    /// Drops idle keys when a scan is due, then evicts least recently used
    /// Closed keys if the bound is reached.
    pub(super) fn make_room(&self, admin: &mut Admin, now: u64) {
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
    pub(super) fn drop_idle(&self, admin: &mut Admin, now: u64) -> usize {
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
    pub(super) fn removed(&self, slots: &[Arc<Slot<K>>]) {
        if slots.is_empty() {
            return;
        }
        // After the slots left the table: a thread that reads the new count
        // finds the key gone from the table too.
        let _ = self
            .generation
            .fetch_update(Ordering::Release, Ordering::Relaxed, |word| {
                Some(recent::Generation::from_word(word).next().word())
            });
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
