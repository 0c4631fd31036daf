//! [`Failure`]: what went wrong with a statement or a connection, sorted by
//! what the store does about it: reconnect (the server is unreachable, or
//! answered in a way a new session may cure), report and go on (the server
//! refused a statement for what the table holds), or refuse to open (what
//! can never work: a table of another shape, credentials the server
//! refuses).

use std::fmt;
use std::time::Duration;

use tokio_postgres::error::SqlState;

/// What went wrong, and so what the store does about it.
#[derive(Debug)]
pub(super) enum Failure {
    /// Reconnect: the connection is lost, a statement timed out, or the
    /// server answered an error a new session may not meet (shutting down,
    /// out of resources, a lock held past the timeout, the table dropped).
    Outage(String),
    /// Report once and go on: the server refused a statement for the data
    /// (a value out of a column's range, a constraint the user added).
    Data(String),
    /// Refuse to open: credentials or a database the server refuses, a
    /// table of another shape, no right to create the table.
    Setup(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Outage(e) | Failure::Data(e) | Failure::Setup(e) => f.write_str(e),
        }
    }
}

impl Failure {
    /// A statement or connection error, sorted by its SQLSTATE.
    pub(super) fn of(e: &tokio_postgres::Error) -> Failure {
        let text = describe(e);
        let Some(code) = e.code() else {
            return Failure::Outage(text);
        };
        let class = &code.code()[..2];
        if *code == SqlState::INVALID_CATALOG_NAME || class == "28" {
            Failure::Setup(text)
        } else if class == "22" || class == "23" {
            Failure::Data(text)
        } else {
            Failure::Outage(text)
        }
    }

    /// A statement that did not answer within `timeout`.
    pub(super) fn timeout(timeout: Duration) -> Failure {
        Failure::Outage(format!(
            "no answer within {}",
            crate::format_duration(timeout)
        ))
    }
}

/// The server's own message when there is one (tokio-postgres says only
/// "db error" at the top).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
