//! Recording a breaker's calls as a trace that `breaker-sim` replays
//! (feature `record`).
//!
//! An incident recorded in production can then be replayed, checked against
//! the reference model and tuned offline:
//!
//! ```
//! use std::time::Duration;
//! use breaker_core::{Breaker, Config, Error, clock::ManualClock, record::Recorder};
//!
//! let clock = ManualClock::new();
//! let config = Config::builder().fail_max(2).reset(Duration::from_secs(10)).build()?;
//! let db = Breaker::with_clock("db", config, clock.clone());
//!
//! let out = std::env::temp_dir().join(format!("breaker-doc-{}.trace", std::process::id()));
//! let recorder = Recorder::to_file(&out, Default::default())?;
//! assert!(recorder.record(&db));
//!
//! let _ = db.call(|| Ok::<_, Error>(1));
//! clock.advance(Duration::from_millis(5));
//! for _ in 0..3 {
//!     let _ = db.call(|| Err::<u32, _>(Error::timeout("db".into(), Duration::from_secs(1))));
//! }
//! recorder.stop()?;
//!
//! let trace = std::fs::read_to_string(&out)?;
//! let lines: Vec<&str> = trace.lines().filter(|l| !l.starts_with('#')).collect();
//! assert_eq!(lines, [
//!     "breaker db fail_max=2 reset=10s",
//!     "0s db ok",
//!     "5ms db err",
//!     "5ms db err",
//!     "5ms db err # rejected: the outcome of the last admitted call",
//! ]);
//! # std::fs::remove_file(&out)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is written
//! - One `breaker NAME key=value...` line per recorded breaker (its
//!   configuration), before its first call, and again at the top of every
//!   file after a rotation, so that each file replays on its own.
//! - One line per call, in the order the calls arrived, at the time the
//!   breaker decided on them, relative to the first recorded event: `ok` or
//!   `err`, and the latency when it was not zero. A panic or a timeout is
//!   written `err` (both are failures). A recorded trace replays to the same
//!   decisions; a replay under another configuration (`breaker-sim tune`)
//!   needs the outcome of calls that were rejected and never ran: they are
//!   written with the outcome of the breaker's last admitted call, marked
//!   by a `# rejected` comment.
//! - Operator actions (`trip`, `force_open`, `disable`, `reset`); a
//!   `metrics_only()` (a dry run, which traces cannot express) is a comment.
//! - A cancelled call (a dropped future) is a comment: a trace has no
//!   outcome for it, and it fed no policy.
//!
//! # Bounds
//! A line is written once its call ended and every earlier call has been
//! written (calls overlap; a trace is in order of arrival). At most
//! [`Rotation::max_pending`] calls wait for an earlier one that is still
//! running; past that, the oldest running call is written as a comment and
//! forgotten. Files rotate at [`Rotation::max_bytes`], keeping
//! [`Rotation::keep`] old files (`NAME.1` the newest). A write error stops
//! the recording (never the calls) and is returned by
//! [`flush`](Recorder::flush) and [`stop`](Recorder::stop).
//!
//! Recording puts a tapped breaker's calls on the slow paths: each reads the
//! clock and takes the recorder's lock. Record the breakers of an incident,
//! not every breaker all the time.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::tap::{Tap, Ticket};
use crate::{Action, Breaker, format_duration};

/// When a recording's file rotates, and how much waits in memory.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// A file is rotated before it grows past this many bytes (default 64 MiB).
    pub max_bytes: u64,
    /// How many rotated files are kept beside the current one (default 4).
    pub keep: usize,
    /// How many calls may wait in memory behind one still running (default 10,000).
    pub max_pending: usize,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_bytes: 64 << 20,
            keep: 4,
            max_pending: 10_000,
        }
    }
}

/// Records the calls of chosen breakers to a trace (see the [module docs](self)).
///
/// Cheap to clone: clones write to the same trace.
#[derive(Clone)]
pub struct Recorder {
    recording: Arc<LockedRecording>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.recording.lock();
        f.debug_struct("Recorder")
            .field("breakers", &state.breakers.len())
            .field("pending", &state.pending.len())
            .field("stopped", &state.stopped)
            .finish()
    }
}

/// The recording, behind the lock its writers and the recorded breakers take.
struct LockedRecording {
    state: Mutex<Recording>,
}

impl LockedRecording {
    fn lock(&self) -> MutexGuard<'_, Recording> {
        // Every update leaves the recording consistent, so a panic elsewhere
        // (a writer's) does not poison it for good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A breaker being recorded.
struct Recorded {
    declaration: String,
    name: String,
    /// The outcome of its last admitted call that ended: what a rejected
    /// call is written with.
    last_failed: bool,
}

enum What {
    /// An admitted call; `None` while it runs.
    Call(Option<Ended>),
    Rejected,
    /// An operator's action, with the period of a `trip_for`.
    Action(Action, Option<u64>),
}

#[derive(Clone, Copy)]
enum Ended {
    Outcome { failure: bool, latency: u64 },
    Cancelled { latency: u64 },
}

struct Entry {
    breaker: usize,
    at: u64,
    what: What,
}

struct Recording {
    out: Output,
    rotation: Rotation,
    breakers: Vec<Recorded>,
    /// Events in order of arrival, not yet written; `pending[0]` is `head`.
    pending: VecDeque<Entry>,
    /// The sequence number of `pending[0]`.
    head: u64,
    /// The breaker clock's time of the trace's 0.
    origin: Option<u64>,
    /// The latest time queued: later arrivals that read the clock earlier
    /// are written at this time, so that times never go backwards.
    latest: u64,
    error: Option<io::Error>,
    stopped: bool,
    line: String,
}

enum Output {
    File {
        path: PathBuf,
        file: BufWriter<File>,
        written: u64,
    },
    Writer(Box<dyn Write + Send>),
}

/// Tickets cycle through `1..=u32::MAX`: 0 is `Ticket::NONE`.
const CYCLE: u64 = u32::MAX as u64;

fn ticket_of(seq: u64) -> Ticket {
    Ticket((seq % CYCLE) as u32 + 1)
}

impl Recorder {
    /// Records to the file at `path` (created or truncated), rotating it as
    /// `rotation` says.
    pub fn to_file(path: impl AsRef<Path>, rotation: Rotation) -> io::Result<Recorder> {
        let path = path.as_ref().to_path_buf();
        let file = BufWriter::new(File::create(&path)?);
        Ok(Recorder::with_output(
            Output::File {
                path,
                file,
                written: 0,
            },
            rotation,
        ))
    }

    /// Records to any writer, without rotation (tests, a pipe, a socket).
    pub fn to_writer(writer: impl Write + Send + 'static) -> Recorder {
        Recorder::with_output(Output::Writer(Box::new(writer)), Rotation::default())
    }

    fn with_output(out: Output, rotation: Rotation) -> Recorder {
        let mut recording = Recording {
            out,
            rotation,
            breakers: Vec::new(),
            pending: VecDeque::new(),
            head: 0,
            origin: None,
            latest: 0,
            error: None,
            stopped: false,
            line: String::new(),
        };
        recording.write_header();
        Recorder {
            recording: Arc::new(LockedRecording {
                state: Mutex::new(recording),
            }),
        }
    }

    /// Records `breaker`'s calls and actions from now on. `false` when it
    /// cannot be: it is recorded already (by this recorder or another), its
    /// name cannot be written in a trace (whitespace or `#`), or the
    /// recording stopped.
    pub fn record(&self, breaker: &Breaker) -> bool {
        let name = breaker.name();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '#') {
            return false;
        }
        let index = {
            let mut state = self.recording.lock();
            if state.stopped {
                return false;
            }
            let keys = breaker.config().to_keys();
            let mut declaration = format!("breaker {name}");
            for key in keys.split(", ").filter(|k| !k.is_empty()) {
                declaration.push(' ');
                declaration.push_str(&key.replacen(" = ", "=", 1));
            }
            state.breakers.push(Recorded {
                declaration,
                name: name.to_owned(),
                last_failed: false,
            });
            state.breakers.len() - 1
        };
        let tap = Arc::new(BreakerTap {
            recording: self.recording.clone(),
            breaker: index,
        });
        let tapped = breaker.set_tap(tap);
        let mut state = self.recording.lock();
        if tapped {
            let line = state.breakers[index].declaration.clone();
            state.write_line(&line);
        } else {
            // Another recorder has it: this one never declares it.
            state.breakers[index].declaration.clear();
        }
        tapped
    }

    /// Writes every line that is ready and flushes the output. Calls still
    /// running stay pending. Returns the recording's first write error.
    pub fn flush(&self) -> io::Result<()> {
        let mut state = self.recording.lock();
        state.drain();
        state.flush_output();
        match state.error.take() {
            Some(e) => {
                let again = io::Error::new(e.kind(), e.to_string());
                state.error = Some(e);
                Err(again)
            }
            None => Ok(()),
        }
    }

    /// Ends the recording: calls still running are written as comments, the
    /// output is flushed, and the breakers' later calls are not recorded.
    pub fn stop(&self) -> io::Result<()> {
        {
            let mut state = self.recording.lock();
            if !state.stopped {
                while !state.pending.is_empty() {
                    state.write_front();
                }
                state.stopped = true;
            }
        }
        self.flush()
    }
}

/// One recorded breaker's tap into the shared recording.
struct BreakerTap {
    recording: Arc<LockedRecording>,
    breaker: usize,
}

impl Tap for BreakerTap {
    fn admitted(&self, at: u64) -> Ticket {
        let mut state = self.recording.lock();
        if state.stopped {
            return Ticket::NONE;
        }
        let seq = state.push(self.breaker, at, What::Call(None));
        state.bound();
        ticket_of(seq)
    }

    fn ended(&self, ticket: Ticket, latency: u64, failure: bool) {
        self.recording
            .lock()
            .end(ticket, Ended::Outcome { failure, latency });
    }

    fn cancelled(&self, ticket: Ticket, latency: u64) {
        self.recording
            .lock()
            .end(ticket, Ended::Cancelled { latency });
    }

    fn rejected(&self, at: u64) {
        let mut state = self.recording.lock();
        if !state.stopped {
            state.push(self.breaker, at, What::Rejected);
            state.drain();
        }
    }

    fn acted(&self, at: u64, action: Action, open_for: Option<u64>) {
        let mut state = self.recording.lock();
        if !state.stopped {
            state.push(self.breaker, at, What::Action(action, open_for));
            state.drain();
        }
    }
}

impl Recording {
    /// Queues an event; returns its sequence number.
    fn push(&mut self, breaker: usize, at: u64, what: What) -> u64 {
        let origin = *self.origin.get_or_insert(at);
        let at = at.saturating_sub(origin).max(self.latest);
        self.latest = at;
        self.pending.push_back(Entry { breaker, at, what });
        self.head + self.pending.len() as u64 - 1
    }

    /// Records how call `ticket` ended, then writes what is ready.
    fn end(&mut self, ticket: Ticket, ended: Ended) {
        if ticket == Ticket::NONE || self.stopped {
            return;
        }
        // The pending call with this ticket, if it is still pending: tickets
        // of written calls are behind `head` and land past the queue's end.
        let head = u64::from(ticket_of(self.head).0);
        let offset = (u64::from(ticket.0) + CYCLE - head) % CYCLE;
        if let Some(Entry {
            breaker,
            what: What::Call(slot @ None),
            ..
        }) = self.pending.get_mut(offset as usize)
        {
            *slot = Some(ended);
            if let Ended::Outcome { failure, .. } = ended {
                let breaker = *breaker;
                self.breakers[breaker].last_failed = failure;
            }
        }
        self.drain();
    }

    /// Writes the events at the front that are complete.
    fn drain(&mut self) {
        while let Some(front) = self.pending.front() {
            if matches!(front.what, What::Call(None)) {
                break;
            }
            self.write_front();
        }
    }

    /// Keeps at most `max_pending` events waiting behind a running call.
    fn bound(&mut self) {
        while self.pending.len() > self.rotation.max_pending.max(1) {
            self.write_front();
        }
        self.drain();
    }

    /// Writes and forgets the front event, whatever its state.
    fn write_front(&mut self) {
        let Some(entry) = self.pending.pop_front() else {
            return;
        };
        self.head += 1;
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let recorded = &self.breakers[entry.breaker];
        let at = format_duration(Duration::from_nanos(entry.at));
        let name = &recorded.name;
        let _ = match entry.what {
            What::Call(Some(Ended::Outcome { failure, latency })) => {
                let outcome = if failure { "err" } else { "ok" };
                write!(line, "{at} {name} {outcome}").and_then(|()| {
                    if latency > 0 {
                        write!(line, " {}", format_duration(Duration::from_nanos(latency)))
                    } else {
                        Ok(())
                    }
                })
            }
            What::Call(Some(Ended::Cancelled { latency })) => write!(
                line,
                "# {at} {name}: a call cancelled after {}",
                format_duration(Duration::from_nanos(latency))
            ),
            What::Call(None) => write!(
                line,
                "# {at} {name}: a call still running when it had to be written"
            ),
            What::Rejected => {
                let outcome = if recorded.last_failed { "err" } else { "ok" };
                write!(
                    line,
                    "{at} {name} {outcome} # rejected: the outcome of the last admitted call"
                )
            }
            // A trace has no dry run: replayed, the breaker stays live.
            What::Action(Action::MetricsOnly, _) => write!(
                line,
                "# {at} {name}: metrics_only (a dry run; a trace cannot express it)"
            ),
            // A trace has no `trip_for`: replayed, the trip opens for `reset`.
            What::Action(Action::Trip, Some(open_for)) => write!(
                line,
                "{at} {name} trip # trip_for {}: replayed, it opens for `reset`",
                crate::format_duration(Duration::from_nanos(open_for))
            ),
            What::Action(action, _) => write!(line, "{at} {name} {}", action.as_str()),
        };
        self.write_line(&line);
        self.line = line;
    }

    fn write_header(&mut self) {
        let mut header = format!(
            "# recorded by breaker-core {}: replay with `breaker-sim run FILE`\n",
            env!("CARGO_PKG_VERSION")
        );
        for b in self.breakers.iter().filter(|b| !b.declaration.is_empty()) {
            header.push_str(&b.declaration);
            header.push('\n');
        }
        self.write_raw(header.as_bytes());
    }

    fn write_line(&mut self, line: &str) {
        let bytes = line.len() as u64 + 1;
        if let Output::File { written, .. } = &self.out {
            if *written > 0 && *written + bytes > self.rotation.max_bytes {
                self.rotate();
            }
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.write_raw(&buf);
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.out {
            Output::File { file, written, .. } => {
                *written += bytes.len() as u64;
                file.write_all(bytes)
            }
            Output::Writer(w) => w.write_all(bytes),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn flush_output(&mut self) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.out {
            Output::File { file, .. } => file.flush(),
            Output::Writer(w) => w.flush(),
        };
        if let Err(e) = result {
            self.fail(e);
        }
    }

    /// A write failed: the recording stops; calls go on unrecorded.
    fn fail(&mut self, e: io::Error) {
        tracing::warn!(target: "breaker", error = %e, "recording stopped: the trace could not be written");
        self.error = Some(e);
        self.stopped = true;
        self.pending.clear();
    }

    /// `NAME` becomes `NAME.1`, `NAME.1` becomes `NAME.2`, ..., keeping `keep`.
    fn rotate(&mut self) {
        let Output::File {
            path,
            file,
            written,
        } = &mut self.out
        else {
            return;
        };
        let rotated = |i: usize| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{i}"));
            PathBuf::from(name)
        };
        let result = file.flush().and_then(|()| {
            let keep = self.rotation.keep;
            if keep == 0 {
                return File::create(&*path);
            }
            let _ = fs::remove_file(rotated(keep));
            for i in (1..keep).rev() {
                if rotated(i).exists() {
                    fs::rename(rotated(i), rotated(i + 1))?;
                }
            }
            fs::rename(&*path, rotated(1))?;
            File::create(&*path)
        });
        match result {
            Ok(new) => {
                *file = BufWriter::new(new);
                *written = 0;
                self.write_header();
            }
            Err(e) => self.fail(e),
        }
    }
}
