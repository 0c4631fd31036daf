//! Record, replay, same decisions: a workload through annotated functions is
//! recorded with `breaker_core::record`, the trace is replayed by breaker-sim
//! (through breaker-core and through the reference model), and every call gets
//! the decision it got live, every transition happens again, in order.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::record::Recorder;
use breaker_core::{Error, Transition, circuit_breaker};
use breaker_sim::log::{Event, EventKind};
use support::*;

#[circuit_breaker(rec_payments, fail_max = 3, reset = 2s, success = 2)]
fn pay(fail: bool, latency: Duration) -> Result<u32, AppError> {
    CLOCK.advance(latency);
    if fail { Err(AppError::Down) } else { Ok(1) }
}

#[circuit_breaker(
    rec_search,
    failure_rate = 50,
    window = 10,
    reset = 1s,
    backoff = 2,
    reset_max = 8s,
    slow = 40ms
)]
fn search(fail: bool, latency: Duration) -> Result<u32, AppError> {
    CLOCK.advance(latency);
    if fail { Err(AppError::Busy) } else { Ok(2) }
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// xorshift64*: the workload's outcomes, the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Per breaker, in call order: whether each call was admitted.
type Decisions = [Vec<bool>; 2];
/// Per breaker, in order: each transition's (from, to).
type Moves = [Vec<(String, String)>; 2];

fn replayed(events: &[Event]) -> (Decisions, Moves) {
    let mut decisions: Decisions = Default::default();
    let mut transitions: Moves = Default::default();
    for e in events {
        match &e.kind {
            EventKind::Admitted { .. } => decisions[e.breaker].push(true),
            EventKind::Rejected { .. } => decisions[e.breaker].push(false),
            EventKind::Transition { from, to, .. } => {
                transitions[e.breaker].push((from.as_str().to_owned(), to.as_str().to_owned()))
            }
            _ => {}
        }
    }
    (decisions, transitions)
}

#[test]
fn a_recorded_workload_replays_to_the_same_decisions_and_transitions() {
    let (_time, clock) = time();
    let out = Shared::default();
    let recorder = Recorder::to_writer(out.clone());
    let names = ["rec_payments", "rec_search"];
    let live_transitions: Arc<Mutex<Moves>> = Arc::default();
    for (i, name) in names.iter().enumerate() {
        let b = breaker(name);
        assert!(recorder.record(&b), "{name} is recorded");
        let seen = live_transitions.clone();
        b.on_transition(move |t: &Transition| {
            seen.lock().unwrap()[i].push((t.from.as_str().to_owned(), t.to.as_str().to_owned()));
        });
    }

    // Healthy, then an outage of both dependencies, then recovery; an
    // operator trips payments in the middle of the healthy phase.
    let mut rng = Rng(0x5eed_2026_1124);
    let mut live: Decisions = Default::default();
    for step in 0..1500u32 {
        let failing = (500..900).contains(&step);
        clock.advance(Duration::from_millis(rng.next() % 30));
        let latency = Duration::from_millis(rng.next() % 60);
        let fail = rng.chance(if failing { 90 } else { 8 });
        if step == 200 {
            breaker("rec_payments").trip();
        }
        let (index, result) = if rng.chance(50) {
            (0, pay(fail, latency))
        } else {
            (1, search(fail, latency))
        };
        let rejected = matches!(result, Err(AppError::Breaker(Error::Rejected { .. })));
        live[index].push(!rejected);
    }
    recorder.stop().unwrap();

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let trace = breaker_sim::trace::parse("recorded.trace", &text)
        .unwrap_or_else(|e| panic!("the recorded trace parses: {e}\n{text}"));
    let declared: Vec<&str> = trace.breakers.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(declared, names);

    let through_core = breaker_sim::subject::real::replay("recorded.trace", &trace).unwrap();
    let (decisions, transitions) = replayed(&through_core);
    for i in 0..2 {
        let name = names[i];
        assert!(
            live[i].iter().any(|admitted| !admitted),
            "{name} rejected some calls"
        );
        assert_eq!(decisions[i], live[i], "decisions of {name}");
        assert_eq!(
            transitions[i],
            live_transitions.lock().unwrap()[i],
            "transitions of {name}"
        );
    }

    let model = breaker_sim::model::replay(&trace);
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    if let Some(d) = breaker_sim::check::compare(&model, &through_core, &names) {
        panic!(
            "the reference model disagrees at event {}: {:?} vs {:?}",
            d.index, d.expected, d.actual
        );
    }
}
