//! The event log of TRACES.md: typed events and their JSON Lines form.

use std::fmt::Write as _;

use crate::trace::Action;

/// A breaker state as the event log writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// `closed`
    Closed,
    /// `open`
    Open,
    /// `half_open`
    HalfOpen,
    /// `forced_open`
    ForcedOpen,
    /// `disabled`
    Disabled,
    /// `metrics_only`
    MetricsOnly,
}

impl State {
    /// Every state, in a fixed order (for summaries).
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::MetricsOnly,
    ];

    /// The state's name in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::MetricsOnly => "metrics_only",
        }
    }

    /// The state of this name in the event log, if any.
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How an admitted call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndKind {
    /// A success (also an error the classifier ignores).
    Success,
    /// A failure (an error or a panic).
    Failure,
    /// A failure by timeout.
    Timeout,
}

impl EndKind {
    /// The outcome's name in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Success => "success",
            EndKind::Failure => "failure",
            EndKind::Timeout => "timeout",
        }
    }

    /// Whether this outcome is a failure (a timeout is one).
    pub fn is_failure(self) -> bool {
        !matches!(self, EndKind::Success)
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A call was admitted.
    Admitted {
        /// The call's number.
        call: u64,
        /// The attempt: 0 is the call itself, k >= 1 its k-th retry.
        attempt: u32,
        /// The state right after.
        state: State,
    },
    /// A call was rejected and never ran.
    Rejected {
        /// The call's number.
        call: u64,
        /// The attempt: 0 is the call itself, k >= 1 its k-th retry.
        attempt: u32,
        /// The state right after.
        state: State,
        /// Time until a trial is let through, only in Open.
        retry_after_ns: Option<u64>,
    },
    /// An admitted call ended.
    Ended {
        /// The call's number.
        call: u64,
        /// The attempt: 0 is the call itself, k >= 1 its k-th retry.
        attempt: u32,
        /// How it ended.
        outcome: EndKind,
        /// How long it ran.
        latency_ns: u64,
        /// Latency strictly above `slow`.
        slow: bool,
        /// Admitted in an earlier period.
        straggler: bool,
        /// The state right after.
        state: State,
    },
    /// An operator action.
    Action {
        /// Which one.
        action: Action,
        /// The state right after.
        state: State,
    },
    /// A `configure` line that changed at least one effective value.
    Configured {
        /// The keys whose effective value changed, with their new values,
        /// as a `breaker` line writes them, in the attribute's key order
        /// (`fail_max=10 reset=1m`); a key left without a value (the default
        /// `fail_max` a rate policy ends) is written `fail_max=`.
        keys: String,
        /// The state right after (a reconfiguration never moves it).
        state: State,
    },
    /// A change of state.
    Transition {
        /// From this state.
        from: State,
        /// To this state.
        to: State,
        /// Why, as breaker-core's `Reason` writes it.
        reason: String,
        /// A move of the dry run of a MetricsOnly breaker, written
        /// `"dry_run":true` after the reason (an extension of TRACES.md's log).
        dry_run: bool,
    },
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Virtual time, in ns.
    pub t_ns: u64,
    /// Index of the breaker in the trace's declarations.
    pub breaker: usize,
    /// In a replay of a fleet (`--replicas N`), the replica (from 1) of the
    /// breaker it happened to, written `"replica":R`; 0 outside one, and
    /// nothing is written.
    pub replica: u16,
    /// What happened.
    pub kind: EventKind,
}

/// Appends the call number, and the attempt when it is a retry (an
/// extension of TRACES.md's log: attempt 0 writes nothing, so logs without
/// retries are unchanged).
fn push_call(out: &mut String, call: u64, attempt: u32) {
    let _ = write!(out, ",\"call\":{call}");
    if attempt > 0 {
        let _ = write!(out, ",\"attempt\":{attempt}");
    }
}

/// Appends `s` to `out` as a JSON string, quotes included.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Event {
    /// Appends this event as one JSON line (with its newline), naming the breaker `name`.
    pub fn write_json(&self, name: &str, out: &mut String) {
        let _ = write!(out, "{{\"t_ns\":{},\"breaker\":", self.t_ns);
        push_json_string(out, name);
        if self.replica > 0 {
            let _ = write!(out, ",\"replica\":{}", self.replica);
        }
        match &self.kind {
            EventKind::Admitted {
                call,
                attempt,
                state,
            } => {
                push_call(out, *call, *attempt);
                let _ = write!(
                    out,
                    ",\"event\":\"admitted\",\"state\":\"{}\"",
                    state.as_str()
                );
            }
            EventKind::Rejected {
                call,
                attempt,
                state,
                retry_after_ns,
            } => {
                push_call(out, *call, *attempt);
                let _ = write!(
                    out,
                    ",\"event\":\"rejected\",\"state\":\"{}\"",
                    state.as_str()
                );
                if let Some(r) = retry_after_ns {
                    let _ = write!(out, ",\"retry_after_ns\":{r}");
                }
            }
            EventKind::Ended {
                call,
                attempt,
                outcome,
                latency_ns,
                slow,
                straggler,
                state,
            } => {
                push_call(out, *call, *attempt);
                let _ = write!(
                    out,
                    ",\"event\":\"ended\",\"outcome\":\"{}\",\"latency_ns\":{latency_ns}",
                    outcome.as_str()
                );
                if *slow {
                    out.push_str(",\"slow\":true");
                }
                if *straggler {
                    out.push_str(",\"straggler\":true");
                }
                let _ = write!(out, ",\"state\":\"{}\"", state.as_str());
            }
            EventKind::Action { action, state } => {
                let _ = write!(
                    out,
                    ",\"event\":\"action\",\"action\":\"{}\",\"state\":\"{}\"",
                    action.as_str(),
                    state.as_str()
                );
            }
            EventKind::Configured { keys, state } => {
                out.push_str(",\"event\":\"configured\",\"keys\":");
                push_json_string(out, keys);
                let _ = write!(out, ",\"state\":\"{}\"", state.as_str());
            }
            EventKind::Transition {
                from,
                to,
                reason,
                dry_run,
            } => {
                let _ = write!(
                    out,
                    ",\"event\":\"transition\",\"from\":\"{}\",\"to\":\"{}\",\"reason\":",
                    from.as_str(),
                    to.as_str()
                );
                push_json_string(out, reason);
                if *dry_run {
                    out.push_str(",\"dry_run\":true");
                }
            }
        }
        out.push_str("}\n");
    }
}

/// Renders a whole log as JSON Lines; `names` are the breakers' names by index.
pub fn render(events: &[Event], names: &[String]) -> String {
    let mut out = String::with_capacity(events.len() * 96);
    for e in events {
        e.write_json(names.get(e.breaker).map_or("?", String::as_str), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_examples_of_traces_md() {
        let names = vec!["db".to_string()];
        let events = [
            Event {
                t_ns: 10_000_000,
                breaker: 0,
                replica: 0,
                kind: EventKind::Admitted {
                    call: 2,
                    attempt: 0,
                    state: State::Closed,
                },
            },
            Event {
                t_ns: 15_000_000,
                breaker: 0,
                replica: 0,
                kind: EventKind::Transition {
                    from: State::Closed,
                    to: State::Open,
                    reason: "5 consecutive failures".into(),
                    dry_run: false,
                },
            },
            Event {
                t_ns: 16_000_000,
                breaker: 0,
                replica: 0,
                kind: EventKind::Rejected {
                    call: 7,
                    attempt: 0,
                    state: State::Open,
                    retry_after_ns: Some(29_999_000_000),
                },
            },
        ];
        assert_eq!(
            render(&events, &names),
            "{\"t_ns\":10000000,\"breaker\":\"db\",\"call\":2,\"event\":\"admitted\",\"state\":\"closed\"}\n\
             {\"t_ns\":15000000,\"breaker\":\"db\",\"event\":\"transition\",\"from\":\"closed\",\"to\":\"open\",\"reason\":\"5 consecutive failures\"}\n\
             {\"t_ns\":16000000,\"breaker\":\"db\",\"call\":7,\"event\":\"rejected\",\"state\":\"open\",\"retry_after_ns\":29999000000}\n"
        );
    }

    #[test]
    fn writes_ended_flags_only_when_true() {
        let mut out = String::new();
        Event {
            t_ns: 1,
            breaker: 0,
            replica: 0,
            kind: EventKind::Ended {
                call: 1,
                attempt: 0,
                outcome: EndKind::Timeout,
                latency_ns: 5,
                slow: true,
                straggler: false,
                state: State::Open,
            },
        }
        .write_json("a", &mut out);
        assert_eq!(
            out,
            "{\"t_ns\":1,\"breaker\":\"a\",\"call\":1,\"event\":\"ended\",\"outcome\":\"timeout\",\"latency_ns\":5,\"slow\":true,\"state\":\"open\"}\n"
        );
    }

    #[test]
    fn writes_the_attempt_of_a_retry_after_the_call() {
        let mut out = String::new();
        Event {
            t_ns: 3,
            breaker: 0,
            replica: 0,
            kind: EventKind::Rejected {
                call: 4,
                attempt: 2,
                state: State::Open,
                retry_after_ns: Some(9),
            },
        }
        .write_json("a", &mut out);
        assert_eq!(
            out,
            "{\"t_ns\":3,\"breaker\":\"a\",\"call\":4,\"attempt\":2,\"event\":\"rejected\",\"state\":\"open\",\"retry_after_ns\":9}\n"
        );
    }

    #[test]
    fn writes_a_configured_event_as_an_action_with_its_keys() {
        let mut out = String::new();
        Event {
            t_ns: 180_000_000_000,
            breaker: 0,
            replica: 0,
            kind: EventKind::Configured {
                keys: "fail_max=10 reset=1m".into(),
                state: State::Open,
            },
        }
        .write_json("db", &mut out);
        assert_eq!(
            out,
            "{\"t_ns\":180000000000,\"breaker\":\"db\",\"event\":\"configured\",\"keys\":\"fail_max=10 reset=1m\",\"state\":\"open\"}\n"
        );
    }

    #[test]
    fn escapes_strings() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
