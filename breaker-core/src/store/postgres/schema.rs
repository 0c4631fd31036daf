//! The table and its statements: the table created if missing (or, made by
//! an earlier version, given the column it lacks) and its shape checked, the
//! statements the store runs on it ([`Sql`], prepared once per connection as
//! [`Statements`]), and the session set up to hear other processes' writes
//! (`LISTEN`).
//!
//! Every time a statement writes is the server's (`clock_timestamp()`), and
//! every read says the server's time, so that processes on hosts whose
//! clocks disagree agree on when an Open ends.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Statement};

use super::failure::Failure;
use crate::store::row::{CLOCK_MARGIN, COLUMNS, FIRST_SHAPE, millis};

/// The server's clock, unix µs.
const NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// The server's clock, unix ms.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The columns the store needs, with the types it reads and writes them as.
const SHAPE: [(&str, &[&str]); 10] = [
    ("name", &["text", "varchar"]),
    ("state", &["text", "varchar"]),
    ("open_until_ms", &["int8"]),
    ("period_ms", &["int8"]),
    ("reason", &["text", "varchar"]),
    ("changed_at_ms", &["int8"]),
    ("version", &["int8"]),
    ("trials", &["int8"]),
    ("trials_until_ms", &["int8"]),
    ("trials_epoch", &["int8"]),
];

/// The table, as the store creates it (`docs/shared-state.md` explains each
/// column; SQLite's table, with PostgreSQL's types).
pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS \"{table}\" (
    name            text PRIMARY KEY,
    state           text NOT NULL,
    open_until_ms   bigint NOT NULL DEFAULT 0,
    period_ms       bigint NOT NULL DEFAULT 0,
    reason          text NOT NULL DEFAULT '',
    changed_at_ms   bigint NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,
    trials          bigint NOT NULL DEFAULT 0,
    trials_until_ms bigint NOT NULL DEFAULT 0,
    trials_epoch    bigint NOT NULL DEFAULT 0
)"
    )
}

/// The column the first shape lacks, added if it is not there yet. Every
/// row gets 0: no permit was taken under an epoch yet, and the next taking
/// that starts a count moves it.
fn add_epoch(table: &str) -> String {
    format!(
        "ALTER TABLE \"{table}\" ADD COLUMN IF NOT EXISTS trials_epoch bigint NOT NULL DEFAULT 0"
    )
}

/// The statements the store runs, for one table.
pub(super) struct Sql {
    /// `$1` name: the row's [`COLUMNS`], its `xmin` (which changes at every
    /// write: the compare-and-set's token; NULL when there is no row), and
    /// the server's clock in µs. Always one row.
    read: String,
    /// `$1` name, `$2`..`$7` the columns, `$8` the `xmin` read: writes the
    /// row if no one wrote it since, gives its permits back, and announces
    /// it. One row returned when written.
    update: String,
    /// The same, `$1`..`$7`, where there was no row.
    insert: String,
    /// `$1` name, `$2` the version the breaker has seen, `$3` the cap, `$4`
    /// the permits' life (ms): takes a permit if fewer than the cap are held
    /// and the row is still at that version, in one statement. The version
    /// and the count's epoch when taken.
    acquire: String,
    /// `$1` name, `$2` the version and `$3` the epoch the permit was taken
    /// under: gives it back, never below zero, never to a row written
    /// since, and never to a count begun after its own lapsed.
    release: String,
    /// The server's clock in µs.
    clock: String,
}

impl Sql {
    pub(super) fn new(table: &str, channel: &str) -> Sql {
        // A notification's payload is at most 8000 bytes: a longer name is
        // announced as '' ("re-read every row").
        let notify = format!(
            "SELECT pg_notify('{channel}', CASE WHEN octet_length(name) < 7900 \
             THEN name ELSE '' END) FROM w"
        );
        // The permits held at `c.now_ms` (the server's clock, read once for
        // the statement, so that every expression of a taking agrees on
        // whether the count lapsed): taken, not lapsed, and not further off
        // than the permits' life and the clock's margin. Anything else
        // (NULL, negative, huge, a lease from the future) counts as none,
        // so no junk in the row can block trials for longer than one lease.
        let margin = millis(CLOCK_MARGIN);
        let held = format!(
            "(CASE WHEN trials BETWEEN 1 AND 4294967295 AND trials_until_ms > c.now_ms \
             AND trials_until_ms <= c.now_ms + $4 + {margin} THEN trials ELSE 0 END)"
        );
        // The epoch of the count after a taking: the count's own while it
        // holds permits; the next one when the taking starts a count (none
        // held: lapsed, junk, or none taken), junk (NULL, negative,
        // i64::MAX) counting as 0, so that it never makes a taking fail.
        let sound = "trials_epoch BETWEEN 0 AND 9223372036854775806";
        let epoch = format!(
            "(CASE WHEN {held} > 0 AND {sound} THEN trials_epoch \
             WHEN {sound} THEN trials_epoch + 1 ELSE 1 END)"
        );
        Sql {
            read: format!(
                "SELECT r.state, r.open_until_ms, r.period_ms, r.reason, r.changed_at_ms, \
                 r.version, r.xmin::text, {NOW_US} \
                 FROM (SELECT 1) AS one LEFT JOIN \"{table}\" AS r ON r.name = $1"
            ),
            // The epoch stays: a write changes the version (`row::decide`),
            // which no permit taken before it goes back under, and the next
            // taking finds no permit held and starts the next epoch.
            update: format!(
                "WITH w AS (UPDATE \"{table}\" SET state = $2, open_until_ms = $3, \
                 period_ms = $4, reason = $5, changed_at_ms = $6, version = $7, \
                 trials = 0, trials_until_ms = 0 \
                 WHERE name = $1 AND xmin::text = $8 RETURNING name) {notify}"
            ),
            insert: format!(
                "WITH w AS (INSERT INTO \"{table}\" \
                 (name, {COLUMNS}, trials, trials_until_ms, trials_epoch) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0) \
                 ON CONFLICT (name) DO NOTHING RETURNING name) {notify}"
            ),
            acquire: format!(
                "UPDATE \"{table}\" SET trials = {held} + 1, trials_until_ms = c.now_ms + $4, \
                 trials_epoch = {epoch} \
                 FROM (SELECT {NOW_MS} AS now_ms) AS c \
                 WHERE name = $1 AND version = $2 AND {held} < $3 \
                 RETURNING version, trials_epoch"
            ),
            release: format!(
                "UPDATE \"{table}\" SET trials = trials - 1 \
                 WHERE name = $1 AND version = $2 AND trials_epoch = $3 AND trials > 0"
            ),
            clock: format!("SELECT {NOW_US}"),
        }
    }
}

/// The statements, prepared on one connection.
pub(super) struct Statements {
    pub(super) read: Statement,
    pub(super) update: Statement,
    pub(super) insert: Statement,
    pub(super) acquire: Statement,
    pub(super) release: Statement,
    pub(super) clock: Statement,
}

/// Puts the table in place (created if missing, a table of the first shape
/// given its epoch column), checks its shape (the columns, their types, a
/// unique key on `name`), prepares every statement, and listens on
/// `channel`. Idempotent; it only writes when the table or its epoch column
/// is missing.
pub(super) async fn set_up(
    client: &Client,
    table: &str,
    channel: &str,
    sql: &Sql,
) -> Result<Statements, Failure> {
    let quoted = format!("\"{table}\"");
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quoted])
        .await
        .map_err(|e| Failure::of(&e))?
        .get(0);
    if !exists {
        if let Err(e) = client.batch_execute(&ddl(table)).await {
            // Processes creating it at once: all but one lose the race on
            // the catalog (the table's name, or its row type's: "type
            // already exists"), once the winner committed, and find its
            // table below.
            let raced = e.code().is_some_and(|code| {
                *code == SqlState::UNIQUE_VIOLATION
                    || *code == SqlState::DUPLICATE_TABLE
                    || *code == SqlState::DUPLICATE_OBJECT
            });
            if !raced {
                return Err(setup_failure(table, "cannot create", &e));
            }
        }
    }
    check_shape(client, table, &quoted).await?;
    let prepare = |text: &str| {
        let text = text.to_owned();
        async move {
            client
                .prepare(&text)
                .await
                .map_err(|e| setup_failure(table, "cannot use", &e))
        }
    };
    let statements = Statements {
        read: prepare(&sql.read).await?,
        update: prepare(&sql.update).await?,
        insert: prepare(&sql.insert).await?,
        acquire: prepare(&sql.acquire).await?,
        release: prepare(&sql.release).await?,
        clock: prepare(&sql.clock).await?,
    };
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await
        .map_err(|e| Failure::of(&e))?;
    Ok(statements)
}

/// Every column the store needs, of a type it reads and writes, and a unique
/// key on `name` alone (what the upsert's `ON CONFLICT (name)` needs). A
/// table of the first shape is given its epoch column first.
async fn check_shape(client: &Client, table: &str, quoted: &str) -> Result<(), Failure> {
    let mut shape = Shape::read(client, quoted).await?;
    if shape.first() {
        upgrade(client, table, quoted).await?;
        shape = Shape::read(client, quoted).await?;
    }
    let wrong = shape.wrong();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Failure::Setup(format!(
            "cannot use table {table}: it has other columns than the store needs ({}); {NEEDS}",
            wrong.join(", ")
        )))
    }
}

/// Adds the epoch column to a table of the first shape. Processes that
/// connect at once each add it, one after the other (`ALTER TABLE` waits
/// for the table's lock), and `IF NOT EXISTS` makes all but the first do
/// nothing; should one still fail in a race on the catalog, the shape read
/// again says whether the column is there, which is all that matters.
async fn upgrade(client: &Client, table: &str, quoted: &str) -> Result<(), Failure> {
    let Err(e) = client.batch_execute(&add_epoch(table)).await else {
        return Ok(());
    };
    if Shape::read(client, quoted).await?.wrong().is_empty() {
        return Ok(());
    }
    let class = e.code().map(|code| &code.code()[..2]);
    match Failure::of(&e) {
        // Not the table's owner, most often.
        Failure::Outage(text) if class == Some("42") => Err(Failure::Setup(format!(
            "cannot add column trials_epoch to table {table}, made by an earlier version of \
             the store: {text}; its owner can: ALTER TABLE \"{table}\" ADD COLUMN trials_epoch \
             bigint NOT NULL DEFAULT 0"
        ))),
        other => Err(other),
    }
}

/// A table as the catalog describes it: its columns with their types, and
/// whether `name` alone is a unique key.
struct Shape {
    columns: Vec<(String, String)>,
    keyed: bool,
}

impl Shape {
    async fn read(client: &Client, quoted: &str) -> Result<Shape, Failure> {
        let rows = client
            .query(
                "SELECT a.attname::text, t.typname::text FROM pg_attribute a \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                &[&quoted],
            )
            .await
            .map_err(|e| Failure::of(&e))?;
        let keyed: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a \
                 ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnatts = 1 \
                 AND i.indpred IS NULL AND a.attname = 'name')",
                &[&quoted],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| Failure::of(&e))?;
        Ok(Shape {
            columns: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            keyed,
        })
    }

    /// What keeps the store from using the table, each said for a user:
    /// none when it can.
    fn wrong(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        for (column, types) in SHAPE {
            match self.columns.iter().find(|(name, _)| name == column) {
                None => wrong.push(format!("no column {column}")),
                Some((_, ty)) if !types.contains(&ty.as_str()) => {
                    wrong.push(format!("{column} is {ty}, not {}", types.join(" or ")));
                }
                Some(_) => {}
            }
        }
        if !self.keyed {
            wrong.push("no unique key on name alone (its PRIMARY KEY)".to_owned());
        }
        wrong
    }

    /// Whether this is the first shape, sound: exactly its columns, each of
    /// a type the store uses, keyed on `name`. A table of any other shape
    /// without the epoch column is refused, and left as it is.
    fn first(&self) -> bool {
        let mut names: Vec<&str> = self.columns.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        let typed = self.columns.iter().all(|(name, ty)| {
            SHAPE
                .iter()
                .any(|(column, types)| column == name && types.contains(&ty.as_str()))
        });
        names == FIRST_SHAPE && typed && self.keyed
    }
}

/// What a table must hold, said in every error about its shape.
const NEEDS: &str = "the store needs: name text PRIMARY KEY, state text, open_until_ms bigint, \
    period_ms bigint, reason text, changed_at_ms bigint, version bigint, trials bigint, \
    trials_until_ms bigint, trials_epoch bigint (docs/shared-state.md has the DDL), or give \
    the store another .table(...)";

/// A setup statement that failed: for the user, what and why, when it can
/// never work (no right to create the table, a table without a unique key
/// on `name`); an outage otherwise.
fn setup_failure(table: &str, what: &str, e: &tokio_postgres::Error) -> Failure {
    let class = e.code().map(|code| &code.code()[..2]);
    match Failure::of(e) {
        Failure::Outage(text) if class == Some("42") => {
            Failure::Setup(format!("{what} table {table}: {text}; {NEEDS}"))
        }
        Failure::Data(text) => Failure::Setup(format!("{what} table {table}: {text}; {NEEDS}")),
        other => other,
    }
}
