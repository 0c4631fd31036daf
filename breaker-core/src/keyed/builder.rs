//! [`KeyedBuilder`]: a keyed breaker's settings, their defaults and limits,
//! checked once when it is built, and where the built keyed breaker goes (a
//! registry finds an existing one by name and key type first).

use std::fmt::{self, Display};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::api::KeyedBreaker;
use super::home::Home;
use super::keys::Keyed;
use crate::breaker::Environment;
use crate::clock::{Clock, MonotonicClock, saturating_nanos};
use crate::overrides::KeyedSettings;
use crate::{Config, ConfigError, Registry};

/// The default bound on live keys.
pub const DEFAULT_MAX_KEYS: usize = 1000;
/// The largest bound on live keys.
pub const MAX_KEYS: usize = breaker_vocab::keys::MAX_KEYS as usize;
/// The default time without a call after which a key is dropped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// The default label of the keys' names (`name[key=...]`).
pub const DEFAULT_LABEL: &str = "key";

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
}
