//! [`StoreError`]: the one error a user sees from the SQLite store, when it
//! cannot be opened at all (a path that cannot be opened, a read-only file,
//! a file that is not a database, a table of another shape). A file locked
//! by another process is not one: breakers go on with local state, so that
//! is reported through tracing instead.

use std::fmt;

/// Why a [`SqliteStore`](super::SqliteStore) could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub(super) String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}
