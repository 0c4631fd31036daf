//! What the attribute modes check of a trace's `configure` lines before
//! they replay them, a chunk at a time: what the annotated functions cannot
//! follow, and what breaker-core refuses.

use breaker_core::Config;

use crate::subject::real::config_of;
use crate::trace::{Declaration, Reconfiguration, TraceError};

/// The configuration in force of each breaker declared so far, as
/// breaker-core builds it, for the `configure` lines still to come.
#[derive(Default)]
pub(crate) struct Changes {
    configs: Vec<Option<Config>>,
}

impl Changes {
    /// The next breaker, declared by `decl`.
    pub(crate) fn declare(&mut self, decl: &Declaration) {
        self.configs.push(config_of(decl).ok());
    }

    /// Refuses what neither attribute mode can replay of `changes` (the
    /// `configure` lines of a chunk of `file`, or of a whole trace): one that
    /// turns `adaptive` or `ramp` on (their draws would come from entropy),
    /// or one that gives a `timeout` to a breaker declared without one (the
    /// annotated function has no timer to enforce it); then breaker-core's
    /// verdict on each patch.
    pub(crate) fn check(
        &mut self,
        file: &str,
        changes: &[Reconfiguration],
        breakers: &[Declaration],
    ) -> Result<(), TraceError> {
        for change in changes {
            let Some(d) = breakers.get(change.breaker) else {
                continue;
            };
            let fail = |message: String| TraceError {
                file: file.to_string(),
                line: change.line_no,
                column: 1,
                message,
            };
            if change.config.adaptive.is_some() && d.config.adaptive.is_none() {
                return Err(fail(format!(
                    "this line turns on `adaptive` for `{}`, whose drops the attribute modes cannot seed; replay it directly",
                    d.name
                )));
            }
            if change.config.ramp.is_some() && d.config.ramp.is_none() {
                return Err(fail(format!(
                    "this line turns on `ramp` for `{}`, whose admissions the attribute modes cannot seed; replay it directly",
                    d.name
                )));
            }
            if change.config.timeout.is_some() && d.config.timeout.is_none() {
                return Err(fail(format!(
                    "this line gives `{}` a timeout, which its annotated function, declared without one, has no timer to enforce; replay it directly",
                    d.name
                )));
            }
        }
        crate::subject::real::check_changes(&mut self.configs, file, changes, breakers)
    }
}
