//! `run --real-time`: breaker-core on the real clock (`MonotonicClock`)
//! decides every call as the reference model does on virtual time.
//!
//! The traces are generated here, short (about 1.5 s of wall time each) and
//! dense (a call every 20 to 50 ms), with Open periods of 120 to 300 ms; no
//! call starts or ends within `TOL` (wall time) of the end of an Open period
//! of the model's. A replay that is late by less than `TOL` therefore decides
//! every call as the model does, so decisions, outcomes, states and
//! transitions must be equal, in order; times only within bounds:
//!
//! - a transition is stamped no earlier than the model's (the replay is never
//!   early) and at most `TOL` later;
//! - a rejection's `retry_after` is no shorter than the model's and at most
//!   `LAG + TOL` longer (`LAG`: the real clock's cheap reading, two ticks);
//! - a latency differs from the model's by at most `TOL`.
//!
//! An Open period that overran `reset` by more than `TOL` would reject the
//! trial the model admits after the period's end, and fail here.

use breaker_sim::duration::parse_duration;
use breaker_sim::log::{Event, EventKind, State};
use breaker_sim::model;
use breaker_sim::subject::realtime;
use breaker_sim::trace::{Trace, parse};

/// How late the replay may be (wall time): sleeps overshooting, a loaded
/// machine. Calls are kept further than this from every period's end.
const TOL_MS: u64 = 30;
/// The real clock's cheap reading lags by at most two ticks of at most 10 ms.
const LAG_MS: u64 = 20;
const MS: u64 = 1_000_000;

/// splitmix64: the traces are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One call line, in wall-clock milliseconds (scaled by the speed when written).
#[derive(Clone, Copy)]
struct Call {
    t_ms: u64,
    breaker: usize,
    err: bool,
    latency_ms: u64,
}

struct Generated {
    text: String,
    trace: Trace,
    expected: Vec<Event>,
}

const NAMES: [&str; 2] = ["a", "b"];

fn text(decls: &[(u32, u64, u32)], calls: &[Call], speed: u64) -> String {
    let mut s = String::new();
    for (name, (fail_max, reset_ms, success)) in NAMES.iter().zip(decls) {
        s.push_str(&format!(
            "breaker {name} fail_max={fail_max} reset={}ms success={success}\n",
            reset_ms * speed
        ));
    }
    for c in calls {
        s.push_str(&format!(
            "{}ms {} {} {}ms\n",
            c.t_ms * speed,
            NAMES[c.breaker],
            if c.err { "err" } else { "ok" },
            c.latency_ms * speed
        ));
    }
    s
}

/// A trace of alternating healthy and failing phases on two breakers, with
/// every call that the model starts or ends within `TOL_MS` of one of its
/// Open periods' ends taken out (earliest first, until none is left: taking
/// a call out changes only what follows it).
fn generate(seed: u64, speed: u64) -> Generated {
    let mut rng = Rng(seed);
    let decls: Vec<(u32, u64, u32)> = (0..NAMES.len())
        .map(|_| {
            let fail_max = rng.range(2, 3) as u32;
            let reset_ms = [120, 150, 200, 250, 300][rng.range(0, 4) as usize];
            let success = rng.range(1, 2) as u32;
            (fail_max, reset_ms, success)
        })
        .collect();
    let mut calls = Vec::new();
    let mut t_ms = 0;
    let mut failing = false;
    let mut phase_end = rng.range(150, 400);
    while t_ms < 1_400 {
        if t_ms >= phase_end {
            failing = !failing;
            phase_end = t_ms + rng.range(200, 450);
        }
        let err_percent = if failing { 85 } else { 10 };
        calls.push(Call {
            t_ms,
            breaker: rng.range(0, 1) as usize,
            err: rng.range(1, 100) <= err_percent,
            latency_ms: if rng.range(0, 1) == 0 {
                0
            } else {
                rng.range(1, 60)
            },
        });
        t_ms += rng.range(20, 50);
    }
    loop {
        let text = text(&decls, &calls, speed);
        let trace = parse("generated.trace", &text).unwrap();
        let expected = model::replay_seeded(&trace, 0);
        let mut ends: Vec<Vec<u64>> = vec![Vec::new(); NAMES.len()];
        for e in &expected {
            if let EventKind::Transition {
                to: State::Open, ..
            } = e.kind
            {
                ends[e.breaker].push(e.t_ns + decls[e.breaker].1 * speed * MS);
            }
        }
        let near = |b: usize, t_ns: u64| {
            ends[b]
                .iter()
                .any(|&end| t_ns.abs_diff(end) < TOL_MS * speed * MS)
        };
        let offending = calls.iter().position(|c| {
            let start = c.t_ms * speed * MS;
            near(c.breaker, start) || near(c.breaker, start + c.latency_ms * speed * MS)
        });
        match offending {
            Some(i) => {
                calls.remove(i);
            }
            None => {
                return Generated {
                    text,
                    trace,
                    expected,
                };
            }
        }
    }
}

/// The same tokens, or durations that agree once the replay's are scaled
/// back (at a speed other than 1 the breaker's reasons name its durations,
/// divided by the speed).
fn same_reason(model: &str, real: &str, speed: u64) -> bool {
    let (m, r): (Vec<&str>, Vec<&str>) = (
        model.split_whitespace().collect(),
        real.split_whitespace().collect(),
    );
    m.len() == r.len()
        && m.iter().zip(&r).all(|(a, b)| {
            a == b
                || matches!(
                    (parse_duration(a), parse_duration(b)),
                    (Ok(x), Ok(y)) if x.abs_diff(y * speed) <= speed
                )
        })
}

/// Panics at the first event of `real` that `expected` does not allow.
fn assert_matches(g: &Generated, real: &[Event], speed: u64) {
    let tol = TOL_MS * speed * MS;
    let context = |i: usize| {
        format!(
            "event {i}\nmodel: {:?}\nreal:  {:?}\ntrace:\n{}",
            g.expected.get(i),
            real.get(i),
            g.text
        )
    };
    for (i, (m, r)) in g.expected.iter().zip(real).enumerate() {
        assert_eq!(m.breaker, r.breaker, "{}", context(i));
        let ok = match (&m.kind, &r.kind) {
            (EventKind::Admitted { .. }, EventKind::Admitted { .. }) => m == r,
            (
                EventKind::Rejected {
                    call: mc,
                    attempt: ma,
                    state: ms,
                    retry_after_ns: mra,
                },
                EventKind::Rejected {
                    call: rc,
                    attempt: ra,
                    state: rs,
                    retry_after_ns: rra,
                },
            ) => {
                m.t_ns == r.t_ns
                    && (mc, ma, ms) == (rc, ra, rs)
                    && match (mra, rra) {
                        (None, None) => true,
                        (Some(x), Some(y)) => *x <= *y && *y <= x + LAG_MS * speed * MS + tol,
                        _ => false,
                    }
            }
            (
                EventKind::Ended {
                    call: mc,
                    attempt: ma,
                    outcome: mo,
                    latency_ns: ml,
                    slow: msl,
                    straggler: mst,
                    state: ms,
                },
                EventKind::Ended {
                    call: rc,
                    attempt: ra,
                    outcome: ro,
                    latency_ns: rl,
                    slow: rsl,
                    straggler: rst,
                    state: rs,
                },
            ) => {
                m.t_ns == r.t_ns
                    && (mc, ma, mo, msl, mst, ms) == (rc, ra, ro, rsl, rst, rs)
                    && ml.abs_diff(*rl) <= tol
            }
            (
                EventKind::Transition {
                    from: mf,
                    to: mt,
                    reason: mr,
                    dry_run: md,
                },
                EventKind::Transition {
                    from: rf,
                    to: rt,
                    reason: rr,
                    dry_run: rd,
                },
            ) => {
                (mf, mt, md) == (rf, rt, rd)
                    && same_reason(mr, rr, speed)
                    && m.t_ns <= r.t_ns
                    && r.t_ns <= m.t_ns + tol
            }
            _ => false,
        };
        assert!(ok, "{}", context(i));
    }
    // After the pairs: the first divergence says more than a count.
    assert_eq!(
        real.len(),
        g.expected.len(),
        "{}",
        context(real.len().min(g.expected.len()))
    );
}

/// Replays the trace of `seed` on the real clock at `speed` and checks it
/// against the model; the trace must exercise an Open period's end.
fn replay_matches(seed: u64, speed: u64) {
    let g = generate(seed, speed);
    let reopened = g.expected.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Transition {
                from: State::Open,
                to: State::HalfOpen,
                ..
            }
        )
    });
    let rejected = g.expected.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::Rejected {
                retry_after_ns: Some(_),
                ..
            }
        )
    });
    assert!(
        reopened && rejected,
        "seed {seed}: a trace that never tests a period's end\n{}",
        g.text
    );
    let started = std::time::Instant::now();
    let real = realtime::replay("generated.trace", &g.trace, 0, speed as f64).unwrap();
    // Not the bound of the check: a replay far slower than the trace is not
    // real time at all.
    let last_ns = g.expected.iter().map(|e| e.t_ns).max().unwrap_or(0);
    assert!(
        started.elapsed().as_nanos() as u64 >= last_ns / speed,
        "the replay ran ahead of the wall clock"
    );
    assert_matches(&g, &real, speed);
}

#[test]
fn generated_trace_1_at_real_speed() {
    replay_matches(1, 1);
}

#[test]
fn generated_trace_2_at_real_speed() {
    replay_matches(2, 1);
}

#[test]
fn generated_trace_3_at_real_speed() {
    replay_matches(3, 1);
}

#[test]
fn generated_trace_4_twice_as_fast() {
    replay_matches(4, 2);
}

#[test]
fn generated_trace_5_twice_as_fast() {
    replay_matches(5, 2);
}
