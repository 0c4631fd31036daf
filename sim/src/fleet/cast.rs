//! [`Replicas`]: the subjects of a fleet's replay, built as the trace
//! declares its breakers: each breaker once per replica, breaker-core's
//! own, all on one manual clock and each joined to its replica's handle of
//! the in-memory store.

use breaker_core::Config;

use super::options::Fleet;
use super::world::SharedWorld;
use crate::config::BreakerConfig;
use crate::engine::World;
use crate::stream::Cast;
use crate::subject::real::{self, RealBreaker, RealSubject};
use crate::trace::{Chunk, Declaration, TraceError};

/// breaker-core breakers, `replicas` per declared breaker, kept in `arena`
/// (their permits borrow them while calls are in flight).
pub struct Replicas<'a> {
    arena: &'a typed_arena::Arena<RealBreaker>,
    subjects: Vec<RealSubject<'a>>,
    configs: Vec<Option<Config>>,
    seed: u64,
    replicas: u16,
    shared: SharedWorld,
}

impl<'a> Replicas<'a> {
    /// No breaker yet; they will live in `arena`, replay `fleet` and draw
    /// their waits and drops under `seed`.
    pub fn new(
        arena: &'a typed_arena::Arena<RealBreaker>,
        fleet: &Fleet,
        seed: u64,
    ) -> Replicas<'a> {
        Replicas {
            arena,
            subjects: Vec::new(),
            configs: Vec::new(),
            seed,
            replicas: fleet.replicas,
            shared: SharedWorld::new(fleet, breaker_core::clock::ManualClock::new()),
        }
    }

    /// What the replicas share: the store, the partitions, the clock.
    pub fn shared(&self) -> &SharedWorld {
        &self.shared
    }
}

impl<'a> Cast for Replicas<'a> {
    type Subject = RealSubject<'a>;

    fn declare(&mut self, file: &str, decl: &Declaration) -> Result<BreakerConfig, TraceError> {
        let index = self.configs.len();
        for r in 0..usize::from(self.replicas) {
            // The first replica draws as a lone breaker of the name would.
            let label = match r {
                0 => decl.name.clone(),
                r => format!("{}@{}", decl.name, r + 1),
            };
            let breaker = RealBreaker::replica(
                decl,
                self.seed,
                &label,
                self.shared.clock(),
                self.shared.store(r),
            )
            .map_err(|message| real::refused_declaration(file, decl, message))?;
            let breaker: &'a RealBreaker = self.arena.alloc(breaker);
            self.subjects.push(breaker.subject());
        }
        self.configs
            .push(real::configure(decl, 0).ok().map(|(config, _)| config));
        self.shared.declare(&decl.name, index);
        Ok(decl.config.clone())
    }

    fn check(&mut self, chunk: &Chunk, breakers: &[Declaration]) -> Result<(), TraceError> {
        real::check_changes(
            &mut self.configs,
            &chunk.file,
            &chunk.reconfigurations,
            breakers,
        )
    }

    fn subjects(&mut self) -> &mut [RealSubject<'a>] {
        &mut self.subjects
    }

    fn replicas(&self) -> u16 {
        self.replicas
    }

    fn parts(&mut self) -> (&mut [RealSubject<'a>], Option<&mut dyn World>) {
        (&mut self.subjects, Some(&mut self.shared))
    }
}
