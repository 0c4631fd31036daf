//! [`SqliteLink`]: the [`Link`] a breaker holds. It never touches the file
//! itself: it queues commands for the store's thread, and only a half-open
//! trial waits for the answer, at most the budget.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;

use super::command::Command;
use super::hub::Core;
use super::membership::LinkState;
use crate::store::row::{Now, Write, millis};
use crate::store::trial_answer;
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
        let link = &self.state;
        trial_answer::ask(
            |reply| {
                let acquire = Command::Acquire {
                    link: link.clone(),
                    reply,
                };
                self.tx.send(acquire).is_ok()
            },
            self.core.options.budget,
        )
    }

    fn release_trial(&self) {
        let _ = self.tx.send(Command::Release {
            link: self.state.clone(),
        });
    }
}
