//! The Closed state's trip decision, in one place: the live breaker and the
//! dry run of MetricsOnly both ask it, so they cannot disagree.

use super::consecutive::Consecutive;
use super::outcome::{Outcome, Trip};
use super::windows::Windows;

/// Feeds one outcome of a Closed period to every policy, in the order of
/// SEMANTICS.md: the consecutive run (`run`, as kept by the caller) first,
/// then the windows, which see it only when the run did not trip. Returns
/// the run to keep and why the breaker opens, if it does.
#[inline]
pub(crate) fn decide(
    consecutive: Consecutive,
    run: u32,
    windows: Option<&mut Windows>,
    outcome: Outcome,
) -> (u32, Option<Trip>) {
    let (run, trip) = consecutive.record(run, outcome.failure);
    if trip.is_some() {
        return (run, trip);
    }
    (run, windows.and_then(|windows| windows.record(outcome)))
}
