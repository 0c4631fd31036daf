//! Changing live breakers: one by name (`reconfigure`, what the admin
//! route calls) and every one the operators' file names (`reload_config`,
//! what the watcher calls). Both go through `Breaker::reconfigure`, so
//! SEMANTICS.md's "Reconfiguration" rules hold however a change arrives,
//! and both record where each changed key now comes from.

use std::fmt;
use std::sync::Arc;

use super::family::Family;
use super::named::Registry;
use crate::event::Configured;
use crate::overrides::{OverrideError, Source};
use crate::{Breaker, ConfigError};

/// Why [`Registry::reconfigure`] refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconfigureError {
    /// No breaker of that name in this registry.
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The configuration the patch makes is invalid: the key, and what is
    /// allowed.
    Invalid(ConfigError),
}

impl fmt::Display for ReconfigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconfigureError::Unknown { name } => write!(f, "no breaker named `{name}`"),
            ReconfigureError::Invalid(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ReconfigureError {}

impl Registry {
    /// Reconfigures the live breaker `name` with `patch`, the attribute's keys
    /// (see [`Breaker::reconfigure`]); the keys that changed are reported by
    /// [`config_sources`](Registry::config_sources) as
    /// [`Source::Reconfigured`] from then on. Returns the keys that changed.
    ///
    /// ```
    /// use breaker_core::{Config, Registry, ReconfigureError};
    /// use breaker_core::overrides::Source;
    ///
    /// let registry = Registry::new();
    /// registry.get_or_create("db", Config::default);
    /// assert_eq!(registry.reconfigure("db", "fail_max = 10"), Ok(vec!["fail_max"]));
    /// assert_eq!(registry.config_sources("db").unwrap()[0], ("fail_max", Source::Reconfigured));
    /// assert!(matches!(registry.reconfigure("dv", "fail_max = 10"), Err(ReconfigureError::Unknown { .. })));
    /// ```
    pub fn reconfigure(
        &self,
        name: &str,
        patch: &str,
    ) -> Result<Vec<&'static str>, ReconfigureError> {
        let Some(breaker) = self.get_entry(name) else {
            return self.reconfigure_family(name, patch);
        };
        let changed = breaker
            .reconfigure(patch)
            .map_err(ReconfigureError::Invalid)?;
        self.mark_sources(name, &changed, |_| Source::Reconfigured);
        Ok(changed)
    }

    /// Calls `listener` with every reconfiguration of every breaker of this
    /// registry, existing and future (see [`Breaker::on_configured`]).
    pub fn on_configured(&self, listener: impl Fn(&Configured) + Send + Sync + 'static) {
        self.env.listeners.add_configured(Arc::new(listener));
    }

    /// Reads the operators' file again (the one `BREAKER_CONFIG` named, or
    /// `Overrides::read_file`'s, feature `config-file`) and
    /// applies its keys, and the environment's after them, to every live
    /// breaker as a reconfiguration (see [`Breaker::reconfigure`]): the
    /// latest change wins, counts and open periods carry on. Breakers created
    /// later take the new file too.
    ///
    /// The whole file or nothing: when the file cannot be read or parsed, or
    /// any breaker's keys are wrong, no breaker changes, and each mistake
    /// (naming file, line and column, the breaker and the key) is reported
    /// through `tracing` once and kept in
    /// [`config_errors`](Registry::config_errors). Returns, for each breaker
    /// that changed, its name and the keys that changed.
    pub fn reload_config(&self) -> Result<Vec<(String, Vec<&'static str>)>, Vec<OverrideError>> {
        let fresh = self.overrides().reread();
        let mut errors = fresh.errors().to_vec();
        let breakers = self.named_breakers();
        for (name, breaker) in &breakers {
            if let Err(mistakes) = fresh.apply(name, breaker.config()) {
                errors.extend(mistakes);
            }
        }
        if !errors.is_empty() {
            self.report_new(&errors);
            return Err(errors);
        }
        let fresh = Arc::new(fresh);
        *self.overrides.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        let mut changes = Vec::new();
        for (name, breaker) in breakers {
            // Applied over the configuration in force when the lock is held,
            // so a change made meanwhile (by the admin route) is not undone.
            let Ok(changed) = breaker.reconfigure_with(|config| fresh.apply(&name, config)) else {
                continue;
            };
            if !changed.is_empty() {
                let origins = fresh.origins(&name);
                self.mark_sources(&name, &changed, |key| {
                    origins.get(key).map_or(Source::Reconfigured, |origin| {
                        Source::Override(origin.clone())
                    })
                });
                changes.push((name.to_string(), changed));
            }
        }
        Ok(changes)
    }

    /// Whether a keyed breaker of this name makes its breakers here: what
    /// [`reconfigure`](Registry::reconfigure) changes when no breaker has
    /// the name. (The admin route asks it.)
    #[cfg(feature = "admin")]
    pub(crate) fn has_keyed_family(&self, name: &str) -> bool {
        !self.families(name).is_empty()
    }

    /// The keyed breakers named `name`, one per key type.
    fn families(&self, name: &str) -> Vec<Arc<dyn Family>> {
        let sets = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        sets.iter()
            .filter(|(n, ..)| &**n == name)
            .map(|(.., family)| family.clone())
            .collect()
    }

    /// Reconfigures the keyed breakers named `name` (one per key type; see
    /// [`KeyedBreaker::reconfigure`](crate::keyed::KeyedBreaker::reconfigure)).
    fn reconfigure_family(
        &self,
        name: &str,
        patch: &str,
    ) -> Result<Vec<&'static str>, ReconfigureError> {
        let families = self.families(name);
        if families.is_empty() {
            return Err(ReconfigureError::Unknown {
                name: name.to_owned(),
            });
        }
        let mut changed = Vec::new();
        for family in families {
            for key in family
                .reconfigure(patch)
                .map_err(ReconfigureError::Invalid)?
            {
                if !changed.contains(&key) {
                    changed.push(key);
                }
            }
        }
        Ok(changed)
    }

    /// Every breaker the registry holds under its own name (a keyed
    /// breaker's keys are left to it).
    fn named_breakers(&self) -> Vec<(Arc<str>, Breaker)> {
        let breakers = self.breakers.read().unwrap_or_else(|e| e.into_inner());
        breakers
            .iter()
            .filter(|(_, entry)| entry.owner == 0)
            .map(|(name, entry)| (name.clone(), entry.breaker.clone()))
            .collect()
    }

    /// The breaker `name`, without marking it handed out.
    fn get_entry(&self, name: &str) -> Option<Breaker> {
        let breakers = self.breakers.read().unwrap_or_else(|e| e.into_inner());
        breakers.get(name).map(|entry| entry.breaker.clone())
    }

    /// Records `source(key)` as where each of `changed` keys of `name` now
    /// comes from.
    fn mark_sources(&self, name: &str, changed: &[&'static str], source: impl Fn(&str) -> Source) {
        if !changed.is_empty() {
            self.update_sources(name, |key, _| changed.contains(&key).then(|| source(key)));
        }
    }
}
