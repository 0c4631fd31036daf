//! The breakers that joined a store, by name: several may share one (two
//! registries of a process, say). Held weakly, so a dropped breaker leaves;
//! the dead are swept as the lists are read. The Redis and SQLite stores
//! each keep one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Each joined breaker's state (`T`: a store's own), by name.
pub(crate) struct Joined<T>(Mutex<HashMap<String, Vec<Weak<T>>>>);

impl<T> Default for Joined<T> {
    fn default() -> Self {
        Joined(Mutex::new(HashMap::new()))
    }
}

impl<T> Joined<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<Weak<T>>>> {
        // Nothing under this lock panics; if it did, the map is still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `state` under `name`.
    pub(crate) fn add(&self, name: &str, state: &Arc<T>) {
        self.lock()
            .entry(name.to_owned())
            .or_default()
            .push(Arc::downgrade(state));
    }

    /// Every live state under `name`.
    pub(crate) fn named(&self, name: &str) -> Vec<Arc<T>> {
        let mut joined = self.lock();
        let Some(named) = joined.get_mut(name) else {
            return Vec::new();
        };
        named.retain(|l| l.strong_count() > 0);
        named.iter().filter_map(Weak::upgrade).collect()
    }

    /// Every live state.
    pub(crate) fn all(&self) -> Vec<Arc<T>> {
        let mut joined = self.lock();
        joined.retain(|_, named| {
            named.retain(|l| l.strong_count() > 0);
            !named.is_empty()
        });
        joined
            .values()
            .flatten()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dropped_leave_and_the_rest_are_found_by_name() {
        let joined = Joined::default();
        let (a, b, c) = (Arc::new(1), Arc::new(2), Arc::new(3));
        joined.add("db", &a);
        joined.add("db", &b);
        joined.add("api", &c);
        drop(b);
        assert_eq!(joined.named("db"), std::slice::from_ref(&a));
        assert!(joined.named("none").is_empty());
        drop(c);
        assert_eq!(joined.all(), [a]);
    }
}
