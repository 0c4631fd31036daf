//! What `run` replays a trace through: each mode's [`Cast`] built in one
//! place, for whatever is done with it ([`WithCast`]): the replay itself
//! ([`ReplayTo`]), or a check through a cast of its own before the replay
//! writes anything ([`CheckThrough`]).

use crate::fleet::cast::Replicas;
use crate::fleet::options::Fleet;
use crate::stream::{Cast, Models, Observer};
use crate::subject::attr::asynchronous::AsyncReplay;
use crate::subject::attr::sync::Annotated;
use crate::subject::real::Cores;
use crate::subject::realtime::Paced;
use crate::trace::reader::{ChunkSource, Stopped};

/// What a trace is replayed through.
#[derive(Debug, Clone, PartialEq)]
pub enum Through {
    /// breaker-core's breakers on virtual time.
    Core,
    /// The reference model.
    Model,
    /// The sync `#[circuit_breaker]` functions.
    Attr,
    /// The async `#[circuit_breaker]` functions, under tokio's paused clock.
    AttrAsync,
    /// breaker-core's breakers on the real clock, this many times faster
    /// than the trace.
    RealTime(f64),
    /// breaker-core's breakers, replicated across a fleet.
    Fleet(Fleet),
}

/// Something done with a cast, whatever its type.
pub trait WithCast {
    /// What it gives.
    type Output;
    /// Does it with `cast`.
    fn with<C: Cast>(self, cast: C) -> Self::Output;
}

/// What came of a job done with a mode's cast.
#[derive(Debug)]
pub struct Done<T> {
    /// The job's own result.
    pub output: T,
    /// The first call that ended otherwise than the trace says (the async
    /// attribute mode runs real code, which may), described.
    pub mismatch: Option<String>,
}

impl Through {
    /// Whether a trace of files is checked through before it is replayed
    /// whatever the log's destination: these modes refuse breakers and
    /// lines as they come, and their replays cost (a thread per call,
    /// tokio's timers, the wall clock), so none should run to a refusal
    /// minutes in.
    pub fn checks_first(&self) -> bool {
        matches!(
            self,
            Through::Attr | Through::AttrAsync | Through::RealTime(_)
        )
    }

    /// Builds this mode's cast, its breakers' draws under `seed`, and does
    /// `job` with it; `Err` when it cannot be built (a tokio runtime that
    /// will not start, a bad speed).
    pub fn with_cast<W: WithCast>(&self, seed: u64, job: W) -> Result<Done<W::Output>, String> {
        let output = match self {
            Through::Core => {
                let arena = typed_arena::Arena::new();
                job.with(Cores::new(&arena, seed))
            }
            Through::Model => job.with(Models::new(seed)),
            Through::Attr => job.with(Annotated::new()),
            Through::RealTime(speed) => {
                let arena = typed_arena::Arena::new();
                job.with(Cores::with(&arena, Paced::new(seed, *speed)?))
            }
            Through::Fleet(fleet) => {
                let arena = typed_arena::Arena::new();
                job.with(Replicas::new(&arena, fleet, seed))
            }
            Through::AttrAsync => {
                let replay =
                    AsyncReplay::new().map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
                return Ok(replay.with_cast(|cast| Done {
                    output: job.with(&mut *cast),
                    mismatch: cast.mismatches().next().cloned(),
                }));
            }
        };
        Ok(Done {
            output,
            mismatch: None,
        })
    }
}

/// The replay of the trace `reader` reads, its declarations and events
/// handed to `observer` ([`crate::stream::replay`]).
pub struct ReplayTo<'a, S> {
    /// Where the chunks come from.
    pub reader: &'a mut S,
    /// What hears of the replay.
    pub observer: &'a mut dyn Observer,
}

impl<S: ChunkSource> WithCast for ReplayTo<'_, S> {
    type Output = Result<(), Stopped>;

    fn with<C: Cast>(self, cast: C) -> Result<(), Stopped> {
        crate::stream::replay(self.reader, cast, self.observer)
    }
}

/// The trace a reader reads, checked through a cast and not replayed
/// ([`crate::stream::check_through`]).
pub struct CheckThrough<'a, S>(pub &'a mut S);

impl<S: ChunkSource> WithCast for CheckThrough<'_, S> {
    type Output = Result<(), Stopped>;

    fn with<C: Cast>(self, cast: C) -> Result<(), Stopped> {
        crate::stream::check_through(self.0, cast)
    }
}
