//! One breaker per upstream host, on a manual clock: a bad host opens its
//! own breaker and nobody else's; operators see and act on each host in the
//! registry; the number of hosts kept is bounded.
//!
//! Run it with `cargo run -p breaker-core --example keyed`.

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::keyed::KeyedBreaker;
use breaker_core::{Error, State, circuit_breaker, registry};

#[derive(Debug)]
enum FetchError {
    Upstream(String),
    Breaker(Error),
}

impl From<Error> for FetchError {
    fn from(e: Error) -> Self {
        FetchError::Breaker(e)
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Upstream(m) => write!(f, "upstream: {m}"),
            FetchError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

struct Request {
    url: String,
}

impl Request {
    /// The host part of the URL.
    fn host(&self) -> &str {
        let rest = self.url.split_once("://").map_or(&*self.url, |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// One breaker per host, at most 100 hosts, a host forgotten after 10
/// minutes without a call.
#[circuit_breaker(upstream, key = req.host(), max_keys = 100, idle = 10m, fail_max = 3, reset = 30s)]
fn fetch(req: &Request) -> Result<String, FetchError> {
    if req.host().starts_with("down.") {
        return Err(FetchError::Upstream(format!("{} is down", req.host())));
    }
    Ok(format!("200 OK from {}", req.url))
}

fn get(url: &str) -> Result<String, FetchError> {
    fetch(&Request { url: url.into() })
}

fn main() {
    let clock = ManualClock::new();
    registry().use_clock(clock.clone());

    for _ in 0..4 {
        match get("https://down.example/items") {
            Ok(body) => println!("down.example: {body}"),
            Err(e) => println!("down.example: {e}"),
        }
        println!("up.example:   {}", get("https://up.example/items").unwrap());
    }

    // Each host is an ordinary breaker of the registry, named `upstream[host=...]`.
    for breaker in registry().list() {
        println!("{:<28} {:?}", breaker.name(), breaker.state());
    }
    let down = registry().get("upstream[host=down.example]").unwrap();
    assert_eq!(down.state(), State::Open);

    // An operator acts on one host: the other is untouched.
    registry()
        .get("upstream[host=up.example]")
        .unwrap()
        .force_open();
    println!(
        "up.example forced open: {}",
        get("https://up.example/").unwrap_err()
    );
    registry().get("upstream[host=up.example]").unwrap().reset();

    // The keyed breaker itself: its live hosts, least recently used first.
    let hosts: KeyedBreaker<String> = registry().keyed("upstream").unwrap();
    println!("live hosts: {:?}", hosts.keys());

    // After 30 s the bad host gets a trial call; after 10 idle minutes a host
    // that is Closed (or whose open period is over) is dropped.
    clock.advance(Duration::from_secs(30));
    println!("after 30 s: {}", get("https://down.example/").unwrap_err());
    clock.advance(Duration::from_secs(600));
    hosts.sweep();
    println!("after 10 idle minutes: {} live hosts", hosts.len());
}
