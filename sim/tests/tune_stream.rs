//! `tune --grid` and `tune --change` replayed side by side as the trace is
//! read score every configuration exactly as the whole-trace score does
//! (`tune::score` over the trace and its log in memory), whatever the piece
//! size and the number of threads.

mod support;

use breaker_sim::generate::{Scenario, generate};
use breaker_sim::side_by_side::{tune_changes, tune_grid};
use breaker_sim::subject::real;
use breaker_sim::trace::reader::TraceReader;
use breaker_sim::tune::{
    Change, Score, combinations, parse_change, parse_grid, score, with_change, with_overrides,
};

const GRID: &str =
    "fail_max=2,5 policy=fail_max=3|failure_rate=50,window=5s|adaptive=1.5,window=5s";

fn temp(name: &str, text: &str) -> String {
    support::write("tune-stream", name, text)
}

/// The whole-trace way: each combination's variant replayed and scored.
fn whole(text: &str, grid: &str) -> Vec<Option<Score>> {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    let axes = parse_grid(grid).unwrap();
    combinations(&axes)
        .iter()
        .map(|combo| {
            let mut variant = trace.clone();
            for decl in &mut variant.breakers {
                decl.config = with_overrides(&decl.config, combo).ok()?;
            }
            let events = real::replay_seeded("t", &variant, 3).ok()?;
            Some(score(&variant, &events))
        })
        .collect()
}

#[test]
fn side_by_side_scores_equal_the_whole_trace_scores() {
    for (i, name) in Scenario::NAMES.iter().enumerate() {
        let scenario = Scenario::from_name(name).unwrap();
        let text = generate(scenario, 11 + i as u64, 300_000_000_000, 20);
        let path = temp(&format!("{name}.trace"), &text);
        let expected = whole(&text, GRID);
        let grid = combinations(&parse_grid(GRID).unwrap());
        for (piece, jobs) in [(1 << 20, 1), (4096, 3), (97, 2)] {
            let mut reader = TraceReader::with_piece(std::slice::from_ref(&path), piece);
            let tuned = tune_grid(&mut reader, &grid, None, 3, jobs, &mut |_, _| {});
            assert!(tuned.stop.is_none());
            assert_eq!(tuned.scores, expected, "{name}, piece {piece}, {jobs} jobs");
        }
    }
}

#[test]
fn shipped_traces_score_the_same_streamed() {
    let dir = support::package_dir().join("traces");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    paths.sort();
    let grid_text = "reset=1s,10s success=1,2";
    let grid = combinations(&parse_grid(grid_text).unwrap());
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = whole(&text, grid_text);
        let path = path.display().to_string();
        let mut reader = TraceReader::with_piece(std::slice::from_ref(&path), 64);
        let tuned = tune_grid(&mut reader, &grid, None, 3, 2, &mut |_, _| {});
        assert_eq!(tuned.scores, expected, "{path}");
    }
}

/// The whole-trace way for `--change`: the trace as recorded, then each
/// change made live on a copy of it, replayed and scored.
fn whole_changes(text: &str, changes: &[Change], only: Option<&str>) -> Vec<Option<Score>> {
    let trace = breaker_sim::trace::parse("t", text).unwrap();
    std::iter::once(Some(trace.clone()))
        .chain(changes.iter().map(|c| with_change(&trace, c, only).ok()))
        .map(|variant| {
            let variant = variant?;
            let events = real::replay_seeded("t", &variant, 3).ok()?;
            Some(score(&variant, &events))
        })
        .collect()
}

#[test]
fn live_changes_score_the_same_streamed_as_on_the_whole_trace() {
    // Before the first line, inside, at a piece's edge by chance, and after
    // the last line (the change goes in at the end).
    let changes: Vec<Change> = [
        "at=0s fail_max=2 reset=5s",
        "at=1m fail_max=8",
        "at=2m30s reset=1s success=1",
        "at=10m fail_max=1",
    ]
    .iter()
    .map(|c| parse_change(c).unwrap())
    .collect();
    let mut texts: Vec<(String, String)> = Scenario::NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let scenario = Scenario::from_name(name).unwrap();
            (
                name.to_string(),
                generate(scenario, 31 + i as u64, 300_000_000_000, 20),
            )
        })
        .collect();
    let dir = support::package_dir().join("traces");
    for name in ["reconfigure", "retries", "operator", "rates"] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.trace"))).unwrap();
        texts.push((name.to_string(), text));
    }
    let mut moved = 0;
    for (name, text) in &texts {
        let path = temp(&format!("{name}-live.trace"), text);
        let first = breaker_sim::trace::parse("t", text).unwrap().breakers[0]
            .name
            .clone();
        for only in [None, Some(first.as_str())] {
            let expected = whole_changes(text, &changes, only);
            assert!(expected.iter().all(Option::is_some), "{name}");
            moved += expected[1..].iter().filter(|s| **s != expected[0]).count();
            for (piece, jobs) in [(1 << 20, 1), (4096, 3), (97, 2)] {
                let mut reader = TraceReader::with_piece(std::slice::from_ref(&path), piece);
                let tuned = tune_changes(&mut reader, &changes, only, 3, jobs, &mut |_, _| {});
                assert!(tuned.stop.is_none());
                assert_eq!(
                    tuned.scores, expected,
                    "{name}, only {only:?}, piece {piece}, {jobs} jobs"
                );
            }
        }
    }
    // The changes change something: the comparison is not of equals.
    assert!(moved > texts.len(), "{moved} changed scores");
}

#[test]
fn a_live_change_that_misconfigures_a_breaker_is_refused_with_why() {
    let text = "breaker a\nbreaker b\n0s a ok\n1s b err\n2s a ok\n";
    let path = temp("refused-live.trace", text);
    let changes = [parse_change("at=1s slow_rate=50").unwrap()];
    let mut reader = TraceReader::with_piece(std::slice::from_ref(&path), 16);
    let tuned = tune_changes(&mut reader, &changes, Some("b"), 3, 1, &mut |_, _| {});
    assert!(tuned.scores[0].is_some(), "the trace as recorded is scored");
    assert_eq!(tuned.scores[1], None);
    let why = tuned.refused[1].as_deref().unwrap();
    assert!(
        why.contains("breaker `b`") && why.contains("needs `slow`"),
        "{why}"
    );
}
