//! Two replicas share one breaker through Redis: failures in one open it in
//! the other, which then rejects calls without ever calling the dependency.
//!
//! Start a Redis (`redis-server --port 6379 --save '' --appendonly no`), then:
//!
//!     cargo run -p breaker-core --features redis --example shared_state
//!     cargo run -p breaker-core --features redis --example shared_state -- redis://127.0.0.1:6380/
//!
//! The two replicas here are two registries of one process, each with its own
//! store, exactly as two processes would be; run the example in two terminals
//! at once to see them meet across processes too.

use std::time::{Duration, Instant};

use breaker_core::store::redis::RedisStore;
use breaker_core::{Config, Error, Registry, State};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_owned());
    let config = || {
        Config::builder()
            .fail_max(3)
            .reset(Duration::from_secs(10))
            .build()
            .expect("a valid config")
    };

    let replicas: Vec<Registry> = (0..2).map(|_| Registry::new()).collect();
    let mut stores = Vec::new();
    for replica in &replicas {
        let store = RedisStore::builder(url.as_str())
            .namespace("example")
            .connect()?;
        if !store.is_connected() {
            eprintln!("Redis is not reachable at {url}: each replica works on its own state.");
        }
        replica.use_store(store.clone());
        stores.push(store);
    }
    let a = replicas[0].get_or_create("inventory", config);
    let b = replicas[1].get_or_create("inventory", config);
    println!("replica a: {}, replica b: {}", a.state(), b.state());
    if a.state() != State::Closed {
        println!("(the breaker was already open in Redis: a joined it rather than resetting it)");
        a.reset();
    }

    for _ in 0..3 {
        let _ = a.call(|| Err::<(), Error>(Error::timeout("inventory".into(), Duration::ZERO)));
    }
    let opened = Instant::now();
    println!("replica a: three failures, {}", a.state());
    while b.call(|| Ok::<(), Error>(())).is_ok() && opened.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(1));
    }
    match b.call(|| Ok::<(), Error>(())) {
        Err(rejected) => println!(
            "replica b: rejects {} ms later, without calling the dependency: {rejected}",
            opened.elapsed().as_millis()
        ),
        Ok(()) => println!("replica b: still closed (is Redis reachable at {url}?)"),
    }

    a.reset();
    let reset = Instant::now();
    while b.state() != State::Closed && reset.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("replica a: reset by an operator; replica b: {}", b.state());
    // Before exiting: let the stores write what is still queued.
    for store in &stores {
        store.flush(Duration::from_secs(1));
    }
    Ok(())
}
