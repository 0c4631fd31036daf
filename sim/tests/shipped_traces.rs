//! Every trace shipped in `sim/traces/` replays identically through
//! breaker-core and the reference model, and `breaker-sim check` says so.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn shipped() -> Vec<PathBuf> {
    let dir = support::package_dir().join("traces");
    let mut traces: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sim/traces exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    traces.sort();
    traces
}

#[test]
fn every_shipped_trace_matches_the_reference_model() {
    let traces = shipped();
    assert!(
        traces.len() >= 6,
        "expected the shipped example traces, found {traces:?}"
    );
    for path in traces {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let trace = breaker_sim::trace::parse(&name, &text).unwrap();
        let expected = breaker_sim::model::replay(&trace);
        let actual = breaker_sim::subject::real::replay(&name, &trace).unwrap();
        let names: Vec<String> = trace.breakers.iter().map(|b| b.name.clone()).collect();
        if let Some(d) = breaker_sim::check::compare(&expected, &actual, &names) {
            panic!("{name}: {d}");
        }
    }
}

#[test]
fn check_command_passes_on_every_shipped_trace_and_covers_every_edge() {
    let out = Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .arg("check")
        .args(shipped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("transition edges exercised: 17 of 17"),
        "{stdout}"
    );
}

#[test]
fn replay_is_byte_identical_across_runs() {
    for path in shipped() {
        let run = || {
            Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
                .args(["run", "--events", "-"])
                .arg(&path)
                .output()
                .unwrap()
                .stdout
        };
        let first = run();
        assert!(!first.is_empty());
        assert_eq!(first, run(), "{}", path.display());
    }
}
