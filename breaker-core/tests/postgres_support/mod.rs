//! A real PostgreSQL server for a test: a cluster of its own (`initdb`) in a
//! temporary directory, started on a free loopback port with its socket in
//! that directory, stopped (and started again) when the test says, and
//! stopped and removed when the test is done or fails. As root, the server
//! runs as the `postgres` user (PostgreSQL refuses to run as root), which
//! owns the directory. Also: SQL of the test's own on the server, as an
//! operator's `psql` would run it, and the store's reports about it.

#![allow(dead_code)]

#[path = "../store_support/mod.rs"]
mod store_support;
pub use store_support::*;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::{NoTls, SimpleQueryMessage};

const INSTALL: &str = "PostgreSQL's server (initdb, postgres) is not installed, and the \
    PostgreSQL tests need a real one. Install it with `sudo apt-get install postgresql` \
    (Debian, Ubuntu), or run ./scripts/test, which installs it.";

/// A PostgreSQL server of the test's own on 127.0.0.1.
pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl PgServer {
    /// A new cluster, started on a free port; waits until it answers.
    pub fn start() -> PgServer {
        let bin = binaries();
        let owner = owner();
        let dir = temp_dir();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the directory");
        }
        let status = as_owner(Command::new(bin.join("initdb")), owner)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb: {e}. {INSTALL}"));
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let mut server = PgServer {
            dir,
            bin,
            owner,
            child: None,
            port: 0,
        };
        // A port free when it was picked can be taken before the server
        // binds it: the server then exits at start, and another is tried.
        for _ in 0..10 {
            server.port = free_port();
            if server.try_run() {
                return server;
            }
        }
        panic!("postgres exited at start on ten free ports in a row");
    }

    /// The connection string of this server.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// What the stores' reports name this server by.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (an immediate shutdown: every connection
    /// dropped, as a crash would), and waits until it is gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGQUIT: the postmaster ends its backends and exits; SIGKILL only
        // if it does not, since a killed postmaster's backends may hold the
        // shared memory a restart needs.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGQUIT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the stopped server again, on its port, with its data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        assert!(
            self.try_run(),
            "postgres did not start again on port {}",
            self.port
        );
    }

    /// Runs the server on `self.port`: `true` once it answers, `false` if
    /// it exited at start.
    fn try_run(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.join("log")).expect("a log file");
        if let Some((uid, gid)) = self.owner {
            let _ = std::os::unix::fs::chown(self.dir.join("log"), Some(uid), Some(gid));
        }
        let child = as_owner(Command::new(self.bin.join("postgres")), self.owner)
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-k")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string()])
            // No fsync (-F): a commit is in the host's page cache, which
            // outlives the server's process, so a stop loses nothing.
            .args(["-c", "listen_addresses=127.0.0.1", "-F"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=40", "-c", "shared_buffers=16MB"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}. {INSTALL}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return false;
                }
            }
            if try_sql(&self.url(), "SELECT 1").is_ok() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not answer on port {} within 10 s: {}",
                self.port,
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `query` (one or more statements) on the server; the rows of the
    /// last, each column as text (`None` for NULL). Panics with the
    /// server's message if it fails.
    pub fn sql(&self, query: &str) -> Vec<Vec<Option<String>>> {
        try_sql(&self.url(), query).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// The one value `query` returns.
    pub fn value(&self, query: &str) -> Option<String> {
        self.sql(query)
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten()
    }

    /// The lines reported about this server that contain `what`: each test
    /// has a server of its own, so tests running side by side do not mix.
    pub fn reports(&self, what: &str) -> Vec<String> {
        let field = format!("server={} ", self.server());
        log()
            .text()
            .lines()
            .filter(|l| l.contains(what) && l.contains(&field))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `query` on the server at `url` through a connection of its own.
pub fn try_sql(url: &str, query: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
        config.connect_timeout(Duration::from_secs(2));
        let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let messages = client
            .simple_query(query)
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            })?;
        drop(client);
        let _ = driver.await;
        let mut rows = Vec::new();
        for message in messages {
            match message {
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                // A new statement's result starts: only the last one's rows.
                SimpleQueryMessage::RowDescription(_) => rows.clear(),
                _ => {}
            }
        }
        Ok(rows)
    })
}

/// The directory of PostgreSQL's server programs: Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest), or where `initdb` is
/// on the PATH.
fn binaries() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
        .unwrap_or_else(|| panic!("{INSTALL}"))
}

/// Who runs the server: as root, the `postgres` user (initdb and postgres
/// refuse root); otherwise this process's user (`None`).
fn owner() -> Option<(u32, u32)> {
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let entry = passwd
        .lines()
        .find(|line| line.starts_with("postgres:"))
        .unwrap_or_else(|| {
            panic!(
                "running as root, and there is no `postgres` user to run the server as \
                 (Debian's postgresql package makes one). {INSTALL}"
            )
        });
    let fields: Vec<&str> = entry.split(':').collect();
    let id = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .expect("a uid and gid")
    };
    Some((id(2), id(3)))
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

/// A fresh directory under the system's temporary directory.
fn temp_dir() -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "breaker-pg-{}-{nanos:x}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
