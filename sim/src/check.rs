//! Comparing two event logs: the first divergence and its context, from
//! two logs in memory ([`compare`]) or from a trace replayed through
//! breaker-core and the reference model side by side as it is read
//! ([`check_stream`]), which stops at the first divergence.

use std::collections::{BTreeSet, VecDeque};

use crate::log::{Event, EventKind, State};
use crate::stream::{Models, Observer, Replay};
use crate::subject::real::Cores;
use crate::trace::Declaration;
use crate::trace::reader::{ChunkSource, Stopped};

/// Where two logs first differ, with the events before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based index of the first differing event.
    pub index: usize,
    /// The trace line being replayed when the logs parted (`FILE:LINE`),
    /// when known; ends of calls in flight after the last line have none.
    pub line: Option<String>,
    /// Up to ten JSON lines both logs share just before it.
    pub before: Vec<String>,
    /// The expected (reference model's) line, or none if its log ended.
    pub expected: Option<String>,
    /// The actual (breaker-core's) line, or none if its log ended.
    pub actual: Option<String>,
}

/// Compares the logs event by event; `None` when they are identical.
pub fn compare(expected: &[Event], actual: &[Event], names: &[String]) -> Option<Divergence> {
    let mut checker = Checker::new(expected, names);
    for e in actual {
        checker.observe(e);
    }
    checker.finish()
}

/// Checks a log as it is produced against an expected one, keeping only the
/// first divergence (so the actual log never needs to be stored).
#[derive(Debug)]
pub struct Checker<'a> {
    expected: &'a [Event],
    names: &'a [String],
    seen: usize,
    divergence: Option<Divergence>,
}

impl<'a> Checker<'a> {
    /// A checker against `expected`; `names` are the breakers' names by index.
    pub fn new(expected: &'a [Event], names: &'a [String]) -> Checker<'a> {
        Checker {
            expected,
            names,
            seen: 0,
            divergence: None,
        }
    }

    /// Takes the next actual event.
    pub fn observe(&mut self, actual: &Event) {
        if self.divergence.is_none() && self.expected.get(self.seen) != Some(actual) {
            self.divergence = Some(self.diverge(Some(actual)));
        }
        self.seen += 1;
    }

    fn diverge(&self, actual: Option<&Event>) -> Divergence {
        let line = |e: &Event| {
            let mut s = String::new();
            e.write_json(
                self.names.get(e.breaker).map_or("?", String::as_str),
                &mut s,
            );
            s.pop();
            s
        };
        let index = self.seen.min(self.expected.len());
        Divergence {
            index,
            line: None,
            before: self.expected[index.saturating_sub(10)..index]
                .iter()
                .map(line)
                .collect(),
            expected: self.expected.get(index).map(line),
            actual: actual.map(line),
        }
    }

    /// The first divergence, if any (a log shorter than expected diverges where it ends).
    pub fn finish(self) -> Option<Divergence> {
        if self.divergence.is_some() || self.seen >= self.expected.len() {
            return self.divergence;
        }
        Some(self.diverge(None))
    }
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.line {
            Some(line) => writeln!(
                f,
                "first divergence at event {}, replaying {line}:",
                self.index + 1
            )?,
            None => writeln!(f, "first divergence at event {}:", self.index + 1)?,
        }
        for l in &self.before {
            writeln!(f, "    {l}")?;
        }
        writeln!(
            f,
            "  model:        {}",
            self.expected.as_deref().unwrap_or("(no more events)")
        )?;
        write!(
            f,
            "  breaker-core: {}",
            self.actual.as_deref().unwrap_or("(no more events)")
        )
    }
}

/// What checking a trace found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Events both replays wrote alike, up to the first divergence.
    pub identical: u64,
    /// The transition edges the model took (dry runs aside), up to the
    /// first divergence.
    pub edges: BTreeSet<(State, State)>,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
}

/// The events of both replays, met as they come.
#[derive(Default)]
struct Meeting {
    names: Vec<String>,
    /// The model's events not yet met by breaker-core's.
    expected: VecDeque<Event>,
    /// The last ten events met, for the report.
    before: VecDeque<Event>,
    checked: Checked,
}

impl Meeting {
    fn json(&self, e: &Event) -> String {
        let mut s = String::new();
        e.write_json(
            self.names.get(e.breaker).map_or("?", String::as_str),
            &mut s,
        );
        s.pop();
        s
    }

    fn diverge(&mut self, expected: Option<Event>, actual: Option<&Event>) {
        self.checked.divergence = Some(Divergence {
            index: usize::try_from(self.checked.identical).unwrap_or(usize::MAX),
            line: None,
            before: self.before.iter().map(|e| self.json(e)).collect(),
            expected: expected.map(|e| self.json(&e)),
            actual: actual.map(|e| self.json(e)),
        });
    }

    fn met(&mut self, actual: &Event) {
        if self.checked.divergence.is_some() {
            return;
        }
        match self.expected.pop_front() {
            Some(expected) if expected == *actual => {
                self.checked.identical += 1;
                if self.before.len() == 10 {
                    self.before.pop_front();
                }
                self.before.push_back(expected);
            }
            expected => self.diverge(expected, Some(actual)),
        }
    }
}

/// The reference model's side: its events wait to be met.
struct Expected<'a>(&'a mut Meeting);

impl Observer for Expected<'_> {
    fn declared(&mut self, decl: &Declaration) {
        self.0.names.push(decl.name.clone());
    }

    fn event(&mut self, e: Event) {
        if let EventKind::Transition {
            from,
            to,
            dry_run: false,
            ..
        } = &e.kind
        {
            self.0.checked.edges.insert((*from, *to));
        }
        self.0.expected.push_back(e);
    }
}

/// breaker-core's side: each event meets the model's next one.
struct Actual<'a>(&'a mut Meeting);

impl Observer for Actual<'_> {
    fn event(&mut self, e: Event) {
        self.0.met(&e);
    }
}

/// Replays the trace `reader` reads through breaker-core and the reference
/// model side by side, line by line, comparing every event as it comes, and
/// stops at the first divergence (naming the trace line being replayed).
/// `progress` hears how much of the input is read. A stop of the trace
/// comes back beside what was checked before it.
pub fn check_stream(
    reader: &mut impl ChunkSource,
    seed: u64,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> (Checked, Option<Stopped>) {
    let arena = typed_arena::Arena::new();
    let mut model = Replay::new(Models::new(seed));
    let mut core = Replay::new(Cores::new(&arena, seed));
    let mut meeting = Meeting::default();
    let stop = loop {
        let chunk = match reader.next_chunk() {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break None,
            Err(stop) => break Some(stop),
        };
        let prepared = model
            .prepare(&chunk, reader.breakers(), &mut Expected(&mut meeting))
            .and_then(|()| core.prepare(&chunk, reader.breakers(), &mut Actual(&mut meeting)));
        if let Err(error) = prepared {
            return (
                meeting.checked,
                Some(Stopped::Trace {
                    error,
                    truncated: false,
                }),
            );
        }
        let (read, total) = reader.progress();
        progress(read, total);
        for i in 0..chunk.lines.len() {
            model.feed(&chunk, i..i + 1, &mut Expected(&mut meeting));
            core.feed(&chunk, i..i + 1, &mut Actual(&mut meeting));
            if let Some(d) = meeting.checked.divergence.as_mut() {
                d.line = chunk.line_nos.get(i).map(|n| format!("{}:{n}", chunk.file));
                return (meeting.checked, None);
            }
        }
    };
    if stop.as_ref().is_some_and(|s| !s.keeps_what_came_before()) {
        return (meeting.checked, stop);
    }
    model.finish(&mut Expected(&mut meeting));
    core.finish(&mut Actual(&mut meeting));
    if meeting.checked.divergence.is_none() {
        if let Some(expected) = meeting.expected.pop_front() {
            meeting.diverge(Some(expected), None);
        }
    }
    (meeting.checked, stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EventKind, State};

    fn admitted(call: u64) -> Event {
        Event {
            t_ns: call,
            breaker: 0,
            replica: 0,
            kind: EventKind::Admitted {
                call,
                attempt: 0,
                state: State::Closed,
            },
        }
    }

    #[test]
    fn finds_the_first_difference_with_ten_events_before_it() {
        let expected: Vec<Event> = (1..=20).map(admitted).collect();
        let mut actual = expected.clone();
        actual[14] = Event {
            t_ns: 15,
            breaker: 0,
            replica: 0,
            kind: EventKind::Admitted {
                call: 15,
                attempt: 0,
                state: State::Open,
            },
        };
        let d = compare(&expected, &actual, &["db".to_string()]).unwrap();
        assert_eq!(d.index, 14);
        assert_eq!(d.before.len(), 10);
        assert!(d.before[0].contains("\"call\":5,"));
        assert!(d.actual.unwrap().contains("\"state\":\"open\""));
    }

    #[test]
    fn a_shorter_log_diverges_where_it_ends() {
        let expected: Vec<Event> = (1..=3).map(admitted).collect();
        let d = compare(&expected, &expected[..2], &[]).unwrap();
        assert_eq!((d.index, d.actual), (2, None));
        assert!(compare(&expected, &expected, &[]).is_none());
    }
}
