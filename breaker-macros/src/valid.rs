//! Every rule a user can break that needs more than one key, or the function
//! itself, to see: each a `syn::Error` at the mistake, all collected.

use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{Error, ItemFn, ReturnType, Type};

use crate::attr::Errors;
use crate::duration;
use crate::model::{Attr, Window};

/// The default `reset` of breaker-core (30 s), which `reset_max` must not undercut.
const DEFAULT_RESET_NANOS: u64 = 30_000_000_000;
/// The default count window of the rate policies.
const DEFAULT_WINDOW_CALLS: u32 = 100;

/// Checks the keys against each other and against the function.
pub fn check(attr: &Attr, func: &ItemFn) -> Result<(), Error> {
    let mut errors = Errors::default();
    keys(attr, &mut errors);
    function(attr, func, &mut errors);
    errors.finish(())
}

fn keys(attr: &Attr, errors: &mut Errors) {
    if let (Some(within), None) = (&attr.within, &attr.fail_max) {
        errors.push(Error::new(
            within.key,
            "`within` needs `fail_max`: `fail_max = N, within = W` opens after N failures within W",
        ));
    }
    if let (Some(rate), None) = (&attr.slow_rate, &attr.slow) {
        errors.push(Error::new(
            rate.key,
            "`slow_rate` needs `slow`, the latency above which a call is slow: add `slow = 500ms`",
        ));
    }
    let has_rate = attr.failure_rate.is_some() || attr.slow_rate.is_some();
    if let (Some(window), false) = (&attr.window, has_rate || attr.adaptive.is_some()) {
        errors.push(Error::new(
            window.key,
            "`window` is the window of `failure_rate`, `slow_rate` or `adaptive`: give one of them",
        ));
    }
    if let (Some(ramp), Some(_)) = (&attr.ramp, &attr.adaptive) {
        errors.push(Error::new(
            ramp.key,
            "`ramp` does not go with `adaptive`, which already admits a share of calls after a recovery: give one of them",
        ));
    }
    if let (Some(window), Some(_)) = (&attr.window, &attr.adaptive) {
        if let Window::Calls(k) = window.value {
            errors.push(Error::new(
                window.span,
                format!("`adaptive` counts requests over a time: give a duration (`window = 10s`), not {k} calls"),
            ));
        }
    }
    if let Some(min) = &attr.min_calls {
        if !has_rate {
            errors.push(Error::new(
                min.key,
                "`min_calls` applies to `failure_rate` or `slow_rate`: give one of them",
            ));
        }
        let window = attr.window.as_ref().map(|w| w.value);
        let calls = match window {
            Some(Window::Calls(k)) => Some(k),
            Some(Window::Time(_)) => None,
            None => Some(DEFAULT_WINDOW_CALLS),
        };
        if let Some(k) = calls.filter(|k| min.value > *k) {
            let which = if window.is_some() { "" } else { "default " };
            errors.push(Error::new(
                min.span,
                format!(
                    "`min_calls` ({}) is above the {which}count window ({k}): the window can never hold that many calls",
                    min.value
                ),
            ));
        }
    }
    if let (Some(on), None) = (&attr.fallback_on, &attr.fallback) {
        errors.push(Error::new(
            on.key,
            "`fallback_on` needs a `fallback`: add `fallback = path`, a function with the same signature that answers the calls instead of the body",
        ));
    }
    if let (Some(backoff), None) = (&attr.retry_backoff, &attr.retry) {
        errors.push(Error::new(
            backoff.key,
            "`retry_backoff` sets the waits between retries: give `retry = N` too, as in `retry = 3, retry_backoff = 100ms..5s`",
        ));
    }
    if attr.key.is_none() {
        for (key, spanned) in [
            ("max_keys", attr.max_keys.as_ref().map(|v| v.key)),
            ("idle", attr.idle.as_ref().map(|v| v.key)),
        ] {
            if let Some(span) = spanned {
                errors.push(Error::new(
                    span,
                    format!(
                        "`{key}` bounds the keys of a keyed breaker: give `key` too, as in `key = req.host(), max_keys = 1000, idle = 10m`"
                    ),
                ));
            }
        }
    }
    if let Some(key) = &attr.key {
        if key.value.label().is_none() {
            let expr = key
                .value
                .expr
                .to_token_stream()
                .to_string()
                .replace("! (", "!(");
            errors.push(Error::new(
                key.span,
                format!(
                    "cannot name the keys after `{expr}`: the keys' breakers are named `name[label=value]`, and the label is the last name in the expression (`host` in `req.host()`); write one before it, as in `key = tenant: {expr}`"
                ),
            ));
        }
    }
    if let Some(max) = &attr.reset_max {
        if attr.backoff.is_none() {
            errors.push(Error::new(
                max.key,
                "`reset_max` caps `backoff`: give `backoff` too, as in `backoff = 2, reset_max = 5m`",
            ));
        }
        let reset = attr.reset.as_ref().map_or(DEFAULT_RESET_NANOS, |r| r.value);
        if max.value < reset {
            let which = if attr.reset.is_some() { "" } else { "default " };
            errors.push(Error::new(
                max.span,
                format!(
                    "`reset_max` ({}) is below the {which}`reset` ({}): the cap must be at least the first open period",
                    duration::format(max.value),
                    duration::format(reset)
                ),
            ));
        }
    }
}

/// The rules the function alone can break, whatever the keys say.
pub fn check_function(func: &ItemFn) -> Result<(), Error> {
    let mut errors = Errors::default();
    signature(func, &mut errors);
    errors.finish(())
}

fn signature(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if let Some(constness) = &sig.constness {
        errors.push(Error::new(
            constness.span,
            "`#[circuit_breaker]` cannot guard a `const fn`: a breaker decides at run time",
        ));
    }
    if let Some(abi) = &sig.abi {
        let name = abi.name.as_ref().map(|n| n.value());
        if name.as_deref() != Some("Rust") {
            errors.push(Error::new(
                abi.span(),
                "`#[circuit_breaker]` cannot guard an `extern` function: its callers do not speak Rust's unwinding and error types; guard a Rust function that it calls",
            ));
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::new(
            variadic.span(),
            "`#[circuit_breaker]` cannot guard a variadic function",
        ));
    }
}

fn function(attr: &Attr, func: &ItemFn, errors: &mut Errors) {
    signature(func, errors);
    let sig = &func.sig;
    if let (Some(timeout), None) = (&attr.timeout, &sig.asyncness) {
        errors.push(Error::new(
            timeout.key,
            "`timeout` needs an `async fn`: a sync call cannot be stopped when its time is up",
        ));
    }
    // Both keep the arguments past the body, which a consumed `self` is not.
    let keeps_self = if attr.retries().is_some() {
        Some(
            "`retry` runs the body once per attempt, but this method consumes `self`: take `&self` or `&mut self`, or remove `retry`",
        )
    } else if attr.falls_back_on_failure() {
        Some(
            "`fallback_on = failure` calls the fallback with `self` after the body ran, but this method consumes `self`: take `&self` or `&mut self`, or fall back on rejection only",
        )
    } else {
        None
    };
    if let Some(message) = keeps_self {
        for input in &sig.inputs {
            if let syn::FnArg::Receiver(receiver) = input {
                if !matches!(*receiver.ty, Type::Reference(_)) {
                    errors.push(Error::new(receiver.self_token.span, message));
                }
            }
        }
    }
    let not_result = not_a_result(&sig.output);
    if let Some(what) = &not_result {
        if attr.fallback.is_none() {
            errors.push(Error::new(
                return_span(func),
                format!(
                    "this function returns {what}: without `fallback`, a guarded function must return `Result<T, E>` with `E: From<breaker_core::Error>`; add `fallback = path` to answer rejected calls"
                ),
            ));
        }
        if let Some(failure) = &attr.failure {
            errors.push(Error::new(
                failure.key,
                format!(
                    "`failure` classifies the `Err` of a `Result`, but this function returns {what}"
                ),
            ));
        }
        if let Some(ok_is_failure) = &attr.ok_is_failure {
            errors.push(Error::new(
                ok_is_failure.key,
                format!(
                    "`ok_is_failure` classifies the `Ok` of a `Result`, but this function returns {what}"
                ),
            ));
        }
        // With `fallback_on = failure` a timeout is answered by the fallback,
        // so only a `Result` without it needs an `Err` to carry the timeout.
        match (&attr.timeout, attr.falls_back_on_failure()) {
            (Some(timeout), false) => errors.push(Error::new(
                timeout.key,
                format!("`timeout` returns `Err(breaker_core::Error::Timeout)`, but this function returns {what}"),
            )),
            (None, true) => {
                if let Some(on) = &attr.fallback_on {
                    let fix = if sig.asyncness.is_some() {
                        "give it a `timeout` (a timeout is answered), or remove `fallback_on`"
                    } else {
                        "remove `fallback_on`"
                    };
                    errors.push(Error::new(
                        on.span,
                        format!(
                            "`fallback_on = failure` answers the calls the breaker counts as failures, but this function returns {what}, which never is one (a panic is not answered): {fix}"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The span errors about the return type point at: the type, or the name of
/// a function that returns `()`.
pub fn return_span(func: &ItemFn) -> proc_macro2::Span {
    match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => func.sig.ident.span(),
    }
}

/// What the return type is, when it is plainly not a `Result` (a path type
/// may be an alias of one: the type checker decides those).
fn not_a_result(output: &ReturnType) -> Option<String> {
    let ty = match output {
        ReturnType::Default => return Some("`()`".into()),
        ReturnType::Type(_, ty) => ty,
    };
    let mut ty: &Type = ty;
    while let Type::Paren(p) = ty {
        ty = &p.elem;
    }
    match ty {
        Type::Path(_) | Type::Macro(_) | Type::Verbatim(_) | Type::Group(_) => None,
        Type::ImplTrait(_) => Some("an `impl Trait`".into()),
        Type::Never(_) => Some("`!`".into()),
        other => Some(format!("`{}`", type_text(other))),
    }
}

/// A type as a user would write it: `&'static str`, not `& 'static str`.
fn type_text(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        ("& '", "&'"),
        ("& ", "&"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        text = text.replace(from, to);
    }
    text
}
