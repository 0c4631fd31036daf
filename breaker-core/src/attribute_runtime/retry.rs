//! `retry = N`: the attempts, the waits between them and the copies of the
//! arguments each attempt takes.

use std::sync::OnceLock;
use std::time::Duration;

use super::Site;
use crate::jitter::Jitter;
use crate::retry::Backoff;

/// how many attempts, how long to wait between them, and the function's own
/// jitter generator, seeded on its first retry from the global registry
/// ([`Registry::seed_retries`](crate::Registry::seed_retries)). The waits go through the registry's sleeper
/// ([`Registry::use_sleeper`](crate::Registry::use_sleeper)).
#[derive(Debug)]
pub struct RetryHandle {
    site: &'static Site,
    attempts: u32,
    backoff: Backoff,
    jitter: OnceLock<Jitter>,
}

impl RetryHandle {
    /// Up to `attempts` attempts, waits from `base` doubling up to `max`
    /// nanoseconds (the macro has checked `1 <= attempts`, `base <= max`).
    pub const fn new(site: &'static Site, attempts: u32, base: u64, max: u64) -> RetryHandle {
        RetryHandle {
            site,
            attempts,
            backoff: Backoff::from_nanos(base, max),
            jitter: OnceLock::new(),
        }
    }

    /// After failed attempt `*attempt`: `false` when it was the last;
    /// otherwise waits the backoff, counts the attempt and says `true`.
    pub fn again(&'static self, attempt: &mut u32) -> bool {
        match self.next_delay(attempt) {
            Some(delay) => {
                crate::registry().sleeper().sleep(delay);
                true
            }
            None => false,
        }
    }

    /// [`again`](RetryHandle::again) for async functions.
    pub async fn again_async(&'static self, attempt: &mut u32) -> bool {
        match self.next_delay(attempt) {
            Some(delay) => {
                let sleep = crate::registry().sleeper().sleep_async(delay);
                sleep.await;
                true
            }
            None => false,
        }
    }

    fn next_delay(&'static self, attempt: &mut u32) -> Option<Duration> {
        if attempt.saturating_add(1) >= self.attempts {
            return None;
        }
        let jitter = self
            .jitter
            .get_or_init(|| crate::registry().retry_jitter(self.site.function));
        let delay = self.backoff.delay(*attempt, jitter);
        *attempt += 1;
        Some(delay)
    }
}

/// An argument of a function with `retry`: every attempt gets its own copy.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Clone`: with `retry`, every attempt runs the body with its own copy of this argument",
    label = "this argument is passed by value to a function with `retry`",
    note = "take it by reference (`&{Self}` or `&mut {Self}`: references are reused across attempts), implement `Clone` for it, or remove `retry`"
)]
pub trait RetryArg: Sized {
    /// The copy for one attempt.
    fn __cb_copy(&self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Clone> RetryArg for T {
    #[inline]
    fn __cb_copy(&self) -> Self {
        self.clone()
    }
}

/// The copy of a by-value argument for one attempt.
#[inline]
pub fn retry_arg<T: RetryArg>(value: &T) -> T {
    value.__cb_copy()
}
