//! What the SQLite store's tests share: a directory of their own for the
//! file (removed when the test is done), the store's reports through
//! tracing, a raw connection to write junk and hold locks with, and the
//! real clock.

#![allow(dead_code)]

#[path = "../store_support/mod.rs"]
mod store_support;
pub use store_support::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A fresh directory under the system's temporary directory, removed
/// (with the files in it) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "breaker-sqlite-{test}-{}-{nanos:x}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A connection of the test's own to the store's file: what another
/// program (an operator's `sqlite3`, another version) would do to it.
pub fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("a raw connection");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// The lines reported about the file at `path` that contain `what`: each
/// test has a file of its own, so tests running side by side do not mix.
pub fn reports(path: &Path, what: &str) -> Vec<String> {
    let field = format!("path={} ", path.display());
    log()
        .text()
        .lines()
        .filter(|l| l.contains(what) && l.contains(&field))
        .map(str::to_owned)
        .collect()
}
