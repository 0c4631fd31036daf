//! A trace read as a stream: one file or several in order (rotated files
//! replay as one), standard input, compressed or not, handed out in chunks
//! of parsed lines so that a replay holds one piece of the trace at a time.
//!
//! The text is read in pieces of [`PIECE`] bytes, each parsed whole before
//! its lines are handed out: a mistake stops the stream before the chunk of
//! the piece that holds it, so a trace shorter than a piece with a mistake
//! anywhere replays nothing. Two stops keep what came before instead, since
//! they are how a recording ends when its recorder is killed: a last line
//! cut short (it has no `\n` and does not parse) and an input that fails
//! mid-way (a truncated compressed file); their chunk of whole lines is
//! handed out first, then the stop.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::input;
use super::{Chunk, Declaration, Trace, TraceError, TraceParser};

/// How much text is parsed before its lines are handed out: 1 MiB.
pub const PIECE: usize = 1 << 20;

/// Why a stream of trace stopped before its end.
#[derive(Debug)]
pub enum Stopped {
    /// An input could not be opened or read.
    Io {
        /// The input as named.
        file: String,
        /// Once it was open, the last line of it read whole (0: none).
        line: Option<usize>,
        /// What failed.
        error: std::io::Error,
    },
    /// A mistake in the trace.
    Trace {
        /// Where, and what was expected.
        error: TraceError,
        /// It is on a file's last line, which has no `\n`: a line cut short.
        truncated: bool,
    },
}

impl Stopped {
    /// Whether the lines read before the stop stand (their replay is kept
    /// and finished): after a last line cut short, or an input that failed
    /// mid-way (not one that could not be opened).
    pub fn keeps_what_came_before(&self) -> bool {
        match self {
            Stopped::Io { line, .. } => line.is_some(),
            Stopped::Trace { truncated, .. } => *truncated,
        }
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::Io {
                file,
                line: None,
                error,
            } => write!(f, "{file}: cannot read the trace: {error}"),
            Stopped::Io {
                file,
                line: Some(line),
                error,
            } => write!(
                f,
                "{file}:{}: cannot read the trace past line {line}: {error}; the replay of the lines before stands",
                line + 1
            ),
            Stopped::Trace {
                error,
                truncated: true,
            } => write!(
                f,
                "{error}; the last line is cut short (no newline ends it): the replay of the lines before it stands"
            ),
            Stopped::Trace { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for Stopped {}

/// Where a replay takes its chunks of lines from: a [`TraceReader`], or the
/// same read a piece ahead on a thread of its own
/// ([`Prefetch`](super::prefetch::Prefetch)).
pub trait ChunkSource {
    /// The next chunk of lines, `None` at the end, or why the trace stops
    /// here (after which there is nothing more).
    fn next_chunk(&mut self) -> Result<Option<Chunk>, Stopped>;
    /// The breakers declared by the end of the last chunk handed out.
    fn breakers(&self) -> &[Declaration];
    /// Bytes read so far, and the inputs' total size when known.
    fn progress(&self) -> (u64, Option<u64>);
}

impl ChunkSource for TraceReader {
    fn next_chunk(&mut self) -> Result<Option<Chunk>, Stopped> {
        TraceReader::next_chunk(self)
    }

    fn breakers(&self) -> &[Declaration] {
        TraceReader::breakers(self)
    }

    fn progress(&self) -> (u64, Option<u64>) {
        TraceReader::progress(self)
    }
}

/// Reads the trace written in `inputs`, in order, as one trace.
pub struct TraceReader {
    inputs: Vec<String>,
    /// The next input to open.
    next_input: usize,
    current: Option<Box<dyn Read + Send>>,
    parser: TraceParser,
    buffer: Vec<u8>,
    filled: usize,
    /// A stop to report once the chunk before it is handed out.
    pending: Option<Stopped>,
    done: bool,
    read: Arc<AtomicU64>,
    total: Option<u64>,
    /// Where standard input was copied to, to read it from there.
    stdin_from: Option<String>,
}

impl TraceReader {
    /// A reader of `inputs` (file names; `-` is standard input), in order.
    /// Nothing is opened yet.
    pub fn new(inputs: &[String]) -> TraceReader {
        TraceReader::with_piece(inputs, PIECE)
    }

    /// [`TraceReader::new`] parsing pieces of `piece` bytes (a longer line grows it).
    #[doc(hidden)]
    pub fn with_piece(inputs: &[String], piece: usize) -> TraceReader {
        let total = inputs.iter().map(|n| input::size(n)).sum();
        TraceReader {
            inputs: inputs.to_vec(),
            next_input: 0,
            current: None,
            parser: TraceParser::streamed(inputs.first().map_or("-", String::as_str)),
            buffer: vec![0; piece.max(1)],
            filled: 0,
            pending: None,
            done: false,
            read: Arc::default(),
            total,
            stdin_from: None,
        }
    }

    /// The same reader taking standard input (`-`) from the file `copy`
    /// (a [`Spool`](super::input::Spool) of it), still naming it `-`: for what
    /// reads a trace twice.
    pub fn with_stdin_from(mut self, copy: &str) -> TraceReader {
        self.stdin_from = Some(copy.to_string());
        self
    }

    /// The same reader for a replay of a fleet of `replicas` (`--replicas
    /// N`), whose lines may name one (`db@2`). Before the first chunk.
    pub fn with_replicas(mut self, replicas: u16) -> TraceReader {
        let parser = std::mem::replace(&mut self.parser, TraceParser::new("-"));
        self.parser = parser.with_replicas(replicas);
        self
    }

    /// The inputs, as named.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The breakers declared so far, in declaration order: a chunk's lines
    /// name only breakers declared by the time it is handed out.
    pub fn breakers(&self) -> &[Declaration] {
        self.parser.breakers()
    }

    /// Bytes read from the inputs so far (compressed bytes, for a compressed
    /// input), and their total size when every input is a file.
    pub fn progress(&self) -> (u64, Option<u64>) {
        (self.read.load(Ordering::Relaxed), self.total)
    }

    /// The next chunk of lines, `None` at the end of the last input, or why
    /// the trace stops here (after which there is nothing more).
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, Stopped> {
        loop {
            if let Some(stop) = self.pending.take() {
                self.done = true;
                return Err(stop);
            }
            if self.done {
                return Ok(None);
            }
            if self.current.is_none() && !self.open_next()? {
                self.done = true;
                return Ok(None);
            }
            let (eof, failed) = self.fill();
            if self.filled == self.buffer.len() && !eof {
                // A line longer than the buffer: grow it until the line fits.
                let used = self.parser.push(&self.buffer[..self.filled], false);
                if used == 0 {
                    self.buffer.resize(self.buffer.len() * 2, 0);
                    continue;
                }
                self.consume(used);
            } else {
                let used = self.parser.push(&self.buffer[..self.filled], eof);
                self.consume(used);
            }
            if eof {
                self.current = None;
            }
            if let Some((error, truncated)) = self.parser.mistake() {
                // After a call to an undeclared breaker, the rest of the file
                // is scanned for its declaration, to say so.
                if !self.parser.stopped() && !eof && failed.is_none() {
                    continue;
                }
                let stop = Stopped::Trace {
                    error: error.clone(),
                    truncated,
                };
                let chunk = self.parser.take_chunk();
                if truncated {
                    self.pending = Some(stop);
                    return Ok(Some(chunk));
                }
                self.done = true;
                return Err(stop);
            }
            if let Some(error) = failed {
                self.current = None;
                self.pending = Some(Stopped::Io {
                    file: self.current_name().to_string(),
                    line: Some(self.parser.line_no()),
                    error,
                });
            }
            return Ok(Some(self.parser.take_chunk()));
        }
    }

    /// Reads the whole trace into memory (for what reads a trace twice and
    /// cannot read its input again: the plot of standard input). Any stop
    /// is an error: nothing is kept.
    pub fn read_all(mut self) -> Result<Trace, Stopped> {
        let mut trace = Trace::default();
        while let Some(chunk) = self.next_chunk()? {
            trace.append(chunk);
        }
        trace.breakers = self.parser.breakers().to_vec();
        Ok(trace)
    }

    fn current_name(&self) -> &str {
        self.inputs
            .get(self.next_input.saturating_sub(1))
            .map_or(input::STDIN, String::as_str)
    }

    /// Opens the next input; `false` when there is none.
    fn open_next(&mut self) -> Result<bool, Stopped> {
        let Some(name) = self.inputs.get(self.next_input).cloned() else {
            return Ok(false);
        };
        if self.next_input > 0 {
            self.parser.next_file(&name);
        }
        self.next_input += 1;
        self.filled = 0;
        let source = match &self.stdin_from {
            Some(copy) if name == input::STDIN => copy.as_str(),
            _ => name.as_str(),
        };
        match input::open(source, Arc::clone(&self.read)) {
            Ok(reader) => {
                self.current = Some(reader);
                Ok(true)
            }
            Err(error) => {
                self.done = true;
                Err(Stopped::Io {
                    file: name,
                    line: None,
                    error,
                })
            }
        }
    }

    /// Fills the buffer from the current input: whether it ended, and the
    /// error it failed with, if it did.
    fn fill(&mut self) -> (bool, Option<std::io::Error>) {
        let Some(reader) = self.current.as_mut() else {
            return (true, None);
        };
        while self.filled < self.buffer.len() {
            match reader.read(&mut self.buffer[self.filled..]) {
                Ok(0) => return (true, None),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (false, Some(e)),
            }
        }
        (false, None)
    }

    fn consume(&mut self, used: usize) {
        self.buffer.copy_within(used..self.filled, 0);
        self.filled -= used;
    }
}
