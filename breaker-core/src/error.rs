//! What a guarded call returns instead of running: the [`Error`] a rejection
//! or a timeout becomes. Why a breaker moved is in `reason.rs`, which the
//! state machine reports without knowing about errors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::State;
use crate::format_duration;
use crate::opening::OpeningRef;
use crate::reason::OpenReason;

/// What a guarded call returns instead of its own result.
///
/// A function guarded by the attribute returns it through `From`, so its
/// error type needs `From<breaker_core::Error>`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The breaker did not let the call run.
    #[non_exhaustive]
    Rejected {
        /// Its state when it rejected the call.
        state: State,
        /// In Open, how long until it lets a trial through; `None` in
        /// HalfOpen (all trial permits taken) and ForcedOpen.
        retry_after: Option<Duration>,
        /// The breaker's name and why it opened ([`Error::name`] and
        /// [`Error::open_reason`] read it).
        opening: OpeningRef,
    },
    /// The call ran longer than the breaker's `timeout` and was abandoned; it
    /// counted as a failure.
    #[non_exhaustive]
    Timeout {
        /// The breaker's name.
        name: Arc<str>,
        /// The configured timeout.
        after: Duration,
    },
}

impl Error {
    /// The name of the breaker that produced this error.
    pub fn name(&self) -> &str {
        match self {
            Error::Rejected { opening, .. } => &opening.name,
            Error::Timeout { name, .. } => name,
        }
    }

    /// For a rejection: why the breaker opened (none for a breaker that never
    /// opened, or for a timeout).
    pub fn open_reason(&self) -> Option<&OpenReason> {
        match self {
            Error::Rejected { opening, .. } => opening.reason.as_deref(),
            Error::Timeout { .. } => None,
        }
    }

    /// For a rejection: the breaker's state when it rejected the call.
    pub fn state(&self) -> Option<State> {
        match self {
            Error::Rejected { state, .. } => Some(*state),
            Error::Timeout { .. } => None,
        }
    }

    /// Whether the call was rejected without running.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected { .. })
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// For a rejection in Open: how long until a trial is let through.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Rejected { retry_after, .. } => *retry_after,
            Error::Timeout { .. } => None,
        }
    }

    /// Builds the timeout error of breaker `name`.
    pub fn timeout(name: Arc<str>, after: Duration) -> Error {
        Error::Timeout { name, after }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected {
                state,
                retry_after,
                opening,
            } => {
                write!(
                    f,
                    "circuit breaker `{}` is {}",
                    opening.name,
                    state.as_str()
                )?;
                if let Some(reason) = &opening.reason {
                    write!(f, " ({reason})")?;
                }
                match (state, retry_after) {
                    (_, Some(after)) => write!(f, "; retry in {}", format_duration(*after)),
                    (State::HalfOpen, None) => f.write_str("; all trial calls are taken"),
                    (State::ForcedOpen, None) => f.write_str("; until an operator resets it"),
                    (State::Closed, None) => f.write_str("; shedding load (adaptive throttling)"),
                    _ => Ok(()),
                }
            }
            Error::Timeout { name, after } => write!(
                f,
                "call through circuit breaker `{name}` timed out after {}",
                format_duration(*after)
            ),
        }
    }
}

impl std::error::Error for Error {}
