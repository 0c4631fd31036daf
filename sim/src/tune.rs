//! `breaker-sim tune`: replay one trace under every configuration of a grid
//! and rank the configurations.
//!
//! A grid is `key=spec ...`, each spec a comma list (`reset=5s,30s,1m`) or an
//! inclusive integer range (`fail_max=3..10`). Every combination overrides
//! those keys on every breaker of the trace (or on one, with `--breaker`).
//!
//! The value `none` leaves a key unset (`ramp=none,10s,30s` compares no
//! ramp against two ramps): the declaration's own value is removed.
//!
//! The axis `policy` compares whole policies: its values, separated by `|`,
//! are each a comma list of `key=value` pairs, such as
//! `policy=fail_max=5|failure_rate=50,window=10s|adaptive=1.5,window=10s`.
//! A policy value first removes every key of [`POLICY_KEYS`] from the
//! declaration, then sets its own pairs; the other keys (`reset`, `timeout`,
//! ...) stay as the trace declares them, unless another axis overrides them.
//!
//! `--change` compares instead keeping the trace's configuration against
//! changing it live at a time of the trace: `at=3m fail_max=10 reset=1m`
//! becomes a `configure` line of those keys at 3m (after the trace's lines
//! of that instant) for every breaker (or one, with `--breaker`), replayed
//! under SEMANTICS.md's "Reconfiguration" rules ([`parse_change`],
//! [`with_change`]).
//!
//! Configurations are ranked by harm (failures let through + good calls
//! rejected), then by how fast incidents were detected and recovered from
//! (see [`Score`] for the definitions, taken from the event log).

use crate::config::{BreakerConfig, KEYS, RETRY_KEYS};
use crate::duration::{format_duration, parse_duration};
use crate::log::{Event, EventKind, State};
use crate::suggest::did_you_mean;
use crate::trace::{Attempts, Chunk, Declaration, Item, Line, Reconfiguration, Trace};

/// The keys that choose when a breaker sheds load: a `policy` value replaces them all.
pub const POLICY_KEYS: [&str; 8] = [
    "fail_max",
    "within",
    "failure_rate",
    "window",
    "min_calls",
    "slow",
    "slow_rate",
    "adaptive",
];

/// The grid axis whose values are whole policies.
pub const POLICY_AXIS: &str = "policy";

/// Length of the buckets incidents are read in: 1 s.
pub const INCIDENT_BUCKET_NS: u64 = 1_000_000_000;

/// Most good buckets between two bad runs that still make one incident.
pub const INCIDENT_GAP_BUCKETS: u64 = 2;

/// The grid value that leaves its key unset.
pub const NONE: &str = "none";

/// Most combinations a grid may have.
pub const MAX_COMBINATIONS: usize = 100_000;

/// One axis of a grid: a key and the values to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// The configuration key.
    pub key: String,
    /// Its values, as text.
    pub values: Vec<String>,
}

/// Parses `fail_max=3..10 reset=5s,30s`.
pub fn parse_grid(text: &str) -> Result<Vec<Axis>, String> {
    let mut axes: Vec<Axis> = Vec::new();
    for word in text.split_whitespace() {
        let Some((key, spec)) = word.split_once('=') else {
            return Err(format!(
                "expected `key=values` in the grid, found `{word}` (such as `fail_max=3..10` or `reset=5s,30s`)"
            ));
        };
        if key == POLICY_AXIS {
            if axes.iter().any(|a| a.key == key) {
                return Err(format!("key `{key}` appears twice in the grid"));
            }
            let values: Vec<String> = spec.split('|').map(str::to_string).collect();
            for value in &values {
                policy_pairs(value)?;
            }
            axes.push(Axis {
                key: key.to_string(),
                values,
            });
            continue;
        }
        if !KEYS.contains(&key) {
            return Err(format!(
                "unknown key `{key}` in the grid{}",
                did_you_mean(key, KEYS.iter().copied().chain([POLICY_AXIS]))
            ));
        }
        if axes.iter().any(|a| a.key == key) {
            return Err(format!("key `{key}` appears twice in the grid"));
        }
        // `retry_backoff` values are ranges themselves (`10ms..1s`): a list only.
        let range = spec.split_once("..").filter(|_| key != "retry_backoff");
        let values: Vec<String> = match range {
            Some((lo, hi)) => {
                let hi = hi.strip_prefix('=').unwrap_or(hi);
                let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>()) else {
                    return Err(format!(
                        "bad range `{spec}` for `{key}`; expected integers such as `3..10`"
                    ));
                };
                if lo > hi || hi - lo >= MAX_COMBINATIONS as u64 {
                    return Err(format!(
                        "bad range `{spec}` for `{key}`; expected LOW..HIGH with LOW <= HIGH"
                    ));
                }
                (lo..=hi).map(|v| v.to_string()).collect()
            }
            None => spec.split(',').map(str::to_string).collect(),
        };
        if values.iter().any(String::is_empty) {
            return Err(format!("empty value for `{key}` in the grid"));
        }
        axes.push(Axis {
            key: key.to_string(),
            values,
        });
    }
    if axes.is_empty() {
        return Err(
            "the grid is empty; expected `key=values ...` such as `fail_max=3..10 reset=5s,30s`"
                .into(),
        );
    }
    let total = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
    if total.is_none_or(|n| n > MAX_COMBINATIONS) {
        return Err(format!(
            "the grid has more than {MAX_COMBINATIONS} combinations"
        ));
    }
    Ok(axes)
}

/// The `key=value` pairs of one `policy` value (`failure_rate=50,window=10s`).
pub fn policy_pairs(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in value.split(',') {
        let Some((key, v)) = pair
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        else {
            return Err(format!(
                "bad policy `{value}`; expected `key=value` pairs joined by `,`, such as `failure_rate=50,window=10s`"
            ));
        };
        if !KEYS.contains(&key) {
            return Err(format!(
                "unknown key `{key}` in policy `{value}`{}",
                did_you_mean(key, KEYS.iter().copied())
            ));
        }
        pairs.push((key.to_string(), v.to_string()));
    }
    Ok(pairs)
}

/// A combination's label: `key=value` words, a policy written as its pairs.
pub fn label(combo: &[(String, String)]) -> String {
    combo
        .iter()
        .map(|(k, v)| {
            if k == POLICY_AXIS {
                v.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every combination of the grid, as `(key, value)` lists, first axis slowest.
pub fn combinations(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((axis.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// `config` with `overrides` applied (a value [`NONE`] removes its key),
/// validated again.
pub fn with_overrides(
    config: &BreakerConfig,
    overrides: &[(String, String)],
) -> Result<BreakerConfig, String> {
    let mut out = BreakerConfig::default();
    let mut plain: Vec<(String, String)> = Vec::new();
    let mut policy: Option<Vec<(String, String)>> = None;
    for (key, value) in overrides {
        if key == POLICY_AXIS {
            policy = Some(policy_pairs(value)?);
        } else {
            plain.push((key.clone(), value.clone()));
        }
    }
    // A policy's own pairs give way to an axis naming the same key.
    let policy: Vec<(String, String)> = policy
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !plain.iter().any(|(o, _)| o == k))
        .collect();
    let replaced = |k: &str| {
        plain.iter().chain(policy.iter()).any(|(o, _)| o == k)
            || (!policy.is_empty() && POLICY_KEYS.contains(&k))
    };
    let kept = config.raw.iter().filter(|(k, _)| !replaced(k));
    let set = plain.iter().filter(|(_, v)| v != NONE);
    for (key, value) in kept.chain(policy.iter()).chain(set) {
        out.set(key, value).map_err(|e| e.message)?;
    }
    out.validate().map_err(|e| e.message)?;
    Ok(out)
}

/// A live change to try on a recorded trace: at `at_ns`, these keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When, in trace time (ns).
    pub at_ns: u64,
    /// The `key=value` pairs, as a `configure` line writes them.
    pub keys: Vec<(String, String)>,
}

impl Change {
    /// The change's label in the table: `at 3m: fail_max=10 reset=1m`.
    pub fn label(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("at {}: {}", format_duration(self.at_ns), keys.join(" "))
    }
}

/// Parses `at=3m fail_max=10 reset=1m`: a time of the trace, then the
/// breaker's keys to set then (each checked alone here; whole, against the
/// configuration in force then, by [`with_change`]).
pub fn parse_change(text: &str) -> Result<Change, String> {
    let mut words = text.split_whitespace();
    let at = words.next().and_then(|w| w.strip_prefix("at=")).ok_or_else(|| {
        format!("expected `at=<time>` first in the change, such as `at=3m fail_max=10 reset=1m`, found `{text}`")
    })?;
    let at_ns =
        parse_duration(at).map_err(|e| format!("bad time `{at}` in the change: {}", e.message))?;
    let mut keys: Vec<(String, String)> = Vec::new();
    for word in words {
        let Some((key, value)) = word
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        else {
            return Err(format!(
                "expected `key=value` in the change, found `{word}` (such as `fail_max=10`)"
            ));
        };
        if RETRY_KEYS.contains(&key) {
            return Err(format!(
                "`{key}` shapes the caller's retries, not the breaker; a change takes the breaker's own keys"
            ));
        }
        if keys.iter().any(|(k, _)| k == key) {
            return Err(format!("key `{key}` appears twice in the change"));
        }
        BreakerConfig::default()
            .set(key, value)
            .map_err(|e| e.message)?;
        keys.push((key.to_string(), value.to_string()));
    }
    if keys.is_empty() {
        return Err(format!(
            "the change `{text}` sets no key; expected `at=<time> key=value ...`"
        ));
    }
    Ok(Change { at_ns, keys })
}

/// `trace` with `change` made live: a `configure` line of its keys at its
/// time, after the trace's lines of that instant, for every breaker (or
/// only `only`). The trace's own later `configure` lines patch the changed
/// configuration. Fails, naming the breaker, when a configuration the
/// change leads to is invalid. The inserted lines have no line number (0).
/// A trace read as a stream is changed piece by piece by [`LiveChange`].
pub fn with_change(trace: &Trace, change: &Change, only: Option<&str>) -> Result<Trace, String> {
    let mut live = LiveChange::new(change, only);
    for decl in &trace.breakers {
        live.declare(decl)?;
    }
    let whole = Chunk {
        file: String::new(),
        lines: trace.lines.clone(),
        line_nos: vec![0; trace.lines.len()],
        attempts: trace.attempts.clone(),
        reconfigurations: trace.reconfigurations.clone(),
    };
    let changed = live.chunk(&whole)?.unwrap_or(whole);
    let mut out = Trace {
        breakers: trace.breakers.clone(),
        lines: Vec::new(),
        attempts: Vec::new(),
        reconfigurations: Vec::new(),
    };
    out.append(changed);
    if let Some(end) = live.end()? {
        out.append(end);
    }
    Ok(out)
}

/// A [`Change`] made live on a trace read as a stream: each piece of the
/// trace as the changed trace has it, holding only the configurations in
/// force. The change's `configure` lines go in before the first line after
/// its instant (or at the end, [`LiveChange::end`], when none comes after
/// it); a breaker declared once they are in is declared changed (none of its
/// calls came before).
#[derive(Debug)]
pub struct LiveChange<'c> {
    change: &'c Change,
    only: Option<&'c str>,
    /// Whether the change's lines are in.
    applied: bool,
    /// Each declared breaker's name and configuration in force.
    breakers: Vec<(String, BreakerConfig)>,
    /// The file of the last piece, for the lines put in at the end.
    file: String,
}

impl<'c> LiveChange<'c> {
    /// `change`, on every breaker or on `only`.
    pub fn new(change: &'c Change, only: Option<&'c str>) -> LiveChange<'c> {
        LiveChange {
            change,
            only,
            applied: false,
            breakers: Vec::new(),
            file: String::new(),
        }
    }

    /// The next breaker is declared by `decl`: the configuration it is
    /// replayed under.
    pub fn declare(&mut self, decl: &Declaration) -> Result<BreakerConfig, String> {
        self.breakers.push((decl.name.clone(), decl.config.clone()));
        let b = self.breakers.len() - 1;
        if self.applied && self.targets(b) {
            return self.patch(b, &self.change.keys);
        }
        Ok(decl.config.clone())
    }

    /// `chunk`, the next piece of the trace, as the changed trace has it;
    /// `None` when that is `chunk` itself. The lines of breakers not yet
    /// declared are left as they are.
    pub fn chunk(&mut self, chunk: &Chunk) -> Result<Option<Chunk>, String> {
        self.file.clone_from(&chunk.file);
        let insert = match self.applied {
            false => chunk.lines.iter().position(|l| l.t_ns > self.change.at_ns),
            true => None,
        };
        if insert.is_none() && (!self.applied || chunk.reconfigurations.is_empty()) {
            // Nothing moves: the trace's own reconfigurations are in force.
            for r in &chunk.reconfigurations {
                if let Some((_, config)) = self.breakers.get_mut(r.breaker) {
                    config.clone_from(&r.config);
                }
            }
            return Ok(None);
        }
        let mut out = Chunk {
            file: chunk.file.clone(),
            lines: Vec::with_capacity(chunk.lines.len() + self.breakers.len()),
            line_nos: Vec::with_capacity(chunk.lines.len() + self.breakers.len()),
            attempts: Vec::with_capacity(chunk.attempts.len()),
            reconfigurations: Vec::with_capacity(
                chunk.reconfigurations.len() + self.breakers.len(),
            ),
        };
        // Where each line of `chunk` lands in `out`.
        let mut moved = Vec::with_capacity(chunk.lines.len());
        for (i, line) in chunk.lines.iter().enumerate() {
            if insert == Some(i) {
                self.put_in(&mut out)?;
            }
            moved.push(out.lines.len());
            let line_no = chunk.line_nos.get(i).copied().unwrap_or(0);
            match line.item() {
                Item::Configure(index) => {
                    let Some(r) = chunk.reconfigurations.get(index) else {
                        continue;
                    };
                    let config = match self.applied {
                        true => self.patch(r.breaker, &r.keys)?,
                        false => r.config.clone(),
                    };
                    if let Some((_, kept)) = self.breakers.get_mut(r.breaker) {
                        kept.clone_from(&config);
                    }
                    out.lines.push(
                        Line::configure(line.t_ns, r.breaker as u32, out.reconfigurations.len())
                            .on_replica(line.replica().unwrap_or(0)),
                    );
                    out.reconfigurations.push(Reconfiguration {
                        config,
                        ..r.clone()
                    });
                }
                _ => out.lines.push(*line),
            }
            out.line_nos.push(line_no);
        }
        out.attempts = chunk
            .attempts
            .iter()
            .filter_map(|a| {
                Some(Attempts {
                    line: *moved.get(a.line)?,
                    ..a.clone()
                })
            })
            .collect();
        Ok(Some(out))
    }

    /// What comes after the trace's last piece: the change's lines, when
    /// the trace ended at or before its instant.
    pub fn end(&mut self) -> Result<Option<Chunk>, String> {
        if self.applied {
            return Ok(None);
        }
        let mut out = Chunk {
            file: self.file.clone(),
            lines: Vec::new(),
            line_nos: Vec::new(),
            attempts: Vec::new(),
            reconfigurations: Vec::new(),
        };
        self.put_in(&mut out)?;
        Ok(Some(out))
    }

    fn targets(&self, b: usize) -> bool {
        let name = self.breakers.get(b).map(|(name, _)| name.as_str());
        self.only.is_none_or(|only| name == Some(only))
    }

    /// The configuration in force for breaker `b`, patched by `keys` and
    /// checked whole, made the one in force.
    fn patch(&mut self, b: usize, keys: &[(String, String)]) -> Result<BreakerConfig, String> {
        let Some((name, config)) = self.breakers.get_mut(b) else {
            return Err(format!("no breaker {b}"));
        };
        let mut patched = config.clone();
        for (key, value) in keys {
            patched.patch(key, value).map_err(|e| e.message)?;
        }
        patched.validate().map_err(|e| {
            format!(
                "the change leaves breaker `{name}` misconfigured: {}",
                e.message
            )
        })?;
        config.clone_from(&patched);
        Ok(patched)
    }

    /// The change's `configure` lines, one per targeted breaker.
    fn put_in(&mut self, out: &mut Chunk) -> Result<(), String> {
        self.applied = true;
        for b in 0..self.breakers.len() {
            if !self.targets(b) {
                continue;
            }
            let config = self.patch(b, &self.change.keys)?;
            out.lines.push(Line::configure(
                self.change.at_ns,
                b as u32,
                out.reconfigurations.len(),
            ));
            out.line_nos.push(0);
            out.reconfigurations.push(Reconfiguration {
                breaker: b,
                line_no: 0,
                keys: self.change.keys.clone(),
                config,
            });
        }
        Ok(())
    }
}

/// How one configuration did on the trace.
///
/// Incidents are read off the trace, not the log: its call lines are put in
/// buckets of [`INCIDENT_BUCKET_NS`] by start time; a bucket is bad when at
/// least half of its calls would fail (first attempts: `err`, `panic`, or a
/// latency above `timeout`). An incident runs from the start of a bad bucket
/// to the end of the last bad bucket of a run, runs apart by at most
/// [`INCIDENT_GAP_BUCKETS`] good (or empty) buckets making one incident.
///
/// Time to detect an incident: from its start to the first rejection or
/// transition out of Closed (dry runs aside) at or after its start, if one
/// comes before it ends. Time to recover: from its end to the first call
/// admitted in `closed` after the last rejection or transition between its
/// end and the next incident's start (after its end when there is none):
/// from then on, until the next incident, the breaker admits every call. It
/// is measured only for incidents that end before the trace's last call, and
/// counts as not recovered when no such admission comes before the next
/// incident (or the end). Adaptive throttling has no transition: its drops
/// are rejections in `closed`, so it has recovered once its drop
/// probability stays at 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Score {
    /// Admitted calls that failed or timed out.
    pub failures_let_through: u64,
    /// Rejected calls that would have succeeded.
    pub good_rejected: u64,
    /// Incidents in the trace.
    pub incidents: u64,
    /// Incidents detected.
    pub detected: u64,
    /// Sum of the times to detect, in ns, over the incidents detected.
    pub detect_total_ns: u64,
    /// Incidents that end before the trace does.
    pub ended: u64,
    /// Incidents ended that the breaker recovered from.
    pub recovered: u64,
    /// Sum of the times to recover, in ns, over the incidents recovered from.
    pub recover_total_ns: u64,
}

impl Score {
    /// Failures let through plus good calls rejected.
    pub fn harm(&self) -> u64 {
        self.failures_let_through + self.good_rejected
    }

    /// The mean time to detect over the incidents detected.
    pub fn detect_mean_ns(&self) -> Option<u64> {
        self.detect_total_ns.checked_div(self.detected)
    }

    /// The mean time to recover over the incidents recovered from.
    pub fn recover_mean_ns(&self) -> Option<u64> {
        self.recover_total_ns.checked_div(self.recovered)
    }
}

/// The incidents of a trace, as `[start, end)` in ns, and the time of its last call line.
pub fn incidents(trace: &Trace) -> (Vec<(u64, u64)>, u64) {
    // Per bucket: (calls, failing calls).
    let mut buckets: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    let mut last_call = 0;
    for (idx, line) in trace.lines.iter().enumerate() {
        if let Item::Call { .. } = line.item() {
            let b = buckets.entry(line.t_ns / INCIDENT_BUCKET_NS).or_default();
            b.0 += 1;
            b.1 += u64::from(fails(trace, idx, 0));
            last_call = last_call.max(line.t_ns);
        }
    }
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (&b, &(calls, failing)) in &buckets {
        if 2 * failing < calls {
            continue;
        }
        let (start, end) = (b * INCIDENT_BUCKET_NS, (b + 1) * INCIDENT_BUCKET_NS);
        match out.last_mut() {
            Some(last) if start <= last.1 + INCIDENT_GAP_BUCKETS * INCIDENT_BUCKET_NS => {
                last.1 = end;
            }
            _ => out.push((start, end)),
        }
    }
    (out, last_call)
}

/// Scores a replay's events against the trace that produced them.
pub fn score(trace: &Trace, events: &[Event]) -> Score {
    // The line of each call, per breaker, by call number.
    let mut lines: Vec<Vec<usize>> = vec![Vec::new(); trace.breakers.len()];
    for (idx, line) in trace.lines.iter().enumerate() {
        if let Item::Call { .. } = line.item() {
            lines[line.breaker()].push(idx);
        }
    }
    let mut s = Score::default();
    for e in events {
        match &e.kind {
            EventKind::Ended { outcome, .. } if outcome.is_failure() => s.failures_let_through += 1,
            EventKind::Rejected { call, attempt, .. } => {
                let line = usize::try_from(*call)
                    .ok()
                    .and_then(|c| lines.get(e.breaker)?.get(c.checked_sub(1)?).copied());
                if line.is_some_and(|line| !fails(trace, line, *attempt)) {
                    s.good_rejected += 1;
                }
            }
            _ => {}
        }
    }
    let (incidents, last_call) = incidents(trace);
    s.incidents = incidents.len() as u64;
    // Events that show the breaker not admitting normally.
    let shedding = |e: &Event| match &e.kind {
        EventKind::Rejected { .. } => true,
        EventKind::Transition { dry_run, .. } => !dry_run,
        _ => false,
    };
    let leaves_closed = |e: &Event| match &e.kind {
        EventKind::Rejected { .. } => true,
        EventKind::Transition { from, dry_run, .. } => !dry_run && *from == State::Closed,
        _ => false,
    };
    for (i, &(start, end)) in incidents.iter().enumerate() {
        if let Some(e) = events
            .iter()
            .find(|e| e.t_ns >= start && e.t_ns < end && leaves_closed(e))
        {
            s.detected += 1;
            s.detect_total_ns += e.t_ns - start;
        }
        if end > last_call {
            continue;
        }
        s.ended += 1;
        let next = incidents.get(i + 1).map_or(u64::MAX, |n| n.0);
        let span: Vec<&Event> = events
            .iter()
            .filter(|e| e.t_ns >= end && e.t_ns < next)
            .collect();
        // In log order: at one instant a trial can be admitted before the
        // transition to Closed that it causes.
        let calm_from = span.iter().rposition(|e| shedding(e)).map_or(0, |i| i + 1);
        let admitted = span[calm_from..].iter().find(|e| {
            matches!(
                e.kind,
                EventKind::Admitted {
                    state: State::Closed,
                    ..
                }
            )
        });
        if let Some(e) = admitted {
            s.recovered += 1;
            s.recover_total_ns += e.t_ns - end;
        }
    }
    s
}

/// Whether attempt `attempt` of the call on line `line` would fail if admitted.
fn fails(trace: &Trace, line: usize, attempt: u32) -> bool {
    let Some((outcome, latency_ns)) = trace.attempt(line, attempt) else {
        return false;
    };
    let timeout = trace.lines[line].breaker();
    let timeout = trace.breakers[timeout].config.timeout;
    outcome.is_failure() || timeout.is_some_and(|t| latency_ns > t)
}

/// A mean time to the nearest millisecond, with the share of incidents it is
/// over when not all: `1s200ms`, `1s200ms (3/4)`, `never`, or `-` when there
/// is nothing to measure.
fn mean(total: Option<u64>, some: u64, all: u64) -> String {
    const MS: u64 = 1_000_000;
    let shown = |ns: u64| format_duration(ns.saturating_add(MS / 2) / MS * MS);
    match total {
        _ if all == 0 => "-".to_string(),
        None => "never".to_string(),
        Some(ns) if some == all => shown(ns),
        Some(ns) => format!("{} ({some}/{all})", shown(ns)),
    }
}

/// The ranking as a text table.
pub fn table(rows: &[(String, Score)]) -> String {
    let width = rows
        .iter()
        .map(|(c, _)| c.len())
        .max()
        .unwrap_or(0)
        .max("config".len());
    let mut out = format!(
        "{:>4}  {:<width$}  {:>20}  {:>13}  {:>17}  {:>17}\n",
        "rank",
        "config",
        "failures let through",
        "good rejected",
        "time to detect",
        "time to recover"
    );
    for (i, (config, s)) in rows.iter().enumerate() {
        out += &format!(
            "{:>4}  {:<width$}  {:>20}  {:>13}  {:>17}  {:>17}\n",
            i + 1,
            config,
            s.failures_let_through,
            s.good_rejected,
            mean(s.detect_mean_ns(), s.detected, s.incidents),
            mean(s.recover_mean_ns(), s.recovered, s.ended),
        );
    }
    out
}

/// Sorts rows best first: least harm, then fewest incidents undetected,
/// fastest detection, fewest not recovered from, fastest recovery, then grid order.
pub fn rank(rows: &mut [(String, Score)]) {
    rows.sort_by_key(|(_, s)| {
        (
            s.harm(),
            s.incidents - s.detected,
            s.detect_mean_ns().unwrap_or(u64::MAX),
            s.ended - s.recovered,
            s.recover_mean_ns().unwrap_or(u64::MAX),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_and_lists() {
        let axes = parse_grid("fail_max=3..5 reset=5s,30s").unwrap();
        assert_eq!(axes[0].values, ["3", "4", "5"]);
        assert_eq!(axes[1].values, ["5s", "30s"]);
        assert_eq!(combinations(&axes).len(), 6);
        assert_eq!(parse_grid("fail_max=3..=4").unwrap()[0].values, ["3", "4"]);
        let axes = parse_grid("retry=1..3 retry_backoff=10ms..1s,1s..5s").unwrap();
        assert_eq!(axes[0].values, ["1", "2", "3"]);
        assert_eq!(axes[1].values, ["10ms..1s", "1s..5s"]);
    }

    #[test]
    fn rejects_bad_grids() {
        assert!(parse_grid("").is_err());
        assert!(
            parse_grid("fail_mx=3")
                .unwrap_err()
                .contains("did you mean `fail_max`?")
        );
        assert!(parse_grid("fail_max=5..3").is_err());
        assert!(parse_grid("fail_max").is_err());
        assert!(parse_grid("reset=1s, ").is_err());
        assert!(parse_grid("fail_max=1 fail_max=2").is_err());
        assert!(
            parse_grid("fail_max=1..1000 success=1..1000")
                .unwrap_err()
                .contains("combinations")
        );
    }

    #[test]
    fn policy_values_replace_every_policy_key_and_keep_the_others() {
        let axes = parse_grid("policy=fail_max=5|failure_rate=50,window=10s|adaptive=1.5 reset=5s")
            .unwrap();
        assert_eq!(axes[0].values.len(), 3);
        let mut c = BreakerConfig::default();
        for (k, v) in [("failure_rate", "25"), ("window", "10s"), ("timeout", "2s")] {
            c.set(k, v).unwrap();
        }
        let combos = combinations(&axes);
        assert_eq!(label(&combos[1]), "failure_rate=50,window=10s reset=5s");
        let o = with_overrides(&c, &combos[0]).unwrap();
        assert_eq!(
            (o.fail_max, o.failure_rate, o.window),
            (Some(5), None, None)
        );
        assert_eq!((o.timeout, o.reset), (Some(2_000_000_000), 5_000_000_000));
        let o = with_overrides(&c, &combos[2]).unwrap();
        assert_eq!((o.adaptive, o.consecutive()), (Some(1_500_000), None));
        assert!(parse_grid("policy=fail_max").is_err());
        assert!(
            parse_grid("policy=fail_mx=3")
                .unwrap_err()
                .contains("fail_max")
        );
        assert!(parse_grid("policy=fail_max=3|").is_err());
    }

    #[test]
    fn recovery_is_the_first_closed_admission_after_the_last_rejection() {
        let trace = crate::trace::parse(
            "t",
            "breaker a fail_max=2 reset=3s success=1\n0s a err\n0.5s a err\n1s a err\n2s a ok\n3.5s a ok\n4s a ok\n8s a ok\n",
        )
        .unwrap();
        let s = score(&trace, &crate::model::replay(&trace));
        // Incident [0s, 2s): opens at 0.5s; it ends at 2s (rejected), the
        // trial at 3.5s closes, the call at 4s is the first admitted in Closed.
        assert_eq!(
            (s.incidents, s.detected, s.detect_total_ns),
            (1, 1, 500_000_000)
        );
        assert_eq!(
            (s.ended, s.recovered, s.recover_total_ns),
            (1, 1, 2_000_000_000)
        );
    }

    #[test]
    fn a_change_becomes_configure_lines_after_the_lines_of_its_instant() {
        let trace = crate::trace::parse(
            "t",
            "breaker a retry=2\nbreaker b\n0s a err,ok\n3m a ok\n3m b ok\n4m b configure reset=5s\n5m a err,ok\n",
        )
        .unwrap();
        let change = parse_change("at=3m fail_max=10 reset=1m").unwrap();
        assert_eq!(change.label(), "at 3m: fail_max=10 reset=1m");
        let changed = with_change(&trace, &change, None).unwrap();
        let items: Vec<(u64, usize, Item)> = changed
            .lines
            .iter()
            .map(|l| (l.t_ns / 60_000_000_000, l.breaker(), l.item()))
            .collect();
        assert_eq!(items[3], (3, 0, Item::Configure(0)));
        assert_eq!(items[4], (3, 1, Item::Configure(1)));
        assert_eq!(items[5], (4, 1, Item::Configure(2)));
        // The trace's own later line patches the changed configuration.
        let later = &changed.reconfigurations[2].config;
        assert_eq!((later.fail_max, later.reset), (Some(10), 5_000_000_000));
        // The lists of attempts follow their lines.
        assert_eq!(changed.attempt(6, 1), trace.attempt(4, 1));
        let only = with_change(&trace, &change, Some("b")).unwrap();
        assert_eq!(only.lines.len(), trace.lines.len() + 1);
        assert!(
            parse_change("fail_max=3")
                .unwrap_err()
                .contains("at=<time>")
        );
        assert!(parse_change("at=3m").unwrap_err().contains("sets no key"));
        assert!(
            parse_change("at=3m fail_max=0")
                .unwrap_err()
                .contains("fail_max")
        );
        assert!(
            parse_change("at=3m retry=2")
                .unwrap_err()
                .contains("retries")
        );
        let bad = parse_change("at=1m slow_rate=50").unwrap();
        assert!(
            with_change(&trace, &bad, None)
                .unwrap_err()
                .contains("needs `slow`")
        );
    }

    #[test]
    fn overrides_replace_keys_and_revalidate() {
        let mut c = BreakerConfig::default();
        c.set("fail_max", "5").unwrap();
        c.set("reset", "10s").unwrap();
        let o = with_overrides(&c, &[("fail_max".into(), "3".into())]).unwrap();
        assert_eq!((o.fail_max, o.reset), (Some(3), 10_000_000_000));
        assert!(with_overrides(&c, &[("slow_rate".into(), "50".into())]).is_err());
    }

    #[test]
    fn a_none_value_removes_its_key() {
        let axes = parse_grid("timeout=none,2s").unwrap();
        let combos = combinations(&axes);
        assert_eq!(label(&combos[0]), "timeout=none");
        let mut c = BreakerConfig::default();
        c.set("timeout", "1s").unwrap();
        c.set("reset", "10s").unwrap();
        let o = with_overrides(&c, &combos[0]).unwrap();
        assert_eq!((o.timeout, o.reset), (None, 10_000_000_000));
        assert!(o.raw.iter().all(|(k, _)| k != "timeout"));
        let o = with_overrides(&c, &combos[1]).unwrap();
        assert_eq!(o.timeout, Some(2_000_000_000));
    }

    #[test]
    fn scores_harm_and_detection() {
        let trace = crate::trace::parse(
            "t",
            "breaker a fail_max=2 reset=10s\n0s a ok\n1s a err\n2s a err\n3s a ok\n4s a err\n",
        )
        .unwrap();
        let s = score(&trace, &crate::model::replay(&trace));
        // One incident, [1s, 5s): the 3s bucket is good but within the gap.
        assert_eq!(
            incidents(&trace),
            (vec![(1_000_000_000, 5_000_000_000)], 4_000_000_000)
        );
        assert_eq!(
            s,
            Score {
                failures_let_through: 2,
                good_rejected: 1,
                incidents: 1,
                detected: 1,
                detect_total_ns: 1_000_000_000,
                ..Score::default()
            }
        );
    }
}
