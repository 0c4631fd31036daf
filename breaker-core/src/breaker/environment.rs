//! What a breaker takes from where it lives: the clock it reads and the
//! listeners of its registry.
//!
//! A registry hands one of these to each of its breakers, so that
//! `Registry::use_clock` moves them all at once and a registry-wide listener
//! hears them all; a breaker made alone gets one of its own. It lives beside
//! the state machine, not in the registry, because the state machine must not
//! import the registry that stands on it.

use crate::clock::{Clock, ClockCell};
use crate::event::Listeners;

/// The clock and the registry-wide listeners that a breaker shares with the
/// other breakers of its registry.
pub(crate) struct Environment {
    pub(crate) clock: ClockCell,
    pub(crate) listeners: Listeners,
}

impl Environment {
    pub(crate) fn new(clock: impl Clock) -> Environment {
        Environment {
            clock: ClockCell::new(clock),
            listeners: Listeners::default(),
        }
    }
}
