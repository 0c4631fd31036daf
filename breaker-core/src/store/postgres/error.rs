//! [`StoreError`]: the one error a user sees from the PostgreSQL store, when
//! it cannot be opened at all (a connection string that does not parse, a
//! table name that is not a plain identifier, credentials or a database the
//! server refuses, a table of another shape). A server that cannot be
//! reached is not one: breakers go on with local state, and the store
//! reconnects, reporting through tracing instead.

use std::fmt;

/// Why a [`PostgresStore`](super::PostgresStore) could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub(super) String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}
