//! What the expansion asks of the function's return type without bounds the
//! user did not write: is it a `Result`, is its error `Display`, can a
//! rejection or a timeout become one (autoref specialization, with messages
//! that say what to implement).

use std::any::type_name;
use std::convert::Infallible;
use std::fmt::Display;

use crate::Error;

/// Names the return type of a guarded async function for the type checker:
/// the expansion places `return return_type::<R>()` in a branch that never
/// runs, so that the async block's output is `R` before its body is checked.
pub fn return_type<R>() -> R {
    unreachable!("`return_type` only names a type and is never called")
}

/// What a guarded function returns instead of running when the breaker
/// rejects the call and there is no `fallback`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot carry a circuit breaker's rejection",
    label = "a function guarded without `fallback` must return `Result<T, E>` where `E: From<breaker_core::Error>`",
    note = "return a `Result` whose error implements `From<breaker_core::Error>`, or give the attribute a `fallback = path` with the same signature"
)]
pub trait Rejectable {
    /// The rejection, in this type.
    fn rejected(error: Error) -> Self;
}

impl<T, E: ErrorFromBreaker> Rejectable for Result<T, E> {
    fn rejected(error: Error) -> Self {
        Err(E::from_breaker(error))
    }
}

/// The error type of a guarded function: it must hold a [`breaker_core::Error`](Error).
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of a guarded function must implement `From<breaker_core::Error>`",
    label = "the breaker's rejections and timeouts are returned as this error",
    note = "add `impl From<breaker_core::Error> for {Self}` (for instance a `Breaker(breaker_core::Error)` variant), or give the attribute a `fallback = path`"
)]
pub trait ErrorFromBreaker {
    /// Converts the breaker's error.
    fn from_breaker(error: Error) -> Self;
}

#[diagnostic::do_not_recommend]
impl<E: From<Error>> ErrorFromBreaker for E {
    fn from_breaker(error: Error) -> Self {
        E::from(error)
    }
}

/// The rejection, converted into the function's return type.
#[inline]
pub fn rejected<R: Rejectable>(error: Error) -> R {
    R::rejected(error)
}

/// The timeout, converted into the function's return type.
pub fn timed_out<R: Rejectable>(error: Error) -> R {
    R::rejected(error)
}

/// A return type that `failure = path` can classify: a `Result`.
#[diagnostic::on_unimplemented(
    message = "`failure` classifies the `Err` of a `Result`, but this function returns `{Self}`",
    label = "`failure` needs a `Result<T, E>` return type",
    note = "remove `failure`: with a `fallback`, a non-`Result` return value is always a success"
)]
pub trait Classifiable {
    /// The error type.
    type Err;
    /// `Some(error)` for an `Err`.
    fn error(&self) -> Option<&Self::Err>;
}

impl<T, E> Classifiable for Result<T, E> {
    type Err = E;
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// A return type that `ok_is_failure = path` can classify: a `Result`.
#[diagnostic::on_unimplemented(
    message = "`ok_is_failure` classifies the `Ok` of a `Result`, but this function returns `{Self}`",
    label = "`ok_is_failure` needs a `Result<T, E>` return type"
)]
pub trait OkClassifiable {
    /// The success type.
    type Ok;
    /// `Some(value)` for an `Ok`.
    fn ok_value(&self) -> Option<&Self::Ok>;
}

impl<T, E> OkClassifiable for Result<T, E> {
    type Ok = T;
    fn ok_value(&self) -> Option<&T> {
        self.as_ref().ok()
    }
}

/// Whether `result` is an `Ok` that `is_failure` counts as a failure.
#[inline]
pub fn ok_failed<R: OkClassifiable>(result: &R, is_failure: impl FnOnce(&R::Ok) -> bool) -> bool {
    result.ok_value().is_some_and(is_failure)
}

/// The error of `result` if `is_failure` says it counts as a failure.
#[inline]
pub fn failed_by<R: Classifiable>(
    result: &R,
    is_failure: impl FnOnce(&R::Err) -> bool,
) -> Option<&R::Err> {
    result.error().filter(|error| is_failure(error))
}

/// A borrowed value whose type the expansion asks questions about by
/// autoref specialization: a method found on `Probe<T>` wins over the same
/// method on `&Probe<T>`, which applies to every `T`.
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// The error of a `Result` return value.
pub trait ErrOfResult<'a> {
    /// Its error type.
    type Err: ?Sized;
    /// `Some(error)` for an `Err`.
    fn __cb_error(&self) -> Option<&'a Self::Err>;
}

impl<'a, T, E> ErrOfResult<'a> for Probe<'a, Result<T, E>> {
    type Err = E;
    fn __cb_error(&self) -> Option<&'a E> {
        self.0.as_ref().err()
    }
}

/// Any other return value: never a failure (only panics are).
pub trait ErrOfOther<'a> {
    /// Always `None`.
    fn __cb_error(&self) -> Option<&'a Infallible>;
}

impl<'a, T: ?Sized> ErrOfOther<'a> for &Probe<'a, T> {
    fn __cb_error(&self) -> Option<&'a Infallible> {
        None
    }
}

/// The message of a failure whose error is `Display`.
pub trait MessageOfDisplay {
    /// The error's `Display`.
    fn __cb_message(&self) -> String;
}

impl<E: Display + ?Sized> MessageOfDisplay for Probe<'_, E> {
    fn __cb_message(&self) -> String {
        self.0.to_string()
    }
}

/// The message of a failure whose error is not `Display`: its type's name.
pub trait MessageOfOther {
    /// The error type's name.
    fn __cb_message(&self) -> String;
}

impl<E: ?Sized> MessageOfOther for &Probe<'_, E> {
    fn __cb_message(&self) -> String {
        type_name::<E>().to_owned()
    }
}

#[cfg(test)]
// The explicit `&` is what the expansion writes: autoref specialization picks
// the method by how many references the receiver has, so it stays.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[test]
    fn probes_pick_the_specialized_method_when_it_applies() {
        struct Opaque;
        let ok: Result<u8, String> = Ok(1);
        let err: Result<u8, String> = Err("down".into());
        assert!((&Probe(&ok)).__cb_error().is_none());
        assert_eq!(
            (&Probe(&err)).__cb_error().map(String::as_str),
            Some("down")
        );
        assert!((&Probe(&7u8)).__cb_error().is_none());
        assert_eq!((&Probe(&"down")).__cb_message(), "down");
        assert!((&Probe(&Opaque)).__cb_message().ends_with("Opaque"));
    }
}
