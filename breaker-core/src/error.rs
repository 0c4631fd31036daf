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
        /// In Closed, why the breaker shed the call (adaptive throttling or
        /// a slow start); `None` in every other state.
        shedding: Option<Shedding>,
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

/// Why a Closed breaker turned a call away: it sheds load in Closed only
/// through adaptive throttling or a slow start after recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shedding {
    /// Adaptive throttling (`adaptive = K`) dropped the call.
    Adaptive,
    /// A slow start after recovery (`ramp = D`) did not admit the call.
    Ramp {
        /// The share of calls the slow start admitted when it drew for this
        /// one, in thousandths (100 at the close, 1000 at its end).
        admitting_permille: u16,
    },
}

impl Shedding {
    /// A slow start admitting `share` of the calls (0.1 to 1).
    pub(crate) fn ramp(share: f64) -> Shedding {
        // `as` saturates: a share out of range stays within 0..=1000.
        let admitting_permille = (share * 1000.0).round().clamp(0.0, 1000.0) as u16;
        Shedding::Ramp { admitting_permille }
    }

    /// For a slow start, the share of calls it admitted (0.1 to 1).
    pub fn admitting(&self) -> Option<f64> {
        match self {
            Shedding::Ramp { admitting_permille } => Some(f64::from(*admitting_permille) / 1000.0),
            Shedding::Adaptive => None,
        }
    }
}

impl fmt::Display for Shedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shedding::Adaptive => f.write_str("shedding load (adaptive throttling)"),
            Shedding::Ramp { admitting_permille } => write!(
                f,
                "slow start after recovery, admitting {}% of calls",
                Percent(*admitting_permille)
            ),
        }
    }
}

/// Thousandths shown as a percentage with at most one decimal: `37.5`, `10`.
struct Percent(u16);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 10 {
            0 => write!(f, "{}", self.0 / 10),
            tenths => write!(f, "{}.{tenths}", self.0 / 10),
        }
    }
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

    /// For a rejection in Closed: why the breaker shed the call (adaptive
    /// throttling, or a slow start and the share it admitted).
    pub fn shedding(&self) -> Option<Shedding> {
        match self {
            Error::Rejected { shedding, .. } => *shedding,
            Error::Timeout { .. } => None,
        }
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
                shedding,
            } => {
                write!(
                    f,
                    "circuit breaker `{}` is {}",
                    opening.name,
                    state.as_str()
                )?;
                // In Closed the last opening is over: it is not why this
                // call was turned away.
                if let Some(reason) = opening.reason.as_ref().filter(|_| *state != State::Closed) {
                    write!(f, " ({reason})")?;
                }
                match (state, retry_after, shedding) {
                    (_, Some(after), _) => write!(f, "; retry in {}", format_duration(*after)),
                    (_, None, Some(shedding)) => write!(f, "; {shedding}"),
                    (State::HalfOpen, None, _) => f.write_str("; all trial calls are taken"),
                    (State::ForcedOpen, None, _) => f.write_str("; until an operator resets it"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_s_reason_does_not_grow_the_error() {
        // A guarded call returns `Result<T, E>` with `E: From<Error>`; the
        // shedding's two bytes sit in the rejection's padding (40 before).
        assert_eq!(std::mem::size_of::<Error>(), 40);
    }

    #[test]
    fn a_ramp_share_is_shown_in_percent_with_at_most_one_decimal() {
        let shown = |share| Shedding::ramp(share).to_string();
        assert_eq!(
            shown(0.1),
            "slow start after recovery, admitting 10% of calls"
        );
        assert_eq!(
            shown(0.3255),
            "slow start after recovery, admitting 32.6% of calls"
        );
        assert_eq!(
            shown(1.0),
            "slow start after recovery, admitting 100% of calls"
        );
        assert_eq!(
            shown(f64::NAN),
            "slow start after recovery, admitting 0% of calls"
        );
    }
}
