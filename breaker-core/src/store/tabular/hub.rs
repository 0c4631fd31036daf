//! [`TableHub`]: what a table-backed store offers the parts it shares with
//! the others (`apply`, `link`): its reports, its clock, the breakers that
//! joined it, and the way to its thread.

use std::sync::Arc;
use std::time::Duration;

use crate::store::row::{Now, Refused};
use crate::store::tabular::command::Command;
use crate::store::tabular::membership::LinkState;

/// A table-backed store, as its shared parts see it.
pub(crate) trait TableHub: Send + Sync + 'static {
    /// Reports a refused row, once per breaker and kind.
    fn refuse(&self, name: &str, refused: &Refused);

    /// Reports, at info level, that the Open a joining breaker found had
    /// ended `ago` (no fault: it is not adopted).
    fn ended_on_join(&self, name: &str, ago: Duration, reason: &str);

    /// Every breaker joined under `name`.
    fn links_named(&self, name: &str) -> Vec<Arc<LinkState>>;

    /// The clock rows are written and checked on: the host's wall clock for
    /// a file, the server's for a database server.
    fn now(&self) -> Now;

    /// Whether the store is available: while it is not, nothing waits on it.
    fn available(&self) -> bool;

    /// The longest a call waits on the store.
    fn budget(&self) -> Duration;
}

/// The channel to a store's thread: `false` when the thread is gone.
pub(crate) trait Queue: Send + Sync + 'static {
    fn push(&self, command: Command) -> bool;
}

impl Queue for std::sync::mpsc::Sender<Command> {
    fn push(&self, command: Command) -> bool {
        self.send(command).is_ok()
    }
}
