//! Whether tokio's timers can end each call of a trace at its own time (the
//! async attribute mode), checked a chunk at a time before it is replayed.
//!
//! tokio's timers fire on whole milliseconds from the runtime's start, so a
//! call that sleeps must end on a whole millisecond of the trace (its start
//! plus its latency, or plus the `timeout` in force when that is shorter),
//! and within tokio's range.

use crate::duration::format_duration;
use crate::trace::{Declaration, Item, Lines, TraceError};

const MS: u64 = 1_000_000;
/// tokio's longest timer, in ms (its wheel's range, about 2.2 years).
const TIMER_RANGE_MS: u64 = (1 << 36) - 1;

/// What the check keeps of each breaker declared so far, across chunks.
struct Timed {
    /// The file it was declared in: its errors stand at its declaration.
    file: String,
    /// Its calls so far, to name the one refused.
    calls: u64,
    /// The `timeout` in force, which cuts each call (`configure` lines
    /// change it).
    timeout_ns: Option<u64>,
}

/// The breakers' calls so far and `timeout` in force.
#[derive(Default)]
pub(crate) struct Timers {
    breakers: Vec<Timed>,
}

impl Timers {
    /// The next breaker, declared by `decl` in `file`.
    pub(crate) fn declare(&mut self, file: &str, decl: &Declaration) {
        self.breakers.push(Timed {
            file: file.to_string(),
            calls: 0,
            timeout_ns: decl.config.timeout,
        });
    }

    /// Refuses a call of `lines` (a chunk's, or a whole trace's) that
    /// tokio's timers cannot end at its own time: one that sleeps and ends
    /// between two milliseconds, or beyond tokio's range. The error stands
    /// at the breaker's declaration (of `breakers`) and names the call.
    pub(crate) fn check(
        &mut self,
        lines: Lines<'_>,
        breakers: &[Declaration],
    ) -> Result<(), TraceError> {
        for line in lines.lines {
            let Some(timed) = self.breakers.get_mut(line.breaker()) else {
                continue;
            };
            let latency_ns = match line.item() {
                Item::Call { latency_ns, .. } => latency_ns,
                Item::Configure(index) => {
                    if let Some(change) = lines.reconfigurations.get(index) {
                        timed.timeout_ns = change.config.timeout;
                    }
                    continue;
                }
                Item::Action(_) => continue,
            };
            timed.calls += 1;
            if latency_ns == 0 {
                continue;
            }
            let runs = timed.timeout_ns.map_or(latency_ns, |t| t.min(latency_ns));
            let end = line.t_ns.saturating_add(runs);
            if end % MS != 0 || end / MS > TIMER_RANGE_MS {
                let (line_no, name) = breakers
                    .get(line.breaker())
                    .map_or((0, "?"), |d| (d.line_no, d.name.as_str()));
                return Err(TraceError {
                    file: timed.file.clone(),
                    line: line_no,
                    column: 1,
                    message: format!(
                        "call {} of `{name}` (at {}) would end at {}, but tokio's timers fire on whole milliseconds (up to about 2.2 years); the async attribute mode replays only calls that sleep until such a time",
                        timed.calls,
                        format_duration(line.t_ns),
                        format_duration(end)
                    ),
                });
            }
        }
        Ok(())
    }
}
