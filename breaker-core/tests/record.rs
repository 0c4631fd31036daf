//! `breaker_core::record`: what a recording writes, in which order, and how
//! it stays bounded. Every test runs on a manual clock.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::record::{Recorder, Rotation};
use breaker_core::{Breaker, Config, Error};

/// A writer the test reads back; it fails once `fail` is set.
#[derive(Clone, Default)]
struct Sink {
    bytes: Arc<Mutex<Vec<u8>>>,
    fail: Arc<Mutex<bool>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if *self.fail.lock().unwrap() {
            return Err(io::Error::other("disk full"));
        }
        self.bytes.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// The lines written so far, without the header comment.
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.bytes.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("# recorded by"))
            .map(str::to_owned)
            .collect()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn breaker(name: &str, clock: &ManualClock) -> Breaker {
    let config = Config::builder()
        .fail_max(2)
        .reset(Duration::from_secs(10))
        .build()
        .unwrap();
    Breaker::with_clock(name, config, clock.clone())
}

#[test]
fn overlapping_calls_are_written_in_order_of_arrival_with_their_latency() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let sink = Sink::default();
    let recorder = Recorder::to_writer(sink.clone());
    assert!(recorder.record(&db));

    let slow = db.acquire().unwrap();
    clock.advance(ms(5));
    let fast = db.acquire().unwrap();
    clock.advance(ms(1));
    fast.success();
    assert_eq!(
        sink.lines().len(),
        1,
        "the later call waits for the earlier one"
    );
    clock.advance(ms(24));
    slow.failure();
    recorder.flush().unwrap();
    assert_eq!(
        sink.lines(),
        [
            "breaker db fail_max=2 reset=10s",
            "0s db err 30ms",
            "5ms db ok 1ms"
        ]
    );
}

#[test]
fn rejections_actions_and_cancellations_are_written_as_a_trace_says_them() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let sink = Sink::default();
    let recorder = Recorder::to_writer(sink.clone());
    assert!(recorder.record(&db));

    drop(db.acquire().unwrap()); // cancelled
    clock.advance(ms(2));
    db.trip();
    clock.advance(ms(3));
    assert!(db.acquire().is_err());
    db.reset();
    db.acquire().unwrap().failure();
    clock.advance(ms(1));
    db.force_open();
    assert!(db.acquire().is_err());
    db.reset();
    db.trip_for(Duration::from_secs(300));
    recorder.flush().unwrap();
    assert_eq!(
        sink.lines(),
        [
            "breaker db fail_max=2 reset=10s",
            "# 0s db: a call cancelled after 0s",
            "2ms db trip",
            "5ms db ok # rejected: the outcome of the last admitted call",
            "5ms db reset",
            "5ms db err",
            "6ms db force_open",
            "6ms db err # rejected: the outcome of the last admitted call",
            "6ms db reset",
            "6ms db trip # trip_for 5m: replayed, it opens for `reset`",
        ]
    );
}

#[test]
fn a_breaker_is_recorded_once_and_only_with_a_name_a_trace_can_hold() {
    let clock = ManualClock::new();
    let recorder = Recorder::to_writer(Sink::default());
    let other = Recorder::to_writer(Sink::default());
    let db = breaker("db", &clock);
    assert!(recorder.record(&db));
    assert!(!recorder.record(&db));
    assert!(!other.record(&db));
    assert!(!recorder.record(&breaker("two words", &clock)));
    assert!(!recorder.record(&breaker("hash#tag", &clock)));
}

#[test]
fn a_call_that_never_ends_holds_back_at_most_max_pending_lines() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let sink = Sink::default();
    let path = std::env::temp_dir().join(format!("breaker-pending-{}.trace", std::process::id()));
    let recorder = Recorder::to_file(
        &path,
        Rotation {
            max_pending: 3,
            ..Rotation::default()
        },
    )
    .unwrap();
    assert!(recorder.record(&db));
    let hung = db.acquire().unwrap();
    for _ in 0..3 {
        clock.advance(ms(1));
        db.acquire().unwrap().success();
    }
    recorder.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "breaker db fail_max=2 reset=10s",
            "# 0s db: a call still running when it had to be written",
            "1ms db ok",
            "2ms db ok",
            "3ms db ok",
        ]
    );
    hung.success(); // already written: forgotten
    recorder.stop().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    std::fs::remove_file(&path).unwrap();
    drop(sink);
}

#[test]
fn stop_writes_running_calls_as_comments_and_records_nothing_after() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let sink = Sink::default();
    let recorder = Recorder::to_writer(sink.clone());
    assert!(recorder.record(&db));
    let running = db.acquire().unwrap();
    recorder.stop().unwrap();
    running.success();
    db.acquire().unwrap().success();
    db.trip();
    assert_eq!(
        sink.lines(),
        [
            "breaker db fail_max=2 reset=10s",
            "# 0s db: a call still running when it had to be written"
        ]
    );
}

#[test]
fn a_write_error_stops_the_recording_but_never_the_calls() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let sink = Sink::default();
    let recorder = Recorder::to_writer(sink.clone());
    assert!(recorder.record(&db));
    *sink.fail.lock().unwrap() = true;
    for _ in 0..3 {
        let _ = db.call(|| Err::<(), Error>(Error::timeout("db".into(), ms(1))));
    }
    assert_eq!(db.stats().failures, 2);
    assert_eq!(db.stats().rejected, 1);
    let error = recorder.flush().unwrap_err();
    assert_eq!(error.to_string(), "disk full");
    assert_eq!(recorder.stop().unwrap_err().to_string(), "disk full");
}

#[test]
fn files_rotate_at_max_bytes_and_each_replays_on_its_own() {
    let clock = ManualClock::new();
    let db = breaker("db", &clock);
    let dir = std::env::temp_dir().join(format!("breaker-rotate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calls.trace");
    let rotation = Rotation {
        max_bytes: 200,
        keep: 2,
        ..Rotation::default()
    };
    let recorder = Recorder::to_file(&path, rotation).unwrap();
    assert!(recorder.record(&db));
    for _ in 0..40 {
        clock.advance(ms(10));
        db.acquire().unwrap().success();
    }
    recorder.stop().unwrap();

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["calls.trace", "calls.trace.1", "calls.trace.2"]);
    let mut last_times = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.len() <= 200, "{file} holds {} bytes", text.len());
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        assert_eq!(
            lines.next(),
            Some("breaker db fail_max=2 reset=10s"),
            "{file} declares its breaker"
        );
        let calls: Vec<&str> = lines.collect();
        assert!(
            !calls.is_empty() && calls.iter().all(|l| l.ends_with(" db ok")),
            "{file}: {calls:?}"
        );
        last_times.push(calls.last().unwrap().split(' ').next().unwrap().to_owned());
    }
    // The current file holds the newest calls: the last one was at 390ms.
    assert_eq!(last_times[0], "390ms");
    std::fs::remove_dir_all(&dir).unwrap();
}
