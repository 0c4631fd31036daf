//! The breaker's states, and the packed word that holds the current one.

use std::fmt;

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls are admitted; outcomes feed the trip policies.
    Closed,
    /// Calls are rejected at once, until the open period has passed.
    Open,
    /// A limited number of trial calls may run; further calls are rejected.
    HalfOpen,
    /// An operator opened the breaker; it rejects everything until `reset()`.
    ForcedOpen,
    /// An operator disabled the breaker; it admits everything until `reset()`.
    Disabled,
    /// A dry run, entered by `metrics_only()` until `reset()`: it admits
    /// everything, runs the policies as if it were live, and reports the
    /// transitions it would make (`Transition::dry_run`) without making them.
    MetricsOnly,
}

impl State {
    /// Every state, in the order of its discriminant (the state word's and
    /// the state gauge's order).
    #[cfg(any(
        test,
        feature = "admin",
        feature = "metrics",
        feature = "opentelemetry",
        feature = "redis"
    ))]
    pub(crate) const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// The state as written in event logs: `closed`, `open`, `half_open`,
    /// `forced_open`, `disabled`, `metrics_only`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    fn from_bits(bits: u64) -> State {
        match bits {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            4 => State::Disabled,
            _ => State::MetricsOnly,
        }
    }

    fn bits(self) -> u64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
            State::MetricsOnly => 5,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STATE_BITS: u32 = 3;
const GEN_BITS: u32 = 29;
const GEN_MASK: u32 = (1 << GEN_BITS) - 1;

/// The breaker's state in one atomic word: the state (3 bits), the period's
/// generation (29 bits, +1 per transition, so an outcome can tell whether its
/// period is still the current one), and 32 bits whose meaning depends on the
/// state: the consecutive-failure run in Closed, trials in flight (low 16) and
/// successful trials (high 16) in HalfOpen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    pub(crate) fn new(state: State, generation: u32, aux: u32) -> Word {
        Word(
            state.bits()
                | (u64::from(generation & GEN_MASK) << STATE_BITS)
                | (u64::from(aux) << 32),
        )
    }

    /// Whether the word is in `state`, without decoding it.
    #[inline]
    pub(crate) fn is(self, state: State) -> bool {
        self.0 & ((1 << STATE_BITS) - 1) == state.bits()
    }

    #[inline]
    pub(crate) fn state(self) -> State {
        State::from_bits(self.0 & ((1 << STATE_BITS) - 1))
    }

    #[inline]
    pub(crate) fn generation(self) -> u32 {
        ((self.0 >> STATE_BITS) as u32) & GEN_MASK
    }

    pub(crate) fn aux(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub(crate) fn with_aux(self, aux: u32) -> Word {
        Word((self.0 & 0xffff_ffff) | (u64::from(aux) << 32))
    }

    /// The first word of the next period.
    pub(crate) fn next(self, state: State, aux: u32) -> Word {
        Word::new(state, self.generation().wrapping_add(1), aux)
    }

    /// Whether this word is still the period `generation` was admitted in.
    pub(crate) fn is_period(self, generation: u32) -> bool {
        self.generation() == generation & GEN_MASK
    }

    pub(crate) fn trials_in_flight(self) -> u32 {
        self.aux() & 0xffff
    }

    pub(crate) fn trial_successes(self) -> u32 {
        self.aux() >> 16
    }

    pub(crate) fn trials(in_flight: u32, successes: u32) -> u32 {
        (successes << 16) | (in_flight & 0xffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_round_trips_every_field() {
        for state in State::ALL {
            let w = Word::new(state, GEN_MASK, u32::MAX);
            assert_eq!(w.state(), state);
            assert_eq!(w.generation(), GEN_MASK);
            assert_eq!(w.aux(), u32::MAX);
            let n = w.next(State::Closed, 0);
            assert_eq!(n.generation(), 0, "generation wraps");
            assert_eq!(w.with_aux(7).aux(), 7);
        }
        let t = Word::new(State::HalfOpen, 1, Word::trials(3, 2));
        assert_eq!((t.trials_in_flight(), t.trial_successes()), (3, 2));
    }
}
