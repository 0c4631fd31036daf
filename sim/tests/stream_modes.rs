//! `run --via attr`, `--via attr-async` and `--real-time` read the trace as
//! a stream, as `--via core` does: the log of a file is the log of the same
//! trace through a pipe and compressed, and core's; a breaker they refuse
//! pieces into the trace writes nothing from a file, and stops a pipe where
//! it is, named in its own file; the log starts before a pipe ends.

mod support;

use std::io::{Read, Write as _};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The reader's piece (`trace::reader::PIECE`): a declaration after more
/// than this lands in a later chunk.
const PIECE: usize = 1 << 20;

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `args`, `stdin` written to standard input (empty: none).
fn sim(args: &[&str], stdin: &[u8]) -> Output {
    support::sim(args, Some(stdin))
}

fn temp(name: &str, bytes: &[u8]) -> String {
    support::write("modes", name, bytes)
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The log (standard output) of a run that succeeded.
fn log_of(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A call of `name` at `t_ms`, the `i`th of the trace: failing phases of
/// 300 calls between healthy ones of 600, latencies of whole milliseconds
/// (so tokio's timers can end them) up to 39 ms (so calls overlap).
fn call(text: &mut String, t_ms: u64, name: &str, i: u64) {
    let err = if (i / 300) % 3 == 1 {
        i % 10 != 0
    } else {
        i % 23 == 0
    };
    let outcome = if err { "err" } else { "ok" };
    text.push_str(&format!("{t_ms}ms {name} {outcome} {}ms\n", (i * 7) % 40));
}

/// A trace both attribute modes replay (`db` and `h` are annotated
/// functions of both), its second breaker declared pieces in.
fn annotated_trace() -> String {
    let mut text = String::from("breaker db fail_max=5 reset=10s success=2\n");
    let mut t_ms = 0;
    for i in 0..6000 {
        t_ms += 13;
        call(&mut text, t_ms, "db", i);
    }
    while text.len() <= PIECE {
        text.push_str("# the next breaker is declared in a later piece of the reader\n");
    }
    text.push_str("breaker h fail_max=2 reset=5s success=3 half_open=2\n");
    for i in 0..3000 {
        t_ms += 11;
        call(&mut text, t_ms, if i % 2 == 0 { "h" } else { "db" }, i);
    }
    text
}

/// The log of `text` through `mode` from a file, asserted the same from a
/// pipe and from a gzip file (and so the summary); with `--events -`.
fn through_file_pipe_and_gzip(mode: &[&str], text: &str, name: &str) -> (String, String) {
    let plain = temp(&format!("{name}.trace"), text.as_bytes());
    let gz = temp(&format!("{name}.trace.gz"), &gzip(text));
    let run = |input: &str, stdin: &[u8]| {
        let mut args = vec!["run", input, "--events", "-"];
        args.extend(mode);
        sim(&args, stdin)
    };
    let from_file = run(&plain, b"");
    let log = log_of(&from_file);
    let from_pipe = run("-", text.as_bytes());
    assert_eq!(log_of(&from_pipe), log, "{mode:?}: through a pipe");
    let from_gz = run(&gz, b"");
    assert_eq!(log_of(&from_gz), log, "{mode:?}: gzip");
    (log, stderr(&from_file))
}

#[test]
fn the_attribute_modes_log_a_file_a_pipe_and_gzip_alike_and_as_core() {
    let text = annotated_trace();
    assert!(text.len() > PIECE, "more than one piece");
    let plain = temp("core.trace", text.as_bytes());
    let core = sim(&["run", &plain, "--events", "-"], b"");
    let core_log = log_of(&core);
    assert!(core_log.contains("\"breaker\":\"h\",") && core_log.contains("\"to\":\"open\""));
    for mode in ["attr", "attr-async"] {
        let (log, summary) = through_file_pipe_and_gzip(&["--via", mode], &text, mode);
        assert!(log == core_log, "{mode}: the log differs from core's");
        assert_eq!(summary, stderr(&core), "{mode}: the summary");
    }
}

/// The event log without what the real clock decides (times, latencies,
/// waits, and the reasons that name durations): the decisions, in order.
fn decisions(log: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            fields(line)
                .into_iter()
                .filter(|(key, _)| {
                    !matches!(
                        key.as_str(),
                        "t_ns" | "latency_ns" | "retry_after_ns" | "reason"
                    )
                })
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The keys and values of a flat JSON object, values as written.
fn fields(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = line.trim().trim_start_matches('{').chars().peekable();
    let string = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => s.extend(chars.next()),
                '"' => break,
                c => s.push(c),
            }
        }
        s
    };
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let key = string(&mut chars);
        assert_eq!(chars.next(), Some(':'), "{line}");
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            string(&mut chars)
        } else {
            let mut v = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '}' {
                    break;
                }
                v.push(c);
                chars.next();
            }
            v
        };
        out.push((key, value));
    }
    out
}

/// A trace of 630 s (0.63 s at `--speed 1000`) whose calls all stand at
/// least 100 s of trace time (100 ms of wall time) from the end of every
/// Open period, so a replay late by less than that decides every call as
/// virtual time does; its second breaker is declared pieces in.
fn paced_trace() -> String {
    let mut text = String::from(
        "breaker a fail_max=2 reset=200s success=1\n0s a ok\n10s a err\n20s a err\n120s a ok\n",
    );
    while text.len() <= PIECE {
        text.push_str("# the next breaker is declared in a later piece of the reader\n");
    }
    text.push_str(
        "breaker b fail_max=1 reset=200s success=1\n320s a ok\n330s b err\n430s b ok\n630s b ok\n",
    );
    text
}

#[test]
fn real_time_decides_a_file_a_pipe_and_gzip_alike_and_as_core() {
    let text = paced_trace();
    let core = log_of(&sim(
        &[
            "run",
            &temp("paced.trace", text.as_bytes()),
            "--events",
            "-",
        ],
        b"",
    ));
    let expected = decisions(&core);
    assert!(
        expected
            .iter()
            .filter(|d| d.contains("event=rejected"))
            .count()
            == 2
            && expected.iter().filter(|d| d.contains("to=closed")).count() == 2,
        "{core}"
    );
    let mode = ["--real-time", "--speed", "1000"];
    let plain = temp("paced_rt.trace", text.as_bytes());
    let gz = temp("paced_rt.trace.gz", &gzip(&text));
    for (input, stdin) in [
        (plain.as_str(), &b""[..]),
        ("-", text.as_bytes()),
        (gz.as_str(), b""),
    ] {
        let mut args = vec!["run", input, "--events", "-"];
        args.extend(mode);
        let started = std::time::Instant::now();
        let log = log_of(&sim(&args, stdin));
        assert_eq!(decisions(&log), expected, "{input}:\n{log}");
        assert!(
            started.elapsed() >= Duration::from_millis(630),
            "{input}: on the real clock"
        );
    }
}

/// A breaker `zz` (no annotated function has its configuration) declared
/// after more than a piece of call lines, at the line it returns.
fn refused_late() -> (String, usize) {
    let mut text = String::from("breaker db fail_max=5 reset=10s success=2\n");
    let mut t_ms = 0;
    let mut i = 0;
    while text.len() <= PIECE {
        t_ms += 13;
        call(&mut text, t_ms, "db", i);
        i += 1;
    }
    let line = text.lines().count() + 1;
    text.push_str(&format!("breaker zz fail_max=3\n{}ms zz ok\n", t_ms + 1));
    (text, line)
}

#[test]
fn a_breaker_refused_pieces_in_writes_nothing_from_a_file_and_stops_a_pipe_where_it_is() {
    let (text, line) = refused_late();
    let path = temp("refused_late.trace", text.as_bytes());
    let events = format!("{path}.jsonl");
    let partial = format!("{events}.partial");
    for (mode, message) in [
        ("attr", "no annotated function for breaker `zz`"),
        (
            "attr-async",
            "no unused annotated async function is configured",
        ),
    ] {
        let out = sim(&["run", "--via", mode, &path, "--events", "-"], b"");
        assert_eq!(out.status.code(), Some(2), "{mode}");
        assert!(out.stdout.is_empty(), "{mode}: a bad trace writes nothing");
        assert!(
            stderr(&out).starts_with(&format!("{path}:{line}:1: {message}")),
            "{mode}: {}",
            stderr(&out)
        );
        let out = sim(&["run", "--via", mode, &path, "--events", &events], b"");
        assert_eq!(out.status.code(), Some(2), "{mode}");
        assert!(out.stdout.is_empty(), "{mode}: nor a summary");
        assert!(
            !std::path::Path::new(&events).exists() && !std::path::Path::new(&partial).exists(),
            "{mode}: no log is left behind"
        );
        // Standard input cannot be read twice: the pieces before stand.
        let out = sim(
            &["run", "--via", mode, "-", "--events", "-"],
            text.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(2), "{mode}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("\"breaker\":\"db\","),
            "{mode}: the pieces before stand"
        );
        assert!(
            stderr(&out).contains(&format!("-:{line}:1: {message}")),
            "{mode}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_refusal_is_named_in_its_own_file_among_several() {
    let first = temp(
        "first.trace",
        b"breaker db fail_max=5 reset=10s success=2\n0ms db ok\n",
    );
    let second = temp("second.trace", b"1ms db ok\nbreaker zz\n2ms zz ok\n");
    for (mode, message) in [
        ("attr", "no annotated function for breaker `zz`"),
        (
            "attr-async",
            "no unused annotated async function is configured",
        ),
    ] {
        let out = sim(
            &["run", "--via", mode, &first, &second, "--events", "-"],
            b"",
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        assert!(
            stderr(&out).starts_with(&format!("{second}:2:1: {message}")),
            "{mode}: {}",
            stderr(&out)
        );
    }
    // A call tokio cannot end at its time is named at its breaker's
    // declaration, in the file that declares it.
    let late = temp("late.trace", b"1ms db ok 1ns\n");
    let out = sim(&["run", "--via", "attr-async", &first, &late], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!(
            "{first}:1:1: call 2 of `db` (at 1ms) would end at 1ms1ns"
        )),
        "{}",
        stderr(&out)
    );
}

/// Runs `args` with `text` on standard input, all of it but the last
/// `held` bytes at first: whether the log started before the rest came,
/// and the log.
fn log_before_the_end(args: &[&str], text: &[u8], held: usize) -> (bool, Output) {
    let mut child = spawn(args);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut errors = child.stderr.take().unwrap();
    let (started, first) = mpsc::channel();
    let reading = std::thread::spawn(move || {
        let mut log = Vec::new();
        let mut buffer = [0; 1 << 16];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            if log.is_empty() {
                let _ = started.send(());
            }
            log.extend_from_slice(&buffer[..n]);
        }
        log
    });
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = errors.read_to_end(&mut text);
        text
    });
    let cut = text.len() - held;
    stdin.write_all(&text[..cut]).unwrap();
    let early = first.recv_timeout(Duration::from_secs(60)).is_ok();
    stdin.write_all(&text[cut..]).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let out = Output {
        status,
        stdout: reading.join().unwrap(),
        stderr: errors.join().unwrap(),
    };
    (early, out)
}

#[test]
fn the_log_comes_while_the_pipe_is_still_open() {
    let annotated = annotated_trace();
    let dense: String = std::iter::once("breaker a fail_max=3 reset=1s\n".to_string())
        .chain((0..100_000).map(|i| format!("{i}ms a ok\n")))
        .collect();
    for (mode, text) in [
        (&["--via", "attr"][..], &annotated),
        (&["--via", "attr-async"][..], &annotated),
        (&["--real-time", "--speed", "1000"][..], &dense),
    ] {
        assert!(text.len() > PIECE + 4096);
        let mut args = vec!["run", "-", "--events", "-"];
        args.extend(mode);
        let (early, out) = log_before_the_end(&args, text.as_bytes(), text.len() - PIECE - 4096);
        assert!(
            early,
            "{mode:?}: nothing was written before the trace ended"
        );
        let log = log_of(&out);
        let calls = text.lines().filter(|l| !l.starts_with(['#', 'b'])).count();
        assert_eq!(
            log.matches("\"event\":\"admitted\"").count()
                + log.matches("\"event\":\"rejected\"").count(),
            calls,
            "{mode:?}: every call"
        );
    }
}
