//! A fleet's replay driven line by line, so that its check knows the trace
//! line being replayed when an invariant breaks ([`check_stream`]).

use super::cast::Replicas;
use super::check::{FleetCheck, FleetChecked};
use super::options::Fleet;
use crate::log::Event;
use crate::stream::{Observer, Replay};
use crate::trace::Declaration;
use crate::trace::reader::{ChunkSource, Stopped};

/// The check as a replay's observer: each event as the log writes it.
struct Checking<'a> {
    check: &'a mut FleetCheck,
    names: Vec<String>,
    json: String,
}

impl Observer for Checking<'_> {
    fn declared(&mut self, decl: &Declaration) {
        self.names.push(decl.name.clone());
        self.check.declared(decl);
    }

    fn event(&mut self, e: Event) {
        self.json.clear();
        e.write_json(
            self.names.get(e.breaker).map_or("?", String::as_str),
            &mut self.json,
        );
        self.json.pop();
        self.check.event(&e, &self.json);
    }
}

/// Replays the trace `reader` reads across `fleet` (retry waits and drops
/// drawn under `seed`), checking the fleet's invariants as the events come
/// (see [`super::check`]), and stops at the first violation, naming the
/// trace line being replayed. `progress` hears how much of the input is
/// read. A stop of the trace comes back beside what was checked before it.
pub fn check_stream(
    reader: &mut impl ChunkSource,
    fleet: &Fleet,
    seed: u64,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> (FleetChecked, Option<Stopped>) {
    let arena = typed_arena::Arena::new();
    let cast = Replicas::new(&arena, fleet, seed);
    let mut check = FleetCheck::new(fleet, cast.shared().store(0).clone());
    let mut replay = Replay::new(cast);
    let mut names = Vec::new();
    let stop = loop {
        let chunk = match reader.next_chunk() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break None,
            Err(stop) => break Some(stop),
        };
        let mut observer = Checking {
            check: &mut check,
            names: std::mem::take(&mut names),
            json: String::new(),
        };
        if let Err(error) = replay.prepare(&chunk, reader.breakers(), &mut observer) {
            return (
                check.finish(),
                Some(Stopped::Trace {
                    error,
                    truncated: false,
                }),
            );
        }
        let (read, total) = reader.progress();
        progress(read, total);
        for i in 0..chunk.lines.len() {
            let line = chunk.line_nos.get(i).map(|n| format!("{}:{n}", chunk.file));
            observer.check.replaying(line);
            replay.feed(&chunk, i..i + 1, &mut observer);
            if observer.check.violated() {
                return (check.finish(), None);
            }
        }
        names = observer.names;
    };
    if stop.as_ref().is_some_and(|s| !s.keeps_what_came_before()) {
        return (check.finish(), stop);
    }
    check.replaying(None);
    let mut observer = Checking {
        check: &mut check,
        names,
        json: String::new(),
    };
    replay.finish(&mut observer);
    (check.finish(), stop)
}
