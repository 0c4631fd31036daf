//! The Compatibility rule of SEMANTICS.md, tested against pybreaker 1.4.1 itself:
//! with zero-latency calls made one after another, a breaker configured with
//! `fail_max = N, reset = R, success = S` admits and rejects the same calls as
//! pybreaker with `fail_max=N, reset_timeout=R, success_threshold=S`, and ends
//! each call in the same state.
//!
//! Needs a Python with pybreaker 1.4.1 (`$BREAKER_SIM_PYTHON`, default `python3`).
//! Without one the test says so and passes, unless `BREAKER_SIM_REQUIRE_PYBREAKER=1`.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use breaker_sim::generate::SplitMix64;
use breaker_sim::log::EventKind;

fn python() -> String {
    std::env::var("BREAKER_SIM_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn pybreaker_available() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import pybreaker; assert pybreaker.__version__ == '1.4.1' if hasattr(pybreaker, '__version__') else True"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("BREAKER_SIM_REQUIRE_PYBREAKER").as_deref() != Ok("1"),
            "pybreaker 1.4.1 is required (BREAKER_SIM_REQUIRE_PYBREAKER=1) but `{} -c 'import pybreaker'` fails",
            python()
        );
        eprintln!(
            "skipped: no pybreaker for `{}` (pip install pybreaker==1.4.1)",
            python()
        );
    }
    ok
}

fn pybreaker(input: &str) -> Vec<String> {
    let script = support::package_dir().join("scripts/pybreaker_replay.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pybreaker_replay.py failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// breaker-core's decision and state after each call of a zero-latency trace.
fn core(trace_text: &str) -> Vec<String> {
    let trace = breaker_sim::trace::parse("t", trace_text).unwrap();
    let events = breaker_sim::subject::real::replay("t", &trace).unwrap();
    let mut out = Vec::new();
    for e in &events {
        match &e.kind {
            EventKind::Ended { state, .. } => out.push(format!("admitted {}", state.as_str())),
            EventKind::Rejected { state, .. } => out.push(format!("rejected {}", state.as_str())),
            _ => {}
        }
    }
    out
}

#[test]
fn admits_rejects_and_ends_in_the_same_state_as_pybreaker() {
    if !pybreaker_available() {
        return;
    }
    for seed in 0..60u64 {
        let mut rng = SplitMix64::new(seed);
        let fail_max = 1 + rng.below(5);
        let reset_ms = 1 + rng.below(40);
        let success = 1 + rng.below(3);
        let err_ppm = 200_000 + rng.below(600_000);
        let mut trace =
            format!("breaker b fail_max={fail_max} reset={reset_ms}ms success={success}\n");
        let mut py = format!("{fail_max} {} {success}\n", reset_ms * 1000);
        let mut t_us = 0u64;
        for _ in 0..300 {
            t_us += [0, 1_000, 1_000, 2_000, 5_000, 13_000][rng.below(6) as usize];
            let outcome = if rng.chance(err_ppm) {
                if rng.chance(100_000) { "panic" } else { "err" }
            } else if rng.chance(100_000) {
                "ignored"
            } else {
                "ok"
            };
            trace += &format!("{t_us}us b {outcome}\n");
            py += &format!("{t_us} {outcome}\n");
        }
        let expected = pybreaker(&py);
        let actual = core(&trace);
        assert_eq!(expected.len(), actual.len());
        if let Some(i) = (0..expected.len()).find(|&i| expected[i] != actual[i]) {
            let lines: Vec<&str> = trace.lines().collect();
            panic!(
                "seed {seed}: call {} differs: pybreaker `{}`, breaker-core `{}`\n{}",
                i + 1,
                expected[i],
                actual[i],
                lines[..(i + 2).min(lines.len())].join("\n")
            );
        }
    }
}
