//! The trace format of TRACES.md: a typed model and its parser.
//!
//! Parsing never panics. A mistake is reported as `FILE:LINE:COLUMN: message`
//! (columns count characters from 1), naming what was expected.

use std::collections::HashMap;
use std::fmt;

use crate::config::{BreakerConfig, KEYS};
use crate::duration::{format_duration, parse_duration};
use crate::suggest::did_you_mean;

/// What a call would do if admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `ok`: a success.
    Ok,
    /// `err`: a failure.
    Err,
    /// `ignored`: an error the classifier excludes; counts as a success.
    Ignored,
    /// `panic`: a failure.
    Panic,
}

impl Outcome {
    /// Whether this outcome is a failure (before any timeout).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Err | Outcome::Panic)
    }

    /// The trace keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Err => "err",
            Outcome::Ignored => "ignored",
            Outcome::Panic => "panic",
        }
    }
}

/// An operator action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `trip`: Open now for `reset`.
    Trip,
    /// `force_open`: ForcedOpen until `reset`.
    ForceOpen,
    /// `disable`: Disabled until `reset`.
    Disable,
    /// `reset`: Closed, every counter cleared.
    Reset,
}

impl Action {
    /// The trace keyword, also written in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trip => "trip",
            Action::ForceOpen => "force_open",
            Action::Disable => "disable",
            Action::Reset => "reset",
        }
    }
}

/// What a timed line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A call with what it would do and how long it would run.
    Call {
        /// The outcome if admitted.
        outcome: Outcome,
        /// The latency if admitted, in ns.
        latency_ns: u64,
    },
    /// An operator action.
    Action(Action),
}

/// A timed line of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Absolute virtual time, in ns.
    pub t_ns: u64,
    /// Index of the breaker in [`Trace::breakers`].
    pub breaker: usize,
    /// The call or action.
    pub item: Item,
    /// The 1-based line number in the file.
    pub line_no: usize,
}

/// A `breaker` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The breaker's name.
    pub name: String,
    /// Its configuration.
    pub config: BreakerConfig,
    /// The 1-based line number of the declaration.
    pub line_no: usize,
}

/// A parsed trace: the breakers in declaration order and the timed lines in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    /// Declared breakers.
    pub breakers: Vec<Declaration>,
    /// Calls and actions, times never decreasing.
    pub lines: Vec<Line>,
}

/// A mistake in a trace, at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    /// The file name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TraceError {}

const OUTCOMES: [&str; 4] = ["ok", "err", "ignored", "panic"];
const ACTIONS: [&str; 4] = ["trip", "force_open", "disable", "reset"];

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
        // Fast path: columns are byte offsets + 1.
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

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
}

struct Parser<'a> {
    file: &'a str,
    line_no: usize,
}

impl Parser<'_> {
    fn error(&self, column: usize, message: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.to_string(),
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
}

/// The line on which `name` is first declared, to tell "used before its
/// declaration" from "unknown". Only an error needs it, so it is a second
/// scan on the error path rather than a pass over every trace.
fn declared_on(text: &str, name: &str) -> Option<usize> {
    let mut tokens = Vec::with_capacity(8);
    text.lines().enumerate().find_map(|(i, line)| {
        if !line.trim_start().starts_with("breaker") {
            return None;
        }
        tokenize(line, &mut tokens);
        match tokens.as_slice() {
            [first, declared, ..] if first.text == "breaker" && declared.text == name => {
                Some(i + 1)
            }
            _ => None,
        }
    })
}

/// Parses a trace. `file` names it in error messages.
pub fn parse(file: &str, text: &str) -> Result<Trace, TraceError> {
    let mut tokens = Vec::with_capacity(8);

    let mut trace = Trace::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut previous: Option<u64> = None;
    for (i, line) in text.lines().enumerate() {
        let p = Parser {
            file,
            line_no: i + 1,
        };
        tokenize(line, &mut tokens);
        let Some(&first) = tokens.first() else {
            continue;
        };
        if first.text == "breaker" {
            let decl = parse_declaration(&p, &tokens, &trace)?;
            index.insert(decl.name.clone(), trace.breakers.len());
            trace.breakers.push(decl);
            continue;
        }
        // A timed line.
        let (relative, time_text) = match first.text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, first.text),
        };
        if !time_text.starts_with(|c: char| c.is_ascii_digit()) {
            let hint = did_you_mean(first.text, ["breaker"]);
            return Err(p.error(
                first.column + usize::from(relative),
                format!(
                    "expected a time (such as `10ms` or `+5ms`) or `breaker`, found `{}`{hint}",
                    first.text
                ),
            ));
        }
        let d = p.duration(first, time_text, usize::from(relative), "time")?;
        let t_ns = if relative {
            previous
                .unwrap_or(0)
                .checked_add(d)
                .ok_or_else(|| p.error(first.column, "time is too large"))?
        } else {
            d
        };
        if let Some(prev) = previous {
            if t_ns < prev {
                return Err(p.error(
                    first.column,
                    format!(
                        "time goes backwards: `{}` is before the previous line's time {}; expected {} or later (or a relative time such as `+5ms`)",
                        first.text,
                        format_duration(prev),
                        format_duration(prev)
                    ),
                ));
            }
        }
        let Some(&name) = tokens.get(1) else {
            return Err(p.error(
                first.column + first.text.chars().count(),
                "expected a breaker name after the time",
            ));
        };
        // A few breakers are found faster by a scan than by hashing.
        let found = if trace.breakers.len() <= 8 {
            trace.breakers.iter().position(|b| b.name == name.text)
        } else {
            index.get(name.text).copied()
        };
        let Some(breaker) = found else {
            let message = match declared_on(text, name.text) {
                Some(at) => format!(
                    "breaker `{}` is used before its declaration on line {at}; declare every breaker before its first call",
                    name.text
                ),
                None => {
                    let hint =
                        did_you_mean(name.text, trace.breakers.iter().map(|b| b.name.as_str()));
                    let hint = if hint.is_empty() {
                        format!("; declare it first with `breaker {} ...`", name.text)
                    } else {
                        hint
                    };
                    format!("unknown breaker `{}`{hint}", name.text)
                }
            };
            return Err(p.error(name.column, message));
        };
        let Some(&what) = tokens.get(2) else {
            return Err(p.error(
                name.column + name.text.chars().count(),
                "expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`) after the breaker name",
            ));
        };
        let outcome = match what.text {
            "ok" => Some(Outcome::Ok),
            "err" => Some(Outcome::Err),
            "ignored" => Some(Outcome::Ignored),
            "panic" => Some(Outcome::Panic),
            _ => None,
        };
        let item = if let Some(outcome) = outcome {
            let latency_ns = match tokens.get(3) {
                Some(&lat) => p.duration(lat, lat.text, 0, "latency")?,
                None => 0,
            };
            if let Some(extra) = tokens.get(4) {
                return Err(p.error(
                    extra.column,
                    format!(
                        "unexpected `{}`; a call line is `<time> <breaker> <outcome> [latency]`",
                        extra.text
                    ),
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
                other => {
                    let hint = did_you_mean(other, OUTCOMES.into_iter().chain(ACTIONS));
                    return Err(p.error(
                        what.column,
                        format!(
                            "expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`), found `{other}`{hint}"
                        ),
                    ));
                }
            };
            if let Some(extra) = tokens.get(3) {
                return Err(p.error(
                    extra.column,
                    format!(
                        "unexpected `{}` after action `{}`; an action line is `<time> <breaker> <action>`",
                        extra.text, what.text
                    ),
                ));
            }
            Item::Action(action)
        };
        previous = Some(t_ns);
        trace.lines.push(Line {
            t_ns,
            breaker,
            item,
            line_no: i + 1,
        });
    }
    Ok(trace)
}

fn parse_declaration(
    p: &Parser<'_>,
    tokens: &[Token<'_>],
    trace: &Trace,
) -> Result<Declaration, TraceError> {
    let Some(&name) = tokens.get(1) else {
        return Err(p.error(
            tokens[0].column + "breaker".len(),
            "expected a breaker name after `breaker`",
        ));
    };
    if !valid_name(name.text) {
        return Err(p.error(
            name.column,
            format!(
                "invalid breaker name `{}`; expected letters, digits, `_`, `-`, `.`, `:` or `/`",
                name.text
            ),
        ));
    }
    if let Some(other) = trace.breakers.iter().find(|b| b.name == name.text) {
        return Err(p.error(
            name.column,
            format!(
                "duplicate breaker `{}`: already declared on line {}",
                name.text, other.line_no
            ),
        ));
    }
    let mut config = BreakerConfig::default();
    let mut seen: Vec<(&str, Token<'_>)> = Vec::new();
    for &token in &tokens[2..] {
        let Some((key, value)) = token.text.split_once('=') else {
            let hint = did_you_mean(token.text, KEYS.iter().copied());
            return Err(p.error(
                token.column,
                format!(
                    "expected `key=value` (such as `fail_max=5`), found `{}`{hint}",
                    token.text
                ),
            ));
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(p.error(
                token.column,
                format!(
                    "duplicate key `{key}`: already set at column {}",
                    first.column
                ),
            ));
        }
        let value_column = token.column + key.chars().count() + 1;
        if value.is_empty() {
            return Err(p.error(value_column, format!("expected a value after `{key}=`")));
        }
        config.set(key, value).map_err(|e| {
            let column = if KEYS.contains(&key) {
                value_column
            } else {
                token.column
            };
            p.error(column, e.message)
        })?;
        seen.push((key, token));
    }
    config.validate().map_err(|e| {
        let column = seen
            .iter()
            .find(|(k, _)| *k == e.key)
            .map_or(name.column, |(_, t)| t.column);
        p.error(column, e.message)
    })?;
    Ok(Declaration {
        name: name.text.to_string(),
        config,
        line_no: p.line_no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        parse("t.trace", text).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_example_of_traces_md() {
        let text = "# comment\n\nbreaker db fail_max=5 reset=30s success=2\nbreaker search failure_rate=50 window=20 min_calls=10 reset=10s\n0s      db ok\n10ms    db err\n+5ms    db err 200ms\n1m      db panic\n1m1s    search ok 3s\n2m      db trip\n";
        let trace = parse("t.trace", text).unwrap();
        assert_eq!(trace.breakers.len(), 2);
        assert_eq!(trace.breakers[0].config.fail_max, Some(5));
        assert_eq!(trace.breakers[1].config.failure_rate, Some(5000));
        let times: Vec<u64> = trace.lines.iter().map(|l| l.t_ns).collect();
        assert_eq!(
            times,
            [
                0,
                10_000_000,
                15_000_000,
                60_000_000_000,
                61_000_000_000,
                120_000_000_000
            ]
        );
        assert_eq!(
            trace.lines[2].item,
            Item::Call {
                outcome: Outcome::Err,
                latency_ns: 200_000_000
            }
        );
        assert_eq!(trace.lines[5].item, Item::Action(Action::Trip));
        assert_eq!(trace.lines[4].breaker, 1);
        assert_eq!(trace.lines[0].line_no, 5);
    }

    #[test]
    fn comments_may_follow_items() {
        let trace = parse("t", "breaker a # the db\n0s a ok 1ms # slow one\n").unwrap();
        assert_eq!(trace.lines.len(), 1);
    }

    #[test]
    fn first_relative_time_counts_from_zero() {
        let trace = parse("t", "breaker a\n+5ms a ok\n+5ms a ok\n").unwrap();
        assert_eq!(trace.lines[1].t_ns, 10_000_000);
    }

    #[test]
    fn reports_unknown_breaker_with_suggestion() {
        assert_eq!(
            error("breaker db\n0s dbb ok\n"),
            "t.trace:2:4: unknown breaker `dbb`; did you mean `db`?"
        );
        assert!(error("0s x ok\n").contains("unknown breaker `x`; declare it first"));
    }

    #[test]
    fn reports_call_before_declaration() {
        assert_eq!(
            error("0s db ok\nbreaker db\n"),
            "t.trace:1:4: breaker `db` is used before its declaration on line 2; declare every breaker before its first call"
        );
    }

    #[test]
    fn reports_time_going_backwards() {
        let e = error("breaker a\n10s a ok\n5s a ok\n");
        assert!(e.starts_with("t.trace:3:1: time goes backwards"), "{e}");
    }

    #[test]
    fn reports_bad_unit_at_the_unit() {
        assert_eq!(
            error("breaker a\n5sec a ok\n"),
            "t.trace:2:2: bad time: unknown unit `sec` in duration `5sec`; expected one of ns, us, ms, s, m, h"
        );
        let e = error("breaker a\n0s a ok 3x\n");
        assert!(
            e.starts_with("t.trace:2:10: bad latency: unknown unit `x`"),
            "{e}"
        );
        let e = error("breaker a\n+5 a ok\n");
        assert!(
            e.starts_with("t.trace:2:3: bad time: duration `5` has no unit"),
            "{e}"
        );
    }

    #[test]
    fn reports_unknown_key_with_suggestion() {
        assert_eq!(
            error("breaker a fail_mx=3\n"),
            "t.trace:1:11: unknown key `fail_mx`; did you mean `fail_max`?"
        );
    }

    #[test]
    fn reports_duplicate_breaker() {
        assert_eq!(
            error("breaker a\nbreaker a\n"),
            "t.trace:2:9: duplicate breaker `a`: already declared on line 1"
        );
    }

    #[test]
    fn reports_duplicate_key() {
        assert!(
            error("breaker a reset=1s reset=2s\n")
                .starts_with("t.trace:1:20: duplicate key `reset`")
        );
    }

    #[test]
    fn reports_bad_config_values_at_the_value() {
        assert!(
            error("breaker a fail_max=0\n")
                .starts_with("t.trace:1:20: invalid `fail_max` value `0`")
        );
        assert!(error("breaker a failure_rate=100.5\n").contains("percentage in (0, 100]"));
        assert!(error("breaker a failure_rate=12.345\n").contains("at most two decimals"));
        assert!(error("breaker a backoff=0.5\n").contains("factor >= 1"));
        assert!(error("breaker a reset=0s\n").contains("duration > 0"));
        assert!(error("breaker a reset=5\n").contains("has no unit"));
        assert!(error("breaker a window=0\n").contains("invalid `window`"));
        assert!(error("breaker a reset=\n").contains("expected a value after `reset=`"));
        assert!(error("breaker a fail_max\n").contains("expected `key=value`"));
    }

    #[test]
    fn reports_inconsistent_configs() {
        assert_eq!(
            error("breaker a slow_rate=50\n"),
            "t.trace:1:11: `slow_rate` needs `slow` (the latency above which a call is slow)"
        );
        assert!(error("breaker a within=10s\n").contains("`within` needs `fail_max`"));
        assert!(
            error("breaker a failure_rate=50 window=10 min_calls=11\n").contains("must not exceed")
        );
        assert!(error("breaker a reset=10s backoff=2 reset_max=5s\n").contains("at least `reset`"));
        assert!(error("breaker a window=10\n").contains("`window` needs"));
        assert!(error("breaker a reset_max=1m\n").contains("give `backoff` too"));
        assert!(error("breaker a slow=0s\n").contains("duration > 0"));
    }

    #[test]
    fn reports_bad_outcome_with_suggestion() {
        assert_eq!(
            error("breaker a\n0s a eror\n"),
            "t.trace:2:6: expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`), found `eror`; did you mean `err`?"
        );
    }

    #[test]
    fn reports_missing_and_extra_fields() {
        assert!(error("breaker a\n0s\n").starts_with("t.trace:2:3: expected a breaker name"));
        assert!(error("breaker a\n0s a\n").starts_with("t.trace:2:5: expected an outcome"));
        assert!(error("breaker a\n0s a ok 1s 2s\n").starts_with("t.trace:2:12: unexpected `2s`"));
        assert!(
            error("breaker a\n0s a trip 1s\n")
                .starts_with("t.trace:2:11: unexpected `1s` after action")
        );
        assert!(
            error("breaker\n").starts_with("t.trace:1:8: expected a breaker name after `breaker`")
        );
        assert!(error("breakr a\n").contains("did you mean `breaker`?"));
        assert!(error("breaker a{b\n").contains("invalid breaker name"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "\u{0}",
            "é",
            "+",
            "+é",
            "0é a ok",
            "breaker é=",
            "breaker a\n0s a ok 1é",
            "breaker a\n1.s a ok",
            "\r\n",
            "breaker a =\n",
            "breaker a\n99999999999999999999h a ok",
        ] {
            let _ = parse("t", text);
        }
    }
}
