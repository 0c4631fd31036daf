//! What the attribute's runtime test binaries share: the binary's manual
//! clock, installed once on the global registry, and the error type of the
//! guarded functions. Each binary uses part of it.
#![allow(dead_code)]

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Error, registry};

pub static CLOCK: LazyLock<ManualClock> = LazyLock::new(|| {
    let clock = ManualClock::new();
    registry().use_clock(clock.clone());
    clock
});

static TIME: Mutex<()> = Mutex::new(());

/// The binary's manual clock, held exclusively until the guard drops.
pub fn time() -> (MutexGuard<'static, ()>, &'static ManualClock) {
    let guard = TIME.lock().unwrap_or_else(|e| e.into_inner());
    (guard, &CLOCK)
}

/// The registered breaker of that name.
pub fn breaker(name: &str) -> Breaker {
    registry()
        .get(name)
        .unwrap_or_else(|| panic!("breaker `{name}` is not registered"))
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The error of the guarded functions.
#[derive(Debug)]
pub enum AppError {
    Down,
    Busy,
    Breaker(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Breaker(e)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Down => f.write_str("dependency down"),
            AppError::Busy => f.write_str("dependency busy"),
            AppError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

pub fn outcome(ok: bool) -> Result<u32, AppError> {
    if ok { Ok(1) } else { Err(AppError::Down) }
}

pub fn is_rejection(result: &Result<u32, AppError>) -> bool {
    matches!(result, Err(AppError::Breaker(Error::Rejected { .. })))
}
