//! A redis-server for a bench: on a free loopback port, without persistence,
//! killed when dropped. Shared by the benches that need one.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// A redis-server on a free port, killed when dropped.
pub struct Server(pub Option<Child>, pub u16);

impl Server {
    pub fn start() -> Server {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_or(6399, |a| a.port());
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        if child.is_none() {
            eprintln!("redis-server not found: benchmarking with a disconnected store");
        }
        Server(child, port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
