//! The seam through which a recorder sees a breaker's calls.
//!
//! A breaker holds at most one tap, set once. Untapped, the seam costs the
//! fast paths nothing but the bit they already test (`detours`); tapped, every
//! call takes the slow paths, which read the clock and tell the tap.

use crate::Action;

/// A call's place in a tap's sequence, handed out at admission and given back
/// with the outcome. `NONE` marks a call the tap never saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(pub(crate) u32);

impl Ticket {
    /// A call admitted while the breaker was not tapped.
    pub(crate) const NONE: Ticket = Ticket(0);
}

/// What a breaker tells its tap, on the thread of the call. Times are on the
/// breaker's clock, in nanoseconds.
pub(crate) trait Tap: Send + Sync {
    /// A call was admitted at `at`.
    fn admitted(&self, at: u64) -> Ticket;
    /// The admitted call `ticket` ended after `latency`, as a failure or not.
    fn ended(&self, ticket: Ticket, latency: u64, failure: bool);
    /// The admitted call `ticket` was dropped after `latency` (cancelled).
    fn cancelled(&self, ticket: Ticket, latency: u64);
    /// A call was rejected at `at`.
    fn rejected(&self, at: u64);
    /// An operator acted at `at`; `open_for` is the period of a `trip_for`.
    fn acted(&self, at: u64, action: Action, open_for: Option<u64>);
}
