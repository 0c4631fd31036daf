//! The trip policies, one file each: the consecutive run, failures within a
//! time, the failure- and slow-call rates, and adaptive throttling; and the
//! one function that asks them, in order, whether a Closed breaker opens
//! (`closed::decide`).
//!
//! Each policy sees every outcome of the current Closed period, in the order
//! they ended, and answers whether that outcome opens the breaker. A new
//! policy is a file here and a line in `windows.rs` (or in `closed.rs`, if it
//! keeps no window). This module only says what the state machine may use.

mod adaptive;
mod batched;
mod closed;
mod consecutive;
mod outcome;
mod period;
mod rate;
mod windows;
mod within;

pub(crate) use batched::Batched;
pub(crate) use closed::decide as decide_closed;
pub(crate) use consecutive::Consecutive;
pub(crate) use outcome::{Outcome, Trip};
pub(crate) use period::{nanos, periods_differ, reopen_period};
pub(crate) use windows::Windows;
