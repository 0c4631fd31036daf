//! The rules of a shared-state store (`store_rules`), run against the Redis
//! store and a real redis-server (each rule starts its own): the same rules
//! `memory_rules.rs` runs against the in-memory store. Replicas are
//! registries of this process, each with a store of its own (its own
//! connections and replica name), as separate processes would be; time is
//! the real clock's.

// What the Redis tests share beyond the server is not needed here.
#[allow(unused_imports)]
mod redis_support;
mod store_rules;

use std::time::Duration;

use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Registry};
use redis_support::RedisServer;
use store_rules::{Fleet, Options};

/// Long enough for what a store wrote to reach the others on loopback,
/// once every store has written it.
const DELIVERY: Duration = Duration::from_millis(150);
/// The longest a store may take to write what it was given.
const FLUSH: Duration = Duration::from_secs(5);

struct Redis {
    server: RedisServer,
    options: Options,
    replicas: Vec<(String, RedisStore, Registry)>,
}

fn redis(options: Options) -> Redis {
    Redis {
        server: RedisServer::start(),
        options,
        replicas: Vec::new(),
    }
}

impl Fleet for Redis {
    fn breaker(&mut self, replica: &str, config: Config) -> Breaker {
        let i = match self.replicas.iter().position(|(name, ..)| name == replica) {
            Some(i) => i,
            None => {
                let store = RedisStore::builder(self.server.url())
                    .namespace("rules")
                    .replica(replica)
                    .quorum(self.options.quorum.max(1))
                    .cluster_failures(self.options.cluster_failures)
                    .budget(Duration::from_millis(500))
                    .connect()
                    .expect("a store");
                assert!(store.is_connected(), "{replica}: not connected");
                let registry = Registry::new();
                registry.use_store(store.clone());
                self.replicas.push((replica.to_owned(), store, registry));
                self.replicas.len() - 1
            }
        };
        self.replicas[i].2.get_or_create("db", || config)
    }

    fn settle(&mut self) {
        for (name, store, _) in &self.replicas {
            assert!(store.flush(FLUSH), "{name}: its writes were not handled");
        }
        std::thread::sleep(DELIVERY);
    }

    fn pass(&mut self, by: Duration) {
        std::thread::sleep(by);
    }
}

rules!(redis);
