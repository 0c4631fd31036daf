//! `tune --grid` in one pass over the trace: every configuration of the
//! grid is replayed side by side through breaker-core, each piece of the
//! trace read and parsed once and handed to all of them, and each scored as
//! it goes ([`Scorer`]), so neither the trace nor a log is ever held.
//! `tune --change` is replayed the same way ([`tune_changes`]): the trace as
//! recorded beside each change, made live on each piece as it passes
//! ([`LiveChange`]).
//!
//! With more than one job, the configurations are dealt out to that many
//! threads; the reading thread hands each piece (shared, never copied) to
//! every thread through a channel of two pieces, so a slow thread holds the
//! reader back rather than letting pieces pile up. Each configuration's
//! replay is the same whatever thread runs it, so the ranking does not
//! depend on `--jobs`.
//!
//! Across a fleet ([`tune_fleet_grid`], `tune --replicas N`), each
//! configuration is the fleet's: every replica of a breaker runs it, and
//! the score is taken over the events of them all.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use crate::config::BreakerConfig;
use crate::engine::World;
use crate::fleet::cast::Replicas;
use crate::fleet::options::Fleet;
use crate::scorer::Scorer;
use crate::stream::{Cast, Replay};
use crate::subject::real::{Cores, RealBreaker, RealSubject};
use crate::trace::reader::{Stopped, TraceReader};
use crate::trace::{Chunk, Declaration, TraceError};
use crate::tune::{Change, LiveChange, Score, with_overrides};

/// A configuration of the grid: the keys it overrides.
pub type Combination = Vec<(String, String)>;

/// What a trial replays the trace under, against the trace's own.
#[derive(Debug, Clone, Copy)]
enum Variant<'g> {
    /// These keys over every declaration (a grid's combination; none: the
    /// trace as recorded).
    Keys(&'g [(String, String)]),
    /// This change made live at its time (`tune --change`).
    Live(&'g Change),
}

/// What the grid's replays came to: a score per combination, in grid order
/// (`None`: the combination is invalid for a breaker, or breaker-core
/// refuses it), and why the trace stopped early, if it did.
pub struct Tuned {
    /// Each combination's score, in grid order.
    pub scores: Vec<Option<Score>>,
    /// Why each combination without a score was refused.
    pub refused: Vec<Option<String>>,
    /// The breakers the trace declared.
    pub breakers: Vec<String>,
    /// The trace's stop, if it did not end well (a stop that keeps what
    /// came before comes with the scores of what came before).
    pub stop: Option<Stopped>,
}

/// breaker-core's breakers, each alone or as a fleet's replicas.
enum Subjects<'a> {
    Alone(Cores<'a>),
    Fleet(Replicas<'a>),
}

impl<'a> Cast for Subjects<'a> {
    type Subject = RealSubject<'a>;

    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        match self {
            Subjects::Alone(c) => c.declare(file, decl),
            Subjects::Fleet(c) => c.declare(file, decl),
        }
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        match self {
            Subjects::Alone(c) => c.check(chunk, breakers),
            Subjects::Fleet(c) => c.check(chunk, breakers),
        }
    }

    fn subjects(&mut self) -> &mut [RealSubject<'a>] {
        match self {
            Subjects::Alone(c) => c.subjects(),
            Subjects::Fleet(c) => c.subjects(),
        }
    }

    fn replicas(&self) -> u16 {
        match self {
            Subjects::Alone(c) => c.replicas(),
            Subjects::Fleet(c) => c.replicas(),
        }
    }

    fn parts(&mut self) -> (&mut [RealSubject<'a>], Option<&mut dyn World>) {
        match self {
            Subjects::Alone(c) => c.parts(),
            Subjects::Fleet(c) => c.parts(),
        }
    }
}

/// breaker-core breakers under one variant: each declared breaker (or
/// only `only`) has a combination's keys set over its declaration's, or is
/// declared as a live change has it.
struct Tried<'a, 'g> {
    cores: Subjects<'a>,
    combination: &'g [(String, String)],
    only: Option<&'g str>,
    /// A live change, and what each breaker is declared with under it.
    live: Option<(LiveChange<'g>, Vec<BreakerConfig>)>,
    /// Each breaker's `timeout` as tried: the score judges calls by it.
    timeouts: Vec<Option<u64>>,
}

impl<'a> Cast for Tried<'a, '_> {
    type Subject = RealSubject<'a>;

    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        let as_live = self
            .live
            .as_ref()
            .and_then(|(_, declared)| declared.get(self.timeouts.len()));
        let config = if let Some(config) = as_live {
            config.clone()
        } else if self.only.is_none_or(|n| n == decl.name) {
            with_overrides(&decl.config, self.combination).map_err(|message| TraceError {
                file: file.to_string(),
                line: decl.line_no,
                column: 1,
                message,
            })?
        } else {
            decl.config.clone()
        };
        let tried = Declaration {
            config,
            ..decl.clone()
        };
        self.cores.declare(file, &tried)?;
        self.timeouts.push(tried.config.timeout);
        Ok(tried.config)
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        self.cores.check(chunk, breakers)
    }

    fn subjects(&mut self) -> &mut [RealSubject<'a>] {
        self.cores.subjects()
    }

    fn replicas(&self) -> u16 {
        self.cores.replicas()
    }

    fn parts(&mut self) -> (&mut [RealSubject<'a>], Option<&mut dyn World>) {
        self.cores.parts()
    }
}

/// One variant's replay and score; `None` once it turned out invalid, and
/// why.
struct Trial<'a, 'g> {
    index: usize,
    run: Option<(Replay<Tried<'a, 'g>>, Scorer)>,
    refused: Option<String>,
}

impl Trial<'_, '_> {
    fn piece(&mut self, breakers: &[Declaration], chunk: &Chunk) {
        if let Err(why) = self.try_piece(breakers, chunk) {
            self.refuse(why);
        }
    }

    /// The variant turned out invalid: no score, and why.
    fn refuse(&mut self, why: String) {
        self.run = None;
        self.refused = Some(why);
    }

    fn try_piece(&mut self, breakers: &[Declaration], chunk: &Chunk) -> Result<(), String> {
        let Some((replay, scorer)) = self.run.as_mut() else {
            return Ok(());
        };
        // A live change sees the piece's declarations first: the piece may
        // be where its lines go in, for them too.
        let changed = match replay.cast_mut().live.as_mut() {
            Some((live, declared)) => {
                for decl in breakers.get(declared.len()..).unwrap_or(&[]) {
                    declared.push(live.declare(decl)?);
                }
                live.chunk(chunk)?
            }
            None => None,
        };
        let chunk = changed.as_ref().unwrap_or(chunk);
        replay
            .prepare(chunk, breakers, &mut Ignore)
            .map_err(|e| e.to_string())?;
        let timeouts = &replay.cast().timeouts;
        for timeout in timeouts.get(scorer.declared()..).unwrap_or(&[]) {
            scorer.declare(*timeout);
        }
        scorer.lines(chunk);
        replay.feed(chunk, 0..chunk.lines.len(), scorer);
        Ok(())
    }

    fn finish(mut self, breakers: &[Declaration]) -> (usize, Option<Score>, Option<String>) {
        let live = self
            .run
            .as_mut()
            .and_then(|(replay, _)| replay.cast_mut().live.as_mut());
        match live.map_or(Ok(None), |(live, _)| live.end()) {
            Ok(Some(chunk)) => self.piece(breakers, &chunk),
            Ok(None) => {}
            Err(why) => self.refuse(why),
        }
        let score = self.run.map(|(mut replay, mut scorer)| {
            replay.finish(&mut scorer);
            scorer.finish()
        });
        (self.index, score, self.refused)
    }
}

/// An observer of nothing (declarations while a trial is prepared).
struct Ignore;

impl crate::stream::Observer for Ignore {
    fn event(&mut self, _: crate::log::Event) {}
}

/// What the reader hands each thread.
enum Piece {
    /// The breakers declared so far, and the next chunk of lines.
    Lines(Arc<Vec<Declaration>>, Arc<Chunk>),
    /// The trace is over: finish (the calls in flight end) or not.
    End { finish: bool },
}

/// What a worker sends back: per variant, its index, its score, and why
/// it was refused.
type Results = Vec<(usize, Option<Score>, Option<String>)>;

/// Replays variants `mine` (indices into `variants`) as pieces come from
/// `pieces`; their scores, `None` for the invalid ones.
fn work(
    variants: &[Variant<'_>],
    mine: &[usize],
    only: Option<&str>,
    (seed, fleet): (u64, Option<&Fleet>),
    pieces: Receiver<Piece>,
) -> Results {
    let arena = typed_arena::Arena::<RealBreaker>::new();
    let mut trials = trials(&arena, variants, mine, only, (seed, fleet));
    let mut declared: Arc<Vec<Declaration>> = Arc::default();
    while let Ok(piece) = pieces.recv() {
        match piece {
            Piece::Lines(breakers, chunk) => {
                for t in &mut trials {
                    t.piece(&breakers, &chunk);
                }
                declared = breakers;
            }
            Piece::End { finish: true } => break,
            Piece::End { finish: false } => return Vec::new(),
        }
    }
    trials.into_iter().map(|t| t.finish(&declared)).collect()
}

fn trials<'a, 'g>(
    arena: &'a typed_arena::Arena<RealBreaker>,
    variants: &[Variant<'g>],
    mine: &[usize],
    only: Option<&'g str>,
    (seed, fleet): (u64, Option<&Fleet>),
) -> Vec<Trial<'a, 'g>> {
    mine.iter()
        .filter_map(|&index| {
            let variant = *variants.get(index)?;
            let cores = match fleet {
                Some(fleet) => Subjects::Fleet(Replicas::new(arena, fleet, seed)),
                None => Subjects::Alone(Cores::new(arena, seed)),
            };
            let (combination, live) = match variant {
                Variant::Keys(keys) => (keys, None),
                Variant::Live(change) => {
                    (&[][..], Some((LiveChange::new(change, only), Vec::new())))
                }
            };
            let cast = Tried {
                cores,
                combination,
                only,
                live,
                timeouts: Vec::new(),
            };
            Some(Trial {
                index,
                run: Some((Replay::new(cast), Scorer::new())),
                refused: None,
            })
        })
        .collect()
}

/// Replays the trace `reader` reads under every combination of `grid`
/// (on every breaker, or `only`), `jobs` threads side by side, reading it
/// once; `progress` hears how much of the input is read.
pub fn tune_grid(
    reader: &mut TraceReader,
    grid: &[Combination],
    only: Option<&str>,
    seed: u64,
    jobs: usize,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Tuned {
    let variants: Vec<Variant<'_>> = grid.iter().map(|c| Variant::Keys(c)).collect();
    tune(reader, &variants, only, (seed, None), jobs, progress)
}

/// The trace `reader` reads as recorded (first) and under each of
/// `changes` made live (in order), side by side as [`tune_grid`] replays a
/// grid: the scores of `tune --change`. A change that leaves a breaker
/// misconfigured is refused, with why.
pub fn tune_changes(
    reader: &mut TraceReader,
    changes: &[Change],
    only: Option<&str>,
    seed: u64,
    jobs: usize,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Tuned {
    let variants: Vec<Variant<'_>> = std::iter::once(Variant::Keys(&[]))
        .chain(changes.iter().map(Variant::Live))
        .collect();
    tune(reader, &variants, only, (seed, None), jobs, progress)
}

/// [`tune_grid`] across `fleet`: each combination replayed by every
/// replica of the breakers it applies to, and scored over the fleet's
/// events. `reader` reads the trace of a fleet of that many replicas
/// (`TraceReader::with_replicas`).
pub fn tune_fleet_grid(
    reader: &mut TraceReader,
    grid: &[Combination],
    only: Option<&str>,
    seed: u64,
    jobs: usize,
    fleet: &Fleet,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Tuned {
    let variants: Vec<Variant<'_>> = grid.iter().map(|c| Variant::Keys(c)).collect();
    tune(reader, &variants, only, (seed, Some(fleet)), jobs, progress)
}

fn tune(
    reader: &mut TraceReader,
    variants: &[Variant<'_>],
    only: Option<&str>,
    (seed, fleet): (u64, Option<&Fleet>),
    jobs: usize,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Tuned {
    let jobs = jobs.clamp(1, variants.len().max(1));
    let mut scores: Vec<Option<Score>> = vec![None; variants.len()];
    let mut refused: Vec<Option<String>> = vec![None; variants.len()];
    let mut stop = None;
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for job in 0..jobs {
            let mine: Vec<usize> = (job..variants.len()).step_by(jobs).collect();
            let (send, pieces) = sync_channel(2);
            senders.push(send);
            workers.push(scope.spawn(move || work(variants, &mine, only, (seed, fleet), pieces)));
        }
        let mut breakers: Arc<Vec<Declaration>> = Arc::default();
        let finish = loop {
            match reader.next_chunk() {
                Ok(Some(chunk)) => {
                    if reader.breakers().len() != breakers.len() {
                        breakers = Arc::new(reader.breakers().to_vec());
                    }
                    let chunk = Arc::new(chunk);
                    for send in &senders {
                        // A thread that stopped has panicked: joined below.
                        let _ = send.send(Piece::Lines(Arc::clone(&breakers), Arc::clone(&chunk)));
                    }
                    let (read, total) = reader.progress();
                    progress(read, total);
                }
                Ok(None) => break true,
                Err(s) => {
                    let keep = s.keeps_what_came_before();
                    stop = Some(s);
                    break keep;
                }
            }
        };
        for send in &senders {
            let _ = send.send(Piece::End { finish });
        }
        drop(senders);
        for worker in workers {
            // A panic in a replay is a bug: carried on, not hidden.
            let results = match worker.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            for (index, score, why) in results {
                if let Some(slot) = scores.get_mut(index) {
                    *slot = score;
                }
                if let Some(slot) = refused.get_mut(index) {
                    *slot = why;
                }
            }
        }
    });
    Tuned {
        scores,
        refused,
        breakers: reader.breakers().iter().map(|d| d.name.clone()).collect(),
        stop,
    }
}
