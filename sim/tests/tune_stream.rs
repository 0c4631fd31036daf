//! `tune --grid` replayed side by side as the trace is read scores every
//! configuration exactly as the whole-trace score does (`tune::score` over
//! the trace and its log in memory), whatever the piece size and the number
//! of threads.

use breaker_sim::generate::{Scenario, generate};
use breaker_sim::side_by_side::tune_grid;
use breaker_sim::subject::real;
use breaker_sim::trace::reader::TraceReader;
use breaker_sim::tune::{Score, combinations, parse_grid, score, with_overrides};

const GRID: &str =
    "fail_max=2,5 policy=fail_max=3|failure_rate=50,window=5s|adaptive=1.5,window=5s";

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("breaker-sim-tune-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
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
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/traces");
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
