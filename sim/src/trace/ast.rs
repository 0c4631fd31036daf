//! The typed trace: what each line means once parsed (a call, an action, a
//! reconfiguration, a declaration), the trace they make, and what parsing answers (a parsed
//! line, or a mistake at a column). The parser (`mod.rs`) and both line
//! parsers stand on it; it imports none of them.

use std::fmt;

use crate::config::BreakerConfig;

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
    /// `metrics_only`: MetricsOnly (a dry run) until `reset` (an extension
    /// of TRACES.md's actions).
    MetricsOnly,
}

impl Action {
    /// The trace keyword, also written in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trip => "trip",
            Action::ForceOpen => "force_open",
            Action::Disable => "disable",
            Action::Reset => "reset",
            Action::MetricsOnly => "metrics_only",
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
    /// A `configure` line: the index of its [`Reconfiguration`] in
    /// [`Trace::reconfigurations`].
    Configure(usize),
}

/// A timed line of the trace, in 24 bytes: a day of traffic is millions of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Absolute virtual time, in ns.
    pub t_ns: u64,
    /// The latency of a call; 0 for an action; for a `configure` line, the
    /// index of its [`Reconfiguration`] (kept here so a line stays 24 bytes).
    latency_ns: u64,
    /// Index of the breaker in [`Trace::breakers`].
    breaker: u32,
    /// The replica the line names (`db@2`: 2), 0 for none: in the padding.
    replica: u16,
    what: What,
}

/// A line's outcome or action, in one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum What {
    Call(Outcome),
    Action(Action),
    Configure,
}

impl Line {
    /// A call of breaker `breaker` (an index in [`Trace::breakers`]) at `t_ns`.
    pub fn call(t_ns: u64, breaker: u32, outcome: Outcome, latency_ns: u64) -> Line {
        Line {
            t_ns,
            latency_ns,
            breaker,
            replica: 0,
            what: What::Call(outcome),
        }
    }

    /// An operator action on breaker `breaker` at `t_ns`.
    pub fn action(t_ns: u64, breaker: u32, action: Action) -> Line {
        Line {
            t_ns,
            latency_ns: 0,
            breaker,
            replica: 0,
            what: What::Action(action),
        }
    }

    /// The `configure` line of breaker `breaker` at `t_ns` whose keys are
    /// reconfiguration `index` of [`Trace::reconfigurations`].
    pub fn configure(t_ns: u64, breaker: u32, index: usize) -> Line {
        Line {
            t_ns,
            latency_ns: index as u64,
            breaker,
            replica: 0,
            what: What::Configure,
        }
    }

    /// A line of breaker `breaker` at `t_ns` doing `item`.
    pub fn new(t_ns: u64, breaker: u32, item: Item) -> Line {
        match item {
            Item::Call {
                outcome,
                latency_ns,
            } => Line::call(t_ns, breaker, outcome, latency_ns),
            Item::Action(action) => Line::action(t_ns, breaker, action),
            Item::Configure(index) => Line::configure(t_ns, breaker, index),
        }
    }

    /// Index of the breaker in [`Trace::breakers`].
    pub fn breaker(&self) -> usize {
        self.breaker as usize
    }

    /// This line, naming replica `replica` of a fleet (from 1; `db@2` in
    /// the trace), or none with 0.
    pub fn on_replica(mut self, replica: u16) -> Line {
        self.replica = replica;
        self
    }

    /// The replica of a fleet the line names (from 1), if it names one:
    /// a call line that names none goes to the replicas in turn.
    pub fn replica(&self) -> Option<u16> {
        (self.replica > 0).then_some(self.replica)
    }

    /// The call or action.
    pub fn item(&self) -> Item {
        match self.what {
            What::Call(outcome) => Item::Call {
                outcome,
                latency_ns: self.latency_ns,
            },
            What::Action(action) => Item::Action(action),
            // Stored from a `usize` by `Line::configure`.
            What::Configure => Item::Configure(self.latency_ns as usize),
        }
    }
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

/// The attempts a call line lists for a breaker with `retry`
/// (`err,err,ok 2s,10ms`): attempt k does the k-th outcome and runs the k-th
/// latency, a list shorter than the attempts repeating its last item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    /// The index of the call line in [`Trace::lines`] (which holds the first attempt).
    pub line: usize,
    /// One outcome or more.
    pub outcomes: Vec<Outcome>,
    /// One latency or more, in ns.
    pub latencies_ns: Vec<u64>,
}

/// A `configure` line's keys (SEMANTICS.md, "Reconfiguration"), and the
/// configuration they make of the breaker's: the one in force before the
/// line (its declaration, patched by the breaker's earlier `configure`
/// lines), patched with these keys and checked whole when the trace was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconfiguration {
    /// Index of the breaker in [`Trace::breakers`].
    pub breaker: usize,
    /// The 1-based line number of the `configure` line.
    pub line_no: usize,
    /// The `key=value` pairs as written, in order (the breaker's own keys only).
    pub keys: Vec<(String, String)>,
    /// The breaker's whole configuration from this line on.
    pub config: BreakerConfig,
}

impl Reconfiguration {
    /// The keys as the line writes them, `fail_max=10 reset=1m`: the patch
    /// breaker-core's `Breaker::reconfigure` takes.
    pub fn patch(&self) -> String {
        let pairs: Vec<String> = self.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join(" ")
    }
}

/// A parsed trace: the breakers in declaration order and the timed lines in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    /// Declared breakers.
    pub breakers: Vec<Declaration>,
    /// Calls, actions and reconfigurations, times never decreasing.
    pub lines: Vec<Line>,
    /// The call lines that list their attempts, in line order (few: a plain
    /// call line repeats its outcome and latency for every attempt).
    pub attempts: Vec<Attempts>,
    /// The `configure` lines' keys, in file order (few: operators' changes).
    pub reconfigurations: Vec<Reconfiguration>,
}

impl Trace {
    /// The configuration of breaker `breaker` (an index in
    /// [`Trace::breakers`]) in force after every line of the trace: its
    /// declaration's, patched by its `configure` lines.
    pub fn final_config(&self, breaker: usize) -> Option<&BreakerConfig> {
        self.reconfigurations
            .iter()
            .rev()
            .find(|r| r.breaker == breaker)
            .map(|r| &r.config)
            .or_else(|| self.breakers.get(breaker).map(|d| &d.config))
    }

    /// The declared configuration of every breaker, by index: where a
    /// replay starts before the `configure` lines patch it.
    pub fn initial_configs(&self) -> Vec<&BreakerConfig> {
        self.breakers.iter().map(|d| &d.config).collect()
    }

    /// What attempt `attempt` (0 is the call itself) of the call on line
    /// `line` (an index in [`Trace::lines`]) does: its outcome and latency.
    /// `None` if that line is not a call.
    pub fn attempt(&self, line: usize, attempt: u32) -> Option<(Outcome, u64)> {
        self.as_lines().attempt(line, attempt)
    }

    /// The timed lines, as a replay takes them.
    pub fn as_lines(&self) -> Lines<'_> {
        Lines {
            lines: &self.lines,
            attempts: &self.attempts,
            reconfigurations: &self.reconfigurations,
        }
    }

    /// Adds the lines of `chunk` after this trace's, with the lists and
    /// keys they refer to (indexed anew).
    pub fn append(&mut self, chunk: Chunk) {
        let (lines, lists) = (self.lines.len(), self.reconfigurations.len());
        self.lines
            .extend(chunk.lines.iter().map(|l| match l.item() {
                Item::Configure(i) => {
                    Line::configure(l.t_ns, l.breaker, lists + i).on_replica(l.replica)
                }
                _ => *l,
            }));
        self.attempts
            .extend(chunk.attempts.into_iter().map(|a| Attempts {
                line: a.line + lines,
                ..a
            }));
        self.reconfigurations.extend(chunk.reconfigurations);
    }
}

/// A run of timed lines with what they refer to: a whole [`Trace`], or one
/// [`Chunk`] of a trace read as a stream. Indices in it (an attempt list's
/// line, a `configure` line's reconfiguration) are the run's own.
#[derive(Debug, Clone, Copy)]
pub struct Lines<'a> {
    /// Calls, actions and reconfigurations, times never decreasing.
    pub lines: &'a [Line],
    /// The call lines that list their attempts, in line order.
    pub attempts: &'a [Attempts],
    /// The `configure` lines' keys, in order.
    pub reconfigurations: &'a [Reconfiguration],
}

impl<'a> Lines<'a> {
    /// The lists of attempts of line `line` (an index in `lines`), if it has them.
    pub fn listed(&self, line: usize) -> Option<&'a Attempts> {
        let i = self.attempts.binary_search_by_key(&line, |a| a.line).ok()?;
        self.attempts.get(i)
    }

    /// What attempt `attempt` (0 is the call itself) of the call on line
    /// `line` does: its outcome and latency. `None` if that line is not a call.
    pub fn attempt(&self, line: usize, attempt: u32) -> Option<(Outcome, u64)> {
        let Item::Call {
            outcome,
            latency_ns,
        } = self.lines.get(line)?.item()
        else {
            return None;
        };
        match self.listed(line) {
            Some(list) if attempt > 0 => Some(list.attempt(attempt)),
            _ => Some((outcome, latency_ns)),
        }
    }
}

impl Attempts {
    /// What attempt `attempt` does: the item of each list at that place, a
    /// shorter list repeating its last item.
    pub fn attempt(&self, attempt: u32) -> (Outcome, u64) {
        let pick = |len: usize| (attempt as usize).min(len.saturating_sub(1));
        (
            // The parser never makes an empty list.
            self.outcomes
                .get(pick(self.outcomes.len()))
                .copied()
                .unwrap_or(Outcome::Ok),
            self.latencies_ns
                .get(pick(self.latencies_ns.len()))
                .copied()
                .unwrap_or(0),
        )
    }
}

/// A piece of a trace read as a stream: its timed lines since the piece
/// before, where they were written, and the lists and keys they refer to.
/// The breakers stay with the parser, which declares them as they come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    /// The file the lines come from, as named.
    pub file: String,
    /// Calls, actions and reconfigurations, times never decreasing.
    pub lines: Vec<Line>,
    /// The 1-based line number in `file` of each of `lines`.
    pub line_nos: Vec<usize>,
    /// The call lines that list their attempts (indices in `lines`).
    pub attempts: Vec<Attempts>,
    /// The `configure` lines' keys, in file order.
    pub reconfigurations: Vec<Reconfiguration>,
}

impl Chunk {
    /// The timed lines, as a replay takes them.
    pub fn as_lines(&self) -> Lines<'_> {
        Lines {
            lines: &self.lines,
            attempts: &self.attempts,
            reconfigurations: &self.reconfigurations,
        }
    }
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

/// What a well-formed line holds.
pub(super) enum Parsed {
    /// A blank or comment line.
    Nothing,
    /// A `breaker` declaration.
    Declaration(Declaration),
    /// A call or an action; a call that lists its attempts, with its lists.
    Timed(Line, Option<Listed>),
    /// A `configure` line and its keys.
    Configure(Line, Reconfiguration),
}

/// A call line's lists of attempts: outcomes, and latencies in ns.
pub(super) type Listed = (Vec<Outcome>, Vec<u64>);

/// A mistake on a line.
pub(super) struct Mistake {
    pub(super) error: TraceError,
    /// The breaker a call named before any declaration of it: a later line
    /// may declare it, which changes the message.
    pub(super) undeclared: Option<String>,
}

impl From<TraceError> for Mistake {
    fn from(error: TraceError) -> Self {
        Mistake {
            error,
            undeclared: None,
        }
    }
}
