//! [`SqliteLink`]: the [`Link`] a breaker holds. It never touches the file
//! itself: it queues commands for the store's thread, and only a half-open
//! trial waits for the answer, at most the budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, sync_channel};

use super::command::{Command, GAVE_UP, Reply, WAITING};
use super::hub::Core;
use super::membership::LinkState;
use crate::store::row::{Now, Write, millis};
use crate::store::{Change, Link, Trial};

/// The [`Link`] a breaker holds.
pub(super) struct SqliteLink {
    pub(super) state: Arc<LinkState>,
    pub(super) core: Arc<Core>,
    pub(super) tx: Sender<Command>,
}

impl Link for SqliteLink {
    fn publish(&self, change: &Change) {
        let publish = Command::Publish {
            link: self.state.clone(),
            write: Write {
                state: change.to,
                remaining_ms: millis(change.open_for),
                period_ms: millis(change.open_for),
                reason: change.reason.to_string(),
                manual: change.manual,
                seen: self.state.seen.load(Ordering::Acquire),
                // The transition's own time: written late, it still ends
                // its open period when it would have ended here.
                at_ms: Now::read().ms,
            },
            adoptions: self.state.adoptions.load(Ordering::Acquire),
        };
        if self.tx.send(publish).is_err() {
            self.state.dirty.store(true, Ordering::Release);
        }
    }

    fn acquire_trial(&self) -> Trial {
        if !self.core.up.load(Ordering::Acquire) {
            return Trial::Local;
        }
        let (reply_tx, reply_rx) = sync_channel(1);
        let waiting = Arc::new(AtomicU8::new(WAITING));
        let acquire = Command::Acquire {
            link: self.state.clone(),
            reply: Reply {
                tx: reply_tx,
                waiting: waiting.clone(),
            },
        };
        if self.tx.send(acquire).is_err() {
            return Trial::Local;
        }
        match reply_rx.recv_timeout(self.core.options.budget) {
            Ok(trial) => trial,
            Err(RecvTimeoutError::Timeout) => {
                // Past the budget: give up, unless the answer is being sent
                // this instant (then take it, or a granted permit would leak).
                match waiting.compare_exchange(
                    WAITING,
                    GAVE_UP,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => Trial::Denied,
                    Err(_) => reply_rx.recv().unwrap_or(Trial::Local),
                }
            }
            Err(RecvTimeoutError::Disconnected) => Trial::Local,
        }
    }

    fn release_trial(&self) {
        let _ = self.tx.send(Command::Release {
            link: self.state.clone(),
        });
    }
}
