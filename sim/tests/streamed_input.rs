//! A trace read as a stream gives the same log whatever it comes through:
//! a file, standard input (`-`), a gzip or zstd file, or several files one
//! after the other; a last line cut short keeps the replay of the lines
//! before it; a mistake in any file or compressed input is named at its
//! file, line and column.

mod support;

use std::io::Write as _;
use std::process::Output;

use support::sim;

use breaker_sim::generate::{Scenario, generate};

fn temp(name: &str, bytes: &[u8]) -> String {
    support::write("streamed", name, bytes)
}

/// A trace of a few thousand lines (several pieces of the reader's
/// buffer), with retries, timeouts and an outage.
fn trace() -> String {
    generate(Scenario::Outage, 5, 1_200_000_000_000, 60)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(text.as_bytes(), ruzstd::encoding::CompressionLevel::Fastest)
}

fn log_of(out: &Output) -> &[u8] {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    &out.stdout
}

#[test]
fn a_pipe_and_compressed_files_give_the_log_of_the_plain_file() {
    let text = trace();
    assert!(text.len() > 1 << 20, "more than one piece of the reader");
    let plain = temp("day.trace", text.as_bytes());
    let gz = temp("day.trace.gz", &gzip(&text));
    let zst = temp("day.trace.zst", &zstd(&text));
    let expected = sim(&["run", &plain, "--events", "-"], None);
    let expected = log_of(&expected);
    assert!(expected.len() > 100_000);
    let piped = sim(&["run", "-", "--events", "-"], Some(text.as_bytes()));
    assert_eq!(log_of(&piped), expected, "through a pipe");
    for file in [&gz, &zst] {
        let out = sim(&["run", file, "--events", "-"], None);
        assert_eq!(log_of(&out), expected, "{file}");
    }
    let piped_gz = sim(&["run", "-", "--events", "-"], Some(&gzip(&text)));
    assert_eq!(log_of(&piped_gz), expected, "gzip through a pipe");
    // The summary and check read them alike too.
    let summary = |out: Output| String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        summary(sim(&["run", &zst], None)),
        summary(sim(&["run", &plain], None))
    );
    for args in [vec!["check", "-"], vec!["check", gz.as_str()]] {
        let out = sim(&args, Some(text.as_bytes()));
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok, "));
    }
    let tune = |args: &[&str], stdin: Option<&[u8]>| {
        let out = sim(args, stdin);
        assert!(out.status.success(), "{args:?}");
        out.stdout
    };
    let grid = "fail_max=3,5";
    assert_eq!(
        tune(&["tune", "-", "--grid", grid], Some(text.as_bytes())),
        tune(&["tune", &plain, "--grid", grid, "--jobs", "1"], None)
    );
}

#[test]
fn several_files_replay_as_their_concatenation() {
    let text = trace();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let third = lines.len() / 3;
    let parts = [
        lines[..third].concat(),
        lines[third..2 * third].concat(),
        lines[2 * third..].concat(),
    ];
    let whole = temp("whole.trace", text.as_bytes());
    let a = temp("a.trace", parts[0].as_bytes());
    let b = temp("b.trace.gz", &gzip(&parts[1]));
    let c = temp("c.trace", parts[2].as_bytes());
    let expected = sim(&["run", &whole, "--events", "-"], None);
    let rotated = sim(&["run", &a, &b, &c, "--events", "-"], None);
    assert_eq!(log_of(&rotated), log_of(&expected));
    let tuned = |args: &[&str]| {
        let out = sim(args, None);
        assert!(out.status.success());
        out.stdout
    };
    assert_eq!(
        tuned(&["tune", &a, &b, &c, "--grid", "reset=5s,20s"]),
        tuned(&["tune", &whole, "--grid", "reset=5s,20s"])
    );
    // A file may declare a breaker the next one calls; times carry over.
    let first = temp("first.trace", b"breaker x fail_max=1\n1s x ok\n");
    let second = temp("second.trace", b"+1s x err\nbreaker y\n3s y ok\n");
    let joined = temp(
        "joined.trace",
        b"breaker x fail_max=1\n1s x ok\n+1s x err\nbreaker y\n3s y ok\n",
    );
    assert_eq!(
        log_of(&sim(&["run", &first, &second, "--events", "-"], None)),
        log_of(&sim(&["run", &joined, "--events", "-"], None))
    );
}

#[test]
fn rotated_recordings_declare_their_breakers_again_and_replay_as_one() {
    // As breaker-core's recorder rotates: every file declares its breakers
    // at the top; times count from the recording's start.
    let first = temp(
        "rec.trace.1",
        b"breaker db fail_max=2 reset=10s\n0s db err\n1s db err\n",
    );
    let second = temp(
        "rec.trace",
        b"breaker db fail_max=2 reset=10s\n2s db ok\n12s db ok\n",
    );
    let joined = temp(
        "rec_joined.trace",
        b"breaker db fail_max=2 reset=10s\n0s db err\n1s db err\n2s db ok\n12s db ok\n",
    );
    assert_eq!(
        log_of(&sim(&["run", &first, &second, "--events", "-"], None)),
        log_of(&sim(&["run", &joined, "--events", "-"], None))
    );
    let other = temp("rec_other.trace", b"breaker db fail_max=3\n2s db ok\n");
    let out = sim(&["run", &first, &other], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with(&format!("{other}:1:9: breaker `db` is declared again")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Within one file, a second declaration is a mistake, as ever.
    let twice = temp("twice.trace", b"breaker db\nbreaker db\n");
    assert_eq!(sim(&["run", &twice], None).status.code(), Some(2));
}

#[test]
fn a_mistake_is_named_in_its_own_file_compressed_or_not() {
    let first = temp("ok.trace", b"breaker db\n0s db ok\n");
    let second = temp("bad.trace", b"1s db ok\n2s dbb err\n");
    let out = sim(&["run", &first, &second, "--events", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!("{second}:2:4: unknown breaker `dbb`; did you mean `db`?")
    );
    // Files are read through before the replay: nothing is replayed.
    assert!(out.stdout.is_empty(), "a bad trace replays nothing");
    let gz = temp("bad.trace.gz", &gzip("breaker db\n0s db ok\n1s db eror\n"));
    let out = sim(&["check", &gz], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!("{gz}:3:7: expected an outcome")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sim(&["run", "-"], Some(b"breaker db\n0s db okk\n"));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("-:2:7: "));
}

/// TRACES.md: a bad trace is reported without replaying, also when the
/// mistake is pieces into a long file. From standard input, which cannot be
/// read twice, the pieces before the mistake's are replayed.
#[test]
fn a_mistake_far_into_a_file_replays_nothing_and_stops_a_pipe_where_it_is() {
    let mut text = trace();
    assert!(text.len() > 1 << 20, "longer than a piece: {}", text.len());
    text.push_str("99999s dep eror\n");
    let bad = temp("far.trace", text.as_bytes());
    let events = support::scratch("streamed").join("far.jsonl");
    let _ = std::fs::remove_file(&events);
    let out = sim(
        &["run", &bad, "--events", &events.display().to_string()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected an outcome"));
    assert!(!events.exists(), "no log is written");
    let partial = format!("{}.partial", events.display());
    assert!(!std::path::Path::new(&partial).exists(), "nor one aside");
    // The same on standard output: the file is read through first.
    let out = sim(&["run", &bad, "--events", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // Standard input cannot be read twice: a log file is still written
    // aside and dropped; on standard output the pieces before stand.
    let piped = sim(
        &["run", "-", "--events", &events.display().to_string()],
        Some(text.as_bytes()),
    );
    assert_eq!(piped.status.code(), Some(2));
    assert!(!events.exists(), "no log is written");
    let piped = sim(&["run", "-", "--events", "-"], Some(text.as_bytes()));
    assert_eq!(piped.status.code(), Some(2));
    assert!(!piped.stdout.is_empty(), "the pieces before stand");
    // A good trace's log is put in place.
    let good = temp("near.trace", trace().as_bytes());
    let out = sim(
        &["run", &good, "--events", &events.display().to_string()],
        None,
    );
    assert!(out.status.success());
    assert!(events.exists() && !std::path::Path::new(&partial).exists());
}

#[test]
fn a_last_line_cut_short_is_reported_and_the_lines_before_it_replay() {
    let text = trace();
    // Cut in the middle of the last line's outcome: `... dep o`.
    let last = text.trim_end().rfind('\n').unwrap() + 1;
    let cut_at = last + text[last..].find(" dep ").unwrap() + 6;
    let cut = &text[..cut_at];
    let before = temp("before.trace", &text.as_bytes()[..last]);
    let truncated = temp("truncated.trace", cut.as_bytes());
    let expected = sim(&["run", &before, "--events", "-"], None);
    let out = sim(&["run", &truncated, "--events", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out.stdout, log_of(&expected), "the replay before it stands");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line_no = text[..last].lines().count() + 1;
    assert!(
        stderr.contains(&format!("{truncated}:{line_no}:")) && stderr.contains("cut short"),
        "{stderr}"
    );
    assert!(stderr.contains("dep: "), "the summary is printed: {stderr}");
    // Through a pipe and compressed, the same.
    let piped = sim(&["run", "-", "--events", "-"], Some(cut.as_bytes()));
    assert_eq!(piped.stdout, out.stdout);
    let gz = temp("truncated.trace.gz", &gzip(cut));
    assert_eq!(sim(&["run", &gz, "--events", "-"], None).stdout, out.stdout);
    // check compares what came before, and says the trace was cut.
    let out = sim(&["check", &truncated], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok, "));
}

#[test]
fn a_compressed_file_cut_short_keeps_the_lines_read_before() {
    let text = trace();
    let gz = gzip(&text);
    let cut = temp("cut.trace.gz", &gz[..gz.len() / 2]);
    let out = sim(&["run", &cut, "--events", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the trace past line"),
        "{stderr}"
    );
    assert!(
        !out.stdout.is_empty(),
        "the replay of the lines before stands"
    );
}

/// The copies of standard input `plot` reads twice (`input::Spool`).
fn spools() -> usize {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("breaker-sim-stdin-")
        })
        .count()
}

#[test]
fn plot_reads_a_pipe_as_it_reads_a_file() {
    let text = trace();
    let plain = temp("plot.trace", text.as_bytes());
    let from_file = temp("from_file.svg", b"");
    let from_pipe = temp("from_pipe.svg", b"");
    let from_gzip_pipe = temp("from_gzip_pipe.svg", b"");
    let spooled_before = spools();
    assert!(
        sim(&["plot", &plain, "-o", &from_file], None)
            .status
            .success()
    );
    assert!(
        sim(&["plot", "-", "-o", &from_pipe], Some(text.as_bytes()))
            .status
            .success()
    );
    assert!(
        sim(&["plot", "-", "-o", &from_gzip_pipe], Some(&gzip(&text)))
            .status
            .success()
    );
    let svg = std::fs::read(&from_file).unwrap();
    assert_eq!(svg, std::fs::read(&from_pipe).unwrap());
    assert_eq!(svg, std::fs::read(&from_gzip_pipe).unwrap(), "gzip");

    // A pipe whose last line is cut short plots the lines before it, as a
    // file does (held in memory, the whole plot was refused).
    let whole = text.len() - 1 - text[..text.len() - 1].rfind('\n').unwrap();
    let cut = &text[..text.len() - whole / 2];
    let before = temp("before.trace", &text.as_bytes()[..text.len() - whole]);
    let from_before = temp("from_before.svg", b"");
    let from_cut_pipe = temp("from_cut_pipe.svg", b"");
    assert!(
        sim(&["plot", &before, "-o", &from_before], None)
            .status
            .success()
    );
    let out = sim(&["plot", "-", "-o", &from_cut_pipe], Some(cut.as_bytes()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cut short"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&from_before).unwrap(),
        std::fs::read(&from_cut_pipe).unwrap()
    );
    assert_eq!(
        spools(),
        spooled_before,
        "each copy of standard input removed"
    );
}
