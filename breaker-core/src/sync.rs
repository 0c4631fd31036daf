//! The synchronisation primitives of the state machine, swapped for loom's
//! under `--cfg breaker_loom` so that loom can explore every interleaving of
//! the word, the control lock and the event queue.

#[cfg(breaker_loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU64};
#[cfg(breaker_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(breaker_loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64};
#[cfg(not(breaker_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
