//! [`Command`]: what breakers ask of the store's thread, over one channel,
//! and how an answer to a trial-permit request reaches a caller that may
//! have stopped waiting for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

use super::membership::LinkState;
use crate::State;
use crate::store::trial_answer::Reply;
use crate::store::{Fleet, Trial};

/// Why the fleet cannot be read while Redis is down.
pub(super) const UNREACHABLE: &str = "Redis is unreachable: the fleet cannot be read";

/// A transition to write, with what the breaker knew when it made it.
pub(super) struct Write {
    pub(super) state: State,
    pub(super) remaining_ms: u64,
    pub(super) period_ms: u64,
    pub(super) reason: String,
    pub(super) manual: bool,
    /// The newest shared epoch the breaker had seen: a newer Open held in
    /// Redis overrules a policy's transition.
    pub(super) seen: u64,
    /// How many shared states the breaker had adopted: if it adopted one
    /// since, that one is older in Redis than this write, and the breaker
    /// takes this write back after writing it, to end where the others end.
    pub(super) adoptions: u64,
}

/// What breakers ask of the store's thread.
pub(super) enum Command {
    Join {
        link: Arc<LinkState>,
        done: SyncSender<()>,
    },
    Publish {
        link: Arc<LinkState>,
        write: Write,
    },
    Acquire {
        link: Arc<LinkState>,
        reply: Reply,
    },
    Flush {
        done: SyncSender<()>,
    },
    Release {
        link: Arc<LinkState>,
    },
    Failure {
        link: Arc<LinkState>,
    },
    /// The breaker was reconfigured here: write its reconfigured keys.
    Configure {
        link: Arc<LinkState>,
    },
    /// Read every replica's description (`GET /fleet`).
    Fleet {
        reply: tokio::sync::oneshot::Sender<Result<Fleet, String>>,
    },
}

impl Command {
    /// What a command does while Redis is unreachable: nothing waits, and a
    /// transition that could not be written is reconciled later.
    pub(super) fn drop_while_down(self) {
        match self {
            Command::Join { done, .. } => {
                let _ = done.try_send(());
            }
            Command::Publish { link, .. } => {
                link.permits.forget();
                link.dirty.store(true, Ordering::Release);
            }
            Command::Acquire { reply, .. } => {
                reply.answer(Trial::Local);
            }
            Command::Flush { done } => {
                let _ = done.try_send(());
            }
            Command::Fleet { reply } => {
                let _ = reply.send(Err(UNREACHABLE.into()));
            }
            // Not given back: the counter's expiry ends it (`trial_ttl`).
            Command::Release { link } => {
                link.permits.give_back();
            }
            // The change stays pending in the link: reconciled on return.
            Command::Failure { .. } | Command::Configure { .. } => {}
        }
    }
}
