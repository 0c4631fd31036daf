//! The store's statements on the table, one function each: read a row (with
//! the server's clock), write a transition under compare-and-set, take and
//! give back a half-open trial permit, read the server's clock. Each waits
//! at most the command timeout. They return what the server said; what it
//! means for a breaker is decided in `store::tabular::apply`.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::failure::Failure;
use super::schema::Statements;
use crate::store::row::{Field, NewRow, Now, RawRow, signed};
use crate::store::tabular::apply::Written;
use crate::store::tabular::membership::Generation;

/// How many times a write reads and tries again when another process wrote
/// the row between its read and its write: each try is two statements, and
/// only a write that loses every race gives up (to be written at the next
/// reconnection).
const TRIES: usize = 32;

/// The connection and its prepared statements, with the longest any
/// statement may take.
pub(super) struct Table<'a> {
    pub(super) client: &'a Client,
    pub(super) st: &'a Statements,
    pub(super) timeout: Duration,
}

/// A row as read: its columns, and the token of this version of it.
pub(super) struct Read {
    pub(super) row: Option<RawRow>,
    /// The row's `xmin`: it changes at every write.
    xmin: Option<String>,
    /// The server's clock when it was read, unix µs.
    pub(super) now_us: u64,
}

impl Table<'_> {
    async fn timed<T>(
        &self,
        statement: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, statement).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(Failure::of(&e)),
            Err(_) => Err(Failure::timeout(self.timeout)),
        }
    }

    /// A breaker's row, each column as it is: NULLs included, nothing in the
    /// row can make a read fail.
    pub(super) async fn read(&self, name: &str) -> Result<Read, Failure> {
        let row = self
            .timed(self.client.query_one(&self.st.read, &[&name]))
            .await?;
        let text = |i: usize| -> Result<Field, Failure> {
            let value: Option<String> = row.try_get(i).map_err(|e| reshaped(&e))?;
            Ok(value.map_or(Field::Null, |t| Field::Text(t.into_bytes())))
        };
        let integer = |i: usize| -> Result<Field, Failure> {
            let value: Option<i64> = row.try_get(i).map_err(|e| reshaped(&e))?;
            Ok(value.map_or(Field::Null, Field::Integer))
        };
        let xmin: Option<String> = row.try_get(6).map_err(|e| reshaped(&e))?;
        let now_us: i64 = row.try_get(7).map_err(|e| reshaped(&e))?;
        let row = match xmin {
            Some(_) => Some(RawRow {
                state: text(0)?,
                open_until_ms: integer(1)?,
                period_ms: integer(2)?,
                reason: text(3)?,
                changed_at_ms: integer(4)?,
                version: integer(5)?,
            }),
            None => None,
        };
        Ok(Read {
            row,
            xmin,
            now_us: u64::try_from(now_us).unwrap_or(0),
        })
    }

    /// Writes a row if `decide`, given the row held and the server's clock
    /// when it was read, returns one; only if no one wrote the row in
    /// between (its `xmin` is still the one read), else reads and decides
    /// again. The write announces itself on the table's channel. `None`
    /// when every try lost a race.
    pub(super) async fn write(
        &self,
        name: &str,
        decide: impl Fn(Option<&RawRow>, Now) -> Option<NewRow>,
    ) -> Result<Option<Written>, Failure> {
        for _ in 0..TRIES {
            let held = self.read(name).await?;
            let Some(row) = decide(held.row.as_ref(), Now::from_us(held.now_us)) else {
                return Ok(Some(Written::Kept(held.row)));
            };
            let columns: [&(dyn ToSql + Sync); 7] = [
                &name,
                &row.state,
                &row.open_until_ms,
                &row.period_ms,
                &row.reason,
                &row.changed_at_ms,
                &row.version,
            ];
            let written = match &held.xmin {
                Some(xmin) => {
                    let mut params = columns.to_vec();
                    params.push(xmin);
                    self.timed(self.client.query(&self.st.update, &params))
                        .await?
                }
                None => {
                    self.timed(self.client.query(&self.st.insert, &columns))
                        .await?
                }
            };
            if written.len() == 1 {
                return Ok(Some(Written::Wrote(row)));
            }
        }
        Ok(None)
    }

    /// Takes one of `cap` permits of the row at `version`, their lease
    /// renewed for `ttl_ms` on the server's clock, in one statement: the
    /// version and the count's epoch it was taken under, or `None` (all
    /// taken, another version held, or no row).
    pub(super) async fn acquire(
        &self,
        name: &str,
        version: u64,
        cap: u32,
        ttl_ms: u64,
    ) -> Result<Option<Generation>, Failure> {
        let taken = self
            .timed(self.client.query_opt(
                &self.st.acquire,
                &[&name, &signed(version), &i64::from(cap), &signed(ttl_ms)],
            ))
            .await?;
        match taken {
            Some(row) => {
                let version: i64 = row.try_get(0).map_err(|e| reshaped(&e))?;
                let epoch: i64 = row.try_get(1).map_err(|e| reshaped(&e))?;
                Ok(Some(Generation {
                    version: u64::try_from(version).unwrap_or(0),
                    epoch: u64::try_from(epoch).unwrap_or(0),
                }))
            }
            None => Ok(None),
        }
    }

    /// Gives back a permit taken under `taken`; never below zero, never to
    /// a row written since, and never to a count begun after its own lapsed.
    pub(super) async fn release(&self, name: &str, taken: Generation) -> Result<(), Failure> {
        self.timed(self.client.execute(
            &self.st.release,
            &[&name, &signed(taken.version), &signed(taken.epoch)],
        ))
        .await?;
        Ok(())
    }

    /// The server's clock, unix µs.
    pub(super) async fn clock(&self) -> Result<u64, Failure> {
        let row = self
            .timed(self.client.query_one(&self.st.clock, &[]))
            .await?;
        let now_us: i64 = row.try_get(0).map_err(|e| reshaped(&e))?;
        Ok(u64::try_from(now_us).unwrap_or(0))
    }
}

/// A column of another type than the shape checked when the session began
/// (the table was altered since): the next session checks it again, and
/// says what is wrong.
fn reshaped(e: &tokio_postgres::Error) -> Failure {
    Failure::Outage(format!("the table's columns changed: {e}"))
}
