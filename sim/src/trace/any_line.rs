//! The full parser of one line: every form TRACES.md allows, and every
//! mistake, reported at its column with what was expected.

use crate::config::{BreakerConfig, KEYS, RETRY_KEYS};
use crate::duration::{format_duration, parse_duration};
use crate::suggest::did_you_mean;

use super::TraceParser;
use super::ast::{
    Action, Declaration, Item, Line, Mistake, Outcome, Parsed, Reconfiguration, TraceError,
};

const OUTCOMES: [&str; 4] = ["ok", "err", "ignored", "panic"];
const ACTIONS: [&str; 6] = [
    "trip",
    "force_open",
    "disable",
    "reset",
    "metrics_only",
    "configure",
];

/// A whitespace-separated word with its 1-based column.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    column: usize,
    text: &'a str,
}

/// Splits a line into words, up to a `#` comment, into `tokens` (cleared first).
fn tokenize<'a>(line: &'a str, tokens: &mut Vec<Token<'a>>) {
    tokens.clear();
    let bytes = line.as_bytes();
    if line.is_ascii() {
        // Columns are byte offsets + 1.
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'#' {
                return;
            }
            if matches!(b, b'\t'..=b'\r' | b' ') {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b'\t'..=b'\r' | b' ' | b'#') {
                i += 1;
            }
            tokens.push(Token {
                column: start + 1,
                text: &line[start..i],
            });
        }
        return;
    }
    let mut start: Option<(usize, usize)> = None;
    let mut column = 0;
    for (byte, ch) in line.char_indices() {
        column += 1;
        if ch == '#' {
            if let Some((b, c)) = start.take() {
                tokens.push(Token {
                    column: c,
                    text: &line[b..byte],
                });
            }
            return;
        }
        if ch.is_whitespace() {
            if let Some((b, c)) = start.take() {
                tokens.push(Token {
                    column: c,
                    text: &line[b..byte],
                });
            }
        } else if start.is_none() {
            start = Some((byte, column));
        }
    }
    if let Some((b, c)) = start {
        tokens.push(Token {
            column: c,
            text: &line[b..],
        });
    }
}

/// The outcome a word names.
fn outcome_of(word: &str) -> Option<Outcome> {
    match word {
        "ok" => Some(Outcome::Ok),
        "err" => Some(Outcome::Err),
        "ignored" => Some(Outcome::Ignored),
        "panic" => Some(Outcome::Panic),
        _ => None,
    }
}

/// The comma-separated items of a word, each with its 1-based column.
fn pieces<'a>(token: Token<'a>) -> impl Iterator<Item = (usize, &'a str)> {
    let mut column = token.column;
    token.text.split(',').map(move |piece| {
        let at = column;
        column += piece.chars().count() + 1;
        (at, piece)
    })
}

/// Where a latency would start after `what` (for a call line without one).
fn lat_column(what: Token<'_>) -> usize {
    what.column + what.text.chars().count() + 1
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
}

impl TraceParser {
    /// Whether `line` declares the breaker `name` (for the message of a call
    /// that used it earlier).
    pub(super) fn declares(line: &str, name: &str) -> bool {
        if !line.trim_start().starts_with("breaker") {
            return false;
        }
        let mut tokens = Vec::new();
        tokenize(line, &mut tokens);
        matches!(tokens.as_slice(), [first, declared, ..] if first.text == "breaker" && declared.text == name)
    }

    fn error(&self, column: usize, message: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line: self.line_no,
            column,
            message: message.into(),
        }
    }

    fn duration(
        &self,
        token: Token<'_>,
        text: &str,
        skip: usize,
        what: &str,
    ) -> Result<u64, TraceError> {
        parse_duration(text).map_err(|e| {
            let offset = text.get(..e.offset).map_or(0, |s| s.chars().count());
            self.error(
                token.column + skip + offset,
                format!("bad {what}: {}", e.message),
            )
        })
    }

    /// Parses the current line (`self.line_no`), `text`.
    pub(super) fn general(&self, text: &str) -> Result<Parsed, Mistake> {
        // Most lines have at most 4 words; blank and comment lines allocate nothing.
        let mut tokens = Vec::new();
        tokenize(text, &mut tokens);
        let Some(&first) = tokens.first() else {
            return Ok(Parsed::Nothing);
        };
        if first.text == "breaker" {
            return Ok(match self.declaration(&tokens)? {
                Some(decl) => Parsed::Declaration(decl),
                None => Parsed::Nothing,
            });
        }
        self.timed(&tokens)
    }

    fn timed(&self, tokens: &[Token<'_>]) -> Result<Parsed, Mistake> {
        let first = tokens[0];
        let (relative, time_text) = match first.text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, first.text),
        };
        if !time_text.starts_with(|c: char| c.is_ascii_digit()) {
            let hint = did_you_mean(first.text, ["breaker"]);
            return Err(self
                .error(
                    first.column + usize::from(relative),
                    format!(
                        "expected a time (such as `10ms` or `+5ms`) or `breaker`, found `{}`{hint}",
                        first.text
                    ),
                )
                .into());
        }
        let d = self.duration(first, time_text, usize::from(relative), "time")?;
        let t_ns = if relative {
            self.previous
                .unwrap_or(0)
                .checked_add(d)
                .ok_or_else(|| self.error(first.column, "time is too large"))?
        } else {
            d
        };
        if let Some(prev) = self.previous {
            if t_ns < prev {
                return Err(self.error(
                    first.column,
                    format!(
                        "time goes backwards: `{}` is before the previous line's time {}; expected {} or later (or a relative time such as `+5ms`)",
                        first.text,
                        format_duration(prev),
                        format_duration(prev)
                    ),
                ).into());
            }
        }
        let Some(&name) = tokens.get(1) else {
            return Err(self
                .error(
                    first.column + first.text.chars().count(),
                    "expected a breaker name after the time",
                )
                .into());
        };
        // `db@2`: replica 2 of a fleet.
        let (name_text, replica_text) = match name.text.split_once('@') {
            Some((n, r)) => (n, Some(r)),
            None => (name.text, None),
        };
        let Some(breaker) = self.find(name_text) else {
            let hint = did_you_mean(
                name_text,
                self.trace.breakers.iter().map(|b| b.name.as_str()),
            );
            let hint = if hint.is_empty() {
                format!("; declare it first with `breaker {name_text} ...`")
            } else {
                hint
            };
            return Err(Mistake {
                error: self.error(name.column, format!("unknown breaker `{name_text}`{hint}")),
                undeclared: Some(name_text.to_string()),
            });
        };
        let replica = match replica_text {
            Some(text) => self.replica(name, name_text, text)?,
            None => 0,
        };
        let mut listed = None;
        let Some(&what) = tokens.get(2) else {
            return Err(self.error(
                name.column + name.text.chars().count(),
                "expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`, `metrics_only`, `configure key=value ...`) after the breaker name",
            ).into());
        };
        if what.text == "configure" {
            return self
                .configure(t_ns, breaker, what, &tokens[3..])
                .map(|parsed| match parsed {
                    Parsed::Configure(line, change) => {
                        Parsed::Configure(line.on_replica(replica), change)
                    }
                    other => other,
                });
        }
        let first_word = what.text.split(',').next().unwrap_or("");
        let item = if let Some(outcome) = outcome_of(first_word) {
            let outcomes = self.outcomes(what)?;
            let latencies = match tokens.get(3) {
                Some(&lat) => self.latencies(lat)?,
                None => vec![(lat_column(what), 0)],
            };
            if let Some(extra) = tokens.get(4) {
                return Err(self
                    .error(
                        extra.column,
                        format!(
                            "unexpected `{}`; a call line is `<time> <breaker> <outcome>[,<outcome>...] [latency[,latency...]]`",
                            extra.text
                        ),
                    )
                    .into());
            }
            let latency_ns = latencies[0].1;
            if outcomes.len() > 1 || latencies.len() > 1 {
                let decl = &self.trace.breakers[breaker as usize];
                self.check_attempts(decl, &outcomes, &latencies)?;
                listed = Some((
                    outcomes.iter().map(|o| o.1).collect(),
                    latencies.iter().map(|l| l.1).collect(),
                ));
            }
            Item::Call {
                outcome,
                latency_ns,
            }
        } else {
            let action = match what.text {
                "trip" => Action::Trip,
                "force_open" => Action::ForceOpen,
                "disable" => Action::Disable,
                "reset" => Action::Reset,
                "metrics_only" => Action::MetricsOnly,
                other => {
                    let other = if other.contains(',') {
                        first_word
                    } else {
                        other
                    };
                    let hint = did_you_mean(other, OUTCOMES.into_iter().chain(ACTIONS));
                    return Err(self.error(
                        what.column,
                        format!(
                            "expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`, `metrics_only`, `configure key=value ...`), found `{other}`{hint}"
                        ),
                    ).into());
                }
            };
            if let Some(extra) = tokens.get(3) {
                return Err(self.error(
                    extra.column,
                    format!(
                        "unexpected `{}` after action `{}`; an action line is `<time> <breaker> <action>`",
                        extra.text, what.text
                    ),
                ).into());
            }
            Item::Action(action)
        };
        Ok(Parsed::Timed(
            Line::new(t_ns, breaker, item).on_replica(replica),
            listed,
        ))
    }

    /// The replica `text` names after `name@` in `token`: a number from 1
    /// to the replay's replicas (`--replicas N`), reported at its column.
    fn replica(&self, token: Token<'_>, name: &str, text: &str) -> Result<u16, TraceError> {
        let column = token.column + name.chars().count() + 1;
        let n = self.replicas;
        let expected = if n == 1 {
            "this replay has one replica; name replicas in a replay of a fleet (`--replicas N`)"
                .to_string()
        } else {
            format!("expected a replica from 1 to {n} (`--replicas {n}`)")
        };
        let number = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u64>().ok())
            .flatten();
        match number {
            Some(r) if r >= 1 && r <= u64::from(n) => Ok(r as u16),
            Some(r) => Err(self.error(column, format!("no replica {r} of `{name}`: {expected}"))),
            None if text.is_empty() => Err(self.error(
                column,
                format!(
                    "expected a replica number after `{name}@`, such as `{name}@2`: {expected}"
                ),
            )),
            None => Err(self.error(
                column,
                format!("expected a replica number after `{name}@`, found `{text}`: {expected}"),
            )),
        }
    }

    /// The comma-separated outcomes of `token`, each with its column.
    fn outcomes(&self, token: Token<'_>) -> Result<Vec<(usize, Outcome)>, TraceError> {
        pieces(token)
            .map(|(column, piece)| match outcome_of(piece) {
                Some(o) => Ok((column, o)),
                None if piece.is_empty() => Err(self.error(
                    column,
                    "expected an outcome (`ok`, `err`, `ignored`, `panic`) in the list of attempts; items are separated by one `,`",
                )),
                None => {
                    let hint = did_you_mean(piece, OUTCOMES);
                    Err(self.error(
                        column,
                        format!(
                            "expected an outcome (`ok`, `err`, `ignored`, `panic`) in the list of attempts, found `{piece}`{hint}"
                        ),
                    ))
                }
            })
            .collect()
    }

    /// The comma-separated latencies of `token`, each with its column.
    fn latencies(&self, token: Token<'_>) -> Result<Vec<(usize, u64)>, TraceError> {
        pieces(token)
            .map(|(column, piece)| {
                if piece.is_empty() {
                    return Err(self.error(
                        column,
                        "expected a latency (such as `200ms`) in the list of attempts; items are separated by one `,`",
                    ));
                }
                let skip = column - token.column;
                self.duration(token, piece, skip, "latency")
                    .map(|ns| (column, ns))
            })
            .collect()
    }

    /// A call line's lists of attempts against its breaker's `retry` (and
    /// `timeout`): no more items than attempts, and none after an attempt
    /// that surely ends the call.
    fn check_attempts(
        &self,
        decl: &Declaration,
        outcomes: &[(usize, Outcome)],
        latencies: &[(usize, u64)],
    ) -> Result<(), TraceError> {
        let n = outcomes.len().max(latencies.len());
        // The column of item `i` in the longer list (the outcomes on a tie).
        let column = |i: usize| {
            outcomes
                .get(i)
                .map(|o| o.0)
                .or_else(|| latencies.get(i).map(|l| l.0))
                .unwrap_or(1)
        };
        let attempts = decl.config.attempts() as usize;
        if attempts == 1 {
            return Err(self.error(
                column(1),
                format!(
                    "breaker `{}` makes one attempt per call; a list of attempts needs `retry = N` on its declaration (line {})",
                    decl.name, decl.line_no
                ),
            ));
        }
        if n > attempts {
            return Err(self.error(
                column(attempts),
                format!(
                    "breaker `{}` makes at most {attempts} attempts (`retry={attempts}`), but this list has {n}",
                    decl.name
                ),
            ));
        }
        let item = |list_len: usize, i: usize| i.min(list_len - 1);
        for i in 0..n - 1 {
            let outcome = outcomes[item(outcomes.len(), i)].1;
            let latency = latencies[item(latencies.len(), i)].1;
            let times_out = decl.config.timeout.is_some_and(|t| latency > t);
            if outcome != Outcome::Err && !times_out {
                return Err(self.error(
                    column(i + 1),
                    format!(
                        "attempt {} never runs: attempt {} (`{}`{}) ends the call; only `err` and a timeout are retried",
                        i + 1,
                        i,
                        outcome.as_str(),
                        if decl.config.timeout.is_some() {
                            ", within the timeout"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sets each `key=value` word over `config`, as a declaration does
    /// (`patch` false) or a `configure` line (`patch` true: a key given
    /// before gives way); returns the keys with their words, so that a
    /// cross-key rule broken later points at the key it names.
    fn keys<'a>(
        &self,
        config: &mut BreakerConfig,
        tokens: &[Token<'a>],
        patch: bool,
    ) -> Result<Vec<(&'a str, Token<'a>)>, TraceError> {
        let mut seen: Vec<(&str, Token<'_>)> = Vec::new();
        for &token in tokens {
            let Some((key, value)) = token.text.split_once('=') else {
                let hint = did_you_mean(token.text, KEYS.iter().copied());
                return Err(self.error(
                    token.column,
                    format!(
                        "expected `key=value` (such as `fail_max=5`), found `{}`{hint}",
                        token.text
                    ),
                ));
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(self.error(
                    token.column,
                    format!(
                        "duplicate key `{key}`: already set at column {}",
                        first.column
                    ),
                ));
            }
            if patch && RETRY_KEYS.contains(&key) {
                return Err(self.error(
                    token.column,
                    format!(
                        "`{key}` shapes the caller's retries, not the breaker; a `configure` line takes the breaker's own keys (such as `fail_max`, `reset` or `timeout`)"
                    ),
                ));
            }
            let value_column = token.column + key.chars().count() + 1;
            if value.is_empty() {
                return Err(self.error(value_column, format!("expected a value after `{key}=`")));
            }
            let set = if patch {
                config.patch(key, value)
            } else {
                config.set(key, value)
            };
            set.map_err(|e| {
                let column = if KEYS.contains(&key) {
                    value_column
                } else {
                    token.column
                };
                self.error(column, e.message)
            })?;
            seen.push((key, token));
        }
        Ok(seen)
    }

    /// A `configure` line of breaker `breaker` at `t_ns` (`what` is the word
    /// `configure`): its keys patch the breaker's configuration so far, and
    /// the result is checked whole, as a declaration is.
    fn configure(
        &self,
        t_ns: u64,
        breaker: u32,
        what: Token<'_>,
        tokens: &[Token<'_>],
    ) -> Result<Parsed, Mistake> {
        let b = breaker as usize;
        if tokens.is_empty() {
            return Err(self
                .error(
                    lat_column(what),
                    "expected `key=value` after `configure`, such as `configure fail_max=10 reset=1m`: the keys of the breaker to change",
                )
                .into());
        }
        let mut config = self.configs.get(b).cloned().unwrap_or_default();
        let seen = self.keys(&mut config, tokens, true)?;
        config
            .validate()
            .map_err(|e| match seen.iter().find(|(k, _)| *k == e.key) {
                Some((_, token)) => self.error(token.column, e.message),
                // A rule broken by a key given earlier: point at this line's first key.
                None => self.error(
                    tokens[0].column,
                    format!(
                        "{}; this line's keys leave breaker `{}` so configured",
                        e.message, self.trace.breakers[b].name
                    ),
                ),
            })?;
        let change = Reconfiguration {
            breaker: b,
            line_no: self.line_no,
            keys: seen
                .iter()
                .map(|(k, t)| {
                    let value = t.text.split_once('=').map_or("", |(_, v)| v);
                    (k.to_string(), value.to_string())
                })
                .collect(),
            config,
        };
        let line = Line::configure(t_ns, breaker, self.trace.reconfigurations.len());
        Ok(Parsed::Configure(line, change))
    }

    /// A declaration; `None` for a breaker an earlier file of the trace
    /// declared alike (a rotated recording declares its breakers again at
    /// the top of every file, so that each replays on its own).
    fn declaration(&self, tokens: &[Token<'_>]) -> Result<Option<Declaration>, TraceError> {
        let Some(&name) = tokens.get(1) else {
            return Err(self.error(
                tokens[0].column + "breaker".len(),
                "expected a breaker name after `breaker`",
            ));
        };
        if !valid_name(name.text) {
            return Err(self.error(
                name.column,
                format!(
                    "invalid breaker name `{}`; expected letters, digits, `_`, `-`, `.`, `:` or `/`",
                    name.text
                ),
            ));
        }
        let earlier = self.trace.breakers.iter().position(|b| b.name == name.text);
        if let Some(i) = earlier.filter(|&i| self.declared_in.get(i) < Some(&self.file_index)) {
            let mut config = BreakerConfig::default();
            self.keys(&mut config, &tokens[2..], false)?;
            let other = &self.trace.breakers[i];
            if config == other.config || self.configs.get(i) == Some(&config) {
                return Ok(None);
            }
            return Err(self.error(
                name.column,
                format!(
                    "breaker `{}` is declared again with another configuration than in an earlier file (line {}); the files of one trace must declare a breaker alike",
                    name.text, other.line_no
                ),
            ));
        }
        if let Some(other) = earlier.map(|i| &self.trace.breakers[i]) {
            return Err(self.error(
                name.column,
                format!(
                    "duplicate breaker `{}`: already declared on line {}",
                    name.text, other.line_no
                ),
            ));
        }
        if u32::try_from(self.trace.breakers.len()).is_err() {
            return Err(self.error(name.column, "too many breakers"));
        }
        let mut config = BreakerConfig::default();
        let seen = self.keys(&mut config, &tokens[2..], false)?;
        config.validate().map_err(|e| {
            let column = seen
                .iter()
                .find(|(k, _)| *k == e.key)
                .map_or(name.column, |(_, t)| t.column);
            self.error(column, e.message)
        })?;
        Ok(Some(Declaration {
            name: name.text.to_string(),
            config,
            line_no: self.line_no,
        }))
    }
}
