//! [`RedisLink`]: the [`Link`] a breaker holds. It never talks to Redis
//! itself: it queues commands for the store's thread, and only a half-open
//! trial waits for the answer, at most the budget.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc::UnboundedSender;

use super::command::{Command, Write};
use super::hub::Core;
use super::membership::LinkState;
use super::wire::millis;
use crate::Configured;
use crate::store::trial_answer;
use crate::store::{Change, Link, Trial};

/// The [`Link`] a breaker holds.
pub(super) struct RedisLink {
    pub(super) state: Arc<LinkState>,
    pub(super) core: Arc<Core>,
    pub(super) tx: UnboundedSender<Command>,
}

impl Link for RedisLink {
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
                adoptions: self.state.adoptions.load(Ordering::Acquire),
            },
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

    fn counts_failures(&self) -> bool {
        self.core.options.cluster_failures
    }

    fn failure(&self) {
        let _ = self.tx.send(Command::Failure {
            link: self.state.clone(),
        });
    }

    fn configured(&self, configured: &Configured) {
        // Kept in the link until written, so an outage loses nothing: the
        // reconnection writes it, if no later change was made meanwhile.
        self.state
            .config
            .changed_here(&configured.changed, self.core.redis_now_us());
        let _ = self.tx.send(Command::Configure {
            link: self.state.clone(),
        });
    }
}
