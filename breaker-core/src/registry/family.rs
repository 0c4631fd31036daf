//! A keyed breaker as the registry sees it, whatever its key type: the
//! registry keeps each one behind this trait, so that an operator can act on
//! a family by name (the registry stands below `keyed`, which implements it).

use crate::ConfigError;

/// A keyed breaker as the registry sees it, whatever its key type: what an
/// operator may do to the family by name (`keyed` implements it).
pub(crate) trait Family: Send + Sync {
    /// See [`KeyedBreaker::reconfigure`](crate::keyed::KeyedBreaker::reconfigure).
    fn reconfigure(&self, patch: &str) -> Result<Vec<&'static str>, ConfigError>;
}
