//! [`Command`]: what breakers ask of the store's thread, over one channel,
//! and how an answer to a trial-permit request reaches a caller that may
//! have stopped waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::SyncSender;

use super::membership::LinkState;
use crate::store::Trial;
use crate::store::row::Write;

/// The caller of `acquire_trial` still waits for the answer.
pub(super) const WAITING: u8 = 0;
/// The caller stopped waiting (past its budget): a granted permit goes back.
pub(super) const GAVE_UP: u8 = 1;
/// The answer is on its way.
const ANSWERED: u8 = 2;

/// Where the answer to a trial-permit request goes.
pub(super) struct Reply {
    pub(super) tx: SyncSender<Trial>,
    pub(super) waiting: Arc<AtomicU8>,
}

impl Reply {
    /// Sends the answer; `false` if the caller gave up waiting.
    pub(super) fn answer(self, trial: Trial) -> bool {
        let claimed = self
            .waiting
            .compare_exchange(WAITING, ANSWERED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if claimed {
            let _ = self.tx.try_send(trial);
        }
        claimed
    }
}

/// What breakers ask of the store's thread.
pub(super) enum Command {
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
    /// What a command does while the file is unavailable: nothing waits, and
    /// a transition that could not be written is written when it is back.
    pub(super) fn answer_locally(self) {
        match self {
            Command::Join { done, .. } | Command::Flush { done } => {
                let _ = done.try_send(());
            }
            Command::Publish { link, .. } => link.dirty.store(true, Ordering::Release),
            Command::Acquire { reply, .. } => {
                reply.answer(Trial::Local);
            }
            // Not given back: the permits' lease ends them (`trial_ttl`).
            Command::Release { .. } => {}
        }
    }
}
