//! Reconfigurations shared through Redis: a change made on one replica
//! (`Breaker::reconfigure`) reaches every replica, and is kept, so a replica
//! that starts later applies it over its own configuration.
//!
//! Each breaker's reconfigured keys are one hash, `{namespace}:{name}:config`:
//! every key a reconfiguration changed, anywhere, with its value as the
//! attribute writes it, plus `_at` (the change's time on Redis' clock, in µs)
//! and `_origin` (the writer). A write replaces the whole hash and announces
//! it on `{namespace}:configs`; a replica that hears it reads the hash and
//! applies it with `Breaker::adopt_config`, which is not sent back.
//!
//! The latest change wins, by Redis' clock: a change made while Redis was
//! unreachable stays pending in the link with the time it was made (Redis'
//! clock as last read, advanced since), and on reconnection it is written
//! only if nothing later is held; otherwise the held change is applied here.
//!
//! What is read is checked like the shared state (`wire.rs`): a hash with an
//! unknown key, a value that is not a key's value, a configuration the rules
//! refuse, or a time further ahead of Redis' clock than `EPOCH_SKEW`, is
//! refused, reported once, and the breaker keeps its configuration.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use ::redis::RedisError;
use ::redis::aio::MultiplexedConnection;

use super::hub::Core;
use super::membership::LinkState;
use super::scripts::Scripts;
use super::wire::{Fault, Refused, from_the_future, shown, whole};

/// The longest value a reconfigured key may hold in Redis.
const MAX_VALUE: usize = 64;

/// Writes the breaker's reconfigured keys if a change made here is pending
/// and nothing later is held; otherwise applies what is held.
pub(super) async fn write(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let (pairs, at) = {
        let state = link.config.lock();
        let Some(at) = state.pending else {
            return Ok(());
        };
        (state.keys.clone(), at)
    };
    let mut invocation = scripts.configure.prepare_invoke();
    invocation
        .key(&link.config.key)
        .key(&core.config_channel)
        .arg(&link.origin)
        .arg(&link.name)
        .arg(at);
    for (key, value) in &pairs {
        invocation.arg(key).arg(value);
    }
    let (written, now_us): (u64, u64) = invocation.invoke_async(conn).await?;
    core.note_redis_time(now_us);
    {
        let mut state = link.config.lock();
        // A change made here while the script ran stays pending.
        if state.pending == Some(at) {
            state.pending = None;
        }
    }
    if written == 1 {
        link.config.seen.fetch_max(at.min(now_us), Ordering::AcqRel);
        Ok(())
    } else {
        // A later change is held: it wins here too.
        read(core, conn, link).await
    }
}

/// After a (re)connection: a change made here while Redis was unreachable
/// is written (if it is the latest), else a newer change held is applied.
pub(super) async fn reconcile(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    if link.config.lock().pending.is_some() {
        write(core, scripts, conn, link).await
    } else {
        read(core, conn, link).await
    }
}

/// Reads the breaker's reconfigured keys and applies them if they are newer
/// than the change last seen here and pass the checks.
pub(super) async fn read(
    core: &Core,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let held: Vec<(String, String)> = ::redis::cmd("HGETALL")
        .arg(&link.config.key)
        .query_async(conn)
        .await?;
    if held.is_empty() {
        return Ok(());
    }
    match check(&held, core.redis_now_us()) {
        Ok((at, keys)) => adopt(core, link, at, keys),
        Err(refused) => core.refuse(&link.name, &refused),
    }
    Ok(())
}

/// The names of the breakers a message on the configs channel announces a
/// change of, by a process other than theirs: to read again.
pub(super) fn announced(core: &Core, payload: &[u8]) -> Vec<std::sync::Arc<LinkState>> {
    let text = std::str::from_utf8(payload).ok();
    let parts: Option<(&str, &str, &str)> = text.and_then(|t| {
        let mut lines = t.splitn(3, '\n');
        Some((lines.next()?, lines.next()?, lines.next()?))
    });
    let Some((at, origin, name)) =
        parts.and_then(|(at, origin, name)| Some((whole(at.as_bytes())?, origin, name)))
    else {
        core.refuse("", &Refused::new(Fault::Message, shown(payload)));
        return Vec::new();
    };
    core.links_named(name)
        .into_iter()
        .filter(|link| link.origin != origin && link.config.seen.load(Ordering::Acquire) < at)
        .collect()
}

/// The change a hash holds, checked: its time, and its keys as a patch.
fn check(
    held: &[(String, String)],
    now_us: u64,
) -> Result<(u64, BTreeMap<String, String>), Refused> {
    let mut at = None;
    let mut keys = BTreeMap::new();
    for (field, value) in held {
        match field.as_str() {
            "_at" => {
                at = Some(whole(value.as_bytes()).ok_or_else(|| {
                    Refused::new(
                        Fault::ConfigTime,
                        format!("_at = {}", shown(value.as_bytes())),
                    )
                })?);
            }
            "_origin" => {}
            key if crate::KEYS.contains(&key) => {
                let fits = value.len() <= MAX_VALUE
                    && !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'=' && b != b',');
                if !fits {
                    return Err(Refused::new(
                        Fault::Config,
                        format!("{key} = {}", shown(value.as_bytes())),
                    ));
                }
                keys.insert(key.to_owned(), value.clone());
            }
            other => {
                return Err(Refused::new(
                    Fault::Config,
                    format!("unknown key {}", shown(other.as_bytes())),
                ));
            }
        }
    }
    let at = at.ok_or_else(|| Refused::new(Fault::ConfigTime, "no _at"))?;
    if from_the_future(at, now_us) {
        return Err(Refused::new(
            Fault::ConfigTime,
            format!("_at {at}, Redis time {now_us} µs"),
        ));
    }
    Ok((at, keys))
}

/// Applies a checked change newer than the one seen here.
fn adopt(core: &Core, link: &LinkState, at: u64, keys: BTreeMap<String, String>) {
    let Some(breaker) = link.breaker.upgrade() else {
        return;
    };
    if link.config.seen.load(Ordering::Acquire) >= at || link.config.lock().pending.is_some() {
        // Seen already, or a change made here since waits to be written
        // (and is the later one).
        return;
    }
    let patch: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
    match breaker.adopt_config(&patch.join(" ")) {
        Ok(_) => {
            link.config.seen.fetch_max(at, Ordering::AcqRel);
            link.config.lock().keys = keys;
        }
        Err(error) => core.refuse(
            &link.name,
            &Refused::new(Fault::Config, format!("{}: {error}", patch.join(" "))),
        ),
    }
}
