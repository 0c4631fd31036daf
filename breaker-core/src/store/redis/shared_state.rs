//! Reading, writing and adopting one breaker's shared state: what the
//! store's thread does for a breaker once it has a connection. Everything
//! read from Redis is checked by `wire.rs` before a breaker adopts it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::redis::RedisError;
use ::redis::aio::MultiplexedConnection;

use super::command::Write;
use super::hub::Core;
use super::membership::LinkState;
use super::scripts::Scripts;
use super::wire::{
    self, CheckedState, Fault, Limits, Message, PublishReply, RawHash, Refused, millis,
};
use crate::{Breaker, State};

/// The state names written in Redis.
fn state_name(state: State) -> &'static str {
    state.as_str()
}

pub(super) async fn read(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<RawHash, RedisError> {
    let raw: RawHash = scripts.read.key(&link.key).invoke_async(conn).await?;
    core.note_redis_time(raw.1);
    Ok(raw)
}

pub(super) async fn publish(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
    write: &Write,
) -> Result<(), RedisError> {
    if write.state == State::Open && !write.manual && core.options.quorum > 1 {
        let (reached, openings, replicas): (u64, u64, u64) = scripts
            .quorum
            .key(&link.key)
            .key(&link.openings_key)
            .key(&core.replicas_key)
            .arg(core.options.quorum)
            .arg(&core.replica)
            .arg(write.period_ms.max(1))
            .arg(link.longest_ms())
            .invoke_async(conn)
            .await?;
        if reached != 1 {
            held_local(core, link, openings, replicas);
            return Ok(());
        }
    }
    let (written, now_ms, now_us, state, epoch, opened_at, period, reason): PublishReply = scripts
        .publish
        .key(&link.key)
        .key(&link.trials_key)
        .key(&link.failures_key)
        .key(&core.channel)
        .arg(state_name(write.state))
        .arg(write.remaining_ms.min(write.period_ms))
        .arg(write.period_ms)
        .arg(&write.reason)
        .arg(if write.manual { "1" } else { "0" })
        .arg(write.seen)
        .arg(&link.origin)
        .arg(&link.name)
        .arg(link.longest_ms())
        .invoke_async(conn)
        .await?;
    core.note_redis_time(now_us);
    let raw: RawHash = (now_ms, now_us, state, epoch, opened_at, period, reason);
    if written != 1 {
        // Overruled (an Open or an operator's mode held elsewhere) or joined
        // (an Open already running): take the shared state.
        take_held(core, link, &raw, true);
        return Ok(());
    }
    // What was just written is the newest state in Redis: the newest epoch
    // seen is that one, even if a higher one was seen before (a hash deleted
    // since, or an epoch from Redis' future): otherwise every message after
    // it would look old here.
    if let Some(epoch) = wire::epoch_of(&raw) {
        link.seen.store(epoch, Ordering::Release);
    }
    if link.adoptions.load(Ordering::Acquire) != write.adoptions {
        if let Some(breaker) = link.breaker.upgrade() {
            if let Ok(Some(shared)) = wire::check_hash(&raw, breaker.config()) {
                adopt(link, &breaker, &shared);
            }
        }
    }
    Ok(())
}

/// An opening kept local, short of its quorum: reported at debug level, and
/// at warning level (once per breaker) when fewer replicas than the quorum
/// ever joined the namespace, where no opening will ever be shared.
fn held_local(core: &Core, link: &LinkState, openings: u64, replicas: u64) {
    let quorum = core.options.quorum;
    tracing::debug!(
        target: "breaker",
        namespace = %core.options.namespace,
        breaker = %link.name,
        openings,
        quorum,
        "opening kept local: short of its quorum"
    );
    if replicas < u64::from(quorum) {
        let first = core
            .unreachable_quorum
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(link.name.clone());
        if first {
            tracing::warn!(
                target: "breaker",
                namespace = %core.options.namespace,
                breaker = %link.name,
                quorum,
                replicas,
                "a quorum of {quorum} cannot be reached: {replicas} replicas ever joined \
                 this namespace, so this breaker's openings stay local (reported once)"
            );
        }
    }
}

/// After a (re)connection: a transition made while Redis was unreachable is
/// written now (and overruled by an Open held elsewhere, which then wins
/// here); otherwise a newer shared state is applied here, and a local Open
/// that Redis lost (a restart without persistence), or that Redis holds
/// junk in place of, is written back.
pub(super) async fn reconcile(
    core: &Core,
    scripts: &Scripts,
    conn: &mut MultiplexedConnection,
    link: &LinkState,
) -> Result<(), RedisError> {
    let Some(breaker) = link.breaker.upgrade() else {
        return Ok(());
    };
    let raw = read(core, scripts, conn, link).await?;
    let held = checked(core, link, &breaker, &raw);
    let (state, left, period) = breaker.shared_view();
    let missing = !matches!(held, Some(Some(_))) && state != State::Closed;
    if link.dirty.swap(false, Ordering::AcqRel) || missing {
        let state = if state == State::HalfOpen {
            State::Open
        } else {
            state
        };
        let reason = match breaker.open_reason() {
            Some(reason) if state != State::Closed => reason.reason.to_string(),
            _ => "reconciled".to_owned(),
        };
        let write = Write {
            state,
            remaining_ms: millis(left),
            period_ms: millis(period).max(1),
            reason,
            manual: false,
            seen: link.seen.load(Ordering::Acquire),
            adoptions: link.adoptions.load(Ordering::Acquire),
        };
        publish(core, scripts, conn, link, &write).await
    } else {
        if let Some(Some(shared)) = held {
            if link.seen.swap(shared.epoch, Ordering::AcqRel) != shared.epoch {
                adopt(link, &breaker, &shared);
            }
        }
        Ok(())
    }
}

/// The hash checked for `breaker`: `None` when it was refused (and
/// reported), `Some(None)` when it holds no state. No state means the hash
/// is new (deleted, or Redis restarted empty): the epochs seen before mean
/// nothing against the ones it will hold.
fn checked(
    core: &Core,
    link: &LinkState,
    breaker: &Breaker,
    raw: &RawHash,
) -> Option<Option<CheckedState>> {
    match wire::check_hash(raw, breaker.config()) {
        Ok(None) => {
            link.seen.store(0, Ordering::Release);
            Some(None)
        }
        Ok(Some(shared)) => Some(Some(shared)),
        Err(refused) => {
            core.refuse(&link.name, &refused);
            None
        }
    }
}

/// Applies the shared state a read found, if it passes the checks and its
/// epoch is not the one the breaker has seen, or, with `overruled`, because
/// it overruled the breaker's own transition. What a read finds is the state
/// now held: an epoch lower than the one seen means the hash was written
/// anew (deleted, or lost in a Redis restart), and it applies too.
pub(super) fn take_held(core: &Core, link: &LinkState, raw: &RawHash, overruled: bool) {
    let Some(breaker) = link.breaker.upgrade() else {
        return;
    };
    if let Some(Some(shared)) = checked(core, link, &breaker, raw) {
        if link.seen.swap(shared.epoch, Ordering::AcqRel) != shared.epoch || overruled {
            adopt(link, &breaker, &shared);
        }
    }
}

fn adopt(link: &LinkState, breaker: &Breaker, shared: &CheckedState) {
    link.adoptions.fetch_add(1, Ordering::AcqRel);
    if breaker.adopt(&shared.remote) {
        link.permits.forget();
    }
}

/// A transition pushed by some process (`wire::Message`), checked for each
/// breaker of its name and applied if it is newer than what the breaker has
/// seen. Returns the breakers for which it was older, to read again.
pub(super) fn apply_message(core: &Core, payload: &[u8]) -> Vec<Arc<LinkState>> {
    let Some(message) = Message::parse(payload) else {
        core.refuse("", &Refused::new(Fault::Message, wire::shown(payload)));
        return Vec::new();
    };
    let mut older = Vec::new();
    for link in core.links_named(message.name) {
        let Some(breaker) = link.breaker.upgrade() else {
            continue;
        };
        let limits = Limits::new(breaker.config(), core.redis_now_us());
        if link.origin == message.origin {
            // The echo of this breaker's own write.
            if let Ok(epoch) = message.epoch_within(&limits) {
                link.seen.fetch_max(epoch, Ordering::AcqRel);
            }
            continue;
        }
        match message.check(&limits) {
            Ok(shared) => {
                let seen = link.seen.fetch_max(shared.epoch, Ordering::AcqRel);
                if seen < shared.epoch {
                    adopt(&link, &breaker, &shared);
                } else if seen > shared.epoch {
                    older.push(link);
                }
            }
            Err(refused) => core.refuse(&link.name, &refused),
        }
    }
    older
}
