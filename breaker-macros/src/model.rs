//! The typed model of one `#[circuit_breaker(...)]`: what the attribute's
//! arguments say, each value already read into its type and kept with the
//! spans that errors point at.

use proc_macro2::Span;

/// A value read from the attribute, with where its key and its value were written.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value, in its type.
    pub value: T,
    /// The key (`fail_max` in `fail_max = 5`).
    pub key: Span,
    /// The value (`5` in `fail_max = 5`).
    pub span: Span,
}

/// The breaker's name as written: `payments`, `"payments-eu"` or `name = "..."`.
#[derive(Clone, Debug)]
pub struct Name {
    /// The name itself.
    pub value: String,
    /// Where it was written.
    pub span: Span,
}

/// The window of the rate policies: the last K outcomes, or a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// `window = 100`: the last 100 outcomes.
    Calls(u32),
    /// `window = 10s`: the outcomes that ended within this many nanoseconds.
    Time(u64),
}

/// Everything the attribute's arguments say. Absent keys are `None`: the
/// runtime's defaults apply.
#[derive(Clone, Default)]
pub struct Attr {
    /// The breaker's name; `None` means module path + function name.
    pub name: Option<Name>,
    /// `fail_max = N`.
    pub fail_max: Option<Spanned<u32>>,
    /// `within = W`, in nanoseconds.
    pub within: Option<Spanned<u64>>,
    /// `failure_rate = P`, in hundredths of a percent.
    pub failure_rate: Option<Spanned<u32>>,
    /// `window = K` or `window = W`.
    pub window: Option<Spanned<Window>>,
    /// `min_calls = M`.
    pub min_calls: Option<Spanned<u32>>,
    /// `slow = D`, in nanoseconds.
    pub slow: Option<Spanned<u64>>,
    /// `slow_rate = P`, in hundredths of a percent.
    pub slow_rate: Option<Spanned<u32>>,
    /// `reset = D`, in nanoseconds.
    pub reset: Option<Spanned<u64>>,
    /// `backoff = F`, in millionths.
    pub backoff: Option<Spanned<u64>>,
    /// `adaptive = K`, in millionths.
    pub adaptive: Option<Spanned<u64>>,
    /// `reset_max = D`, in nanoseconds.
    pub reset_max: Option<Spanned<u64>>,
    /// `success = S`.
    pub success: Option<Spanned<u32>>,
    /// `half_open = H`.
    pub half_open: Option<Spanned<u32>>,
    /// `timeout = D`, in nanoseconds.
    pub timeout: Option<Spanned<u64>>,
    /// `max_half_open_wait = D`, in nanoseconds.
    pub max_half_open_wait: Option<Spanned<u64>>,
    /// `ramp = D`, in nanoseconds.
    pub ramp: Option<Spanned<u64>>,
    /// `fallback = path`.
    pub fallback: Option<Spanned<syn::ExprPath>>,
    /// `fallback_on = rejection | failure`.
    pub fallback_on: Option<Spanned<FallbackOn>>,
    /// `failure = path`.
    pub failure: Option<Spanned<syn::ExprPath>>,
    /// `ok_is_failure = path`.
    pub ok_is_failure: Option<Spanned<syn::ExprPath>>,
    /// `retry = N`: up to N attempts.
    pub retry: Option<Spanned<u32>>,
    /// `retry_backoff = base..max`, in nanoseconds.
    pub retry_backoff: Option<Spanned<Range>>,
    /// `key = expr` or `key = label: expr`: one breaker per distinct value.
    pub key: Option<Spanned<Key>>,
    /// `max_keys = N`: at most N live keys.
    pub max_keys: Option<Spanned<u32>>,
    /// `idle = D`, in nanoseconds: a key with no call for D is dropped.
    pub idle: Option<Spanned<u64>>,
}

/// Which calls the fallback answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackOn {
    /// `fallback_on = rejection`, the default: only calls the breaker rejects.
    Rejection,
    /// `fallback_on = failure`: also calls that ran and that the breaker
    /// counted as failures (a counted `Err`, an `Ok` that `ok_is_failure`
    /// counts, a timeout).
    Failure,
}

impl FallbackOn {
    /// The values `fallback_on` accepts, as written.
    pub const VALUES: [(&'static str, FallbackOn); 2] = [
        ("rejection", FallbackOn::Rejection),
        ("failure", FallbackOn::Failure),
    ];
}

/// `key = expr` or `key = label: expr`.
#[derive(Clone)]
pub struct Key {
    /// The label written before the expression, if any.
    pub label: Option<Name>,
    /// The expression over the arguments.
    pub expr: syn::Expr,
}

impl Key {
    /// The label of the keys' names (`host` in `upstream[host=a.example]`):
    /// the one written, else the last name in the expression.
    pub fn label(&self) -> Option<String> {
        match &self.label {
            Some(label) => Some(label.value.clone()),
            None => label_of(&self.expr),
        }
    }
}

/// The last name of a key expression: the method of a method call
/// (`req.host()`: `host`), the field of a field access (`req.tenant`), the
/// last segment of a path (`tenant_id`), the function of a call of a plain
/// name (`tenant_of(&req)`), looking through `&`, `*`, parentheses, `as`,
/// `?` and indexing. `None` for anything else (a literal, a block, a macro,
/// `self`, a tuple field, a call of a longer path such as `String::from(x)`).
fn label_of(expr: &syn::Expr) -> Option<String> {
    use syn::Expr;
    let text = |ident: &proc_macro2::Ident| {
        let text = ident.to_string();
        text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
    };
    match expr {
        Expr::MethodCall(call) => Some(text(&call.method)),
        Expr::Field(field) => match &field.member {
            syn::Member::Named(ident) => Some(text(ident)),
            syn::Member::Unnamed(_) => None,
        },
        Expr::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            (last.ident != "self" && last.ident != "Self").then(|| text(&last.ident))
        }
        Expr::Call(call) => match &*call.func {
            Expr::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
                label_of(&call.func)
            }
            _ => None,
        },
        Expr::Reference(r) => label_of(&r.expr),
        Expr::Paren(p) => label_of(&p.expr),
        Expr::Group(g) => label_of(&g.expr),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => label_of(&u.expr),
        Expr::Cast(c) => label_of(&c.expr),
        Expr::Try(t) => label_of(&t.expr),
        Expr::Index(i) => label_of(&i.expr),
        _ => None,
    }
}

/// `retry_backoff = base..max`, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The first wait's ceiling.
    pub base: u64,
    /// The cap on every wait.
    pub max: u64,
}

impl Range {
    /// breaker-core's default, `100ms..5s`.
    pub const DEFAULT: Range = Range {
        base: 100_000_000,
        max: 5_000_000_000,
    };
}

impl Attr {
    /// Whether the fallback also answers failed calls (`fallback_on =
    /// failure`): the arguments must then outlive the body, which gets
    /// copies of the by-value ones.
    pub fn falls_back_on_failure(&self) -> bool {
        self.fallback.is_some()
            && self
                .fallback_on
                .as_ref()
                .is_some_and(|on| on.value == FallbackOn::Failure)
    }

    /// The attempts a call makes when more than one: `retry = N` with N >= 2
    /// (`retry = 1` retries nothing and expands as without `retry`).
    pub fn retries(&self) -> Option<(u32, Range)> {
        let attempts = self.retry.as_ref().map(|r| r.value).filter(|n| *n > 1)?;
        let range = self
            .retry_backoff
            .as_ref()
            .map_or(Range::DEFAULT, |r| r.value);
        Some((attempts, range))
    }
}
