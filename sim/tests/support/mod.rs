//! What the simulator's integration tests share: the files they write, and
//! a run of the binary fed through a pipe.
//!
//! Each test binary writes into a directory of its own under the system's
//! temporary one, named for the binary and the process. No destructor runs at
//! a process's exit, so the first write of a process removes the directories
//! its label's earlier processes left (those whose process is gone): what a
//! test run leaves behind is bounded by the runs still going.

// Each binary uses what it needs of this module.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// This process's directory for the test binary `label`, created on first
/// use, after removing those of `label`'s ended processes.
pub fn scratch(label: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let prefix = format!("breaker-sim-{label}-");
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                    continue;
                };
                let ended = pid.parse::<u32>().is_ok_and(|pid| {
                    pid != std::process::id()
                        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
                });
                // Only where /proc tells which processes run (Linux).
                if ended && std::path::Path::new("/proc/self").exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
    .clone()
}

/// Writes `bytes` to `name` in [`scratch`]`(label)`; its path.
pub fn write(label: &str, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let path = scratch(label).join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// Runs `breaker-sim` with `args`, and `stdin` (if any) written to its
/// standard input from a thread of its own, so that the log can come back
/// while the trace goes in; without, standard input is empty.
pub fn sim(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    out
}

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
pub fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
