//! `fallback_on = failure`: the fallback answers a call after its body ran,
//! with the function's own arguments, so the body runs on copies of the
//! by-value ones and the originals wait for the fallback.

/// A by-value argument of a function with `fallback_on = failure`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Clone`: with `fallback_on = failure`, the body runs with a copy of this argument and the fallback gets the original",
    label = "this argument is passed by value to a function with `fallback_on = failure`",
    note = "take it by reference (`&{Self}` or `&mut {Self}`: the fallback gets the reference after the body), implement `Clone` for it, or fall back on rejection only"
)]
pub trait FallbackArg: Sized {
    /// The body's copy.
    fn __cb_copy(&self) -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Clone> FallbackArg for T {
    #[inline]
    fn __cb_copy(&self) -> Self {
        self.clone()
    }
}

/// The body's copy of a by-value argument.
#[inline]
pub fn fallback_arg<T: FallbackArg>(value: &T) -> T {
    value.__cb_copy()
}
