//! Code generation, from a model already known to be valid. Everything the
//! expansion names at run time lives in `::breaker_core::__private`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::model::{Attr, Key, Spanned, Window};
use crate::valid::return_span;

/// The breaker's configuration as the site's keys, in the order the keys
/// are checked: `("fail_max", ::breaker_core::__private::Value::Count(5))`,
/// each value in the type breaker-core takes it (`__private::Value`), never
/// as text.
fn site_keys(attr: &Attr) -> Vec<TokenStream> {
    let count = |v: &Option<Spanned<u32>>| v.as_ref().map(|v| v.value).map(|n| quote!(Count(#n)));
    let nanos = |v: &Option<Spanned<u64>>| v.as_ref().map(|v| v.value).map(|n| quote!(Nanos(#n)));
    let percent =
        |v: &Option<Spanned<u32>>| v.as_ref().map(|v| v.value).map(|h| quote!(Hundredths(#h)));
    let factor =
        |v: &Option<Spanned<u64>>| v.as_ref().map(|v| v.value).map(|m| quote!(Millionths(#m)));
    let window = attr.window.as_ref().map(|w| match w.value {
        Window::Calls(k) => quote!(Count(#k)),
        Window::Time(nanos) => quote!(Nanos(#nanos)),
    });
    [
        ("fail_max", count(&attr.fail_max)),
        ("min_calls", count(&attr.min_calls)),
        ("success", count(&attr.success)),
        ("half_open", count(&attr.half_open)),
        ("within", nanos(&attr.within)),
        ("failure_rate", percent(&attr.failure_rate)),
        ("window", window),
        ("slow", nanos(&attr.slow)),
        ("slow_rate", percent(&attr.slow_rate)),
        ("reset", nanos(&attr.reset)),
        ("backoff", factor(&attr.backoff)),
        ("adaptive", factor(&attr.adaptive)),
        ("reset_max", nanos(&attr.reset_max)),
        ("timeout", nanos(&attr.timeout)),
        ("max_half_open_wait", nanos(&attr.max_half_open_wait)),
        ("ramp", nanos(&attr.ramp)),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let value = value?;
        Some(quote!((#key, ::breaker_core::__private::Value::#value)))
    })
    .collect()
}

/// The guarded function: the same signature, attributes and visibility, a new body.
pub fn expand(attr: &Attr, func: &ItemFn) -> TokenStream {
    let mut func = func.clone();
    let fn_name = func.sig.ident.to_string();
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(&fn_name).to_owned();
    let is_async = func.sig.asyncness.is_some();

    let name = match &attr.name {
        Some(name) => {
            let value = syn::LitStr::new(&name.value, name.span);
            quote!(#value)
        }
        None => quote!(::core::concat!(::core::module_path!(), "::", #fn_name)),
    };
    let keys = site_keys(attr);
    let site = quote! {
        static __CB_SITE: ::breaker_core::__private::Site = ::breaker_core::__private::Site {
            name: #name,
            function: ::core::concat!(::core::module_path!(), "::", #fn_name),
            keys: &[#(#keys),*],
        };
    };
    // A keyed site registers no breaker of its own name: its breakers are
    // the keys', created on their first calls.
    let handle = match &attr.key {
        None => quote! {
            ::breaker_core::__private::inventory::submit! {
                ::breaker_core::__private::Registration(&__CB_SITE)
            }
            static __CB_BREAKER: ::breaker_core::__private::Handle =
                ::breaker_core::__private::Handle::new(&__CB_SITE);
        },
        Some(key) => {
            let label = key.value.label().unwrap_or_default();
            let max_keys = match &attr.max_keys {
                Some(n) => {
                    let n = n.value as usize;
                    quote!(#n)
                }
                None => quote!(::breaker_core::keyed::DEFAULT_MAX_KEYS),
            };
            let idle = match &attr.idle {
                Some(d) => {
                    let d = d.value;
                    quote!(#d)
                }
                None => quote!(::breaker_core::keyed::DEFAULT_IDLE.as_nanos() as u64),
            };
            quote! {
                static __CB_KEYED: ::breaker_core::__private::KeyedHandle =
                    ::breaker_core::__private::KeyedHandle::new(&__CB_SITE, #label, #max_keys, #idle);
            }
        }
    };
    let site = quote!(#site #handle);

    let retries = attr.retries();
    let retry_handle = retries.map(|(attempts, range)| {
        let (base, max) = (range.base, range.max);
        quote! {
            static __CB_RETRY: ::breaker_core::__private::RetryHandle =
                ::breaker_core::__private::RetryHandle::new(&__CB_SITE, #attempts, #base, #max);
        }
    });

    // With `fallback_on = failure` the fallback is called after the body
    // ran: like an attempt of `retry`, the body gets copies of the by-value
    // arguments and borrows the rest, so that the originals are still there.
    let on_failure = attr.falls_back_on_failure();
    let keeps_args = retries.is_some() || on_failure;

    // Arguments the fallback is called with. Parameters bound by a pattern
    // other than a plain name are renamed, and destructured inside the guarded
    // body, so that the fallback receives them whole. With `retry`, each
    // attempt gets its own copy of the by-value arguments (`copies`).
    let mut args = Vec::new();
    let mut unpack = Vec::new();
    let mut copies = Vec::new();
    if attr.fallback.is_some() || retries.is_some() {
        for (index, input) in func.sig.inputs.iter_mut().enumerate() {
            match input {
                FnArg::Receiver(receiver) => {
                    let token = receiver.self_token;
                    args.push(quote!(#token));
                }
                FnArg::Typed(typed) => {
                    let (name, pat) = match &mut *typed.pat {
                        Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                            let ident = pi.ident.clone();
                            if keeps_args && pi.mutability.is_some() {
                                // The attempt's copy is the mutable binding;
                                // the parameter itself is only read.
                                let pat = Pat::Ident(pi.clone());
                                pi.mutability = None;
                                (ident, Some(pat))
                            } else {
                                (ident, None)
                            }
                        }
                        Pat::Wild(_) if attr.fallback.is_none() => continue,
                        _ => {
                            let renamed = format_ident!("__cb_arg{}", index);
                            let pat =
                                std::mem::replace(&mut *typed.pat, Pat::Verbatim(quote!(#renamed)));
                            (renamed, Some(pat))
                        }
                    };
                    args.push(quote!(#name));
                    if !keeps_args {
                        if let Some(pat) = pat {
                            unpack.push(quote!(let #pat = #name;));
                        }
                        continue;
                    }
                    let shared_ref =
                        matches!(&*typed.ty, Type::Reference(r) if r.mutability.is_none());
                    if shared_ref && pat.is_none() {
                        // A plain `&T` parameter is `Copy`: the body reuses it.
                        continue;
                    }
                    // The binding as written: `x`, `mut x`, or the pattern.
                    let binding = match pat {
                        Some(pat) => quote!(#pat),
                        None => {
                            let pat = &typed.pat;
                            quote!(#pat)
                        }
                    };
                    let copy = match &*typed.ty {
                        // A reborrow per attempt: the attempt's borrow ends with it.
                        Type::Reference(r) if r.mutability.is_some() => quote!(&mut *#name),
                        // Shared references are `Copy`.
                        Type::Reference(_) => quote!(#name),
                        Type::Infer(_) | Type::Never(_) => quote!(#name),
                        ty if retries.is_some() => {
                            quote_spanned!(ty.span()=> ::breaker_core::__private::retry_arg(&#name))
                        }
                        ty => {
                            quote_spanned!(ty.span()=> ::breaker_core::__private::fallback_arg(&#name))
                        }
                    };
                    copies
                        .push(quote!(#[allow(unused_mut, unused_variables)] let #binding = #copy;));
                }
            }
        }
    }

    let ret_span = return_span(&func);
    // `return` of the fallback's answer; `why` is the binding of the reason
    // (the rejection, the timeout), which the fallback is not given: dropped
    // (moved, not only ignored), so that an async function does not keep it
    // in its state across the fallback's await.
    let fall_back = |why: Option<TokenStream>| {
        let why = why.map(|why| quote!(::core::mem::drop(#why);));
        attr.fallback.as_ref().map(|fallback| {
            let path = &fallback.value;
            let wait = is_async.then(|| quote!(.await));
            // An `unsafe fn`'s fallback is an `unsafe fn` too: the call needs
            // its own `unsafe` block (the body of an `unsafe fn` is not one).
            // A safe function awaits the call itself, so that a fallback that
            // is not async is reported at the fallback's path.
            if func.sig.unsafety.is_some() {
                quote_spanned!(fallback.span=> {
                    #why
                    #[allow(unused_unsafe)]
                    let __cb_fallback = unsafe { #path(#(#args),*) };
                    return __cb_fallback #wait;
                })
            } else {
                quote_spanned!(fallback.span=> {
                    #why
                    return #path(#(#args),*) #wait;
                })
            }
        })
    };
    let on_reject = match fall_back(Some(quote!(__cb_rejected))) {
        Some(fallback) => fallback,
        None => quote_spanned!(ret_span=> {
            return ::breaker_core::__private::rejected(__cb_rejected);
        }),
    };
    // The answer to a call that ran and failed (`fallback_on = failure`).
    let on_failed = on_failure.then(|| fall_back(None)).flatten();
    // Without `fallback_on = failure` the copies are the attempt's, in the
    // loop's scope; with it, they are scoped to the body's run, so that the
    // fallback called after it sees the original arguments, not the copies
    // the body consumed.
    let scoped = |run: TokenStream| -> TokenStream {
        if on_failure {
            quote!({ #(#copies)* #run })
        } else {
            run
        }
    };
    let outer_copies = (!on_failure).then(|| quote!(#(#copies)*));

    // The return type, with `impl Trait` parts left to inference (`_`): it
    // types the result before it is classified, and the body's returns, so
    // that coercions (`&String` to `&str`) and `?` work as in the original.
    let ty = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => {
            let ty = infer_impl((**ty).clone());
            quote!(#ty)
        }
    };
    // The body's statements, spliced rather than nested as a block, so that a
    // one-expression body draws no `unused_braces` warning.
    let block = &func.block.stmts;
    // With `retry` the body is re-run, so it borrows what it does not
    // consume (no `move`): `&mut` arguments and `&mut self` stay usable by
    // the next attempt; by-value arguments are the attempt's own copies.
    let again = retries.map(|_| {
        if is_async {
            quote!(__CB_RETRY.again_async(&mut __cb_attempt).await)
        } else {
            quote!(__CB_RETRY.again(&mut __cb_attempt))
        }
    });
    let run = if is_async {
        let capture = (!keeps_args).then(|| quote!(move));
        // An async block's output cannot be annotated; a first, never taken
        // `return` of the right type fixes it before the body's own returns.
        let body = quote!(async #capture {
            #[allow(unreachable_code)]
            if false {
                return ::breaker_core::__private::return_type::<#ty>();
            }
            #(#unpack)*
            #(#block)*
        });
        match &attr.timeout {
            Some(timeout) => {
                let nanos = timeout.value;
                let on_timeout = match on_failure
                    .then(|| fall_back(Some(quote!(__cb_timeout))))
                    .flatten()
                {
                    Some(fallback) => fallback,
                    None => {
                        let timed_out = quote_spanned!(ret_span=>
                            ::breaker_core::__private::timed_out(__cb_timeout)
                        );
                        quote!(return #timed_out)
                    }
                };
                let retry_timeout = again.as_ref().map(|again| quote!(if #again { continue; }));
                let written = quote!(::core::time::Duration::from_nanos(#nanos));
                let after = match &attr.key {
                    None => quote!(__CB_BREAKER.timeout(#written)),
                    Some(_) => {
                        quote!(::breaker_core::__private::timeout_of(&__cb_breaker, #written))
                    }
                };
                let call = quote_spanned!(timeout.key=>
                    ::breaker_core::__private::run_async_timeout(
                        &mut __cb_call,
                        #after,
                        #body,
                    )
                );
                let ran = scoped(quote!(#call.await));
                quote! {
                    match #ran {
                        ::core::result::Result::Ok(__cb_value) => __cb_value,
                        ::core::result::Result::Err(__cb_timeout) => {
                            #retry_timeout
                            #on_timeout
                        }
                    }
                }
            }
            None => scoped(quote! {
                ::breaker_core::__private::run_async(__cb_call, #body).await
            }),
        }
    } else {
        let capture = (!keeps_args).then(|| quote!(move));
        scoped(
            quote!(::breaker_core::__private::run::<#ty, _>(__cb_call, #capture || { #(#unpack)* #(#block)* })),
        )
    };
    // The body's run takes the call by value and hands it back with the
    // result (`run`, `run_async`); `run_async_timeout` borrows it, to record a
    // late call after dropping the body.
    // A plain async keyed call (no `retry`, no `timeout`) holds its key's
    // breaker in its call: one value, with one drop (see `KeyedCall`).
    let keyed_call = is_async && attr.key.is_some() && retries.is_none() && attr.timeout.is_none();
    let (call_binding, ret_binding) = if is_async && attr.timeout.is_some() {
        (quote!(mut __cb_call), quote!(__cb_ret: #ty))
    } else {
        let call = match keyed_call {
            true => quote!(::breaker_core::__private::KeyedCall),
            false => quote!(::breaker_core::__private::Call<'_>),
        };
        (
            quote!(__cb_call),
            quote!((__cb_ret, __cb_call): (#ty, #call)),
        )
    };

    let failed = match &attr.failure {
        Some(failure) => {
            let path = &failure.value;
            let check = quote_spanned!(failure.key=> ::breaker_core::__private::failed_by);
            quote_spanned!(failure.span=> #check(&__cb_ret, #path))
        }
        None => quote!((&::breaker_core::__private::Probe(&__cb_ret)).__cb_error()),
    };

    // A keyed call looks its key's breaker up first: the key expression is
    // evaluated here, before the body runs, and its borrows of the
    // arguments end with this statement.
    let sync_keyed = !is_async && attr.key.is_some() && retries.is_none();
    // `let <call> = <acquired>, or the rejection's answer`. An async function
    // matches on a local, not on the admission's temporary: a temporary
    // lives to the end of the `match`, so with a fallback awaited in its arm
    // the `Result` stayed in the function's state (every call copied its
    // permit out of it), and the function's drop grew too large for the
    // unwinding path to inline, so every call wrote its state to memory.
    let admit = |acquired: TokenStream| -> TokenStream {
        let (bound, acquired) = if is_async {
            (
                quote!(let __cb_acquired = #acquired;),
                quote!(__cb_acquired),
            )
        } else {
            (quote!(), acquired)
        };
        quote! {
            #bound
            let #call_binding = match #acquired {
                ::core::result::Result::Ok(__cb_call) => __cb_call,
                ::core::result::Result::Err(__cb_rejected) => #on_reject
            };
        }
    };
    let acquire = match &attr.key {
        None => admit(quote!(__CB_BREAKER.acquire())),
        // A sync keyed call without retries runs inside its ticket's `with`
        // (below): the key's breaker is borrowed from this thread's recent
        // keys, not counted.
        Some(_) if sync_keyed => admit(quote!(::breaker_core::__private::acquire(__cb_breaker))),
        // The plain async call is admitted on its key's breaker, which its
        // `KeyedCall` then holds.
        Some(key) if keyed_call => admit(key_lookup(key, "acquire")),
        // With `retry` or `timeout`: the key's `Breaker`, whose drop is inline.
        Some(key) => {
            let lookup = key_lookup(key, "breaker");
            let admitted = admit(quote!(::breaker_core::__private::acquire(&__cb_breaker)));
            quote! {
                let __cb_breaker: ::breaker_core::Breaker = #lookup;
                #admitted
            }
        }
    };
    // `ok_is_failure`: an `Ok` the predicate rejects is a failure, before the
    // error classification is asked.
    let ok_failed = attr.ok_is_failure.as_ref().map(|ok| {
        let path = &ok.value;
        let check = quote_spanned!(ok.key=> ::breaker_core::__private::ok_failed);
        let message = format!(
            "`Ok` counted as a failure by `ok_is_failure = {}`",
            quote!(#path).to_string().replace(' ', "")
        );
        quote_spanned!(ok.span=>
            if #check(&__cb_ret, #path) {
                __cb_call.failure(|| ::std::borrow::ToOwned::to_owned(#message));
                true
            } else
        )
    });
    let record = quote! {
        #[allow(unused_imports)]
        use ::breaker_core::__private::{ErrOfOther as _, ErrOfResult as _, MessageOfDisplay as _, MessageOfOther as _};
        #ok_failed {
            match #failed {
                ::core::option::Option::Some(__cb_error) => {
                    __cb_call.failure(|| (&::breaker_core::__private::Probe(__cb_error)).__cb_message());
                    true
                }
                _ => {
                    __cb_call.success();
                    false
                }
            }
        }
    };
    // The outcome is recorded first: the fallback's answer does not change
    // what the breaker counts.
    let recorded = match &on_failed {
        None => quote!({
            #record;
        }),
        Some(on_failed) => quote! {
            let __cb_failed: bool = { #record };
            if __cb_failed #on_failed
        },
    };
    // After the last failed attempt, the fallback answers instead of the
    // failure (`fallback_on = failure`).
    let retried = match (&again, &on_failed) {
        (Some(again), Some(on_failed)) => quote! {
            if !__cb_failed {
                break __cb_ret;
            }
            if !#again #on_failed
        },
        (Some(again), None) => quote! {
            if !__cb_failed || !#again {
                break __cb_ret;
            }
        },
        (None, _) => quote!(),
    };
    let new_body = match again {
        None if sync_keyed => {
            let Some(key) = &attr.key else {
                unreachable!("sync_keyed has a key")
            };
            let ticket = key_lookup(key, "ticket");
            quote!({
                #site
                let __cb_ticket = #ticket;
                __cb_ticket.with(move |__cb_breaker: &::breaker_core::Breaker| {
                    #acquire
                    let #ret_binding = #run;
                    #recorded
                    __cb_ret
                })
            })
        }
        None => quote!({
            #site
            #acquire
            let #ret_binding = #run;
            #recorded
            __cb_ret
        }),
        Some(_) => quote!({
            #site
            #retry_handle
            let mut __cb_attempt: u32 = 0;
            loop {
                #acquire
                #outer_copies
                let #ret_binding = #run;
                let __cb_failed: bool = { #record };
                #retried
            }
        }),
    };
    let ItemFn {
        attrs, vis, sig, ..
    } = &func;
    quote!(#(#attrs)* #vis #sig #new_body)
}

/// `ty` with every `impl Trait` in it replaced by `_`, which a `let` and a
/// turbofish accept.
/// `{ __CB_KEYED.<method>(key) }`: the key expression's value looked up as
/// `KeyProbe`'s autoref traits pick (a reference by what it points at),
/// those traits imported in a block of their own so that they reach no user
/// code, and spanned on `key = ..` so that a key of the wrong type is
/// reported there.
fn key_lookup(key: &Spanned<Key>, method: &str) -> TokenStream {
    let expr = &key.value.expr;
    let method = proc_macro2::Ident::new(method, key.span);
    let lookup = quote_spanned!(key.span=>
        __CB_KEYED.#method((&::breaker_core::__private::KeyProbe(&(#expr))).__cb_key())
    );
    quote!({
        #[allow(unused_imports)]
        use ::breaker_core::__private::{KeyOfRef as _, KeyOfValue as _};
        #lookup
    })
}

fn infer_impl(ty: Type) -> Type {
    match ty {
        Type::ImplTrait(_) => Type::Infer(syn::TypeInfer {
            underscore_token: Default::default(),
        }),
        Type::Path(mut path) => {
            for segment in &mut path.path.segments {
                if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        if let GenericArgument::Type(inner) = arg {
                            *inner = infer_impl(inner.clone());
                        }
                    }
                }
            }
            Type::Path(path)
        }
        Type::Reference(mut r) => {
            *r.elem = infer_impl(*r.elem);
            Type::Reference(r)
        }
        Type::Tuple(mut t) => {
            for elem in &mut t.elems {
                *elem = infer_impl(elem.clone());
            }
            Type::Tuple(t)
        }
        Type::Array(mut a) => {
            *a.elem = infer_impl(*a.elem);
            Type::Array(a)
        }
        Type::Slice(mut a) => {
            *a.elem = infer_impl(*a.elem);
            Type::Slice(a)
        }
        Type::Paren(mut p) => {
            *p.elem = infer_impl(*p.elem);
            Type::Paren(p)
        }
        Type::Group(mut g) => {
            *g.elem = infer_impl(*g.elem);
            Type::Group(g)
        }
        other => other,
    }
}
