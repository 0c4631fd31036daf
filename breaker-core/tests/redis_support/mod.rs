//! A real redis-server for a test: started on a free loopback port, without
//! persistence, and killed when the test is done (or fails).

#![allow(dead_code)]

#[path = "../store_support/mod.rs"]
mod store_support;
pub use store_support::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "redis-server is not installed, and the Redis tests need a real one. \
    Install it with `sudo apt-get install redis-server` (Debian, Ubuntu) or \
    `brew install redis` (macOS), or run ./scripts/test, which installs it.";

/// A redis-server child process on 127.0.0.1.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> RedisServer {
        // A port free when it was picked can be taken before redis-server
        // binds it (by an outgoing connection of a test running beside this
        // one): the server then exits at start, and another port is tried.
        for _ in 0..10 {
            if let Some(server) = RedisServer::try_start_on(free_port()) {
                return server;
            }
        }
        panic!("redis-server exited at start on ten free ports in a row");
    }

    /// Starts a server on `port` (a restart on the port of a killed one).
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer::try_start_on(port)
            .unwrap_or_else(|| panic!("redis-server exited at start on port {port}"))
    }

    /// A server on `port`, or `None` when it exits at start (the port is taken).
    fn try_start_on(port: u16) -> Option<RedisServer> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL}"),
            Err(e) => panic!("cannot start redis-server: {e}. {INSTALL}"),
        };
        let mut server = RedisServer {
            child: Some(child),
            port,
        };
        server.wait_until_ready().then_some(server)
    }

    /// The URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `true` once the server answers; `false` if it exited at start.
    fn wait_until_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return false;
                }
            }
            if ping(self.port) {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 5 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
