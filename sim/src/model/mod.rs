//! The reference model: SEMANTICS.md, written plainly, as a second opinion.
//!
//! It imports nothing from breaker-core. Time is whole nanoseconds; rates
//! are compared in hundredths with integers; the backoff factor is an exact
//! decimal in millionths. It favours being obviously right over being fast:
//! windows are plain queues, every rule is one `if`.

mod jitter;
mod keys;
mod ramp;
mod reconfigure;

use std::collections::{BTreeMap, VecDeque};

use crate::config::{BreakerConfig, Window};
use crate::duration::format_duration;
use crate::engine::{Decision, Ended, Subject, Transition};
use crate::log::{EndKind, State};
use crate::trace::{Action, Outcome, Reconfiguration};

/// Where the model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    /// Open since `t0` (ns), for the model's current open length.
    Open {
        t0: u64,
    },
    /// HalfOpen since `since` (ns): trials undecided at `since` +
    /// `max_half_open_wait` are given up.
    HalfOpen {
        since: u64,
    },
    ForcedOpen,
    Disabled,
    /// A dry run: every call admitted, [`Model::dry`] deciding what it would be.
    MetricsOnly,
}

/// The counters of a Closed period.
#[derive(Debug, Default)]
struct Counters {
    /// Consecutive failures.
    run: u32,
    /// End times of this period's failures (count-in-a-time-window policy).
    failures: VecDeque<u64>,
    /// (end time, failed) of the outcomes the failure-rate policy counts.
    failure_window: VecDeque<(u64, bool)>,
    /// (end time, slow) of the outcomes the slow-call-rate policy counts.
    /// Each rate policy has a window of its own, so that one can start
    /// empty on a reconfiguration while the other keeps its outcomes.
    slow_window: VecDeque<(u64, bool)>,
    /// Adaptive throttling: per bucket number (time / bucket length), the
    /// calls let through (R) and the successes (A) of this Closed period.
    buckets: BTreeMap<u64, (u64, u64)>,
}

/// Buckets in an adaptive window.
const BUCKETS: u64 = 10;

/// What an admitted call holds: the period that admitted it and when it
/// started; in MetricsOnly, also the dry run's period then and whether the
/// dry run would have admitted it (else it would have rejected it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    period: u64,
    start_ns: u64,
    dry: Option<(u64, bool)>,
    /// Whether `slow` was configured when the call was admitted: a call is
    /// judged slow only if it was timed from its start (as `timeout`
    /// applies to calls admitted after a change).
    timed: bool,
}

/// Why the model changed state; written with the same texts as breaker-core's `Reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Consecutive failures (the run) reached `fail_max`.
    Consecutive(u32),
    /// `fail_max` failures within `within` (ns).
    FailuresWithin(u32, u64),
    /// Failure rate over the window, failures and outcomes, threshold in hundredths.
    FailureRate(u64, u64, u32),
    /// Slow-call rate over the window, slow and outcomes, threshold in hundredths.
    SlowRate(u64, u64, u32),
    /// The open period (ns) passed and a trial call came.
    OpenPeriodPassed(u64),
    /// A half-open trial failed.
    TrialFailed,
    /// `success` trials succeeded.
    TrialsSucceeded(u32),
    /// HalfOpen lasted `max_half_open_wait` (ns) without its trials deciding.
    TrialsUndecided(u64),
    /// An operator action.
    Manual(Action),
}

/// A percentage in hundredths, written with no trailing zeros (`50`, `12.5`, `0.05`).
pub(crate) fn percent(hundredths: u32) -> String {
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    if frac == 0 {
        format!("{whole}")
    } else if frac % 10 == 0 {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Consecutive(1) => f.write_str("1 consecutive failure"),
            Why::Consecutive(n) => write!(f, "{n} consecutive failures"),
            Why::FailuresWithin(1, w) => write!(f, "1 failure within {}", format_duration(*w)),
            Why::FailuresWithin(n, w) => write!(f, "{n} failures within {}", format_duration(*w)),
            Why::FailureRate(bad, all, p) => {
                write!(
                    f,
                    "{bad} of {all} calls failed (threshold {}%)",
                    percent(*p)
                )
            }
            Why::SlowRate(bad, all, p) => {
                write!(f, "{bad} of {all} calls slow (threshold {}%)", percent(*p))
            }
            Why::OpenPeriodPassed(period) => write!(f, "open for {}", format_duration(*period)),
            Why::TrialFailed => f.write_str("trial failed"),
            Why::TrialsSucceeded(1) => f.write_str("1 successful trial"),
            Why::TrialsSucceeded(n) => write!(f, "{n} successful trials"),
            Why::TrialsUndecided(wait) => {
                write!(f, "trials undecided after {}", format_duration(*wait))
            }
            Why::Manual(a) => write!(f, "manual {}", a.as_str()),
        }
    }
}

/// One breaker, as SEMANTICS.md describes it.
#[derive(Debug)]
pub struct Model {
    config: BreakerConfig,
    phase: Phase,
    /// Number of the current period: +1 at every transition.
    period: u64,
    /// Length of the current (or next) Open period, in ns.
    open_ns: u64,
    /// A reconfiguration changed `reset`, `backoff` or `reset_max` while
    /// Open or HalfOpen: the next opening lasts the new `reset` instead of
    /// the current period grown by backoff.
    restart_period: bool,
    counters: Counters,
    trials_in_flight: u32,
    trial_successes: u32,
    transitions: Vec<Transition>,
    /// The waits between a call's attempts (with `retry`).
    waits: jitter::Waits,
    /// In MetricsOnly, the dry run: a second live model, started Closed
    /// when MetricsOnly was entered, whose moves are reported, not applied.
    dry: Option<Box<Model>>,
    /// The breaker's dice: adaptive throttling's drops and the ramp's
    /// admissions draw from this one generator (the two are never both set).
    dice: jitter::Dice,
    /// The slow start in progress, if any: its closing time tc (ns).
    ramp: ramp::Ramp,
}

impl Model {
    /// A Closed breaker with this configuration, drawing its retry waits
    /// under seed 0 as an unnamed breaker (use [`Model::seeded`] to replay
    /// a declaration's retries and adaptive drops as `check` does).
    pub fn new(config: BreakerConfig) -> Model {
        Model::seeded(config, "", 0)
    }

    /// A Closed breaker with this configuration, named `name`, drawing its
    /// retry waits and its adaptive drops from its own generators under `seed`.
    pub fn seeded(config: BreakerConfig, name: &str, seed: u64) -> Model {
        let open_ns = config.reset;
        let waits = jitter::Waits::new(seed, name, config.retry_waits());
        Model {
            waits,
            dice: jitter::Dice::new(seed, name),
            ramp: ramp::Ramp::default(),
            dry: None,
            config,
            phase: Phase::Closed,
            period: 0,
            open_ns,
            restart_period: false,
            counters: Counters::default(),
            trials_in_flight: 0,
            trial_successes: 0,
            transitions: Vec::new(),
        }
    }

    fn state_of(phase: Phase) -> State {
        match phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
            Phase::ForcedOpen => State::ForcedOpen,
            Phase::Disabled => State::Disabled,
            Phase::MetricsOnly => State::MetricsOnly,
        }
    }

    /// Moves to `to` now: a new period begins, reported once.
    fn go(&mut self, now: u64, to: Phase, why: Why) {
        self.transitions.push(Transition {
            t_ns: now,
            from: Self::state_of(self.phase),
            to: Self::state_of(to),
            reason: why.to_string(),
            dry_run: false,
        });
        self.period += 1;
        self.phase = to;
        // Every move ends a ramp: leaving Closed, or entering it by
        // `reset()`; closing by trials starts one afterwards.
        self.ramp.end();
        self.dry = (to == Phase::MetricsOnly).then(|| Box::new(Model::new(self.config.clone())));
        match to {
            Phase::Closed => self.clear(),
            Phase::HalfOpen { .. } => {
                self.trials_in_flight = 0;
                self.trial_successes = 0;
            }
            _ => {}
        }
    }

    /// Entering Closed (or `reset()` in Closed): every counter cleared, `reset` restored.
    fn clear(&mut self) {
        self.counters = Counters::default();
        self.open_ns = self.config.reset;
        self.restart_period = false;
    }

    /// Opens for `reset`, from Closed or by `trip()`: an opening, so a
    /// period restarted by a reconfiguration has had its new `reset`.
    fn open_for_reset(&mut self) {
        self.open_ns = self.config.reset;
        self.restart_period = false;
    }

    /// The next Open period after a failed (or undecided) trial: `reset`
    /// if a reconfiguration restarted the period since the last opening,
    /// else the previous one grown by backoff.
    fn reopened(&mut self) -> u64 {
        if std::mem::take(&mut self.restart_period) {
            self.config.reset
        } else {
            self.backed_off()
        }
    }

    /// The next Open period after a failed trial: previous × backoff, truncated, capped.
    fn backed_off(&self) -> u64 {
        let factor = u128::from(self.config.backoff.unwrap_or(1_000_000));
        let next = u128::from(self.open_ns) * factor / 1_000_000;
        let next = u64::try_from(next).unwrap_or(u64::MAX);
        match self.config.reset_max {
            Some(max) => next.min(max),
            None => next,
        }
    }

    /// Passes the dry run's moves on as transitions marked `dry_run`.
    fn report_dry_moves(&mut self) {
        if let Some(dry) = self.dry.as_mut() {
            for mut t in dry.take_transitions() {
                t.dry_run = true;
                self.transitions.push(t);
            }
        }
    }

    /// With `max_half_open_wait`: a HalfOpen whose wait has run out by `now`
    /// opens again, now, as after a failed trial. Only a call and a trial's
    /// outcome look (the move is lazy, like Open -> HalfOpen).
    fn give_up_undecided_trials(&mut self, now: u64) {
        if let (Phase::HalfOpen { since }, Some(wait)) =
            (self.phase, self.config.max_half_open_wait)
        {
            if now >= since.saturating_add(wait) {
                self.open_ns = self.reopened();
                self.go(now, Phase::Open { t0: now }, Why::TrialsUndecided(wait));
            }
        }
    }

    /// The adaptive bucket of time `at`, and the window's R and A at `at`:
    /// the sums over the buckets numbered in `(current - 10, current]`.
    fn adaptive_totals(&mut self, at: u64) -> Option<(u64, u64, u64)> {
        let (_, window) = self.config.adaptive_window()?;
        let current = at / (window / BUCKETS).max(1);
        let buckets = &mut self.counters.buckets;
        // Older buckets never come back into the window: time only moves on.
        buckets.retain(|&n, _| n + BUCKETS > current);
        let (r, a) = buckets
            .range(..=current)
            .fold((0, 0), |(r, a), (_, &(br, ba))| (r + br, a + ba));
        Some((current, r, a))
    }

    /// Adaptive throttling's verdict on a call arriving at `now` in Closed:
    /// dropped with probability `max(0, R - K*A) / (R + 1)`, in integers,
    /// drawing only when that is above 0; a call let through is one more R.
    fn dropped(&mut self, now: u64) -> bool {
        let Some((k, _)) = self.config.adaptive_window() else {
            return false;
        };
        let Some((current, r, a)) = self.adaptive_totals(now) else {
            return false;
        };
        let numerator = (u128::from(r) * 1_000_000).saturating_sub(u128::from(a) * u128::from(k));
        let denominator = (u128::from(r) + 1) * 1_000_000;
        let dropped = numerator > 0 && self.dice.below(denominator) < numerator;
        if !dropped {
            self.counters.buckets.entry(current).or_default().0 += 1;
        }
        dropped
    }

    /// An outcome of the current Closed period, at `now`: feeds every active
    /// policy, and opens on the first that trips.
    fn feed(&mut self, now: u64, failed: bool, slow: bool) {
        if !failed {
            if let Some((current, _, _)) = self.adaptive_totals(now) {
                self.counters.buckets.entry(current).or_default().1 += 1;
            }
        }
        let mut trip: Option<Why> = None;
        if let Some(n) = self.config.consecutive() {
            self.counters.run = if failed { self.counters.run + 1 } else { 0 };
            // The run, which may exceed a `fail_max` lowered by a reconfiguration.
            if self.counters.run >= n {
                trip = Some(Why::Consecutive(self.counters.run));
            }
        }
        if let Some((n, w)) = self.config.count_window() {
            if failed {
                self.counters.failures.push_back(now);
            }
            while self
                .counters
                .failures
                .front()
                .is_some_and(|&e| e.saturating_add(w) <= now)
            {
                self.counters.failures.pop_front();
            }
            if failed && trip.is_none() && self.counters.failures.len() >= n as usize {
                trip = Some(Why::FailuresWithin(self.counters.failures.len() as u32, w));
            }
        }
        let window = self.config.rate_window();
        let min_calls = u64::from(self.config.rate_min_calls());
        if let Some(p) = self.config.failure_rate {
            let (failures, all) =
                Self::rate_window(&mut self.counters.failure_window, window, now, failed);
            if trip.is_none() && all >= min_calls && failures * 10_000 >= u64::from(p) * all {
                trip = Some(Why::FailureRate(failures, all, p));
            }
        }
        if let Some(p) = self.config.slow_rate {
            let (slows, all) = Self::rate_window(&mut self.counters.slow_window, window, now, slow);
            if trip.is_none() && all >= min_calls && slows * 10_000 >= u64::from(p) * all {
                trip = Some(Why::SlowRate(slows, all, p));
            }
        }
        if let Some(why) = trip {
            self.open_for_reset();
            self.go(now, Phase::Open { t0: now }, why);
        }
    }

    /// One outcome, `marked` (failed or slow) or not, enters a rate
    /// policy's window at `now`; returns the marked outcomes and all the
    /// outcomes the window then holds.
    fn rate_window(
        outcomes: &mut VecDeque<(u64, bool)>,
        window: Window,
        now: u64,
        marked: bool,
    ) -> (u64, u64) {
        outcomes.push_back((now, marked));
        match window {
            Window::Calls(k) => {
                while outcomes.len() > k as usize {
                    outcomes.pop_front();
                }
            }
            Window::Time(w) => {
                while outcomes
                    .front()
                    .is_some_and(|&(e, _)| e.saturating_add(w) <= now)
                {
                    outcomes.pop_front();
                }
            }
        }
        let marks = outcomes.iter().filter(|o| o.1).count() as u64;
        (marks, outcomes.len() as u64)
    }
}

impl Subject for Model {
    type Ticket = Ticket;

    fn admit(&mut self, now: u64) -> Decision<Ticket> {
        let timed = self.config.slow.is_some();
        let admitted = |period| {
            Decision::Admitted(Ticket {
                period,
                start_ns: now,
                dry: None,
                timed,
            })
        };
        self.give_up_undecided_trials(now);
        if self.phase == Phase::Closed
            && (self.dropped(now) || self.ramp.refuses(now, self.config.ramp, &mut self.dice))
        {
            return Decision::Rejected {
                retry_after_ns: None,
            };
        }
        match self.phase {
            Phase::Closed | Phase::Disabled => admitted(self.period),
            Phase::Open { t0 } => {
                let until = t0.saturating_add(self.open_ns);
                if now >= until {
                    self.go(
                        now,
                        Phase::HalfOpen { since: now },
                        Why::OpenPeriodPassed(self.open_ns),
                    );
                    self.trials_in_flight = 1;
                    admitted(self.period)
                } else {
                    Decision::Rejected {
                        retry_after_ns: Some(until - now),
                    }
                }
            }
            Phase::HalfOpen { .. } => {
                if self.trials_in_flight < self.config.half_open_cap() {
                    self.trials_in_flight += 1;
                    admitted(self.period)
                } else {
                    Decision::Rejected {
                        retry_after_ns: None,
                    }
                }
            }
            Phase::ForcedOpen => Decision::Rejected {
                retry_after_ns: None,
            },
            Phase::MetricsOnly => {
                let role = match self.dry.as_mut() {
                    Some(dry) => {
                        // The dry run's adaptive throttling draws from the
                        // breaker's own dice, as breaker-core's does.
                        std::mem::swap(&mut self.dice, &mut dry.dice);
                        let decision = dry.admit(now);
                        std::mem::swap(&mut self.dice, &mut dry.dice);
                        let role = match decision {
                            Decision::Admitted(t) => (t.period, true),
                            Decision::Rejected { .. } => (dry.period, false),
                        };
                        self.report_dry_moves();
                        Some(role)
                    }
                    None => None,
                };
                Decision::Admitted(Ticket {
                    period: self.period,
                    start_ns: now,
                    dry: role,
                    timed,
                })
            }
        }
    }

    fn end(&mut self, now: u64, ticket: Ticket, outcome: EndKind, _written: Outcome) -> Ended {
        let latency_ns = now.saturating_sub(ticket.start_ns);
        let slow = ticket.timed && self.config.slow.is_some_and(|s| latency_ns > s);
        if ticket.period == self.period {
            // A trial deciding too late first ends its period: it straggles.
            self.give_up_undecided_trials(now);
        }
        let mut straggler = ticket.period != self.period;
        let failed = outcome.is_failure();
        if let (false, Some((period, played)), Some(dry)) =
            (straggler, ticket.dry, self.dry.as_mut())
        {
            straggler = if played {
                let t = Ticket {
                    period,
                    start_ns: ticket.start_ns,
                    dry: None,
                    timed: ticket.timed,
                };
                // The model reads only `outcome`; the written form is for real code.
                dry.end(now, t, outcome, Outcome::Ok).straggler
            } else {
                period != dry.period
            };
            self.report_dry_moves();
        }
        if !straggler {
            match self.phase {
                Phase::Closed => self.feed(now, failed, slow),
                Phase::HalfOpen { .. } => {
                    self.trials_in_flight -= 1;
                    if failed {
                        self.open_ns = self.reopened();
                        self.go(now, Phase::Open { t0: now }, Why::TrialFailed);
                    } else {
                        self.trial_successes += 1;
                        // `success` as in force now: a reconfiguration may
                        // have lowered it below the successes so far.
                        if self.trial_successes >= self.config.success {
                            self.go(
                                now,
                                Phase::Closed,
                                Why::TrialsSucceeded(self.trial_successes),
                            );
                            self.ramp.start(now, self.config.ramp);
                        }
                    }
                }
                // Disabled keeps statistics only; Open and ForcedOpen admit
                // nothing; MetricsOnly fed its dry run above.
                Phase::Disabled | Phase::Open { .. } | Phase::ForcedOpen | Phase::MetricsOnly => {}
            }
        }
        Ended {
            latency_ns,
            slow,
            straggler,
        }
    }

    fn action(&mut self, now: u64, action: Action) {
        let why = Why::Manual(action);
        match (action, self.phase) {
            (Action::Trip, Phase::Open { .. }) => {
                self.open_for_reset();
                self.phase = Phase::Open { t0: now };
            }
            (Action::Trip, _) => {
                self.open_for_reset();
                self.go(now, Phase::Open { t0: now }, why);
            }
            (Action::ForceOpen, Phase::ForcedOpen)
            | (Action::Disable, Phase::Disabled)
            | (Action::MetricsOnly, Phase::MetricsOnly) => {}
            (Action::MetricsOnly, _) => self.go(now, Phase::MetricsOnly, why),
            (Action::ForceOpen, _) => self.go(now, Phase::ForcedOpen, why),
            (Action::Disable, _) => self.go(now, Phase::Disabled, why),
            (Action::Reset, Phase::Closed) => {
                // The operator closes the breaker outright: no slow start.
                self.ramp.end();
                self.clear();
            }
            (Action::Reset, _) => self.go(now, Phase::Closed, why),
        }
    }

    fn configure(&mut self, now: u64, change: &Reconfiguration) -> Option<String> {
        self.reconfigure(now, change.config.clone())
    }

    fn state(&mut self, _now: u64) -> State {
        Self::state_of(self.phase)
    }

    fn may_have_transitions(&self) -> bool {
        !self.transitions.is_empty()
    }

    fn take_transitions(&mut self) -> Vec<Transition> {
        std::mem::take(&mut self.transitions)
    }

    fn retry_delay(&mut self, attempt: u32) -> u64 {
        self.waits.after(attempt)
    }
}

/// Replays a trace through one fresh model per breaker (retry waits under seed 0).
pub fn replay(trace: &crate::trace::Trace) -> Vec<crate::log::Event> {
    replay_seeded(trace, 0)
}

/// The models of a trace's breakers, their retry waits drawn under `seed`.
pub fn for_trace(trace: &crate::trace::Trace, seed: u64) -> Vec<Model> {
    trace
        .breakers
        .iter()
        .map(|d| Model::seeded(d.config.clone(), &d.name, seed))
        .collect()
}

/// Replays a trace through one fresh model per breaker, retry waits drawn under `seed`.
pub fn replay_seeded(trace: &crate::trace::Trace, seed: u64) -> Vec<crate::log::Event> {
    crate::engine::replay(trace, &mut for_trace(trace, seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Event, EventKind};
    use crate::trace::parse;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn run(text: &str) -> Vec<Event> {
        replay(&parse("t", text).unwrap())
    }

    /// One compact word per event: `a1` admitted call 1, `r3@N` rejected with retry_after N (ns),
    /// `r3` rejected without, `e1:failure` ended, `open>half_open` a transition, `!trip` an action;
    /// each followed by `/state` where the event carries one.
    fn words(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Admitted { call, state, .. } => format!("a{call}/{}", state.as_str()),
                EventKind::Rejected {
                    call,
                    state,
                    retry_after_ns: Some(r),
                    ..
                } => format!("r{call}@{r}/{}", state.as_str()),
                EventKind::Rejected {
                    call,
                    state,
                    retry_after_ns: None,
                    ..
                } => format!("r{call}/{}", state.as_str()),
                EventKind::Ended {
                    call,
                    outcome,
                    slow,
                    straggler,
                    state,
                    ..
                } => format!(
                    "e{call}:{}{}{}/{}",
                    outcome.as_str(),
                    if *slow { "+slow" } else { "" },
                    if *straggler { "+straggler" } else { "" },
                    state.as_str()
                ),
                EventKind::Action { action, state } => {
                    format!("!{}/{}", action.as_str(), state.as_str())
                }
                EventKind::Configured { keys, state } => {
                    format!("~{keys}/{}", state.as_str())
                }
                EventKind::Transition { from, to, .. } => {
                    format!("{}>{}", from.as_str(), to.as_str())
                }
            })
            .collect()
    }

    fn transitions(events: &[Event]) -> Vec<(u64, String)> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Transition { from, to, .. } => {
                    Some((e.t_ns, format!("{}>{}", from.as_str(), to.as_str())))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn opens_after_default_five_consecutive_failures() {
        let ev = run("breaker a\n0s a err\n1s a err\n2s a err\n3s a err\n4s a err\n5s a ok\n");
        assert_eq!(
            words(&ev)[8..],
            [
                "a5/closed",
                "e5:failure/open",
                "closed>open",
                &format!("r6@{}/open", 29 * S)
            ]
        );
        assert!(
            matches!(&ev[10].kind, EventKind::Transition { reason, .. } if reason == "5 consecutive failures")
        );
    }

    #[test]
    fn a_success_resets_the_consecutive_run() {
        let ev = run("breaker a fail_max=2\n0s a err\n0s a ok\n0s a err\n0s a ok\n");
        assert!(transitions(&ev).is_empty());
    }

    #[test]
    fn moves_to_half_open_lazily_on_the_first_call_after_the_period() {
        let ev = run(
            "breaker a fail_max=1 reset=10s\n0s a err\n9.999999999s a ok\n10s a ok\n10s a ok\n",
        );
        assert_eq!(
            words(&ev),
            [
                "a1/closed",
                "e1:failure/open",
                "closed>open",
                "r2@1/open",
                "a3/half_open",
                "open>half_open",
                "e3:success/half_open",
                "a4/half_open",
                "e4:success/closed",
                "half_open>closed"
            ]
        );
    }

    #[test]
    fn caps_trials_in_flight_and_rejects_without_retry_after() {
        let ev = run(
            "breaker a fail_max=1 reset=1s success=2 half_open=1\n0s a err\n1s a ok 1s\n1.5s a ok\n2s a ok\n",
        );
        assert_eq!(
            words(&ev)[3..],
            [
                "a2/half_open",
                "open>half_open",
                "r3/half_open",
                "e2:success/half_open",
                "a4/half_open",
                "e4:success/closed",
                "half_open>closed"
            ]
        );
    }

    #[test]
    fn failed_trial_reopens_with_backoff_capped() {
        let text = "breaker a fail_max=1 reset=10s backoff=1.5 reset_max=20s\n0s a err\n10s a err\n25s a err\n45s a err\n65s a ok\n";
        let ev = run(text);
        let t: Vec<u64> = transitions(&ev).iter().map(|x| x.0 / S).collect();
        // Open at 0 (10s), trial at 10 fails (15s), at 25 fails (22.5s capped to 20s), at 45 fails (20s).
        assert_eq!(t, [0, 10, 10, 25, 25, 45, 45, 65]);
        let ev = run(
            "breaker a fail_max=1 reset=10s backoff=1.5 reset_max=20s\n0s a err\n10s a err\n24s a ok\n",
        );
        assert!(words(&ev).contains(&format!("r3@{}/open", S)));
    }

    #[test]
    fn backoff_truncates_to_whole_nanoseconds() {
        let ev = run("breaker a fail_max=1 reset=3ns backoff=1.5\n0s a err\n3ns a err\n7ns a ok\n");
        // 3ns * 1.5 = 4.5ns, truncated to 4ns: from 3ns, a trial is due at 7ns.
        assert_eq!(words(&ev)[7..9], ["a3/half_open", "open>half_open"]);
    }

    #[test]
    fn reaching_closed_restores_reset() {
        let ev = run(
            "breaker a fail_max=1 reset=10s backoff=2 success=1\n0s a err\n10s a err\n30s a ok\n30s a err\n35s a ok\n",
        );
        assert_eq!(words(&ev).last().unwrap(), &format!("r5@{}/open", 5 * S));
    }

    #[test]
    fn timeout_ends_the_call_at_the_timeout_as_a_failure() {
        let ev = run("breaker a timeout=100ms\n0s a ok 100ms\n1s a ok 101ms\n");
        assert!(
            matches!(ev[1].kind, EventKind::Ended { outcome: EndKind::Success, latency_ns, .. } if latency_ns == 100 * MS)
        );
        assert_eq!(ev[3].t_ns, S + 100 * MS);
        assert!(
            matches!(ev[3].kind, EventKind::Ended { outcome: EndKind::Timeout, latency_ns, .. } if latency_ns == 100 * MS)
        );
    }

    #[test]
    fn stragglers_are_counted_and_change_nothing() {
        let ev = run("breaker a fail_max=1 reset=10s\n0s a err 5s\n1s a err\n11s a ok 10s\n");
        assert_eq!(
            words(&ev),
            [
                "a1/closed",
                "a2/closed",
                "e2:failure/open",
                "closed>open",
                "e1:failure+straggler/open",
                "a3/half_open",
                "open>half_open",
                "e3:success/half_open"
            ]
        );
    }

    #[test]
    fn straggling_trial_returns_no_permit() {
        let text = "breaker a fail_max=1 reset=1s half_open=2\n0s a err\n1s a ok 5s\n1s a err\n2s a ok\n3s a ok\n";
        let ev = run(text);
        assert_eq!(
            words(&ev)[3..],
            [
                "a2/half_open",
                "open>half_open",
                "a3/half_open",
                "e3:failure/open",
                "half_open>open",
                "a4/half_open",
                "open>half_open",
                "e4:success/half_open",
                "a5/half_open",
                "e5:success/closed",
                "half_open>closed",
                "e2:success+straggler/closed"
            ]
        );
    }

    #[test]
    fn zero_latency_calls_end_before_the_next_line() {
        let ev = run("breaker a fail_max=2\n0s a err\n0s a err\n0s a ok\n");
        assert_eq!(
            words(&ev),
            [
                "a1/closed",
                "e1:failure/closed",
                "a2/closed",
                "e2:failure/open",
                "closed>open",
                &format!("r3@{}/open", 30 * S)
            ]
        );
    }

    #[test]
    fn ends_at_one_instant_follow_the_order_of_their_lines() {
        let ev = run("breaker a\n0s a ok 2s\n1s a err 1s\n");
        assert_eq!(
            words(&ev),
            [
                "a1/closed",
                "a2/closed",
                "e1:success/closed",
                "e2:failure/closed"
            ]
        );
    }

    #[test]
    fn count_window_counts_failures_of_the_last_w() {
        let text =
            "breaker a fail_max=3 within=10s\n0s a err\n5s a ok\n9s a err\n10s a err\n15s a err\n";
        let ev = run(text);
        // At 10s, the failure at 0s is out of (0, 10]; at 15s, 9s, 10s, 15s are in (5, 15].
        assert_eq!(transitions(&ev), [(15 * S, "closed>open".to_string())]);
        assert!(
            matches!(&ev.last().unwrap().kind, EventKind::Transition { reason, .. } if reason == "3 failures within 10s")
        );
    }

    #[test]
    fn failure_rate_needs_min_calls_then_compares_exactly() {
        let text = "breaker a failure_rate=50 window=4\n0s a err\n0s a err\n0s a err\n0s a ok\n";
        let ev = run(text);
        assert_eq!(transitions(&ev), [(0, "closed>open".to_string())]);
        assert_eq!(ev.len(), 9);
        let ev = run(
            "breaker a failure_rate=50.01 window=4\n0s a err\n0s a ok\n0s a err\n0s a ok\n0s a ok\n",
        );
        assert!(transitions(&ev).is_empty());
        let ev = run("breaker a failure_rate=50 window=4\n0s a err\n0s a ok\n0s a err\n0s a ok\n");
        assert_eq!(transitions(&ev).len(), 1);
    }

    #[test]
    fn failure_rate_alone_replaces_the_consecutive_policy() {
        let ev = run(
            "breaker a failure_rate=100 window=10\n0s a err\n0s a err\n0s a err\n0s a err\n0s a err\n0s a err\n",
        );
        assert!(transitions(&ev).is_empty());
    }

    #[test]
    fn time_window_rate_defaults_to_ten_min_calls() {
        let mut text = String::from("breaker a failure_rate=50 window=1s\n");
        for i in 0..10 {
            text.push_str(&format!(
                "{}ms a {}\n",
                i * 200,
                if i % 2 == 0 { "err" } else { "ok" }
            ));
        }
        // Only 5 outcomes are ever within one second: never evaluated.
        assert!(transitions(&run(&text)).is_empty());
        let text = "breaker a failure_rate=50 window=1s min_calls=2\n0s a err\n500ms a ok\n";
        assert_eq!(transitions(&run(text)).len(), 1);
    }

    #[test]
    fn slow_rate_counts_slow_calls_and_keeps_the_consecutive_policy() {
        let ev = run(
            "breaker a slow=100ms slow_rate=100 window=2\n0s a ok 101ms\n1s a ok 100ms\n2s a ok 200ms\n3s a ok 300ms\n",
        );
        assert!(words(&ev).contains(&"e1:success+slow/closed".to_string()));
        assert_eq!(
            transitions(&ev),
            [(3 * S + 300 * MS, "closed>open".to_string())]
        );
        let ev = run(
            "breaker a slow=1s slow_rate=50 window=100\n0s a err\n0s a err\n0s a err\n0s a err\n0s a err\n",
        );
        assert_eq!(transitions(&ev).len(), 1);
    }

    #[test]
    fn trip_while_open_restarts_the_period_without_a_transition() {
        let ev = run("breaker a fail_max=1 reset=10s\n0s a err\n5s a trip\n12s a ok\n");
        assert_eq!(
            words(&ev)[3..],
            ["!trip/open", &format!("r2@{}/open", 3 * S)]
        );
    }

    #[test]
    fn reset_while_closed_clears_the_counters() {
        let ev = run("breaker a fail_max=2\n0s a err\n1s a reset\n2s a err\n");
        assert!(transitions(&ev).is_empty());
    }

    #[test]
    fn manual_modes_hold_until_reset() {
        let text = "breaker a fail_max=1\n0s a force_open\n1h a ok\n2h a disable\n2h a err\n2h a err\n3h a reset\n3h a err\n";
        let ev = run(text);
        assert_eq!(
            words(&ev),
            [
                "!force_open/forced_open",
                "closed>forced_open",
                "r1/forced_open",
                "!disable/disabled",
                "forced_open>disabled",
                "a2/disabled",
                "e2:failure/disabled",
                "a3/disabled",
                "e3:failure/disabled",
                "!reset/closed",
                "disabled>closed",
                "a4/closed",
                "e4:failure/open",
                "closed>open"
            ]
        );
    }

    #[test]
    fn calls_running_after_the_last_line_end_at_their_own_times() {
        let ev = run("breaker a\n0s a ok 1h\n");
        assert_eq!(ev[1].t_ns, 3600 * S);
    }
}
