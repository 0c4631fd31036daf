//! A replay of a trace read as a stream: chunks of lines go through the
//! [`Engine`] as they are read, and each breaker's subject is built when
//! the trace declares it ([`Cast`]), so nothing of the trace is held but
//! the piece being replayed.
//!
//! A trace may declare a breaker anywhere before its first call. Adding
//! a breaker has no effect of its own, so the breakers a piece declares are
//! built before any of its lines is replayed.

use crate::config::BreakerConfig;
use crate::engine::{Engine, Sink, Subject, World};
use crate::log::Event;
use crate::trace::reader::{ChunkSource, Stopped};
use crate::trace::{Chunk, Declaration, TraceError};

/// What a replay's events go to.
pub trait Observer {
    /// A breaker was declared: the next index of events' `breaker`.
    fn declared(&mut self, decl: &Declaration) {
        let _ = decl;
    }
    /// A piece of the trace is about to be replayed; `read` bytes of the
    /// inputs have been read, of `total` when every input is a file.
    fn piece(&mut self, read: u64, total: Option<u64>) {
        let _ = (read, total);
    }
    /// An event of the replay, in log order.
    fn event(&mut self, event: Event);
    /// See [`Sink::rejecting`].
    fn rejecting(&mut self, written: crate::trace::Outcome, latency_ns: u64) {
        let _ = (written, latency_ns);
    }
}

/// An observer as the engine's sink.
struct Through<'a>(&'a mut dyn Observer);

impl Sink for Through<'_> {
    fn event(&mut self, event: Event) {
        self.0.event(event);
    }

    fn rejecting(&mut self, written: crate::trace::Outcome, latency_ns: u64) {
        self.0.rejecting(written, latency_ns);
    }
}

/// The subjects of a replay, built as the trace declares its breakers.
pub trait Cast {
    /// The subject each breaker is replayed through.
    type Subject: Subject;
    /// Builds the subject of the next breaker, declared by `decl` in `file`,
    /// and returns the configuration it is replayed under (the declared one,
    /// unless the cast tries another); a configuration the subject refuses
    /// is an error of the trace there.
    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError>;
    /// Checks a chunk before it is replayed (a `configure` line the subject
    /// would refuse is an error of the trace at its line).
    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        let _ = (chunk, breakers);
        Ok(())
    }
    /// The subjects, one per declared breaker, in declaration order (in a
    /// fleet, each breaker's replicas in turn).
    fn subjects(&mut self) -> &mut [Self::Subject];
    /// The replicas of each breaker: 1, unless the cast replays a fleet.
    fn replicas(&self) -> u16 {
        1
    }
    /// The subjects, and what they share in a fleet.
    fn parts(&mut self) -> (&mut [Self::Subject], Option<&mut dyn World>) {
        (self.subjects(), None)
    }
}

/// A cast lent to a replay: what its subjects hold afterwards (such as the
/// calls that ended otherwise than the trace says) can still be read.
impl<C: Cast + ?Sized> Cast for &mut C {
    type Subject = C::Subject;

    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        (**self).declare(file, decl)
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        (**self).check(chunk, breakers)
    }

    fn subjects(&mut self) -> &mut [C::Subject] {
        (**self).subjects()
    }

    fn replicas(&self) -> u16 {
        (**self).replicas()
    }

    fn parts(&mut self) -> (&mut [C::Subject], Option<&mut dyn World>) {
        (**self).parts()
    }
}

/// A replay under way through the subjects of a [`Cast`].
pub struct Replay<C: Cast> {
    engine: Engine<<C::Subject as Subject>::Ticket>,
    cast: C,
}

impl<C: Cast> Replay<C> {
    /// A replay through `cast`'s subjects, with no breaker yet.
    pub fn new(cast: C) -> Replay<C> {
        Replay {
            engine: Engine::fleet(cast.replicas()),
            cast,
        }
    }

    /// The subjects' builder.
    pub fn cast(&self) -> &C {
        &self.cast
    }

    /// The subjects' cast, to change between pieces.
    pub fn cast_mut(&mut self) -> &mut C {
        &mut self.cast
    }

    /// Breakers declared so far.
    pub fn declared(&self) -> usize {
        self.engine.declared()
    }

    /// Builds the subjects of the breakers of `breakers` (every breaker
    /// declared so far) not built yet, and checks `chunk`, before it is
    /// replayed; each new declaration goes to `observer`.
    pub fn prepare(
        &mut self,
        chunk: &Chunk,
        breakers: &[Declaration],
        observer: &mut dyn Observer,
    ) -> Result<(), TraceError> {
        for decl in breakers.get(self.engine.declared()..).unwrap_or(&[]) {
            let config = self.cast.declare(&chunk.file, decl)?;
            self.engine.declare(&config);
            observer.declared(decl);
        }
        self.cast.check(chunk, breakers)
    }

    /// Replays the lines of `chunk` in `range` (prepared).
    pub fn feed(
        &mut self,
        chunk: &Chunk,
        range: std::ops::Range<usize>,
        observer: &mut dyn Observer,
    ) {
        let (subjects, world) = self.cast.parts();
        self.engine.feed_range(
            subjects,
            world,
            chunk.as_lines(),
            range,
            &mut Through(observer),
        );
    }

    /// Carries out what is due after the last line (the calls in flight end).
    pub fn finish(&mut self, observer: &mut dyn Observer) {
        let (subjects, world) = self.cast.parts();
        self.engine.finish(subjects, world, &mut Through(observer));
    }
}

/// Replays the trace `reader` reads through `cast`'s subjects, handing
/// declarations and events to `observer` as they come. At a stop, the lines
/// replayed before it stand: their calls still in flight end at their own
/// times, then the stop is returned.
pub fn replay<C: Cast>(
    reader: &mut impl ChunkSource,
    cast: C,
    observer: &mut dyn Observer,
) -> Result<(), Stopped> {
    let mut replay = Replay::new(cast);
    loop {
        let chunk = match reader.next_chunk() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(stop) => {
                replay.finish(observer);
                return Err(stop);
            }
        };
        if let Err(error) = replay.prepare(&chunk, reader.breakers(), observer) {
            replay.finish(observer);
            return Err(Stopped::Trace {
                error,
                truncated: false,
            });
        }
        let (read, total) = reader.progress();
        observer.piece(read, total);
        replay.feed(&chunk, 0..chunk.lines.len(), observer);
    }
    replay.finish(observer);
    Ok(())
}

/// Reads the trace `reader` reads through `cast` without replaying it:
/// each chunk is prepared (its breakers built, its lines checked) and none
/// is fed, so every refusal the replay through such a cast would make is
/// found before it writes anything. Where the trace stops, if it does (a
/// refusal is a stop of the trace that keeps nothing).
pub fn check_through<C: Cast>(reader: &mut impl ChunkSource, cast: C) -> Result<(), Stopped> {
    let mut replay = Replay::new(cast);
    while let Some(chunk) = reader.next_chunk()? {
        replay
            .prepare(&chunk, reader.breakers(), &mut Unheard)
            .map_err(|error| Stopped::Trace {
                error,
                truncated: false,
            })?;
    }
    Ok(())
}

/// An observer for a replay nothing is fed to.
struct Unheard;

impl Observer for Unheard {
    fn event(&mut self, _event: Event) {}
}

/// The models of SEMANTICS.md, built as the trace declares its breakers.
pub struct Models {
    seed: u64,
    models: Vec<crate::model::Model>,
}

impl Models {
    /// No model yet; retry waits and drops drawn under `seed`.
    pub fn new(seed: u64) -> Models {
        Models {
            seed,
            models: Vec::new(),
        }
    }
}

impl Cast for Models {
    type Subject = crate::model::Model;

    fn declare(&mut self, _file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        self.models.push(crate::model::Model::seeded(
            decl.config.clone(),
            &decl.name,
            self.seed,
        ));
        Ok(decl.config.clone())
    }

    fn subjects(&mut self) -> &mut [crate::model::Model] {
        &mut self.models
    }
}
