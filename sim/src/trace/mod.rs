//! The trace format of TRACES.md: a typed model and its parser.
//!
//! Parsing never panics. A mistake is reported as `FILE:LINE:COLUMN: message`
//! (columns count characters from 1), naming what was expected. [`read`]
//! parses a file piece by piece; [`parse`] parses text in memory.
//!
//! ```
//! let trace = breaker_sim::trace::parse("t.trace", "breaker db fail_max=2\n0s db ok 5ms\n").unwrap();
//! assert_eq!(trace.lines[0].t_ns, 0);
//! let e = breaker_sim::trace::parse("t.trace", "breaker db\n0s dbb ok\n").unwrap_err();
//! assert_eq!(e.to_string(), "t.trace:2:4: unknown breaker `dbb`; did you mean `db`?");
//! ```

mod any_line;
mod ast;
mod common_line;
pub mod input;
pub mod prefetch;
pub mod reader;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use crate::config::BreakerConfig;
use ast::Parsed;
pub use ast::{
    Action, Attempts, Chunk, Declaration, Item, Line, Lines, Outcome, Reconfiguration, Trace,
    TraceError,
};

/// Parses a trace line by line, from text that may arrive in pieces.
///
/// Plain call and action lines take a fast path straight from the bytes
/// (`common_line`); every other line (a `configure` line among them), and
/// every mistake, goes through the full parser (`any_line`), which alone writes error messages. Parsing stops
/// at the first mistake, except that after a call to an undeclared breaker
/// the rest is scanned for a later declaration of it, to say so.
///
/// Read as a stream, the lines parsed so far are taken out piece by piece
/// ([`TraceParser::take_chunk`]): only the breakers and their configurations
/// in force stay, so memory does not follow the trace.
#[derive(Debug)]
pub struct TraceParser {
    file: String,
    /// The line being parsed, from 1.
    line_no: usize,
    trace: Trace,
    /// The line number of each of `trace.lines`, when read as a stream
    /// (a whole trace does without them).
    line_nos: Vec<usize>,
    numbered: bool,
    /// Each breaker's configuration in force after the lines so far: what
    /// a `configure` line patches.
    configs: Vec<BreakerConfig>,
    /// The file of the trace (from 0) each breaker was declared in.
    declared_in: Vec<usize>,
    /// The file being parsed, from 0.
    file_index: usize,
    /// Breakers by name, used once there are more than a few.
    index: HashMap<String, u32>,
    /// The previous timed line's time.
    previous: Option<u64>,
    failure: Option<Failure>,
    fast_path: bool,
    /// The replicas of the replay (`--replicas N`): what `db@R` may name.
    replicas: u16,
}

#[derive(Debug)]
struct Failure {
    error: TraceError,
    /// A breaker called before any declaration: later lines are scanned for one.
    undeclared: Option<String>,
    /// The mistake is on the file's last line, which has no `\n`: a line cut
    /// short (a recorder stopped mid-write).
    truncated: bool,
}

/// How many breakers a linear scan finds faster than hashing.
const SCAN: usize = 8;

impl TraceParser {
    /// A parser for the trace `file` (the name errors give).
    pub fn new(file: &str) -> TraceParser {
        TraceParser {
            file: file.to_string(),
            line_no: 0,
            trace: Trace::default(),
            line_nos: Vec::new(),
            numbered: false,
            configs: Vec::new(),
            declared_in: Vec::new(),
            file_index: 0,
            index: HashMap::new(),
            previous: None,
            failure: None,
            fast_path: true,
            replicas: 1,
        }
    }

    /// The same parser for a replay of a fleet of `replicas` (`--replicas
    /// N`): a line may name one of them (`db@2`), from 1 to `replicas`.
    pub fn with_replicas(mut self, replicas: u16) -> TraceParser {
        self.replicas = replicas.max(1);
        self
    }

    /// A parser for the trace `file` read as a stream: its lines are taken
    /// out piece by piece, each with its line number ([`TraceParser::take_chunk`]).
    pub fn streamed(file: &str) -> TraceParser {
        TraceParser {
            numbered: true,
            ..TraceParser::new(file)
        }
    }

    /// The same parser without its fast path, to check that both agree.
    #[doc(hidden)]
    pub fn without_fast_path(mut self) -> TraceParser {
        self.fast_path = false;
        self
    }

    /// Parses the whole lines (ended by `\n`) at the start of `bytes`, and
    /// with `eof` the rest as the last line. Returns how many bytes it took:
    /// give the rest again, with more after it.
    pub fn push(&mut self, bytes: &[u8], eof: bool) -> usize {
        let mut pos = 0;
        while pos < bytes.len() {
            if self.stopped() {
                return bytes.len();
            }
            if self.fast_path && self.failure.is_none() {
                if let Some((line, used)) = self.fast(&bytes[pos..]) {
                    self.line_no += 1;
                    self.previous = Some(line.t_ns);
                    self.trace.lines.push(line);
                    if self.numbered {
                        self.line_nos.push(self.line_no);
                    }
                    pos += used;
                    continue;
                }
            }
            let rest = &bytes[pos..];
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.line(&rest[..end]);
                    pos += end + 1;
                }
                None if eof => {
                    let before = self.failure.is_some();
                    self.line(rest);
                    if let Some(f) = self.failure.as_mut().filter(|_| !before) {
                        f.truncated = true;
                    }
                    pos = bytes.len();
                }
                None => break,
            }
        }
        pos
    }

    /// Whether the outcome is known whatever follows (a mistake was found),
    /// so a reader may stop reading.
    pub fn stopped(&self) -> bool {
        self.failure
            .as_ref()
            .is_some_and(|f| f.undeclared.is_none())
    }

    /// The trace, or the first mistake in it.
    pub fn finish(self) -> Result<Trace, TraceError> {
        match self.failure {
            Some(f) => Err(f.error),
            None => Ok(self.trace),
        }
    }

    /// The first mistake found so far, and whether it is a last line cut
    /// short (the file's last line, without `\n`).
    pub fn mistake(&self) -> Option<(&TraceError, bool)> {
        self.failure.as_ref().map(|f| (&f.error, f.truncated))
    }

    /// The last line parsed, from 1 in the current file.
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    /// The breakers declared so far, in declaration order.
    pub fn breakers(&self) -> &[Declaration] {
        &self.trace.breakers
    }

    /// Takes the lines parsed since the last call (or the start), with the
    /// lists and keys they refer to, indexed anew from 0.
    pub fn take_chunk(&mut self) -> Chunk {
        Chunk {
            file: self.file.clone(),
            lines: std::mem::take(&mut self.trace.lines),
            line_nos: std::mem::take(&mut self.line_nos),
            attempts: std::mem::take(&mut self.trace.attempts),
            reconfigurations: std::mem::take(&mut self.trace.reconfigurations),
        }
    }

    /// Goes on with the next file of a trace written in several (rotated
    /// files): its lines count from 1 and errors name it; breakers, the
    /// configurations in force and the previous line's time carry over.
    /// Take the chunk of the file before first.
    pub fn next_file(&mut self, file: &str) {
        self.file = file.to_string();
        self.line_no = 0;
        self.file_index += 1;
    }

    fn line(&mut self, bytes: &[u8]) {
        self.line_no += 1;
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                if self.failure.is_none() {
                    let valid = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
                    self.failure = Some(Failure {
                        error: TraceError {
                            file: self.file.clone(),
                            line: self.line_no,
                            column: valid.chars().count() + 1,
                            message: "invalid UTF-8; a trace is UTF-8 text".to_string(),
                        },
                        undeclared: None,
                        truncated: false,
                    });
                }
                return;
            }
        };
        if let Some(failure) = &mut self.failure {
            if let Some(name) = &failure.undeclared {
                if Self::declares(text, name) {
                    failure.error.message = format!(
                        "breaker `{name}` is used before its declaration on line {}; declare every breaker before its first call",
                        self.line_no
                    );
                    failure.undeclared = None;
                }
            }
            return;
        }
        match self.general(text) {
            Ok(Parsed::Nothing) => {}
            Ok(Parsed::Declaration(decl)) => {
                // `general` refuses a declaration beyond u32::MAX breakers.
                let index = self.trace.breakers.len() as u32;
                self.index.insert(decl.name.clone(), index);
                self.configs.push(decl.config.clone());
                self.declared_in.push(self.file_index);
                self.trace.breakers.push(decl);
            }
            Ok(Parsed::Timed(line, listed)) => {
                self.previous = Some(line.t_ns);
                if let Some((outcomes, latencies_ns)) = listed {
                    self.trace.attempts.push(Attempts {
                        line: self.trace.lines.len(),
                        outcomes,
                        latencies_ns,
                    });
                }
                self.trace.lines.push(line);
                if self.numbered {
                    self.line_nos.push(self.line_no);
                }
            }
            Ok(Parsed::Configure(line, change)) => {
                self.previous = Some(line.t_ns);
                if let Some(config) = self.configs.get_mut(change.breaker) {
                    *config = change.config.clone();
                }
                self.trace.reconfigurations.push(change);
                self.trace.lines.push(line);
                if self.numbered {
                    self.line_nos.push(self.line_no);
                }
            }
            Err(mistake) => {
                self.failure = Some(Failure {
                    error: mistake.error,
                    undeclared: mistake.undeclared,
                    truncated: false,
                })
            }
        }
    }

    /// The index of the breaker declared as `name`.
    fn find(&self, name: &str) -> Option<u32> {
        self.find_bytes(name.as_bytes())
    }

    fn find_bytes(&self, name: &[u8]) -> Option<u32> {
        if self.trace.breakers.len() <= SCAN {
            let i = self
                .trace
                .breakers
                .iter()
                .position(|b| b.name.as_bytes() == name)?;
            // At most SCAN breakers here.
            Some(i as u32)
        } else {
            self.index.get(std::str::from_utf8(name).ok()?).copied()
        }
    }
}

/// Parses a trace. `file` names it in error messages.
pub fn parse(file: &str, text: &str) -> Result<Trace, TraceError> {
    let mut parser = TraceParser::new(file);
    parser.push(text.as_bytes(), true);
    parser.finish()
}

/// Why a trace could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read.
    Io {
        /// The file name as given.
        file: String,
        /// What failed.
        error: std::io::Error,
    },
    /// The trace has a mistake.
    Trace(TraceError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { file, error } => write!(f, "{file}: cannot read the trace: {error}"),
            ReadError::Trace(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads and parses a trace piece by piece, so that the text is never held
/// whole: memory follows the parsed lines (24 bytes each), not the file.
pub fn read(file: &str, reader: impl Read) -> Result<Trace, ReadError> {
    read_in(file, reader, 1 << 20)
}

/// [`read`] with a buffer of `capacity` bytes to start with (it grows for a longer line).
#[doc(hidden)]
pub fn read_in(file: &str, mut reader: impl Read, capacity: usize) -> Result<Trace, ReadError> {
    let mut parser = TraceParser::new(file);
    let mut buffer = vec![0u8; capacity.max(1)];
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0);
        }
        let n = match reader.read(&mut buffer[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(ReadError::Io {
                    file: file.to_string(),
                    error,
                });
            }
        };
        filled += n;
        let eof = n == 0;
        let used = parser.push(&buffer[..filled], eof);
        if eof || parser.stopped() {
            break;
        }
        buffer.copy_within(used..filled, 0);
        filled -= used;
    }
    parser.finish().map_err(ReadError::Trace)
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
            trace.lines[2].item(),
            Item::Call {
                outcome: Outcome::Err,
                latency_ns: 200_000_000
            }
        );
        assert_eq!(trace.lines[5].item(), Item::Action(Action::Trip));
        assert_eq!(trace.lines[4].breaker(), 1);
    }

    #[test]
    fn configure_lines_patch_the_configuration_so_far() {
        let text = "breaker db fail_max=5 reset=30s success=2\n0s db ok\n3m db configure fail_max=10 reset=1m\n+1s db configure success=3 # later\n";
        let trace = parse("t.trace", text).unwrap();
        assert_eq!(trace.lines.len(), 3);
        assert_eq!(trace.lines[1].item(), Item::Configure(0));
        assert_eq!(trace.lines[2].item(), Item::Configure(1));
        assert_eq!(trace.lines[2].t_ns, 181_000_000_000);
        let [first, second] = &trace.reconfigurations[..] else {
            panic!("two reconfigurations");
        };
        assert_eq!(first.patch(), "fail_max=10 reset=1m");
        assert_eq!(
            (first.config.fail_max, first.config.reset),
            (Some(10), 60_000_000_000)
        );
        assert_eq!(second.patch(), "success=3");
        let c = &second.config;
        assert_eq!(
            (c.fail_max, c.reset, c.success),
            (Some(10), 60_000_000_000, 3)
        );
        assert_eq!(trace.final_config(0), Some(c));
        assert_eq!(
            trace.breakers[0].config.fail_max,
            Some(5),
            "the declaration stays"
        );
    }

    #[test]
    fn reports_bad_configure_lines_at_the_key() {
        assert_eq!(
            error("breaker db\n0s db configure\n"),
            "t.trace:2:17: expected `key=value` after `configure`, such as `configure fail_max=10 reset=1m`: the keys of the breaker to change"
        );
        assert_eq!(
            error("breaker db\n0s db configure fail_max=3 reset=0s\n"),
            "t.trace:2:34: invalid `reset` value `0s`; expected a duration > 0"
        );
        assert_eq!(
            error("breaker db\n0s db configure fail_mx=3\n"),
            "t.trace:2:17: unknown key `fail_mx`; did you mean `fail_max`?"
        );
        assert!(
            error("breaker db\n0s db configure retry=3\n")
                .starts_with("t.trace:2:17: `retry` shapes the caller's retries")
        );
        assert!(
            error("breaker db\n0s db configure reset=1s reset=2s\n")
                .starts_with("t.trace:2:26: duplicate key `reset`")
        );
        // Checked whole against the configuration so far.
        assert_eq!(
            error("breaker db failure_rate=50 window=10\n0s db configure min_calls=11\n"),
            "t.trace:2:17: `min_calls` (11) must not exceed `window` (10 calls)"
        );
        assert_eq!(
            error(
                "breaker db failure_rate=50 window=10 min_calls=8\n0s db configure success=3 window=5\n"
            ),
            "t.trace:2:17: `min_calls` (8) must not exceed `window` (5 calls); this line's keys leave breaker `db` so configured"
        );
        assert_eq!(
            error(
                "breaker db\n0s db configure fail_max=3\n1s db configure within=5s slow_rate=5\n"
            ),
            "t.trace:3:27: `slow_rate` needs `slow` (the latency above which a call is slow)"
        );
        assert!(
            error("breaker db\n0s db confgure fail_max=3\n").contains("did you mean `configure`?")
        );
        assert!(
            error("breaker db\n0s dbx configure fail_max=3\n").contains("unknown breaker `dbx`")
        );
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
        assert_eq!(
            error("breaker a max_half_open_wait=0s\n"),
            "t.trace:1:30: invalid `max_half_open_wait` value `0s`; expected a duration > 0"
        );
        assert!(
            error("breaker a max_half_open_wai=1s\n")
                .contains("did you mean `max_half_open_wait`?")
        );
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
            "t.trace:2:6: expected an outcome (`ok`, `err`, `ignored`, `panic`) or an action (`trip`, `force_open`, `disable`, `reset`, `metrics_only`, `configure key=value ...`), found `eror`; did you mean `err`?"
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
    fn call_lines_may_list_their_attempts_on_a_breaker_with_retry() {
        let trace = parse(
            "t",
            "breaker a retry=3 timeout=1s\n0s a err,ok 5ms\n1s a ok,ok,err 2s,2s,1ms\n2s a err 1ms,2ms\n3s a panic\n",
        )
        .unwrap();
        assert_eq!(trace.attempts.len(), 3);
        assert_eq!(trace.attempt(0, 0), Some((Outcome::Err, 5_000_000)));
        assert_eq!(trace.attempt(0, 1), Some((Outcome::Ok, 5_000_000)));
        assert_eq!(trace.attempt(0, 7), Some((Outcome::Ok, 5_000_000)));
        assert_eq!(trace.attempt(1, 2), Some((Outcome::Err, 1_000_000)));
        assert_eq!(trace.attempt(2, 1), Some((Outcome::Err, 2_000_000)));
        // A plain line repeats itself.
        assert_eq!(trace.attempt(3, 2), Some((Outcome::Panic, 0)));
        assert_eq!(
            trace.lines[1].item(),
            Item::Call {
                outcome: Outcome::Ok,
                latency_ns: 2_000_000_000
            }
        );
    }

    #[test]
    fn reports_lists_of_attempts_that_cannot_run() {
        assert_eq!(
            error("breaker a\n0s a err,ok\n"),
            "t.trace:2:10: breaker `a` makes one attempt per call; a list of attempts needs `retry = N` on its declaration (line 1)"
        );
        assert_eq!(
            error("breaker a retry=2\n0s a err,err,ok\n"),
            "t.trace:2:14: breaker `a` makes at most 2 attempts (`retry=2`), but this list has 3"
        );
        assert_eq!(
            error("breaker a retry=3\n0s a ignored,err\n"),
            "t.trace:2:14: attempt 1 never runs: attempt 0 (`ignored`) ends the call; only `err` and a timeout are retried"
        );
        assert!(
            error("breaker a retry=3 timeout=1s\n0s a ok,err 1s,1ms\n")
                .contains("within the timeout")
        );
        assert!(
            error("breaker a retry=3\n0s a err,,ok\n")
                .starts_with("t.trace:2:10: expected an outcome")
        );
        assert!(
            error("breaker a retry=3\n0s a err,okk\n").ends_with("found `okk`; did you mean `ok`?")
        );
        assert!(
            error("breaker a retry=3\n0s a err 1s,\n")
                .starts_with("t.trace:2:13: expected a latency")
        );
        assert!(
            error("breaker a retry=3\n0s a err 1s,2x\n").starts_with("t.trace:2:14: bad latency")
        );
        assert!(error("breaker a retry=3\n0s a trip,ok\n").contains("found `trip`"));
    }

    #[test]
    fn reports_bad_retry_keys() {
        assert!(error("breaker a retry=0\n").contains("from 1 to 100"));
        assert!(error("breaker a retry=101\n").contains("from 1 to 100"));
        assert!(error("breaker a retry_backoff=1s..2s\n").contains("give `retry = N` too"));
        assert!(error("breaker a retry=2 retry_backoff=2s..1s\n").contains("base <= max"));
        assert!(error("breaker a retry=2 retry_backoff=2s\n").contains("expected `base..max`"));
        assert!(error("breaker a retry=2 retry_backoff=0s..1s\n").contains("duration > 0"));
        assert!(error("breaker a retri=2\n").contains("did you mean `retry`?"));
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
            "breaker a retry=3\n0s a ,",
            "breaker a retry=3\n0s a err,\u{e9}",
            "breaker a retry=3\n0s a err,ok \u{e9},1s",
            "breaker a retry=3\n0s a err,ok ,",
            "breaker a retry=3\n0s a err,ok ,,,,",
        ] {
            let _ = parse("t", text);
        }
    }
}
