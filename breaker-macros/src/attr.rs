//! Reading the attribute's arguments into [`Attr`]: each value into its type,
//! every mistake into a `syn::Error` at the mistake. All mistakes are
//! collected, so one compile shows them all.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{Error, Lit};

use breaker_vocab::keys::{
    ATTRIBUTE_KEYS, MAX_ATTEMPTS, MAX_COUNT, MAX_FACTOR, MAX_KEYS, MAX_TRIALS, RESERVED,
};

use crate::duration;
use crate::model::{Attr, FallbackOn, Key, Name, Range, Spanned, Window};

/// Parses the arguments. `Err` holds every mistake found, combined.
pub fn parse(args: TokenStream) -> Result<Attr, Error> {
    let mut attr = Attr::default();
    let mut errors = Errors::default();
    for (index, entry) in split(args, &mut errors).into_iter().enumerate() {
        if let Err(e) = entry_into(&mut attr, index, &entry) {
            errors.push(e);
        }
    }
    errors.finish(attr)
}

/// Errors collected so far.
#[derive(Default)]
pub struct Errors(Option<Error>);

impl Errors {
    /// Adds one.
    pub fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Ok(value)` when nothing was collected.
    pub fn finish<T>(self, value: T) -> Result<T, Error> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// One comma-separated argument, as tokens.
struct Entry {
    tokens: Vec<TokenTree>,
}

/// Splits the arguments at top-level commas (commas inside brackets belong to
/// their group). An empty entry is an error unless it is the trailing one.
fn split(args: TokenStream, errors: &mut Errors) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut current = Vec::new();
    for tt in flatten(args) {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => {
                if current.is_empty() {
                    errors.push(Error::new(
                        p.span(),
                        "unexpected `,`: expected a key such as `fail_max = 5`",
                    ));
                } else {
                    entries.push(Entry {
                        tokens: std::mem::take(&mut current),
                    });
                }
            }
            _ => current.push(tt),
        }
    }
    if !current.is_empty() {
        entries.push(Entry { tokens: current });
    }
    entries
}

/// The tokens with invisible groups (a `macro_rules!` fragment such as
/// `fail_max = $n`) opened, so that a value passed through a macro reads as
/// if written by hand.
fn flatten(tokens: TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for tt in tokens {
        match tt {
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                out.extend(flatten(g.stream()));
            }
            other => out.push(other),
        }
    }
    out
}

/// The span covering `tokens` (joined when the compiler allows, else the first).
fn span_of(tokens: &[TokenTree]) -> Span {
    let first = tokens.first().map_or_else(Span::call_site, TokenTree::span);
    let last = tokens.last().map_or(first, TokenTree::span);
    first.join(last).unwrap_or(first)
}

/// The text of an identifier, without a raw `r#` prefix.
fn ident_text(ident: &proc_macro2::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

fn entry_into(attr: &mut Attr, index: usize, entry: &Entry) -> Result<(), Error> {
    let tokens = &entry.tokens;
    match tokens.as_slice() {
        [TokenTree::Ident(ident), TokenTree::Punct(eq), value @ ..]
            if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone =>
        {
            if value.is_empty() {
                return Err(Error::new(
                    eq.span(),
                    format!("missing value after `{} =`", ident_text(ident)),
                ));
            }
            key_into(attr, ident, value)
        }
        [TokenTree::Ident(ident)] => {
            let text = ident_text(ident);
            if ATTRIBUTE_KEYS.contains(&text.as_str()) || RESERVED.contains(&text.as_str()) {
                return Err(Error::new(
                    ident.span(),
                    format!(
                        "`{text}` needs a value: `{text} = ...`; to name the breaker `{text}`, quote it: `\"{text}\"`"
                    ),
                ));
            }
            if index != 0 {
                return Err(Error::new(
                    ident.span(),
                    format!(
                        "the breaker's name comes first: `#[circuit_breaker({text}, ...)]`; a key needs a value: `{text} = ...`"
                    ),
                ));
            }
            set_name(attr, text, ident.span())
        }
        [TokenTree::Literal(lit)] => {
            let lit = Lit::new(lit.clone());
            let Lit::Str(s) = &lit else {
                return Err(Error::new(
                    lit.span(),
                    "expected the breaker's name (an identifier or a string) or `key = value`",
                ));
            };
            if index != 0 {
                return Err(Error::new(
                    s.span(),
                    "the breaker's name comes first: `#[circuit_breaker(\"name\", ...)]`",
                ));
            }
            set_name(attr, s.value(), s.span())
        }
        [TokenTree::Ident(ident), TokenTree::Punct(p), ..] if p.as_char() == ':' => {
            Err(Error::new(
                p.span(),
                format!("expected `=` after `{}`, found `:`", ident_text(ident)),
            ))
        }
        [TokenTree::Ident(ident), rest @ ..] => Err(Error::new(
            span_of(rest),
            format!(
                "expected `=` after `{}`: write `key = value`, separated by commas",
                ident_text(ident)
            ),
        )),
        _ => Err(Error::new(
            span_of(tokens),
            "expected the breaker's name (an identifier or a string) or `key = value`",
        )),
    }
}

fn set_name(attr: &mut Attr, value: String, span: Span) -> Result<(), Error> {
    if attr.name.is_some() {
        return Err(Error::new(span, "the breaker is named twice"));
    }
    if value.trim().is_empty() {
        return Err(Error::new(span, "the breaker's name must not be empty"));
    }
    attr.name = Some(Name { value, span });
    Ok(())
}

fn key_into(attr: &mut Attr, ident: &proc_macro2::Ident, value: &[TokenTree]) -> Result<(), Error> {
    let key = ident_text(ident);
    let key_span = ident.span();
    let v = Value {
        key: &key,
        key_span,
        tokens: value,
    };
    macro_rules! set {
        ($field:ident, $read:expr) => {{
            if attr.$field.is_some() {
                return Err(duplicate(&key, key_span));
            }
            attr.$field = Some($read?);
        }};
    }
    match key.as_str() {
        "name" => {
            if attr.name.is_some() {
                return Err(Error::new(key_span, "the breaker is named twice"));
            }
            match value {
                [TokenTree::Ident(name)] => set_name(attr, ident_text(name), name.span())?,
                [TokenTree::Literal(lit)] => match Lit::new(lit.clone()) {
                    Lit::Str(s) => set_name(attr, s.value(), s.span())?,
                    _ => {
                        return Err(Error::new(
                            lit.span(),
                            "expected a string: `name = \"payments\"`",
                        ));
                    }
                },
                _ => {
                    return Err(Error::new(
                        span_of(value),
                        "expected a string: `name = \"payments\"`",
                    ));
                }
            }
        }
        "fail_max" => set!(fail_max, v.count(MAX_COUNT)),
        "within" => set!(within, v.duration()),
        "failure_rate" => set!(failure_rate, v.percent()),
        "window" => set!(window, v.window()),
        "min_calls" => set!(min_calls, v.count(MAX_COUNT)),
        "slow" => set!(slow, v.duration()),
        "slow_rate" => set!(slow_rate, v.percent()),
        "reset" => set!(reset, v.duration()),
        "backoff" => set!(backoff, v.factor()),
        "adaptive" => set!(adaptive, v.factor()),
        "reset_max" => set!(reset_max, v.duration()),
        "success" => set!(success, v.count(MAX_TRIALS)),
        "half_open" => set!(half_open, v.count(MAX_TRIALS)),
        "timeout" => set!(timeout, v.duration()),
        "max_half_open_wait" => set!(max_half_open_wait, v.duration()),
        "ramp" => set!(ramp, v.duration()),
        "fallback" => set!(fallback, v.path("fallback = cached_quote")),
        "fallback_on" => set!(fallback_on, v.fallback_on()),
        "failure" => set!(failure, v.path("failure = is_transient")),
        "ok_is_failure" => set!(ok_is_failure, v.path("ok_is_failure = is_unavailable")),
        "retry" => set!(retry, v.count(MAX_ATTEMPTS)),
        "retry_backoff" => set!(retry_backoff, v.range()),
        "key" => set!(key, v.key()),
        "max_keys" => set!(max_keys, v.count(MAX_KEYS)),
        "idle" => set!(idle, v.duration()),
        other if RESERVED.contains(&other) => {
            return Err(Error::new(
                key_span,
                format!("`{other}` is not supported by this version of `#[circuit_breaker]`"),
            ));
        }
        other => {
            let message = match suggest(other) {
                Some(near) => format!("unknown key `{other}`; did you mean `{near}`?"),
                None => format!(
                    "unknown key `{other}`; expected one of: {}",
                    ATTRIBUTE_KEYS.join(", ")
                ),
            };
            return Err(Error::new(key_span, message));
        }
    }
    Ok(())
}

fn duplicate(key: &str, span: Span) -> Error {
    Error::new(span, format!("duplicate key `{key}`: give each key once"))
}

/// The value tokens of one `key = value`.
struct Value<'a> {
    key: &'a str,
    key_span: Span,
    tokens: &'a [TokenTree],
}

impl Value<'_> {
    fn spanned<T>(&self, value: T) -> Spanned<T> {
        Spanned {
            value,
            key: self.key_span,
            span: span_of(self.tokens),
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::new(span_of(self.tokens), message)
    }

    /// The single literal the value is, or an error naming what was expected.
    fn literal(&self, expected: &str) -> Result<Lit, Error> {
        match self.tokens {
            [TokenTree::Literal(lit)] => Ok(Lit::new(lit.clone())),
            [TokenTree::Punct(p), TokenTree::Literal(_)] if p.as_char() == '-' => Err(self.error(
                format!("`{}` must be positive, found a negative number", self.key),
            )),
            _ => Err(self.error(format!(
                "expected {expected} for `{}`, found `{}`",
                self.key,
                tokens_text(self.tokens)
            ))),
        }
    }

    /// A whole number in 1..=max.
    fn count(&self, max: u32) -> Result<Spanned<u32>, Error> {
        let expected = "a whole number";
        let lit = self.literal(expected)?;
        let Lit::Int(int) = &lit else {
            return Err(self.error(format!(
                "expected a whole number for `{}`, found {}",
                self.key,
                describe(&lit)
            )));
        };
        if !int.suffix().is_empty() {
            return Err(self.error(format!(
                "expected a whole number for `{}`, found `{}` with suffix `{}`",
                self.key,
                int.base10_digits(),
                int.suffix()
            )));
        }
        let n = int
            .base10_parse::<u64>()
            .ok()
            .filter(|n| *n <= u64::from(max));
        match n {
            Some(0) => Err(self.error(format!("`{}` must be at least 1, got 0", self.key))),
            Some(n) => Ok(self.spanned(n as u32)),
            None => Err(self.error(format!(
                "`{}` must be between 1 and {max}, got {}",
                self.key,
                int.base10_digits()
            ))),
        }
    }

    /// A duration, bare (`30s`, `1.5s`, `1m30s`) or quoted (`"30s"`), in
    /// 1ns..=365 days.
    fn duration(&self) -> Result<Spanned<u64>, Error> {
        let lit = self.duration_literal()?;
        let nanos = duration_of(&lit).map_err(|m| self.error(m))?;
        self.check_duration(nanos)
    }

    fn duration_literal(&self) -> Result<Lit, Error> {
        if let [TokenTree::Literal(_), TokenTree::Literal(_), ..] = self.tokens {
            return Err(self.error("write a duration without spaces: `1m30s`"));
        }
        if let [TokenTree::Literal(n), TokenTree::Ident(unit)] = self.tokens {
            return Err(self.error(format!(
                "write the unit right after the number, without a space: `{n}{unit}`"
            )));
        }
        self.literal("a duration such as `30s`, `250ms` or `1m30s`")
    }

    fn check_duration(&self, nanos: u64) -> Result<Spanned<u64>, Error> {
        if nanos == 0 {
            return Err(self.error(format!("`{}` must be longer than zero", self.key)));
        }
        if nanos > duration::MAX_NANOS {
            return Err(self.error(format!(
                "`{}` must be at most 365 days, got {}",
                self.key,
                duration::format(nanos)
            )));
        }
        Ok(self.spanned(nanos))
    }

    /// A percentage in (0, 100] with at most two decimals, in hundredths.
    /// A trailing `%` is allowed.
    fn percent(&self) -> Result<Spanned<u32>, Error> {
        let tokens = match self.tokens {
            [rest @ .., TokenTree::Punct(p)] if p.as_char() == '%' && !rest.is_empty() => rest,
            all => all,
        };
        let value = Value { tokens, ..*self };
        let lit = value.literal("a percentage such as `50` or `12.5`")?;
        let digits = match &lit {
            Lit::Int(i) if i.suffix().is_empty() => i.base10_digits().to_owned(),
            Lit::Float(f) if f.suffix().is_empty() => f.base10_digits().to_owned(),
            _ => {
                return Err(self.error(format!(
                    "expected a percentage such as `50` or `12.5` for `{}`, found {}",
                    self.key,
                    describe(&lit)
                )));
            }
        };
        match duration::decimal(&digits, 100) {
            Some(0) => Err(self.error(format!("`{}` must be greater than 0%", self.key))),
            Some(h) if h <= 10_000 => Ok(self.spanned(h as u32)),
            Some(_) => Err(self.error(format!(
                "`{}` is a percentage: at most 100, got {digits}",
                self.key
            ))),
            None => Err(self.error(format!(
                "`{}` takes at most two decimals, got {digits}",
                self.key
            ))),
        }
    }

    /// A count window (`100`) or a time window (`10s`).
    fn window(&self) -> Result<Spanned<Window>, Error> {
        if let [TokenTree::Literal(lit)] = self.tokens {
            if let Lit::Int(int) = Lit::new(lit.clone()) {
                if int.suffix().is_empty() {
                    return self
                        .count(MAX_COUNT)
                        .map(|k| self.spanned(Window::Calls(k.value)));
                }
            }
        }
        let lit = self.duration_literal().map_err(|_| {
            self.error("expected a call count (`window = 100`) or a duration (`window = 10s`)")
        })?;
        let nanos = duration_of(&lit).map_err(|m| self.error(m))?;
        self.check_duration(nanos)
            .map(|d| self.spanned(Window::Time(d.value)))
    }

    /// A backoff factor in 1..=1000 with at most six decimals, in millionths.
    fn factor(&self) -> Result<Spanned<u64>, Error> {
        let lit = self.literal("a factor such as `2` or `1.5`")?;
        let digits = match &lit {
            Lit::Int(i) if i.suffix().is_empty() => i.base10_digits().to_owned(),
            Lit::Float(f) if f.suffix().is_empty() => f.base10_digits().to_owned(),
            _ => {
                return Err(self.error(format!(
                    "expected a factor such as `2` or `1.5` for `backoff`, found {}",
                    describe(&lit)
                )));
            }
        };
        match duration::decimal(&digits, 1_000_000) {
            Some(m) if (1_000_000..=u64::from(MAX_FACTOR) * 1_000_000).contains(&m) => Ok(self.spanned(m)),
            Some(_) => Err(self.error(format!(
                "`backoff` multiplies the open period: a factor from 1 to {MAX_FACTOR}, got {digits}"
            ))),
            None => Err(self.error(format!(
                "`backoff` takes at most six decimals, got {digits}"
            ))),
        }
    }

    /// A range of durations, `base..max` (`100ms..5s`, `"100ms".."5s"` or
    /// `"100ms..5s"`), with base <= max.
    fn range(&self) -> Result<Spanned<Range>, Error> {
        const EXPECTED: &str =
            "expected a range of durations `base..max`, as in `retry_backoff = 100ms..5s`";
        let (base, max) = match self.tokens {
            [TokenTree::Literal(lit)] => {
                let text = match Lit::new(lit.clone()) {
                    Lit::Str(s) => s.value(),
                    _ => return Err(self.error(format!("{EXPECTED}, found `{lit}`"))),
                };
                let Some((base, max)) = text.split_once("..") else {
                    return Err(self.error(format!("{EXPECTED}, found \"{text}\"")));
                };
                let read = |part: &str| {
                    duration::parse(part.trim())
                        .map_err(|m| self.error(m))
                        .and_then(|nanos| self.check_duration(nanos).map(|d| d.value))
                };
                (read(base)?, read(max)?)
            }
            [
                base @ TokenTree::Literal(_),
                TokenTree::Punct(dot1),
                TokenTree::Punct(dot2),
                max @ TokenTree::Literal(_),
            ] if dot1.as_char() == '.' && dot2.as_char() == '.' => {
                let read = |token: &TokenTree| {
                    let part = Value {
                        tokens: std::slice::from_ref(token),
                        ..*self
                    };
                    let lit = part.duration_literal()?;
                    let nanos = duration_of(&lit).map_err(|m| part.error(m))?;
                    part.check_duration(nanos).map(|d| d.value)
                };
                (read(base)?, read(max)?)
            }
            tokens
                if tokens
                    .iter()
                    .any(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '=')) =>
            {
                return Err(self.error(format!(
                    "{EXPECTED}; write `..`, not `..=`: max is included"
                )));
            }
            _ => {
                return Err(self.error(format!("{EXPECTED}, found `{}`", tokens_text(self.tokens))));
            }
        };
        if base > max {
            return Err(self.error(format!(
                "`retry_backoff` is `base..max` with base <= max: the waits start at base and double up to max, got {}..{}",
                duration::format(base),
                duration::format(max)
            )));
        }
        Ok(self.spanned(Range { base, max }))
    }

    /// The key of a keyed breaker: an expression over the arguments,
    /// optionally labelled (`host: req.host()`, `"tenant-id": req.tenant()`).
    fn key(&self) -> Result<Spanned<Key>, Error> {
        const EXPECTED: &str = "expected an expression over the arguments, as in `key = req.host()`, optionally labelled: `key = host: req.host()`";
        let (label, tokens) = match self.tokens {
            [
                label @ (TokenTree::Ident(_) | TokenTree::Literal(_)),
                TokenTree::Punct(colon),
                rest @ ..,
            ] if colon.as_char() == ':' && colon.spacing() == proc_macro2::Spacing::Alone => {
                let label = match label {
                    TokenTree::Ident(ident) => Name {
                        value: ident_text(ident),
                        span: ident.span(),
                    },
                    TokenTree::Literal(lit) => match Lit::new(lit.clone()) {
                        Lit::Str(s) => Name {
                            value: s.value(),
                            span: s.span(),
                        },
                        _ => {
                            return Err(Error::new(
                                lit.span(),
                                "a key's label is a word or a string: `key = host: req.host()`",
                            ));
                        }
                    },
                    _ => unreachable!("matched above"),
                };
                if rest.is_empty() {
                    return Err(Error::new(
                        colon.span(),
                        format!("missing the key's expression after `{}:`", label.value),
                    ));
                }
                (Some(label), rest)
            }
            tokens => (None, tokens),
        };
        if let Some(label) = &label {
            if label.value.is_empty()
                || label
                    .value
                    .chars()
                    .any(|c| matches!(c, '[' | ']' | '=') || c.is_control())
            {
                return Err(Error::new(
                    label.span,
                    format!(
                        "a key's label names the keys' breakers (`upstream[host=a.example]`): a non-empty word without `[`, `]` or `=`, got {:?}",
                        label.value
                    ),
                ));
            }
        }
        let stream: TokenStream = tokens.iter().cloned().collect();
        let expr = syn::parse2::<syn::Expr>(stream).map_err(|_| {
            Error::new(
                span_of(tokens),
                format!("{EXPECTED}, found `{}`", tokens_text(tokens)),
            )
        })?;
        Ok(Spanned {
            value: Key { label, expr },
            key: self.key_span,
            span: span_of(tokens),
        })
    }

    /// `rejection` or `failure`, bare (a quoted value is refused with the
    /// bare spelling, as paths are).
    fn fallback_on(&self) -> Result<Spanned<FallbackOn>, Error> {
        let accepted = "`rejection` (the default: the fallback answers the calls the breaker rejects) or `failure` (also the calls that ran and failed)";
        let word = match self.tokens {
            [TokenTree::Ident(ident)] => ident_text(ident),
            [TokenTree::Literal(lit)] => match Lit::new(lit.clone()) {
                Lit::Str(s) => {
                    return Err(self.error(format!(
                        "write `fallback_on = {}` without quotes: `fallback_on` is {accepted}",
                        s.value()
                    )));
                }
                _ => tokens_text(self.tokens),
            },
            _ => tokens_text(self.tokens),
        };
        match FallbackOn::VALUES.iter().find(|(name, _)| *name == word) {
            Some((_, on)) => Ok(self.spanned(*on)),
            None => Err(self.error(format!("`fallback_on` is {accepted}, found `{word}`"))),
        }
    }

    /// A path to a function: `name`, `module::name`, `Self::name`.
    fn path(&self, example: &str) -> Result<Spanned<syn::ExprPath>, Error> {
        let stream: TokenStream = self.tokens.iter().cloned().collect();
        if let [TokenTree::Literal(lit)] = self.tokens {
            if let Lit::Str(s) = Lit::new(lit.clone()) {
                return Err(self.error(format!(
                    "expected a path to a function, found a string: write `{} = {}` without quotes",
                    self.key,
                    s.value()
                )));
            }
        }
        match syn::parse2::<syn::Expr>(stream) {
            Ok(syn::Expr::Path(path)) => Ok(self.spanned(path)),
            Ok(syn::Expr::Closure(_)) => Err(self.error(format!(
                "expected a path to a function (`{example}`), found a closure: move it into a function and name it"
            ))),
            Ok(other) => Err(Error::new(
                other.span(),
                format!("expected a path to a function, as in `{example}`"),
            )),
            Err(_) => Err(self.error(format!(
                "expected a path to a function, as in `{example}`"
            ))),
        }
    }
}

/// The nanoseconds of a duration literal: `30s`, `1.5s`, `1m30s` or `"30s"`.
fn duration_of(lit: &Lit) -> Result<u64, String> {
    let text = match lit {
        Lit::Str(s) => s.value(),
        Lit::Int(i) => format!("{}{}", i.base10_digits(), i.suffix()),
        Lit::Float(f) => format!("{}{}", f.base10_digits(), f.suffix()),
        other => {
            return Err(format!(
                "expected a duration such as `30s`, `250ms` or `1m30s`, found {}",
                describe(other)
            ));
        }
    };
    duration::parse(text.trim())
}

/// "a string", "a boolean", ... for messages.
fn describe(lit: &Lit) -> String {
    match lit {
        Lit::Str(s) => format!("the string \"{}\"", s.value()),
        Lit::Bool(b) => format!("`{}`", b.value),
        Lit::Int(i) if !i.suffix().is_empty() => {
            format!("`{}` with suffix `{}`", i.base10_digits(), i.suffix())
        }
        Lit::Float(f) if !f.suffix().is_empty() => {
            format!("`{}` with suffix `{}`", f.base10_digits(), f.suffix())
        }
        Lit::Float(f) => format!("`{}`", f.base10_digits()),
        Lit::Int(i) => format!("`{}`", i.base10_digits()),
        Lit::Char(_) => "a character".into(),
        _ => "a literal of another kind".into(),
    }
}

fn tokens_text(tokens: &[TokenTree]) -> String {
    let stream: TokenStream = tokens.iter().cloned().collect();
    stream.into_token_stream().to_string()
}

/// The known key closest to `given`, if it is close enough to be a typo.
pub fn suggest(given: &str) -> Option<&'static str> {
    breaker_vocab::suggest::attribute_key(given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn ok(args: TokenStream) -> Attr {
        match parse(args) {
            Ok(attr) => attr,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(args: TokenStream) -> String {
        match parse(args) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_the_api_example() {
        let attr = ok(quote!(payments, fail_max = 5, reset = 30s, success = 2));
        assert_eq!(attr.name.map(|n| n.value).as_deref(), Some("payments"));
        assert_eq!(attr.fail_max.map(|v| v.value), Some(5));
        assert_eq!(attr.reset.map(|v| v.value), Some(30_000_000_000));
        assert_eq!(attr.success.map(|v| v.value), Some(2));
    }

    #[test]
    fn reads_every_duration_form() {
        for (args, nanos) in [
            (quote!(reset = 250ms), 250_000_000),
            (quote!(reset = 1.5s), 1_500_000_000),
            (quote!(reset = 2m), 120_000_000_000),
            (quote!(reset = 1m30s), 90_000_000_000),
            (quote!(reset = "1m30s"), 90_000_000_000),
        ] {
            assert_eq!(ok(args).reset.map(|v| v.value), Some(nanos));
        }
    }

    #[test]
    fn reads_percentages_and_windows() {
        let attr = ok(quote!(failure_rate = 12.5, window = 10s, slow = 1s, slow_rate = 50%));
        assert_eq!(attr.failure_rate.map(|v| v.value), Some(1250));
        assert_eq!(attr.slow_rate.map(|v| v.value), Some(5000));
        assert_eq!(
            attr.window.map(|v| v.value),
            Some(Window::Time(10_000_000_000))
        );
        let attr = ok(quote!(failure_rate = 50, window = 20));
        assert_eq!(attr.window.map(|v| v.value), Some(Window::Calls(20)));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for args in [
            quote!(= 5),
            quote!(,),
            quote!(,,),
            quote!(fail_max =),
            quote!(fail_max == 5),
            quote!(fail_max = 5 6),
            quote!(reset = 1e3s),
            quote!(reset = 99999999999999999999999999999s),
            quote!(reset = 1.000000000000000000001s),
            quote!(window = 0),
            quote!(window = -5s),
            quote!(window = "abc"),
            quote!(failure_rate = 0.0),
            quote!(failure_rate = %),
            quote!(backoff = 1e400),
            quote!(name =),
            quote!(name = 5),
            quote!(r#type = 1),
            quote!(payments payments),
            quote!((a, b)),
            quote!('c'),
            quote!(fallback = 5),
            quote!(fallback = a + b),
            quote!(failure = ::a::b::<T>),
            quote!(timeout = 0x10s),
            quote!(slow = true),
        ] {
            let _ = parse(args);
        }
    }

    #[test]
    fn reads_retry_and_every_form_of_its_backoff() {
        for (args, base, max) in [
            (
                quote!(retry = 3, retry_backoff = 100ms..5s),
                100_000_000,
                5_000_000_000,
            ),
            (
                quote!(retry = 3, retry_backoff = 1.5s..1m30s),
                1_500_000_000,
                90_000_000_000,
            ),
            (
                quote!(retry = 3, retry_backoff = "10ms".."1s"),
                10_000_000,
                1_000_000_000,
            ),
            (
                quote!(retry = 3, retry_backoff = "10ms .. 1s"),
                10_000_000,
                1_000_000_000,
            ),
            (
                quote!(retry = 3, retry_backoff = 1s..1s),
                1_000_000_000,
                1_000_000_000,
            ),
        ] {
            let attr = ok(args);
            assert_eq!(attr.retry.as_ref().map(|r| r.value), Some(3));
            assert_eq!(
                attr.retry_backoff.map(|r| (r.value.base, r.value.max)),
                Some((base, max))
            );
        }
        assert_eq!(ok(quote!(retry = 2)).retries(), Some((2, Range::DEFAULT)));
        assert_eq!(ok(quote!(retry = 1)).retries(), None);
        assert!(err(quote!(retry = 3, retry_backoff = 5s..1s)).contains("base <= max"));
        assert!(err(quote!(retry_backoff = 5s)).contains("base..max"));
    }

    #[test]
    fn odd_ranges_never_panic() {
        for args in [
            quote!(retry_backoff = ..),
            quote!(retry_backoff = ..5s),
            quote!(retry_backoff = 5s..),
            quote!(retry_backoff = 1s...2s),
            quote!(retry_backoff = 1s..2s..3s),
            quote!(retry_backoff = ".."),
            quote!(retry_backoff = "1s.."),
            quote!(retry_backoff = 'a'..'b'),
            quote!(retry_backoff = 1..2),
            quote!(retry = -1),
            quote!(retry = 1.5),
        ] {
            let _ = parse(args);
        }
    }

    #[test]
    fn reads_values_passed_through_macro_rules() {
        let five = TokenTree::Group(proc_macro2::Group::new(Delimiter::None, quote!(5)));
        let attr = ok(quote!(fail_max = #five));
        assert_eq!(attr.fail_max.map(|v| v.value), Some(5));
    }

    #[test]
    fn reads_fallback_on_and_names_its_values_on_a_mistake() {
        let on = |args| ok(args).fallback_on.map(|v| v.value);
        assert_eq!(
            on(quote!(fallback = f, fallback_on = failure)),
            Some(FallbackOn::Failure)
        );
        assert_eq!(
            on(quote!(fallback = f, fallback_on = rejection)),
            Some(FallbackOn::Rejection)
        );
        assert_eq!(on(quote!(fallback = f)), None);
        for args in [
            quote!(fallback_on = everything),
            quote!(fallback_on = 5),
            quote!(fallback_on = failure | rejection),
            quote!(fallback_on = Failure),
        ] {
            let message = err(args);
            assert!(message.contains("`rejection`"), "{message}");
            assert!(message.contains("`failure`"), "{message}");
        }
        assert!(err(quote!(fallback_on = "failure")).contains("without quotes"));
        let Some(breaker_vocab::keys::Kind::Choice { values }) =
            breaker_vocab::keys::find("fallback_on").map(|k| k.kind)
        else {
            panic!("`fallback_on` is not a choice in the vocabulary")
        };
        assert_eq!(values, FallbackOn::VALUES.map(|(name, _)| name));
        assert!(
            err(quote!(fallback_on = failure, fallback_on = failure)).contains("duplicate key")
        );
    }

    #[test]
    fn suggests_the_nearest_key() {
        assert!(err(quote!(fail_mx = 5)).contains("did you mean `fail_max`"));
        assert!(err(quote!(fail_max = 5, fail_max = 6)).contains("duplicate key"));
        assert!(err(quote!(fail_max = "5")).contains("whole number"));
        assert!(err(quote!(reset = 30)).contains("missing unit"));
    }
}
