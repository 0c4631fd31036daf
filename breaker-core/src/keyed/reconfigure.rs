//! Reconfiguring a keyed breaker: the family's configuration, which new
//! keys' breakers are made with, and every live key's breaker, together.
//!
//! The family's configuration changes under the lock that creating a key
//! takes, so a key made during a reconfiguration is made either before it
//! (and is in the table the reconfiguration then walks) or after it (with
//! the new configuration): none is left with the old one.

use std::fmt::Display;
use std::hash::Hash;

use super::keys::Keyed;
use crate::ConfigError;
use crate::registry::Family;

impl<K: Hash + Eq + Display + Send + Sync> Family for Keyed<K> {
    fn reconfigure(&self, patch: &str) -> Result<Vec<&'static str>, ConfigError> {
        let _creating = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.config.get();
        let new = old.patched(patch)?;
        let changed = old
            .changes_to(&new)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        self.config.set_with(|c| *c == new, || new.clone());
        let mut breakers = Vec::new();
        self.table
            .for_each(|slot| breakers.push(slot.breaker.clone()));
        breakers.extend(self.overflow.get().cloned());
        for breaker in breakers {
            // A key reconfigured on its own may refuse what the family
            // takes: it keeps its configuration, and says so.
            if let Err(error) = breaker.reconfigure(patch) {
                tracing::warn!(
                    target: "breaker",
                    breaker = breaker.name(),
                    "a key of keyed breaker `{}` keeps its configuration: {error}",
                    self.name
                );
            }
        }
        Ok(changed)
    }
}
