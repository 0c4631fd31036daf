//! `tune --grid` in one pass over the trace: every configuration of the
//! grid is replayed side by side through breaker-core, each piece of the
//! trace read and parsed once and handed to all of them, and each scored as
//! it goes ([`Scorer`]), so neither the trace nor a log is ever held.
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
use crate::tune::{Score, with_overrides};

/// A configuration of the grid: the keys it overrides.
pub type Combination = Vec<(String, String)>;

/// What the grid's replays came to: a score per combination, in grid order
/// (`None`: the combination is invalid for a breaker, or breaker-core
/// refuses it), and why the trace stopped early, if it did.
pub struct Tuned {
    /// Each combination's score, in grid order.
    pub scores: Vec<Option<Score>>,
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

/// breaker-core breakers under one combination: each declared breaker (or
/// only `only`) has the combination's keys set over its declaration's.
struct Tried<'a, 'g> {
    cores: Subjects<'a>,
    combination: &'g [(String, String)],
    only: Option<&'g str>,
    /// Each breaker's `timeout` as tried: the score judges calls by it.
    timeouts: Vec<Option<u64>>,
}

impl<'a> Cast for Tried<'a, '_> {
    type Subject = RealSubject<'a>;

    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        let config = if self.only.is_none_or(|n| n == decl.name) {
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

/// One combination's replay and score; `None` once it turned out invalid.
struct Trial<'a, 'g> {
    index: usize,
    run: Option<(Replay<Tried<'a, 'g>>, Scorer)>,
}

impl Trial<'_, '_> {
    fn piece(&mut self, breakers: &[Declaration], chunk: &Chunk) {
        let Some((replay, scorer)) = self.run.as_mut() else {
            return;
        };
        if replay.prepare(chunk, breakers, &mut Ignore).is_err() {
            self.run = None;
            return;
        }
        let timeouts = &replay.cast().timeouts;
        for timeout in timeouts.get(scorer.declared()..).unwrap_or(&[]) {
            scorer.declare(*timeout);
        }
        scorer.lines(chunk);
        replay.feed(chunk, 0..chunk.lines.len(), scorer);
    }

    fn finish(self) -> (usize, Option<Score>) {
        let score = self.run.map(|(mut replay, mut scorer)| {
            replay.finish(&mut scorer);
            scorer.finish()
        });
        (self.index, score)
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

/// Replays combinations `mine` (indices into `grid`) as pieces come from
/// `pieces`; their scores, `None` for the invalid ones.
fn work(
    grid: &[Combination],
    mine: &[usize],
    only: Option<&str>,
    (seed, fleet): (u64, Option<&Fleet>),
    pieces: Receiver<Piece>,
) -> Vec<(usize, Option<Score>)> {
    let arena = typed_arena::Arena::<RealBreaker>::new();
    let mut trials = trials(&arena, grid, mine, only, (seed, fleet));
    while let Ok(piece) = pieces.recv() {
        match piece {
            Piece::Lines(breakers, chunk) => {
                for t in &mut trials {
                    t.piece(&breakers, &chunk);
                }
            }
            Piece::End { finish: true } => break,
            Piece::End { finish: false } => return Vec::new(),
        }
    }
    trials.into_iter().map(Trial::finish).collect()
}

fn trials<'a, 'g>(
    arena: &'a typed_arena::Arena<RealBreaker>,
    grid: &'g [Combination],
    mine: &[usize],
    only: Option<&'g str>,
    (seed, fleet): (u64, Option<&Fleet>),
) -> Vec<Trial<'a, 'g>> {
    mine.iter()
        .filter_map(|&index| {
            let combination = grid.get(index)?;
            let cores = match fleet {
                Some(fleet) => Subjects::Fleet(Replicas::new(arena, fleet, seed)),
                None => Subjects::Alone(Cores::new(arena, seed)),
            };
            let cast = Tried {
                cores,
                combination,
                only,
                timeouts: Vec::new(),
            };
            Some(Trial {
                index,
                run: Some((Replay::new(cast), Scorer::new())),
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
    tune(reader, grid, only, (seed, None), jobs, progress)
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
    tune(reader, grid, only, (seed, Some(fleet)), jobs, progress)
}

fn tune(
    reader: &mut TraceReader,
    grid: &[Combination],
    only: Option<&str>,
    (seed, fleet): (u64, Option<&Fleet>),
    jobs: usize,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Tuned {
    let jobs = jobs.clamp(1, grid.len().max(1));
    let mut scores: Vec<Option<Score>> = vec![None; grid.len()];
    let mut stop = None;
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for job in 0..jobs {
            let mine: Vec<usize> = (job..grid.len()).step_by(jobs).collect();
            let (send, pieces) = sync_channel(2);
            senders.push(send);
            workers.push(scope.spawn(move || work(grid, &mine, only, (seed, fleet), pieces)));
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
            for (index, score) in results {
                if let Some(slot) = scores.get_mut(index) {
                    *slot = score;
                }
            }
        }
    });
    Tuned {
        scores,
        breakers: reader.breakers().iter().map(|d| d.name.clone()).collect(),
        stop,
    }
}
