//! A registry's keyed breakers, one per name and key type: how
//! [`KeyedBuilder::registry`](super::KeyedBuilder::registry) finds the one
//! it would build, and how operators and the attribute find it by name.

use std::any::TypeId;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;

use super::api::KeyedBreaker;
use super::keys::Keyed;
use crate::Registry;

impl Registry {
    /// The keyed breaker named `name` whose keys are `K`, if this registry
    /// has one: built with [`KeyedBuilder::registry`](super::KeyedBuilder::registry), or by an annotated
    /// function with `key = ...` (for `key = req.host()`, a `&str`, `K` is
    /// `String`: the key's owned form).
    pub fn keyed<K>(&self, name: &str) -> Option<KeyedBreaker<K>>
    where
        K: Hash + Eq + Display + Send + Sync + 'static,
    {
        let sets = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        sets.iter()
            .find(|(n, ty, ..)| &**n == name && *ty == TypeId::of::<K>())
            .and_then(|(_, _, set, _)| set.clone().downcast::<Keyed<K>>().ok())
            .map(|inner| KeyedBreaker { inner })
    }

    /// The keyed breaker `name` of key type `K`, made by `make` if there is none.
    pub(crate) fn keyed_or_insert<K>(
        &self,
        name: &str,
        make: impl FnOnce() -> KeyedBreaker<K>,
    ) -> KeyedBreaker<K>
    where
        K: Hash + Eq + Display + Send + Sync + 'static,
    {
        let mut sets = self.keyed.lock().unwrap_or_else(|e| e.into_inner());
        let found = sets
            .iter()
            .find(|(n, ty, ..)| &**n == name && *ty == TypeId::of::<K>())
            .and_then(|(_, _, set, _)| set.clone().downcast::<Keyed<K>>().ok());
        if let Some(inner) = found {
            return KeyedBreaker { inner };
        }
        let made = make();
        sets.push((
            Arc::from(name),
            TypeId::of::<K>(),
            made.inner.clone() as Arc<dyn std::any::Any + Send + Sync>,
            made.inner.clone() as Arc<dyn crate::registry::Family>,
        ));
        made
    }
}
