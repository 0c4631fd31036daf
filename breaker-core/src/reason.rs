//! Why a breaker moved: the policy, the trial or the operator behind each
//! transition, and the opening a rejection points to.
//!
//! The state machine writes these, listeners and rejections read them; they
//! stand apart from `error.rs` so that the opening cell, which rejections
//! share, and the error that carries it do not import each other.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Percent;
use crate::format_duration;

/// An operator's action on a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `Breaker::trip`: Open now for `reset`, recovering as usual.
    Trip,
    /// `Breaker::force_open`: ForcedOpen until `reset`.
    ForceOpen,
    /// `Breaker::disable`: Disabled until `reset`.
    Disable,
    /// `Breaker::reset`: Closed, policy counters cleared.
    Reset,
    /// `Breaker::metrics_only`: a dry run until `reset`.
    MetricsOnly,
}

impl Action {
    /// The action as written in event logs: `trip`, `force_open`, `disable`, `reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trip => "trip",
            Action::ForceOpen => "force_open",
            Action::Disable => "disable",
            Action::Reset => "reset",
            Action::MetricsOnly => "metrics_only",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened. Its `Display` is the `reason` of event logs and
/// tracing events; the texts are part of docs/semantics.md.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Closed -> Open: `fail_max` failures in a row ("5 consecutive failures").
    ConsecutiveFailures {
        /// The run that reached `fail_max`.
        failures: u32,
    },
    /// Closed -> Open: `fail_max` failures within `within` ("3 failures within 10s").
    FailuresWithin {
        /// Failures in the window when it tripped.
        failures: u32,
        /// The window.
        within: Duration,
    },
    /// Closed -> Open: the failure rate reached its threshold
    /// ("5 of 10 calls failed (threshold 50%)").
    FailureRate {
        /// Failures in the window.
        failures: u32,
        /// Outcomes in the window.
        calls: u32,
        /// The configured rate.
        threshold: Percent,
    },
    /// Closed -> Open: the slow-call rate reached its threshold
    /// ("3 of 10 calls slow (threshold 30%)").
    SlowCallRate {
        /// Slow outcomes in the window.
        slow: u32,
        /// Outcomes in the window.
        calls: u32,
        /// The configured rate.
        threshold: Percent,
    },
    /// Open -> HalfOpen: a call came after the open period ("open for 30s").
    OpenElapsed {
        /// The open period that passed.
        period: Duration,
    },
    /// HalfOpen -> Closed ("2 successful trials").
    TrialsSucceeded {
        /// The `success` threshold reached.
        successes: u32,
    },
    /// HalfOpen -> Open: a trial failed ("trial failed").
    TrialFailed,
    /// HalfOpen -> Open: the trials had not decided within
    /// `max_half_open_wait` ("trials undecided after 10s").
    TrialsUndecided {
        /// The `max_half_open_wait` that passed.
        waited: Duration,
    },
    /// An operator's action ("manual trip", "manual reset", ...).
    Manual(Action),
    /// Applied from a shared-state store: another process made this
    /// transition, for `reason` ("remote: 5 consecutive failures"). Never
    /// shared back with the store.
    Remote {
        /// The reason the other process reported.
        reason: Arc<str>,
    },
}

/// `failure` or `failures`, as the count asks.
fn plural(count: u32, noun: &str) -> String {
    if count == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ConsecutiveFailures { failures } => {
                write!(f, "{failures} consecutive {}", plural(*failures, "failure"))
            }
            Reason::FailuresWithin { failures, within } => write!(
                f,
                "{failures} {} within {}",
                plural(*failures, "failure"),
                format_duration(*within)
            ),
            Reason::FailureRate {
                failures,
                calls,
                threshold,
            } => write!(
                f,
                "{failures} of {calls} calls failed (threshold {threshold}%)"
            ),
            Reason::SlowCallRate {
                slow,
                calls,
                threshold,
            } => write!(f, "{slow} of {calls} calls slow (threshold {threshold}%)"),
            Reason::OpenElapsed { period } => write!(f, "open for {}", format_duration(*period)),
            Reason::TrialsSucceeded { successes } => {
                write!(f, "{successes} successful {}", plural(*successes, "trial"))
            }
            Reason::TrialFailed => f.write_str("trial failed"),
            Reason::TrialsUndecided { waited } => {
                write!(f, "trials undecided after {}", format_duration(*waited))
            }
            Reason::Manual(action) => write!(f, "manual {action}"),
            Reason::Remote { reason } => write!(f, "remote: {reason}"),
        }
    }
}

/// Why a breaker is rejecting calls: what opened it, when, and the message of
/// the failure that did it, when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenReason {
    /// The policy or action that opened the breaker.
    pub reason: Reason,
    /// When it opened, on the breaker's clock: the time since that clock's
    /// epoch, not a wall-clock time. The real clock
    /// ([`MonotonicClock`](crate::clock::MonotonicClock)) counts from the
    /// first time any breaker of the process read it, a
    /// [`ManualClock`](crate::clock::ManualClock) from zero; compare it with
    /// [`Breaker::now`](crate::Breaker::now) (`now - at` is how long ago).
    /// The admin API shows it as an RFC 3339 time too.
    pub at: Duration,
    /// The message of the failure that opened it (an error's `Display`, a
    /// `panicked` for a panic, or "timed out after ...").
    pub last_failure: Option<String>,
}

impl fmt::Display for OpenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(message) = &self.last_failure {
            write!(f, "; last failure: {message}")?;
        }
        Ok(())
    }
}

/// The breaker behind a rejection and why it was open.
///
/// One is built per opening and shared by every rejection of that open
/// period through an [`OpeningRef`](crate::OpeningRef), so a rejection copies neither the name
/// nor the reason.
#[derive(Debug)]
#[non_exhaustive]
pub struct Opening {
    /// The breaker's name.
    pub name: Arc<str>,
    /// Why it opened (none for a breaker that never opened).
    pub reason: Option<Arc<OpenReason>>,
}

impl Opening {
    /// The opening of breaker `name` for `reason`.
    pub fn new(name: Arc<str>, reason: Option<Arc<OpenReason>>) -> Opening {
        Opening { name, reason }
    }
}

/// Whether `text` is how [`Reason::TrialsSucceeded`] writes itself ("2
/// successful trials"): how a store that shares reasons as text tells a close
/// on trials (which a breaker with `ramp` ramps after) from another close.
/// Kept beside the `Display` it reads, and checked against it.
pub(crate) fn is_trials_close(text: &str) -> bool {
    let Some((count, rest)) = text.split_once(' ') else {
        return false;
    };
    let n: u32 = match count.parse() {
        Ok(n) if n > 0 && count.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return false,
    };
    rest == if n == 1 {
        "successful trial"
    } else {
        "successful trials"
    }
}

#[cfg(test)]
mod trials_close {
    use super::*;

    #[test]
    fn the_text_of_a_close_on_trials_is_told_from_any_other() {
        for n in [1, 2, 17] {
            let text = Reason::TrialsSucceeded { successes: n }.to_string();
            assert!(is_trials_close(&text), "{text}");
        }
        for text in [
            "manual reset",
            "0 successful trials",
            "2 successful trial",
            "x successful trials",
            "+2 successful trials",
            "",
            "remote: 2 successful trials",
        ] {
            assert!(!is_trials_close(text), "{text}");
        }
    }
}
