//! [`SharedWorld`]: what the replicas of a fleet share, as the engine's
//! [`World`]: the in-memory store (its deliveries due after the link
//! delay), the partitions starting and ending, and the one clock they all
//! read, brought to each event's time before it happens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::store::memory::MemoryStore;

use super::options::Fleet;
use crate::engine::World;

/// A replica cut off or back, at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    t_ns: u64,
    /// A heal comes before a cut at one instant: one replica's partitions
    /// may touch.
    cut: bool,
    /// From 0.
    replica: usize,
}

/// The store, the partitions and the clock of a fleet under replay.
pub struct SharedWorld {
    clock: ManualClock,
    /// One handle per replica, replica `r` (from 0) at `r`; named `r + 1`.
    stores: Vec<MemoryStore>,
    edges: Vec<Edge>,
    next_edge: usize,
    /// Breakers by name, as the trace declared them.
    names: HashMap<Arc<str>, usize>,
}

impl SharedWorld {
    /// The store of `fleet` on `clock`, every write kept for the checks.
    pub fn new(fleet: &Fleet, clock: ManualClock) -> SharedWorld {
        let store = MemoryStore::builder()
            .link_delay(Duration::from_nanos(fleet.link_ns))
            .quorum(fleet.quorum)
            .cluster_failures(fleet.cluster_failures)
            .record_writes(true)
            .build(clock.clone());
        let stores = (1..=fleet.replicas)
            .map(|r| store.replica(&r.to_string()))
            .collect();
        let mut edges: Vec<Edge> = fleet
            .partitions
            .iter()
            .flat_map(|p| {
                let replica = usize::from(p.replica - 1);
                [
                    Edge {
                        t_ns: p.from_ns,
                        cut: true,
                        replica,
                    },
                    Edge {
                        t_ns: p.to_ns,
                        cut: false,
                        replica,
                    },
                ]
            })
            .collect();
        edges.sort();
        SharedWorld {
            clock,
            stores,
            edges,
            next_edge: 0,
            names: HashMap::new(),
        }
    }

    /// The clock every replica reads.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Replica `r`'s handle of the store (from 0).
    pub fn store(&self, r: usize) -> &MemoryStore {
        &self.stores[r]
    }

    /// Breaker `name` is declared at `index`.
    pub fn declare(&mut self, name: &str, index: usize) {
        self.names.insert(Arc::from(name), index);
    }
}

impl World for SharedWorld {
    fn next_due(&self) -> Option<u64> {
        let delivery = self.stores[0].next_due().map(nanos);
        let edge = self.edges.get(self.next_edge).map(|e| e.t_ns);
        match (delivery, edge) {
            (Some(d), Some(e)) => Some(d.min(e)),
            (d, e) => d.or(e),
        }
    }

    fn advance(&mut self, t: u64, moved: &mut Vec<usize>) {
        self.clock.set(Duration::from_nanos(t));
        while let Some(edge) = self.edges.get(self.next_edge).filter(|e| e.t_ns <= t) {
            let store = &self.stores[edge.replica];
            if edge.cut {
                store.cut_off();
            } else {
                store.heal();
            }
            self.next_edge += 1;
        }
        let replicas = self.stores.len();
        for adopted in self.stores[0].deliver_until(Duration::from_nanos(t)) {
            let breaker = self.names.get(&adopted.breaker).copied();
            let replica = adopted.replica.parse::<usize>().ok();
            if let (Some(b), Some(r)) = (breaker, replica) {
                moved.push(b * replicas + (r - 1));
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
