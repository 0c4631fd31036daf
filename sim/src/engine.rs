//! The discrete-event replay of a trace through any [`Subject`].
//!
//! Calls start at their line's time and end at start + latency (or at
//! start + timeout, as a timeout, when the latency exceeds it). On a breaker
//! with `retry = N`, a call is up to N attempts: an admitted attempt that
//! fails (`err`, or a timeout; a panic unwinds, so it is not retried) is
//! followed, while attempts remain, by the next one after a wait the
//! subject draws ([`Subject::retry_delay`]); a rejected attempt ends the
//! call. At one instant, attempts' ends come first, in the order of their
//! calls' lines, then retries' starts, in the same order, then the trace's
//! lines in file order; what is still due after the last line happens at
//! its own time. A `configure` line reconfigures its breaker at its place
//! in that order (after the ends of its instant); its `timeout` cuts the
//! calls admitted from then on. The result is a pure function of the trace (and of the
//! seed the subjects draw their waits from).
//!
//! The [`Engine`] takes the trace in runs of lines as they are read, and
//! breakers as they are declared: it holds the calls in flight and the
//! retries waiting, never the trace, so a replay's memory does not follow
//! the trace's length.
//!
//! A replay of a fleet ([`Engine::fleet`]) has several subjects per breaker,
//! one per replica: a call line goes to the replica it names (`db@2`), or
//! to the breaker's replicas in turn, with its retries; an action line to
//! the replica it names or the first; a `configure` line to the one it
//! names or every one. What the subjects share (a store, its deliveries and
//! partitions) is a [`World`], whose own events come in time order with the
//! calls', before them at one instant.

use crate::config::BreakerConfig;
use crate::due::{Due, DueQueue};
use crate::log::{EndKind, Event, EventKind, State};
use crate::trace::{Action, Item, Lines, Outcome, Reconfiguration, Trace};

/// Whether a call may run.
#[derive(Debug)]
pub enum Decision<T> {
    /// Admitted; the ticket is handed back when the call ends.
    Admitted(T),
    /// Rejected; `retry_after_ns` only in Open.
    Rejected {
        /// Time until a trial is let through.
        retry_after_ns: Option<u64>,
    },
}

/// What the subject recorded for a call that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The latency the subject measured.
    pub latency_ns: u64,
    /// Latency strictly above `slow`.
    pub slow: bool,
    /// The call belonged to an earlier period.
    pub straggler: bool,
}

/// A transition the subject reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// When, in ns.
    pub t_ns: u64,
    /// From this state.
    pub from: State,
    /// To this state.
    pub to: State,
    /// Why.
    pub reason: String,
    /// A move of a MetricsOnly breaker's dry run: reported, never applied
    /// (the state stays `metrics_only`).
    pub dry_run: bool,
}

/// One breaker under replay: the reference model or the real breaker.
///
/// Every method receives the current virtual time; the engine never moves
/// time backwards.
pub trait Subject {
    /// What an admitted call holds until it ends.
    type Ticket;
    /// Asks to run a call now.
    fn admit(&mut self, now_ns: u64) -> Decision<Self::Ticket>;
    /// Asks to run a call now that would run `latency_ns` and end as
    /// `written` if admitted: subjects that run real code need to know at
    /// the start; the others only [`Subject::admit`].
    #[inline(always)]
    fn admit_call(
        &mut self,
        now_ns: u64,
        latency_ns: u64,
        written: Outcome,
    ) -> Decision<Self::Ticket> {
        let _ = (latency_ns, written);
        self.admit(now_ns)
    }
    /// Ends an admitted call now, the way it ended; `written` is the outcome
    /// as the trace wrote it (`ignored` and `panic` are also a success and a
    /// failure), for subjects that run real code.
    fn end(
        &mut self,
        now_ns: u64,
        ticket: Self::Ticket,
        outcome: EndKind,
        written: Outcome,
    ) -> Ended;
    /// Carries out an operator action now.
    fn action(&mut self, now_ns: u64, action: Action);
    /// Reconfigures the breaker now with a `configure` line's keys
    /// (SEMANTICS.md, "Reconfiguration"): `change.config` is the whole
    /// configuration they make, already checked. Returns the keys whose
    /// effective value changed, as the `configured` event writes them
    /// (`fail_max=10 reset=1m`), or `None` when no value changed.
    fn configure(&mut self, now_ns: u64, change: &Reconfiguration) -> Option<String>;
    /// The state now.
    fn state(&mut self, now_ns: u64) -> State;
    /// The transitions reported since the last call, oldest first.
    fn take_transitions(&mut self) -> Vec<Transition>;
    /// Whether [`Subject::take_transitions`] may have any to give: a
    /// subject that can tell cheaply spares the replay a call and an empty
    /// list after every event (transitions are rare).
    fn may_have_transitions(&self) -> bool {
        true
    }
    /// The wait, in ns, before the retry that follows failed attempt
    /// `attempt` (0-based) of a call, on a breaker declared with `retry`:
    /// one draw from the breaker's own jitter generator, uniform in
    /// `[0, min(max, base * 2^attempt)]` (`retry_backoff = base..max`).
    /// The engine asks once per retry, in the order the failed attempts end.
    fn retry_delay(&mut self, attempt: u32) -> u64;
}

/// Running calls, each in a slot that is reused once the call ends.
struct Slots<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slots<T> {
    // Inlined so the task is built in its slot: out of line, it was written
    // to the stack in narrow stores and read back wide, a forwarding stall.
    #[inline(always)]
    fn put(&mut self, value: T) -> usize {
        match self.free.pop() {
            Some(i) => {
                // A free slot is empty: filled without a call to drop what
                // it held, which spilled the task around the call.
                let slot = &mut self.slots[i];
                debug_assert!(slot.is_none());
                slot.get_or_insert(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    fn take(&mut self, i: usize) -> Option<T> {
        let value = self.slots.get_mut(i)?.take();
        if value.is_some() {
            self.free.push(i);
        }
        value
    }
}

/// What the attempts of a call do: the line's outcome and latency for
/// every attempt, or its lists.
#[derive(Clone)]
enum Plan {
    Same(Outcome, u64),
    Listed(Box<(Vec<Outcome>, Vec<u64>)>),
}

impl Plan {
    fn attempt(&self, attempt: u32) -> (Outcome, u64) {
        match self {
            Plan::Same(outcome, latency_ns) => (*outcome, *latency_ns),
            Plan::Listed(lists) => {
                let pick = |len: usize| (attempt as usize).min(len.saturating_sub(1));
                (
                    // The parser never makes an empty list.
                    lists
                        .0
                        .get(pick(lists.0.len()))
                        .copied()
                        .unwrap_or(Outcome::Ok),
                    lists.1.get(pick(lists.1.len())).copied().unwrap_or(0),
                )
            }
        }
    }
}

/// A call under way: which, and what its attempts do.
// `repr(C)`, words first and the small fields last: laid out by the
// compiler, the small fields sat between the words and a task was copied
// in and out of its slot in misaligned pieces spanning the padding, read
// back across narrower writes (store-forwarding stalls, a fifth of the
// replay thread's time).
#[repr(C)]
struct Call {
    breaker: usize,
    call: u64,
    /// The order of its trace line among every line replayed.
    line: u64,
    plan: Plan,
    attempt: u32,
    /// The replica it runs on (from 0; always 0 outside a fleet).
    replica: u16,
}

/// An admitted attempt, running until its end.
#[repr(C)]
struct Running<T> {
    ticket: T,
    call: Call,
    outcome: EndKind,
    written: Outcome,
}

/// What the queue holds: the end of a running attempt, or the start of a retry.
enum Task<T> {
    End(Running<T>),
    Retry(Call),
}

/// At one instant, ends come before retries' starts; each kind in the order
/// of its calls' lines. (Packed into one word: a line's order is below 2^63.)
fn order(retry: bool, line: u64) -> u64 {
    (u64::from(retry) << 63) | line
}

/// What the subjects of a fleet share, with events of its own in time: a
/// store delivering transitions to the replicas, partitions that start and
/// end. The engine carries them out in time order with the calls' ends and
/// retries (first at one instant), and writes the transitions they caused.
pub trait World {
    /// When its next event is due, in trace time, if any.
    fn next_due(&self) -> Option<u64>;
    /// Carries out everything due at `t` (its earliest due time), and adds
    /// to `moved` the subjects (their indices) it may have moved.
    fn advance(&mut self, t: u64, moved: &mut Vec<usize>);
}

/// Where a replay's events go.
pub trait Sink {
    /// An event, in log order.
    fn event(&mut self, event: Event);
    /// The attempt whose `rejected` event comes next would have done
    /// `written` and run `latency_ns` if admitted (whether a rejection
    /// turned a good call away is judged from it).
    fn rejecting(&mut self, written: Outcome, latency_ns: u64) {
        let _ = (written, latency_ns);
    }
}

/// A closure that takes the events.
struct Events<'a>(&'a mut dyn FnMut(Event));

impl Sink for Events<'_> {
    fn event(&mut self, event: Event) {
        (self.0)(event);
    }
}

/// What the engine keeps of a declared breaker.
struct Declared {
    /// Call lines so far: the number of the next one, less 1.
    calls: u64,
    /// Attempts per call (`retry`, 1 without).
    attempts: u32,
    /// The `timeout` in force: it cuts the calls admitted from then on.
    timeout: Option<u64>,
    /// In a fleet: the replica (from 0) the next call line that names none
    /// goes to.
    turn: u16,
}

/// A replay under way, fed lines as they are read: the breakers declared
/// so far, the calls in flight and the retries waiting. The subjects, one
/// per declared breaker in declaration order, are the caller's, handed in
/// with each run of lines; `T` is their ticket.
pub struct Engine<T> {
    breakers: Vec<Declared>,
    /// (time, order, slot): see [`order`].
    queue: DueQueue,
    /// Running attempts and waiting retries in reusable slots: memory
    /// follows the calls in flight, not the trace.
    tasks: Slots<Task<T>>,
    /// Lines replayed so far.
    lines: u64,
    /// Subjects per breaker: 1, or a fleet's replicas.
    replicas: u16,
}

impl<T> Default for Engine<T> {
    fn default() -> Self {
        Engine {
            breakers: Vec::new(),
            queue: DueQueue::default(),
            tasks: Slots::default(),
            lines: 0,
            replicas: 1,
        }
    }
}

impl<T> Engine<T> {
    /// A replay with no breaker yet.
    pub fn new() -> Engine<T> {
        Engine::default()
    }

    /// A replay of a fleet of `replicas` (at least 1; 1 is a plain replay):
    /// the subjects handed in hold `replicas` per breaker, breaker `b`'s
    /// replica `r` (from 0) at `b * replicas + r`, and the events name the
    /// replica (from 1) when there are several.
    pub fn fleet(replicas: u16) -> Engine<T> {
        Engine {
            replicas: replicas.max(1),
            ..Engine::default()
        }
    }

    /// Declares the next breaker, configured as `config`; its subject (or
    /// its replicas', in a fleet) comes next in the subjects handed to
    /// [`Engine::feed`].
    pub fn declare(&mut self, config: &BreakerConfig) {
        self.breakers.push(Declared {
            calls: 0,
            attempts: config.attempts(),
            timeout: config.timeout,
            turn: 0,
        });
    }

    /// Breakers declared so far.
    pub fn declared(&self) -> usize {
        self.breakers.len()
    }

    /// Replays `lines`, the next lines of the trace, through `subjects`,
    /// handing each event to `sink` as it happens. The lines name declared
    /// breakers only.
    pub fn feed<S: Subject<Ticket = T>>(
        &mut self,
        subjects: &mut [S],
        lines: Lines<'_>,
        sink: &mut dyn Sink,
    ) {
        self.feed_range(subjects, None, lines, 0..lines.lines.len(), sink);
    }

    /// [`Engine::feed`] with the lines of `lines` in `range` only (the next
    /// lines of the trace): a replay compared with another, line by line;
    /// with the `world` the subjects share, in a fleet.
    pub fn feed_range<S: Subject<Ticket = T>>(
        &mut self,
        subjects: &mut [S],
        world: Option<&mut dyn World>,
        lines: Lines<'_>,
        range: std::ops::Range<usize>,
        sink: &mut dyn Sink,
    ) {
        if self.replicas > 1 {
            Step::<S, true>::new(self, subjects, world, sink).lines(lines, range);
        } else {
            Step::<S, false>::new(self, subjects, None, sink).lines(lines, range);
        }
    }

    /// Carries out what is still due after the last line, each at its own
    /// time: the ends of the calls in flight and the retries that follow,
    /// and the `world`'s events.
    pub fn finish<S: Subject<Ticket = T>>(
        &mut self,
        subjects: &mut [S],
        world: Option<&mut dyn World>,
        sink: &mut dyn Sink,
    ) {
        if self.replicas > 1 {
            Step::<S, true>::new(self, subjects, world, sink).run_until(u64::MAX);
        } else {
            Step::<S, false>::new(self, subjects, None, sink).run_until(u64::MAX);
        }
    }
}

/// Replays `trace` through `subjects` (one per declared breaker, in
/// declaration order) and returns the event log.
pub fn replay<S: Subject>(trace: &Trace, subjects: &mut [S]) -> Vec<Event> {
    let mut events = Vec::with_capacity(trace.lines.len() * 2);
    replay_into(trace, subjects, &mut |e| events.push(e));
    events
}

/// Replays `trace` through `subjects`, handing each event to `sink` as it
/// happens (so a long trace needs no memory for its log).
pub fn replay_into<S: Subject>(trace: &Trace, subjects: &mut [S], sink: &mut dyn FnMut(Event)) {
    let mut engine = Engine::new();
    for decl in &trace.breakers {
        engine.declare(&decl.config);
    }
    let mut sink = Events(sink);
    engine.feed(subjects, trace.as_lines(), &mut sink);
    engine.finish(subjects, None, &mut sink);
}

/// One run of lines under way: the engine, the subjects, what they share,
/// the sink. `FLEET`: several subjects per breaker, and a world; a replay
/// alone is compiled without either.
struct Step<'e, 's, 'w, 'k, S: Subject, const FLEET: bool> {
    engine: &'e mut Engine<S::Ticket>,
    subjects: &'s mut [S],
    world: Option<&'w mut dyn World>,
    /// The subjects the world's last event moved.
    moved: Vec<usize>,
    events: &'k mut dyn Sink,
}

impl<'e, 's, 'w, 'k, S: Subject, const FLEET: bool> Step<'e, 's, 'w, 'k, S, FLEET> {
    fn new(
        engine: &'e mut Engine<S::Ticket>,
        subjects: &'s mut [S],
        world: Option<&'w mut dyn World>,
        events: &'k mut dyn Sink,
    ) -> Self {
        Step {
            engine,
            subjects,
            world,
            moved: Vec::new(),
            events,
        }
    }

    /// Replays `lines` in `range`.
    fn lines(&mut self, lines: Lines<'_>, range: std::ops::Range<usize>) {
        let start = range.start;
        for (idx, line) in lines.lines.get(range).unwrap_or(&[]).iter().enumerate() {
            let idx = start + idx;
            let now = line.t_ns;
            self.run_until(now);
            let b = line.breaker();
            let order = self.engine.lines;
            self.engine.lines += 1;
            match line.item() {
                Item::Call {
                    outcome,
                    latency_ns,
                } => {
                    let replicas = self.engine.replicas;
                    let Some(declared) = self.engine.breakers.get_mut(b) else {
                        continue;
                    };
                    declared.calls += 1;
                    let replica = match line.replica() {
                        _ if !FLEET => 0,
                        Some(r) => (r - 1).min(replicas - 1),
                        None => {
                            let turn = declared.turn;
                            declared.turn = (turn + 1) % replicas;
                            turn
                        }
                    };
                    // Looked up only for a breaker with retries: most have none.
                    let listed = (declared.attempts > 1).then(|| lines.listed(idx)).flatten();
                    let plan = match listed {
                        Some(list) => Plan::Listed(Box::new((
                            list.outcomes.clone(),
                            list.latencies_ns.clone(),
                        ))),
                        None => Plan::Same(outcome, latency_ns),
                    };
                    let call = declared.calls;
                    self.start(
                        now,
                        Call {
                            breaker: b,
                            replica,
                            call,
                            attempt: 0,
                            line: order,
                            plan,
                        },
                    );
                }
                Item::Action(action) => {
                    let r = self.named(line.replica());
                    let at = self.at(b, r);
                    self.subjects[at].action(now, action);
                    self.emit(now, b, r, |state| EventKind::Action { action, state });
                }
                Item::Configure(index) => {
                    let Some(change) = lines.reconfigurations.get(index) else {
                        continue;
                    };
                    if let Some(declared) = self.engine.breakers.get_mut(b) {
                        declared.timeout = change.config.timeout;
                    }
                    let replicas = match line.replica() {
                        Some(_) => {
                            let r = self.named(line.replica());
                            r..r + 1
                        }
                        None => 0..self.replicas(),
                    };
                    for r in replicas {
                        let at = self.at(b, r);
                        if let Some(keys) = self.subjects[at].configure(now, change) {
                            self.emit(now, b, r, |state| EventKind::Configured { keys, state });
                        }
                    }
                }
            }
        }
    }

    /// Subjects per breaker.
    fn replicas(&self) -> u16 {
        if FLEET { self.engine.replicas } else { 1 }
    }

    /// The index of breaker `b`'s replica `r` (from 0) among the subjects.
    fn at(&self, b: usize, r: u16) -> usize {
        if FLEET {
            b * usize::from(self.engine.replicas) + usize::from(r)
        } else {
            b
        }
    }

    /// The replica (from 0) an action names, the first when it names none.
    fn named(&self, replica: Option<u16>) -> u16 {
        match replica {
            Some(r) if FLEET => (r - 1).min(self.engine.replicas - 1),
            _ => 0,
        }
    }

    /// Carries out everything due at or before `now`, in order; what that
    /// schedules (a zero-latency retry's end) is carried out too if due.
    fn run_until(&mut self, now: u64) {
        loop {
            if FLEET && self.world_first(now) {
                continue;
            }
            let Some(&Due { t, slot, .. }) = self.engine.queue.peek() else {
                break;
            };
            if t > now {
                break;
            }
            self.engine.queue.pop();
            match self.engine.tasks.take(slot) {
                Some(Task::End(run)) => self.finish(t, run),
                Some(Task::Retry(call)) => self.start(t, call),
                None => {}
            }
        }
    }

    /// Carries out the world's next event if it is due at or before `now`
    /// and not after the queue's next task (first at one instant); whether
    /// it did. Out of the replay's way when there is no world.
    #[inline(never)]
    fn world_first(&mut self, now: u64) -> bool {
        let next = self.engine.queue.peek().map(|due| due.t);
        let Some(world) = self.world.as_deref_mut() else {
            return false;
        };
        let due = world.next_due().filter(|&d| d <= now);
        match due.filter(|&d| next.is_none_or(|t| d <= t)) {
            Some(due) => {
                world.advance(due, &mut self.moved);
                self.world_moved();
                true
            }
            None => false,
        }
    }

    /// Writes the transitions of the subjects the world moved.
    fn world_moved(&mut self) {
        let replicas = usize::from(self.engine.replicas);
        let moved = std::mem::take(&mut self.moved);
        for &at in &moved {
            // Replicas number in u16.
            self.push_transitions(at / replicas, (at % replicas) as u16);
        }
        self.moved = moved;
        self.moved.clear();
    }

    /// Asks the call's breaker to run its attempt now.
    fn start(&mut self, now: u64, call: Call) {
        let (b, r) = (call.breaker, call.replica);
        let at = self.at(b, r);
        let (written, latency_ns) = call.plan.attempt(call.attempt);
        match self.subjects[at].admit_call(now, latency_ns, written) {
            Decision::Admitted(ticket) => {
                self.emit(now, b, r, |state| EventKind::Admitted {
                    call: call.call,
                    attempt: call.attempt,
                    state,
                });
                let timeout = self.engine.breakers.get(b).and_then(|d| d.timeout);
                let (run_for, outcome) = match timeout {
                    Some(limit) if latency_ns > limit => (limit, EndKind::Timeout),
                    _ => (
                        latency_ns,
                        match written {
                            Outcome::Ok | Outcome::Ignored => EndKind::Success,
                            Outcome::Err | Outcome::Panic => EndKind::Failure,
                        },
                    ),
                };
                let line = call.line;
                let slot = self.engine.tasks.put(Task::End(Running {
                    ticket,
                    call,
                    outcome,
                    written,
                }));
                self.engine.queue.push(Due {
                    t: now.saturating_add(run_for),
                    order: order(false, line),
                    slot,
                });
            }
            Decision::Rejected { retry_after_ns } => {
                self.events.rejecting(written, latency_ns);
                self.emit(now, b, r, |state| EventKind::Rejected {
                    call: call.call,
                    attempt: call.attempt,
                    state,
                    retry_after_ns,
                });
            }
        }
    }

    /// Ends an attempt at `t`; a failure (an `err` or a timeout; a panic
    /// unwinds) with attempts left schedules the next one after a wait the
    /// subject draws now.
    fn finish(&mut self, t: u64, run: Running<S::Ticket>) {
        let Running {
            ticket,
            call,
            outcome,
            written,
        } = run;
        let (b, r) = (call.breaker, call.replica);
        let at = self.at(b, r);
        let ended = self.subjects[at].end(t, ticket, outcome, written);
        self.emit(t, b, r, |state| EventKind::Ended {
            call: call.call,
            attempt: call.attempt,
            outcome,
            latency_ns: ended.latency_ns,
            slow: ended.slow,
            straggler: ended.straggler,
            state,
        });
        let retried = match outcome {
            EndKind::Timeout => true,
            EndKind::Failure => written == Outcome::Err,
            EndKind::Success => false,
        };
        let attempts = self.engine.breakers.get(b).map_or(1, |d| d.attempts);
        if retried && call.attempt + 1 < attempts {
            let wait = self.subjects[at].retry_delay(call.attempt);
            let line = call.line;
            let slot = self.engine.tasks.put(Task::Retry(Call {
                attempt: call.attempt + 1,
                ..call
            }));
            self.engine.queue.push(Due {
                t: t.saturating_add(wait),
                order: order(true, line),
                slot,
            });
        }
    }

    /// Writes what breaker `b`'s replica `r` (from 0) did at `t` (`kind`,
    /// in the state the subject reports now), then the transitions it
    /// reported meanwhile.
    fn emit(&mut self, t: u64, b: usize, r: u16, kind: impl FnOnce(State) -> EventKind) {
        let state = self.subjects[self.at(b, r)].state(t);
        self.events.event(Event {
            t_ns: t,
            breaker: b,
            replica: self.replica(r),
            kind: kind(state),
        });
        self.push_transitions(b, r);
    }

    /// The replica as events name it: from 1 in a fleet, 0 outside one.
    fn replica(&self, r: u16) -> u16 {
        if FLEET { r + 1 } else { 0 }
    }

    /// Writes the transitions breaker `b`'s replica `r` reported since the
    /// last look.
    #[inline]
    fn push_transitions(&mut self, b: usize, r: u16) {
        if self.subjects[self.at(b, r)].may_have_transitions() {
            self.push_reported(b, r);
        }
    }

    /// [`push_transitions`](Step::push_transitions) of a subject that may
    /// have some.
    #[inline(never)]
    fn push_reported(&mut self, b: usize, r: u16) {
        let replica = self.replica(r);
        for t in self.subjects[self.at(b, r)].take_transitions() {
            self.events.event(Event {
                t_ns: t.t_ns,
                breaker: b,
                replica,
                kind: EventKind::Transition {
                    from: t.from,
                    to: t.to,
                    reason: t.reason,
                    dry_run: t.dry_run,
                },
            });
        }
    }
}
