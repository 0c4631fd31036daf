//! Comparing two event logs: the first divergence and its context.

use crate::log::Event;

/// Where two logs first differ, with the events before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based index of the first differing event.
    pub index: usize,
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
        writeln!(f, "first divergence at event {}:", self.index + 1)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EventKind, State};

    fn admitted(call: u64) -> Event {
        Event {
            t_ns: call,
            breaker: 0,
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
