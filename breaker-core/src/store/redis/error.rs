//! [`StoreError`]: the one error a user sees from the Redis store, when it
//! cannot be created at all. Redis being unreachable is not one: breakers go
//! on with local state, so that is reported through tracing instead.

use std::fmt;

/// Why a [`RedisStore`](super::RedisStore) could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub(super) String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}
