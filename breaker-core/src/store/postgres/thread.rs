//! The store's thread: connect, set the table up and listen, reconcile every
//! breaker, then serve breakers' commands and other processes'
//! notifications; on a loss report it once, answer breakers locally, and
//! reconnect with backoff until the server is back (reported once too).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Client, Config, Connection, Notification, Socket};

use super::failure::Failure;
use super::hub::Core;
use super::schema::{self, Sql, Statements};
use super::shared_state::{acquire, join, publish, reconcile, release, reread};
use super::table::Table;
use crate::store::tabular::command::Command;

/// How often a connected store asks the server its time: a dead connection
/// is noticed within this (and the command timeout) even when nothing else
/// is said on it, and the clock the rows are checked on stays fresh.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How the first attempt to connect went, for `open`: `Err` only for what
/// can never work (`Failure::Setup`); a server that cannot be reached is
/// `Ok`, and the store goes on trying.
pub(super) type Ready = SyncSender<Result<(), String>>;

/// Why a connected session ended.
enum End {
    /// Every sender is gone: the store was dropped.
    Closed,
    /// The server stopped answering.
    Lost(String),
}

/// One connection: the client, its statements, the server process behind
/// it (whose own notifications are skipped), and what other processes
/// announce on the table's channel.
struct Session {
    client: Client,
    statements: Statements,
    pid: i32,
    notes: UnboundedReceiver<Notification>,
    /// Drives the connection; ends, saying why, when it is lost.
    driver: JoinHandle<String>,
}

/// The store's thread: connect, serve, and on a loss report it once and
/// reconnect with backoff until the server is back.
pub(super) async fn run<T>(
    core: Arc<Core>,
    config: Config,
    tls: T,
    mut rx: UnboundedReceiver<Command>,
    ready: Ready,
) where
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let options = core.options.clone();
    let sql = Sql::new(&options.table, &core.channel);
    let mut backoff = options.backoff_min;
    let mut down = false;
    let mut first = Some(ready);
    loop {
        let error = match connect(&core, &config, tls.clone(), &sql).await {
            Ok(mut session) => {
                backoff = options.backoff_min;
                let end = serve(&core, &mut session, &mut rx, &mut down, &mut first).await;
                core.up.store(false, Ordering::Release);
                session.driver.abort();
                match end {
                    End::Closed => return,
                    End::Lost(error) => error,
                }
            }
            Err(Failure::Setup(error)) if first.is_some() => {
                if let Some(ready) = first.take() {
                    let _ = ready.try_send(Err(error));
                }
                return;
            }
            Err(failure) => failure.to_string(),
        };
        if let Some(ready) = first.take() {
            let _ = ready.try_send(Ok(()));
        }
        if !down {
            core.report_down(&error);
            down = true;
        }
        if !wait_while_down(&mut rx, backoff).await {
            return;
        }
        backoff = backoff.saturating_mul(2).min(options.backoff_max);
    }
}

/// A connection with the table set up, its statements prepared, and the
/// table's channel listened to, within the connect and command timeouts.
async fn connect<T>(core: &Core, config: &Config, tls: T, sql: &Sql) -> Result<Session, Failure>
where
    T: MakeTlsConnect<Socket> + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let options = &core.options;
    let attempt = async {
        let (client, connection) = config.connect(tls).await.map_err(|e| Failure::of(&e))?;
        let (tx, notes) = unbounded_channel();
        let driver = tokio::spawn(drive(connection, tx));
        // The server gives up on a statement when the store does.
        let limit = options.command_timeout.as_millis().max(1);
        client
            .batch_execute(&format!("SET statement_timeout = {limit}"))
            .await
            .map_err(|e| Failure::of(&e))?;
        let statements = schema::set_up(&client, &options.table, &core.channel, sql).await?;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| Failure::of(&e))?;
        Ok(Session {
            client,
            statements,
            pid,
            notes,
            driver,
        })
    };
    let within = options
        .connect_timeout
        .saturating_add(options.command_timeout);
    match tokio::time::timeout(within, attempt).await {
        Ok(session) => session,
        Err(_) => Err(Failure::Outage(format!(
            "no connection within {}",
            crate::format_duration(within)
        ))),
    }
}

/// Drives a connection, handing on the notifications it carries; returns
/// why it ended.
async fn drive<S, T>(
    mut connection: Connection<S, T>,
    notes: UnboundedSender<Notification>,
) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(note))) => {
                if notes.send(note).is_err() {
                    return "the store stopped".into();
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Failure::of(&e).to_string(),
            None => return "the server closed the connection".into(),
        }
    }
}

/// Waits `backoff` before the next attempt, answering breakers meanwhile.
/// `false` when the store was dropped.
async fn wait_while_down(rx: &mut UnboundedReceiver<Command>, backoff: Duration) -> bool {
    let sleep = tokio::time::sleep(backoff);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return true,
            command = rx.recv() => match command {
                Some(command) => command.answer_locally(),
                None => return false,
            },
        }
    }
}

/// A connected session: reconcile every breaker (the notifications of the
/// outage were missed), then answer breakers and apply what other processes
/// announce until the server is lost.
async fn serve(
    core: &Core,
    session: &mut Session,
    rx: &mut UnboundedReceiver<Command>,
    down: &mut bool,
    first: &mut Option<Ready>,
) -> End {
    let Session {
        client,
        statements,
        pid,
        notes,
        driver,
    } = session;
    let table = Table {
        client,
        st: statements,
        timeout: core.options.command_timeout,
    };
    // Rows are checked against the server's clock: know it before the first.
    match table.clock().await {
        Ok(now_us) => core.clock.note(now_us),
        Err(e) => return End::Lost(e.to_string()),
    }
    for link in core.all_links() {
        let reconciled = reconcile(core, &table, &link).await;
        if reconciled.is_err() {
            link.dirty.store(true, Ordering::Release);
        }
        if let Err(e) = settle(core, &link.name, reconciled) {
            return End::Lost(e);
        }
    }
    core.up.store(true, Ordering::Release);
    if let Some(ready) = first.take() {
        let _ = ready.try_send(Ok(()));
    }
    if *down {
        core.report_up();
        *down = false;
    }
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => {
                let Some(command) = command else { return End::Closed };
                if let Err(e) = execute(core, &table, command).await {
                    return End::Lost(e);
                }
            }
            note = notes.recv() => {
                let Some(note) = note else {
                    return End::Lost(driver.await.unwrap_or_else(|e| e.to_string()));
                };
                if note.process_id() == *pid {
                    continue; // this store's own write: its breakers know it
                }
                if let Err(e) = announced(core, &table, note.payload()).await {
                    return End::Lost(e);
                }
            }
            _ = heartbeat.tick() => match table.clock().await {
                Ok(now_us) => core.clock.note(now_us),
                Err(e) => return End::Lost(e.to_string()),
            },
        }
    }
}

/// Another process wrote the row of `name` (`''`: of a name too long to
/// announce): read it again for the breakers of that name here.
async fn announced(core: &Core, table: &Table<'_>, name: &str) -> Result<(), String> {
    let names: Vec<String> = if name.is_empty() {
        let mut names: Vec<String> = core.all_links().iter().map(|l| l.name.clone()).collect();
        names.sort();
        names.dedup();
        names
    } else {
        vec![name.to_owned()]
    };
    for name in names {
        settle(core, &name, reread(core, table, &name).await)?;
    }
    Ok(())
}

async fn execute(core: &Core, table: &Table<'_>, command: Command) -> Result<(), String> {
    match command {
        Command::Join { link, done } => {
            let result = join(core, table, &link).await;
            let _ = done.try_send(());
            settle(core, &link.name, result)
        }
        Command::Publish {
            link,
            write,
            adoptions,
        } => {
            // A transition ends the period its permits were taken in.
            link.permits.forget();
            let result = publish(core, table, &link, &write, adoptions).await;
            if result.is_err() {
                link.dirty.store(true, Ordering::Release);
            }
            settle(core, &link.name, result)
        }
        Command::Acquire { link, reply } => {
            let result = acquire(core, table, &link, reply).await;
            settle(core, &link.name, result)
        }
        Command::Release { link } => {
            let result = release(table, &link).await;
            settle(core, &link.name, result)
        }
        Command::Flush { done } => {
            let _ = done.try_send(());
            Ok(())
        }
    }
}

/// Keeps a failure that means the server is lost (`Err`, to reconnect);
/// reports one about the data (once per breaker) and goes on.
fn settle(core: &Core, name: &str, result: Result<(), Failure>) -> Result<(), String> {
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Data(e)) => {
            core.refuse_write(name, &e);
            Ok(())
        }
        Err(failure) => Err(failure.to_string()),
    }
}
