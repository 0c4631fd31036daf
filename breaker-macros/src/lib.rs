//! The `#[circuit_breaker]` attribute of `breaker-core`. Use it through
//! `breaker_core::circuit_breaker`; this crate knows no runtime type and
//! names everything it generates by absolute path, `::breaker_core::__private::...`.
//!
//! The macro works in three separate steps, each in its own module:
//! `attr` reads the arguments into a typed `model`, `valid` checks every rule
//! that needs more than one key or the function to see, and `expand`
//! generates code from a model that is known to be valid. Every mistake is
//! collected and reported at once, each at the mistake; the user's function is
//! still emitted unchanged beside the errors, so the rest of the file keeps
//! type-checking.
//!
//! # What it expands to
//!
//! The signature, attributes, doc comments and visibility stay exactly as
//! written; only the body is replaced. A sync function:
//!
//! ```ignore
//! #[circuit_breaker(db, fail_max = 3, reset = 10s)]
//! fn load(id: u64) -> Result<Row, DbError> { query(id) }
//! ```
//!
//! becomes (abridged: the real expansion names everything by absolute path,
//! `::breaker_core::__private::...`):
//!
//! ```ignore
//! fn load(id: u64) -> Result<Row, DbError> {
//!     // Known to the registry from program start, through a distributed slice.
//!     static __CB_SITE: Site = Site {
//!         name: "db",
//!         function: concat!(module_path!(), "::", "load"),
//!         keys: &[("fail_max", Value::Count(3)), ("reset", Value::Nanos(10_000_000_000))],
//!     };
//!     inventory::submit! { Registration(&__CB_SITE) }
//!     // Looked up once per call site, then one atomic load per call.
//!     static __CB_BREAKER: Handle = Handle::new(&__CB_SITE);
//!     let __cb_call = match __CB_BREAKER.acquire() {
//!         Ok(call) => call,
//!         // `E: From<breaker_core::Error>`; with `fallback = f`: `return f(id)`.
//!         Err(__cb_rejected) => return rejected(__cb_rejected),
//!     };
//!     // The body runs once, in a `move` closure whose return type is spelled
//!     // out: `return`, `?` and coercions keep their meaning; a panic is
//!     // recorded as a failure on its way out. The call goes in and comes
//!     // back by value.
//!     let (__cb_ret, __cb_call): (Result<Row, DbError>, Call<'_>) =
//!         run::<Result<Row, DbError>, _>(__cb_call, move || query(id));
//!     // Autoref specialization: "is it a `Result`? is its error `Display`?"
//!     // (with `failure = p`: `failed_by(&__cb_ret, p)`).
//!     match (&Probe(&__cb_ret)).__cb_error() {
//!         Some(__cb_error) => __cb_call.failure(|| (&Probe(__cb_error)).__cb_message()),
//!         _ => __cb_call.success(),
//!     }
//!     __cb_ret
//! }
//! ```
//!
//! An async function keeps `async fn`; its body moves into an `async move`
//! block, so `return`, `?` and `.await` keep their meaning, and a future
//! dropped before it finishes leaves the call *cancelled* (the permit's drop):
//!
//! ```ignore
//! #[circuit_breaker(payments, timeout = 2s, fallback = cached_charge)]
//! async fn charge(order: &Order) -> Result<Receipt, PayError> { gateway(order).await }
//! ```
//!
//! becomes (abridged, the statics as above):
//!
//! ```ignore
//! async fn charge(order: &Order) -> Result<Receipt, PayError> {
//!     /* __CB_SITE, its registration, __CB_BREAKER */
//!     // Matched as a local: a `match` on the temporary would keep the
//!     // `Result` in the future's state across the fallback's await.
//!     let __cb_acquired = __CB_BREAKER.acquire();
//!     let mut __cb_call = match __cb_acquired {
//!         Ok(call) => call,
//!         Err(rejected) => {
//!             drop(rejected);
//!             return cached_charge(order).await;
//!         }
//!     };
//!     let __cb_ret: Result<Receipt, PayError> = match run_async_timeout(
//!         &mut __cb_call,
//!         Duration::from_nanos(2_000_000_000),
//!         async move {
//!             // Never runs: fixes the block's output type before the body's
//!             // own returns, as the `async fn` signature did.
//!             if false { return return_type::<Result<Receipt, PayError>>(); }
//!             gateway(order).await
//!         },
//!     ).await {
//!         Ok(value) => value,
//!         // recorded as a timeout; `Error::Timeout` goes through `From`
//!         Err(timeout) => return timed_out(timeout),
//!     };
//!     /* classify and record as above */
//!     __cb_ret
//! }
//! ```
//!
//! Without `timeout` the body runs in `run_async`, which holds the call and
//! hands it back with the output: `let (__cb_ret, __cb_call) =
//! run_async(__cb_call, async move { .. }).await;`.
//!
//! With `retry = N` the acquire, run and record steps sit in a loop: the body
//! runs once per attempt in a closure (or async block) that borrows rather
//! than moves, each by-value argument is copied for the attempt
//! (`__private::retry_arg`, which needs `Clone`), and
//! `__private::RetryHandle::again` waits the backoff between attempts.
//!
//! With `fallback_on = failure` the body runs as an attempt of `retry` does
//! (on copies of the by-value arguments, `__private::fallback_arg`, scoped
//! to the run), and a call recorded as a failure, or timed out, returns the
//! fallback's answer, called with the original arguments.
//!
//! With `key = expr`, the key's breaker is looked up first
//! (`__private::KeyedHandle::breaker`, the key evaluated there, before the
//! body), then admitted with `__private::acquire(&breaker)`; a keyed site
//! submits no `Registration`.
//!
//! The keys, their values and every rule are listed in `docs/attribute.md`.

#![warn(missing_docs)]

mod attr;
mod duration;
mod expand;
mod model;
mod valid;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::ItemFn;

/// Guards a function with a named circuit breaker.
///
/// ```ignore
/// use breaker_core::circuit_breaker;
///
/// #[circuit_breaker(payments, fail_max = 5, reset = 30s, success = 2)]
/// async fn charge(order: &Order) -> Result<Receipt, PayError> { /* ... */ }
/// ```
///
/// The first argument names the breaker (an identifier or a string; or
/// `name = "..."`; by default the function's module path and name). The keys
/// are `fail_max`, `within`, `failure_rate`, `window`, `min_calls`, `slow`,
/// `slow_rate`, `reset`, `backoff`, `reset_max`, `success`, `half_open`,
/// `timeout`, `fallback`, `fallback_on`, `failure`, `retry`, `retry_backoff`, and for one
/// breaker per key `key`, `max_keys` and `idle`; see
/// `docs/attribute.md` and breaker-core's documentation for their meaning.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    guard(args.into(), item.into()).into()
}

/// The whole macro on `proc_macro2` streams: errors become `compile_error!`
/// next to the unchanged item.
fn guard(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = not_a_function(&item);
            let error = match attr::parse(args) {
                Ok(_) => error,
                Err(mut errors) => {
                    errors.combine(error);
                    errors
                }
            };
            let errors = error.to_compile_error();
            return quote!(#errors #item);
        }
    };
    let checked = match attr::parse(args) {
        Ok(attr) => valid::check(&attr, &func).map(|()| attr),
        Err(mut errors) => {
            // The function's own mistakes are reported beside the keys'.
            if let Err(more) = valid::check_function(&func) {
                errors.combine(more);
            }
            Err(errors)
        }
    };
    match checked {
        Ok(attr) => expand::expand(&attr, &func),
        Err(errors) => {
            let errors = errors.to_compile_error();
            quote!(#errors #item)
        }
    }
}

/// Whether `tokens` declare a function (without a body, since `ItemFn` failed).
fn mentions_fn(tokens: &TokenStream2) -> bool {
    tokens
        .clone()
        .into_iter()
        .any(|tt| matches!(tt, proc_macro2::TokenTree::Ident(ident) if ident == "fn"))
}

/// The error for an item that is not a function with a body, naming what it is.
fn not_a_function(item: &TokenStream2) -> syn::Error {
    use syn::spanned::Spanned as _;
    let what = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(s)) => Some(("a struct", s.ident.span())),
        Ok(syn::Item::Enum(e)) => Some(("an enum", e.ident.span())),
        Ok(syn::Item::Impl(i)) => {
            Some(("an impl block (put it on each method)", i.impl_token.span))
        }
        Ok(syn::Item::Trait(t)) => Some(("a trait", t.ident.span())),
        Ok(syn::Item::Mod(m)) => Some(("a module", m.ident.span())),
        Ok(syn::Item::Static(s)) => Some(("a static", s.ident.span())),
        Ok(syn::Item::Const(c)) => Some(("a constant", c.ident.span())),
        Ok(syn::Item::Type(t)) => Some(("a type alias", t.ident.span())),
        Ok(syn::Item::Verbatim(tokens)) if mentions_fn(&tokens) => None,
        Ok(other) => Some(("this item", other.span())),
        Err(_) => None,
    };
    match what {
        Some((what, span)) => syn::Error::new(
            span,
            format!("`#[circuit_breaker]` goes on a function, not on {what}"),
        ),
        None => {
            // A trait method without a body, or something that is not an item.
            let span = item
                .clone()
                .into_iter()
                .next()
                .map_or_else(proc_macro2::Span::call_site, |t| t.span());
            syn::Error::new(
                span,
                "`#[circuit_breaker]` goes on a function with a body: in a trait, on the implementations or a default body",
            )
        }
    }
}
