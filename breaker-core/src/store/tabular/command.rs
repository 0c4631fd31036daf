//! [`Command`]: what breakers ask of a table-backed store's thread, over one
//! channel, and what each does while the store is unavailable.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

use crate::store::Trial;
use crate::store::row::Write;
use crate::store::tabular::membership::LinkState;
use crate::store::trial_answer::Reply;

/// What breakers ask of the store's thread.
pub(crate) enum Command {
    /// A breaker joined: read its row, and adopt it.
    Join {
        link: Arc<LinkState>,
        done: SyncSender<()>,
    },
    /// A transition to write; `adoptions` is the breaker's count of
    /// adopted rows when it made it.
    Publish {
        link: Arc<LinkState>,
        write: Write,
        adoptions: u64,
    },
    Acquire {
        link: Arc<LinkState>,
        reply: Reply,
    },
    Release {
        link: Arc<LinkState>,
    },
    /// Answered once every command sent before it was handled.
    Flush {
        done: SyncSender<()>,
    },
}

impl Command {
    /// What a command does while the store is unavailable: nothing waits, and
    /// a transition that could not be written is written when it is back.
    pub(crate) fn answer_locally(self) {
        match self {
            Command::Join { done, .. } | Command::Flush { done } => {
                let _ = done.try_send(());
            }
            Command::Publish { link, .. } => {
                link.permits.forget();
                link.dirty.store(true, Ordering::Release);
            }
            Command::Acquire { reply, .. } => {
                reply.answer(Trial::Local);
            }
            // Not given back: the permits' lease ends them (`trial_ttl`).
            Command::Release { link } => {
                link.permits.give_back();
            }
        }
    }
}
