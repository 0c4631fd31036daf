//! A half-open trial permit asked of a store's thread by a caller that waits
//! at most the store's budget: the one place a call may wait on a store. The
//! answer and the caller's giving up race; whichever claims the request
//! first decides, so a permit granted just as the caller gave up is given
//! back by the thread (`answer` says the caller is gone), never leaked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::store::Trial;

/// The caller still waits for the answer.
const WAITING: u8 = 0;
/// The caller stopped waiting (past its budget): a granted permit goes back.
const GAVE_UP: u8 = 1;
/// The answer is on its way.
const ANSWERED: u8 = 2;

/// Where the answer to a trial-permit request goes: the store's thread holds
/// it until it knows.
pub(crate) struct Reply {
    tx: SyncSender<Trial>,
    waiting: Arc<AtomicU8>,
}

impl Reply {
    /// Sends the answer; `false` if the caller gave up waiting (a granted
    /// permit must then go back).
    pub(crate) fn answer(self, trial: Trial) -> bool {
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

/// Asks for a permit through `send` (which hands the reply to the store's
/// thread, `false` when the thread is gone) and waits at most `budget`:
/// `Denied` past it, `Local` when the thread cannot answer.
pub(crate) fn ask(send: impl FnOnce(Reply) -> bool, budget: Duration) -> Trial {
    let (tx, rx) = sync_channel(1);
    let waiting = Arc::new(AtomicU8::new(WAITING));
    let reply = Reply {
        tx,
        waiting: waiting.clone(),
    };
    if !send(reply) {
        return Trial::Local;
    }
    match rx.recv_timeout(budget) {
        Ok(trial) => trial,
        Err(RecvTimeoutError::Timeout) => {
            // Past the budget: give up, unless the answer is being sent this
            // instant (then take it, or a granted permit would leak).
            match waiting.compare_exchange(WAITING, GAVE_UP, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => Trial::Denied,
                Err(_) => rx.recv().unwrap_or(Trial::Local),
            }
        }
        Err(RecvTimeoutError::Disconnected) => Trial::Local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_in_time_is_taken_and_one_too_late_is_refused() {
        let granted = ask(
            |reply| reply.answer(Trial::Granted),
            Duration::from_millis(100),
        );
        assert_eq!(granted, Trial::Granted);
        let mut kept = None;
        let late = ask(
            |reply| {
                kept = Some(reply);
                true
            },
            Duration::from_millis(10),
        );
        assert_eq!(late, Trial::Denied, "past the budget");
        assert!(
            !kept.unwrap().answer(Trial::Granted),
            "the caller is gone: give it back"
        );
        assert_eq!(
            ask(|_| false, Duration::from_millis(10)),
            Trial::Local,
            "no thread"
        );
    }
}
