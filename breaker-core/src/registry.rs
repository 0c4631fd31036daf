//! Breakers by name, shared by the whole program.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use crate::clock::{Clock, ClockCell, MonotonicClock};
use crate::event::{Listeners, Transition};
use crate::{Breaker, Config};

/// What a registry's breakers share: the clock and the registry's listeners.
pub(crate) struct Shared {
    pub(crate) clock: ClockCell,
    pub(crate) listeners: Listeners,
}

impl Shared {
    pub(crate) fn new(clock: impl Clock) -> Shared {
        Shared {
            clock: ClockCell::new(clock),
            listeners: Listeners::default(),
        }
    }
}

/// A set of breakers by name, created on first use.
///
/// Most programs use the global one, [`registry()`], which every
/// `#[circuit_breaker]` function registers in. The first configuration given
/// for a name wins; later ones get the existing breaker.
///
/// ```
/// use breaker_core::{Config, Registry, State};
///
/// let registry = Registry::new();
/// let db = registry.get_or_create("db", Config::default);
/// db.force_open();
/// assert_eq!(registry.get("db").unwrap().state(), State::ForcedOpen);
/// assert_eq!(registry.list().len(), 1);
/// ```
pub struct Registry {
    shared: Arc<Shared>,
    breakers: RwLock<BTreeMap<Arc<str>, Breaker>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry on the real monotonic clock.
    pub fn new() -> Registry {
        Registry {
            shared: Arc::new(Shared::new(MonotonicClock)),
            breakers: RwLock::new(BTreeMap::new()),
        }
    }

    /// The breaker of that name, if one exists.
    pub fn get(&self, name: &str) -> Option<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The breaker of that name, created with `config()` if it does not exist
    /// yet. An existing breaker keeps its configuration.
    pub fn get_or_create(&self, name: &str, config: impl FnOnce() -> Config) -> Breaker {
        if let Some(existing) = self.get(name) {
            return existing;
        }
        let mut breakers = self.breakers.write().unwrap_or_else(|e| e.into_inner());
        breakers
            .entry(Arc::from(name))
            .or_insert_with_key(|name| {
                Breaker::in_shared(name.clone(), config(), self.shared.clone())
            })
            .clone()
    }

    /// Every breaker, sorted by name.
    pub fn list(&self) -> Vec<Breaker> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The names of every breaker, sorted.
    pub fn names(&self) -> Vec<String> {
        self.breakers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    /// Makes every breaker of this registry, existing and future, read `clock`
    /// from now on. Install it before traffic: times already recorded were read
    /// on the previous clock.
    pub fn use_clock(&self, clock: impl Clock) {
        self.shared.clock.install(clock);
    }

    /// Calls `listener` with every transition of every breaker of this
    /// registry, existing and future (see [`Breaker::on_transition`]).
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) {
        self.shared.listeners.add(Arc::new(listener));
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("breakers", &self.names())
            .finish()
    }
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::new);

/// The program's registry: every `#[circuit_breaker]` function's breaker is
/// in it, and operators find breakers there by name.
pub fn registry() -> &'static Registry {
    &GLOBAL
}
