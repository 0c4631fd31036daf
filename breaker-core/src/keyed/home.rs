//! Where a keyed breaker's keys live: registered in a registry (listed,
//! found by name, on its clock and listeners) or alone on their own clock.
//! The rest of `keyed/` creates and forgets keys' breakers only through
//! [`Home`], so it never asks which.

use std::sync::Arc;

use crate::breaker::Environment;
use crate::{Breaker, Config, Registry};

/// Where the keys' breakers live.
pub(super) enum Home {
    /// Registered: listed and found by name; the registry's clock and listeners.
    Registry(&'static Registry),
    /// Unregistered, on their own clock.
    Alone(Arc<Environment>),
}

impl Home {
    pub(super) fn environment(&self) -> &Arc<Environment> {
        match self {
            Home::Registry(registry) => registry.environment(),
            Home::Alone(env) => env,
        }
    }

    pub(super) fn create(&self, name: &str, config: Config, owner: u64) -> Breaker {
        match self {
            Home::Registry(registry) => registry.register_key(name, config, owner),
            Home::Alone(env) => Breaker::in_environment(Arc::from(name), config, env.clone()),
        }
    }

    pub(super) fn forget<'a>(&self, names: impl IntoIterator<Item = &'a str>, owner: u64) {
        if let Home::Registry(registry) = self {
            registry.unregister_keys(names, owner);
        }
    }
}
