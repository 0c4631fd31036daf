//! The `#[circuit_breaker]` attribute. Use it through `breaker_core::circuit_breaker`.

use proc_macro::TokenStream;

/// Guards a function with a named circuit breaker (see `breaker_core` for the keys).
#[proc_macro_attribute]
pub fn circuit_breaker(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
