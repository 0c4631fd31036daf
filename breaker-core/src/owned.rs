//! A permit that owns its breaker, for futures that must be `'static`.
//!
//! [`Permit`] borrows the breaker, which is what keeps the hot path free of
//! reference counting. A tower service's response future cannot borrow the
//! service, so it needs a permit that keeps the breaker alive itself: that is
//! [`OwnedPermit`], one reference-count increment more than a [`Permit`].
//! It stands on the public permit alone; the state machine does not know it.

use std::fmt;

use crate::{Breaker, Error, Permit, Recorded};

/// The right to run one call through a breaker, holding a handle to the
/// breaker so that it can outlive the borrow it was acquired through.
///
/// It reports like a [`Permit`]: [`success`](OwnedPermit::success),
/// [`failure`](OwnedPermit::failure), [`record`](OwnedPermit::record); dropped
/// without an outcome, it records a cancelled call.
///
/// ```
/// use breaker_core::{Breaker, Config};
///
/// let db = Breaker::new("db", Config::default());
/// let permit = db.acquire_owned()?;
/// let task = std::thread::spawn(move || {
///     let _ = permit.success();
/// });
/// task.join().unwrap();
/// assert_eq!(db.stats().successes, 1);
/// # Ok::<(), breaker_core::Error>(())
/// ```
#[must_use = "a permit dropped without an outcome records a cancelled call"]
pub struct OwnedPermit {
    // Declared before `breaker`, so dropped before it: the permit's borrow of
    // the breaker's state never outlives the handle that keeps it alive.
    permit: Permit<'static>,
    breaker: Breaker,
}

impl Breaker {
    /// Asks to run one call, like [`acquire`](Breaker::acquire), with a
    /// permit that keeps the breaker alive (for a `'static` future or another
    /// thread). A rejection costs the same as `acquire`'s; an admission adds
    /// one reference-count increment.
    // Always inlined: a rejection is then written once, into the caller's
    // future (the tower layer's), not copied out of a frame of its own.
    #[inline(always)]
    pub fn acquire_owned(&self) -> Result<OwnedPermit, Error> {
        let permit = self.acquire()?;
        // SAFETY: the clone stored beside the permit keeps the breaker alive
        // for as long as the permit exists: the permit is a private field,
        // never handed out, and it is dropped or consumed before the clone
        // (field order, and every method below consumes the permit first).
        let permit = unsafe { permit.detached() };
        Ok(OwnedPermit {
            permit,
            breaker: self.clone(),
        })
    }
}

impl crate::breaker::RecordsPanic for OwnedPermit {
    fn panicked(self) {
        self.failure_with(|| "panicked".to_owned());
    }
}

impl OwnedPermit {
    /// The breaker this permit was acquired from.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// The call succeeded (see [`Permit::success`]).
    #[inline]
    pub fn success(self) -> Recorded {
        let OwnedPermit { permit, breaker } = self;
        let recorded = permit.success();
        drop(breaker);
        recorded
    }

    /// The call failed (see [`Permit::failure`]).
    pub fn failure(self) -> Recorded {
        self.failure_with(String::new)
    }

    /// The call failed; `message` is called only if this failure opens the
    /// breaker (see [`Permit::failure_with`]).
    pub fn failure_with(self, message: impl FnOnce() -> String) -> Recorded {
        let OwnedPermit { permit, breaker } = self;
        let recorded = permit.failure_with(message);
        drop(breaker);
        recorded
    }

    /// Records a call's `Result`: `Ok` a success, `Err` a failure described
    /// by the error's `Display` (see [`Permit::record`]).
    #[inline]
    pub fn record<T, E: fmt::Display>(self, result: &Result<T, E>) -> Recorded {
        let OwnedPermit { permit, breaker } = self;
        let recorded = permit.record(result);
        drop(breaker);
        recorded
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", &self.breaker.name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::clock::ManualClock;
    use crate::{Breaker, Config, State};

    fn breaker() -> Breaker {
        let config = Config::builder()
            .fail_max(1)
            .reset(Duration::from_secs(5))
            .success(1)
            .build()
            .unwrap();
        Breaker::with_clock("owned", config, ManualClock::new())
    }

    #[test]
    fn an_owned_permit_outlives_every_other_handle() {
        let db = breaker();
        let permit = db.acquire_owned().unwrap();
        drop(db);
        let survivor = permit.breaker().clone();
        let _ = permit.failure();
        assert_eq!(survivor.state(), State::Open);
    }

    #[test]
    fn a_dropped_owned_permit_is_a_cancelled_call() {
        let db = breaker();
        drop(db.acquire_owned().unwrap());
        let stats = db.stats();
        assert_eq!((stats.cancelled, stats.in_flight), (1, 0));
    }

    #[test]
    fn a_rejection_is_the_same_error_as_acquire() {
        let db = breaker();
        db.force_open();
        let error = db.acquire_owned().unwrap_err();
        assert!(error.is_rejected());
        assert_eq!(db.stats().rejected, 1);
    }
}
