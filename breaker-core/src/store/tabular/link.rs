//! [`TableLink`]: the [`Link`] a breaker of a table-backed store holds. It
//! never touches the table itself: it queues commands for the store's
//! thread, and only a half-open trial waits for the answer, at most the
//! budget.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::store::row::{Write, millis};
use crate::store::tabular::command::Command;
use crate::store::tabular::hub::{Queue, TableHub};
use crate::store::tabular::membership::LinkState;
use crate::store::trial_answer;
use crate::store::{Change, Link, Trial};

/// The [`Link`] a breaker holds.
pub(crate) struct TableLink<H, Q> {
    pub(crate) state: Arc<LinkState>,
    pub(crate) hub: Arc<H>,
    pub(crate) queue: Q,
}

impl<H: TableHub, Q: Queue> Link for TableLink<H, Q> {
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
                at_ms: self.hub.now().ms,
            },
            adoptions: self.state.adoptions.load(Ordering::Acquire),
        };
        if !self.queue.push(publish) {
            self.state.dirty.store(true, Ordering::Release);
        }
    }

    fn acquire_trial(&self) -> Trial {
        if !self.hub.available() {
            return Trial::Local;
        }
        let link = &self.state;
        trial_answer::ask(
            |reply| {
                self.queue.push(Command::Acquire {
                    link: link.clone(),
                    reply,
                })
            },
            self.hub.budget(),
        )
    }

    fn release_trial(&self) {
        self.queue.push(Command::Release {
            link: self.state.clone(),
        });
    }
}
