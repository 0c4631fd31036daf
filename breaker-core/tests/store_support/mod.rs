//! What the stores' tests share whatever the store: polling for an outcome
//! on the real clock, the wall clock, the reports the stores make through
//! tracing, replicas as OS processes (the test binary started again,
//! driven by commands on its input), a free loopback port for a server,
//! and a store whose links count the calls made into them. Included by `redis_support`, `sqlite_support` and
//! `postgres_support`.

#![allow(dead_code)]

pub mod commands;
pub mod counting;
pub mod lapse;

#[allow(unused_imports)] // not every includer counts calls
pub use counting::Counting;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Polls `done` every millisecond until it holds or `within` has passed;
/// returns whether it held. Never a bare sleep: the caller asserts on it.
pub fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Wall-clock milliseconds, comparable across the processes of one machine.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Wall-clock microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What the store reported through tracing, written by a `fmt` subscriber.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything reported so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How many times `needle` was reported.
    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// The one subscriber of the test binary, installed on first use (the
/// stores report from their own threads, so a thread-local one would see
/// nothing).
pub fn log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .without_time()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        log
    })
}

/// What a process prints for the test to read, to tell it from libtest's output.
pub const TAG: &str = "@@ ";

/// How long a process may take to say what the test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// Prints a line for the test that started this process to read.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{TAG}{line}");
    let _ = out.flush();
}

/// A process seen from the test: its input, and its tagged output lines.
pub struct Process {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Process {
    /// This test binary again, running only the test `entry` (which acts as
    /// the process when `env` sets its role), with `env`.
    pub fn start(entry: &str, env: &[(&str, &str)]) -> Process {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args(["--exact", entry, "--nocapture"])
            .args(["--test-threads", "1"])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("a process");
        let stdin = child.stdin.take().expect("its stdin");
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may have started the line ("test ... ").
                if let Some(at) = line.find(TAG) {
                    if tx.send(line[at + TAG.len()..].to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Process {
            child,
            stdin,
            lines,
        }
    }

    /// Sends a command line.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("the process reads commands");
        self.stdin.flush().expect("the process reads commands");
    }

    /// The next line that starts with `prefix` (others are skipped), within
    /// 15 s, as its words after the prefix.
    pub fn expect(&self, prefix: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => {
                    return line.split_whitespace().skip(1).map(str::to_owned).collect();
                }
                Ok(_) => continue,
                Err(e) => panic!("the process said no `{prefix}` line within 15 s ({e:?})"),
            }
        }
    }

    /// The next line, as words.
    pub fn next_line(&self) -> Vec<String> {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line.split_whitespace().map(str::to_owned).collect(),
            Err(e) => panic!("the process said nothing within 15 s ({e:?})"),
        }
    }

    /// Every line up to the one starting with `last`.
    pub fn collect_until(&self, last: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(last) => return lines,
                Ok(line) => lines.push(line),
                Err(e) => panic!("the process said no `{last}` line within 15 s ({e:?})"),
            }
        }
    }

    /// Asks the process to quit, and waits for it (killing it after 5 s).
    pub fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
    }

    /// Kills the process at once (SIGKILL), as a crash would end it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// The trials `processes` ran, each reported as `trial <start> <stop>` (µs)
/// up to `trials done`: how many, and the most in flight at once. At one
/// instant an end comes before a start: a permit given back is free.
pub fn trials_at_once(processes: &[Process]) -> (usize, i32) {
    let mut events = Vec::new();
    for p in processes {
        for line in p.collect_until("trials done") {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["trial", start, stop] = words.as_slice() {
                events.push((start.parse::<u64>().unwrap(), 1i32));
                events.push((stop.parse::<u64>().unwrap(), -1i32));
            }
        }
    }
    let trials = events.len() / 2;
    events.sort();
    let (mut running, mut most) = (0, 0);
    for (_, delta) in &events {
        running += delta;
        most = most.max(running);
    }
    (trials, most)
}
