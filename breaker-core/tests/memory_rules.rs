//! The rules of a shared-state store (`store_rules`), run against the
//! in-memory store on a manual clock: time passes only when a rule says
//! so, and what a replica wrote reaches the others when the rule settles.

mod store_rules;

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::store::memory::MemoryStore;
use breaker_core::{Breaker, Config, Registry};
use store_rules::{Fleet, Options};

struct Memory {
    clock: ManualClock,
    store: MemoryStore,
    replicas: Vec<(String, Registry)>,
}

fn memory(options: Options) -> Memory {
    let clock = ManualClock::new();
    // Some time on the clock, as a process has when it starts.
    clock.advance(Duration::from_secs(100));
    let store = MemoryStore::builder()
        .quorum(options.quorum)
        .cluster_failures(options.cluster_failures)
        .build(clock.clone());
    Memory {
        clock,
        store,
        replicas: Vec::new(),
    }
}

impl Fleet for Memory {
    fn breaker(&mut self, replica: &str, config: Config) -> Breaker {
        let i = match self.replicas.iter().position(|(name, _)| name == replica) {
            Some(i) => i,
            None => {
                let registry = Registry::new();
                registry.use_clock(self.clock.clone());
                registry.use_store(self.store.replica(replica));
                self.replicas.push((replica.to_owned(), registry));
                self.replicas.len() - 1
            }
        };
        self.replicas[i].1.get_or_create("db", || config)
    }

    fn settle(&mut self) {
        self.pass(Duration::ZERO);
    }

    fn pass(&mut self, by: Duration) {
        let until = self.clock.now() + by;
        while let Some(due) = self.store.next_due().filter(|&d| d <= until) {
            self.clock.set(due.max(self.clock.now()));
            self.store.deliver_until(due);
        }
        self.clock.set(until);
    }
}

rules!(memory);

/// Memory only: see the rule.
#[test]
fn a_permit_cleared_by_a_write_frees_none_of_the_next() {
    store_rules::a_permit_cleared_by_a_write_frees_none_of_the_next(
        &mut memory(Options::default()),
    );
}
