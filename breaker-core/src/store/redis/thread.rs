//! The store's thread: connect, serve breakers' commands and other
//! processes' messages, and on a loss report it once and reconnect with
//! backoff. Whether a failed command means Redis is down or holds bad data
//! is decided here, once, for every command.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, ServerErrorKind};
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;

use super::command::Command;
use super::configs;
use super::fleet;
use super::hub::Core;
use super::membership::LinkState;
use super::scripts::Scripts;
use super::shared_state::{apply_message, publish, read, reconcile, take_held};
use super::wire::{Fault, Refused, millis};
use crate::store::Trial;

/// Why a connected session ended.
enum End {
    /// Every sender is gone: the store was dropped.
    Closed,
    /// Redis stopped answering.
    Lost(String),
}

/// The store's thread: connect, serve, and on a loss report it once and
/// reconnect with backoff until Redis is back.
pub(super) async fn run(
    core: Arc<Core>,
    client: Client,
    mut rx: UnboundedReceiver<Command>,
    ready: SyncSender<()>,
) {
    let options = core.options.clone();
    let scripts = Scripts::new();
    let mut backoff = options.backoff_min;
    let mut down = false;
    loop {
        let error = match open(&client, &core).await {
            Ok((conn, sink, stream)) => {
                core.up.store(true, Ordering::Release);
                if down {
                    tracing::info!(
                        target: "breaker",
                        namespace = %options.namespace,
                        "shared-state store reachable again; reconciling breakers"
                    );
                    down = false;
                }
                let _ = ready.try_send(());
                backoff = options.backoff_min;
                let end = serve(&core, &scripts, conn, stream, &mut rx).await;
                drop(sink);
                core.up.store(false, Ordering::Release);
                match end {
                    End::Closed => return,
                    End::Lost(error) => error,
                }
            }
            Err(error) => error,
        };
        if !down {
            tracing::warn!(
                target: "breaker",
                namespace = %options.namespace,
                error = %error,
                "shared-state store unreachable; breakers go on with local state"
            );
            down = true;
        }
        let _ = ready.try_send(());
        if !wait_while_down(&mut rx, backoff).await {
            return;
        }
        backoff = backoff.saturating_mul(2).min(options.backoff_max);
    }
}

type Session = (
    MultiplexedConnection,
    ::redis::aio::PubSubSink,
    ::redis::aio::PubSubStream,
);

/// One connection for commands and one subscribed to the transitions channel.
async fn open(client: &Client, core: &Core) -> Result<Session, String> {
    let options = &core.options;
    let connect = async {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.command_timeout));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&core.channel).await?;
        pubsub.subscribe(&core.config_channel).await?;
        let (sink, stream) = pubsub.split();
        Ok::<_, ::redis::RedisError>((conn, sink, stream))
    };
    match tokio::time::timeout(options.connect_timeout, connect).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no connection within {}",
            crate::format_duration(options.connect_timeout)
        )),
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
                Some(command) => command.drop_while_down(),
                None => return false,
            },
        }
    }
}

/// A connected session: reconcile every breaker, then answer breakers and
/// apply what other processes publish until Redis is lost.
async fn serve(
    core: &Core,
    scripts: &Scripts,
    mut conn: MultiplexedConnection,
    mut stream: ::redis::aio::PubSubStream,
    rx: &mut UnboundedReceiver<Command>,
) -> End {
    // Messages are checked against Redis' clock: know it before the first.
    if let Err(e) = tick(core, &mut conn).await {
        return End::Lost(e.to_string());
    }
    for link in core.all_links() {
        let reconciled = reconcile(core, scripts, &mut conn, &link).await;
        if let Err(e) = settle(core, &link, reconciled) {
            link.dirty.store(true, Ordering::Release);
            return End::Lost(e.to_string());
        }
        let reconciled = configs::reconcile(core, scripts, &mut conn, &link).await;
        if let Err(e) = settle(core, &link, reconciled) {
            return End::Lost(e.to_string());
        }
    }
    let mut heartbeat = tokio::time::interval(fleet::INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => {
                let Some(command) = command else { return End::Closed };
                if let Err(e) = execute(core, scripts, &mut conn, command).await {
                    return End::Lost(e.to_string());
                }
            }
            message = stream.next() => {
                let Some(message) = message else {
                    return End::Lost("the subscription was closed".into());
                };
                if message.get_channel_name() == core.config_channel {
                    for link in configs::announced(core, message.get_payload_bytes()) {
                        let read = configs::read(core, &mut conn, &link).await;
                        if let Err(e) = settle(core, &link, read) {
                            return End::Lost(e.to_string());
                        }
                    }
                    continue;
                }
                for link in apply_message(core, message.get_payload_bytes()) {
                    if let Err(e) = reread(core, scripts, &mut conn, &link).await {
                        return End::Lost(e.to_string());
                    }
                }
            }
            _ = heartbeat.tick() => {
                if let Err(e) = fleet::describe(core, &scripts.fleet, &mut conn).await {
                    if connection_lost(&e) {
                        return End::Lost(e.to_string());
                    }
                }
            }
        }
    }
}

/// Reads a breaker's hash again after a message older than the newest
/// epoch it has seen: epochs only grow within one hash, so either the message
/// was overtaken (the read finds the newer state, already applied), or the
/// hash was deleted and written anew since (the read finds its state, which
/// applies, and the epochs of the old hash are forgotten).
async fn reread(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let result = read(core, scripts, conn, link).await;
    if let Ok(raw) = &result {
        take_held(core, link, raw, false);
    }
    settle(core, link, result)
}

/// The heartbeat: Redis answers, and says its time.
async fn tick(core: &Core, conn: &mut MultiplexedConnection) -> Result<(), RedisError> {
    let (secs, micros): (u64, u64) = ::redis::cmd("TIME").query_async(conn).await?;
    core.note_redis_time(secs.saturating_mul(1_000_000).saturating_add(micros));
    Ok(())
}

/// Whether a failed command means Redis is unreachable. An error reply
/// caused by what a key holds (`WRONGTYPE`, a script's `ERR`) or a reply of
/// an unexpected shape is bad data in Redis, not an outage: reconnecting
/// would meet it again at once. Any other error (`LOADING`, `BUSY`,
/// `READONLY`, I/O, a timeout) is one.
fn connection_lost(e: &RedisError) -> bool {
    let bad_data = matches!(
        e.kind(),
        ErrorKind::Server(ServerErrorKind::ResponseError) | ErrorKind::UnexpectedReturnType
    ) || e.code() == Some("WRONGTYPE");
    !bad_data
}

/// Gives back a trial permit taken from the counter's `generation`.
async fn release(
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
    generation: u64,
) -> Result<i64, RedisError> {
    scripts
        .release
        .key(&link.trials_key)
        .arg(generation)
        .invoke_async(conn)
        .await
}

/// Keeps a failed command's error if Redis is unreachable; reports bad data
/// in Redis (once) and goes on otherwise.
fn settle<T>(
    core: &Core,
    link: &LinkState,
    result: Result<T, RedisError>,
) -> Result<(), RedisError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if connection_lost(&e) => Err(e),
        Err(e) => {
            core.refuse(&link.name, &Refused::new(Fault::Reply, e.to_string()));
            Ok(())
        }
    }
}

async fn execute(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    command: Command,
) -> Result<(), RedisError> {
    match command {
        Command::Join { link, done } => {
            let result = read(core, scripts, conn, &link).await;
            if let Ok(raw) = &result {
                take_held(core, &link, raw, false);
            }
            // A replica that joins late takes the reconfigurations made before.
            let configured = configs::read(core, conn, &link).await;
            let _ = done.try_send(());
            settle(core, &link, result)?;
            settle(core, &link, configured)
        }
        Command::Configure { link } => {
            let result = configs::write(core, scripts, conn, &link).await;
            settle(core, &link, result)
        }
        Command::Publish { link, write } => {
            // A transition ends the period its permits were taken in.
            link.permits.forget();
            let result = publish(core, scripts, conn, &link, &write).await;
            if result.is_err() {
                link.dirty.store(true, Ordering::Release);
            }
            settle(core, &link, result)
        }
        Command::Acquire { link, reply } => {
            let result: Result<(i64, String), _> = scripts
                .acquire
                .key(&link.trials_key)
                .arg(link.half_open)
                .arg(millis(core.options.trial_ttl))
                .invoke_async(conn)
                .await;
            let (trial, generation) = match &result {
                Ok((1, generation)) => (Trial::Granted, generation.parse::<u64>().ok()),
                Ok(_) => (Trial::Denied, None),
                Err(_) => (Trial::Local, None),
            };
            match (reply.answer(trial), generation) {
                (true, Some(generation)) => link.permits.took(generation),
                (false, Some(generation)) => {
                    // The caller gave up waiting: the permit goes back at once.
                    let _ = release(scripts, conn, &link, generation).await;
                }
                (_, None) => {}
            }
            settle(core, &link, result)
        }
        Command::Flush { done } => {
            let _ = done.try_send(());
            Ok(())
        }
        Command::Fleet { reply } => match fleet::read(core, &scripts.fleet, conn).await {
            Ok(fleet) => {
                let _ = reply.send(Ok(fleet));
                Ok(())
            }
            Err(e) => {
                let _ = reply.send(Err(format!("the fleet could not be read: {e}")));
                if connection_lost(&e) { Err(e) } else { Ok(()) }
            }
        },
        Command::Release { link } => {
            // Taken in a period a transition ended, its write cleared it.
            let Some(generation) = link.permits.give_back() else {
                return Ok(());
            };
            let result = release(scripts, conn, &link, generation).await;
            settle(core, &link, result)
        }
        Command::Failure { link } => {
            let result: Result<i64, _> = scripts
                .failure
                .key(&link.key)
                .key(&link.trials_key)
                .key(&link.failures_key)
                .key(&core.channel)
                .arg(link.fail_max)
                .arg(link.window_ms.max(1))
                .arg(link.period_ms.max(1))
                .arg(&link.name)
                .arg(link.longest_ms())
                .invoke_async(conn)
                .await;
            settle(core, &link, result)
        }
    }
}
