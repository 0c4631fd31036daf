//! A restart in the middle of an incident, with the state kept in a
//! PostgreSQL table: run it once, it opens the breaker and exits; run it
//! again within 20 s, and the new process starts Open, with the time left,
//! instead of hammering the dependency that was failing. Processes on other
//! hosts, given the same server, would share it too.
//!
//!     cargo run -p breaker-core --features postgres --example postgres_restart -- postgresql://postgres@127.0.0.1:5432/postgres
//!     cargo run -p breaker-core --features postgres --example postgres_restart -- postgresql://postgres@127.0.0.1:5432/postgres
//!
//! The server is the first argument, or `BREAKER_POSTGRES_URL`. The table is
//! `breaker_example` (created if missing). Printed on a 2-core VM (the two runs one after the other, by
//! `./scripts/test`):
//!
//! ```text
//! $ postgres_restart postgresql://postgres@127.0.0.1:5432/postgres
//! inventory starts closed (table breaker_example)
//! three failures: inventory is open for 20 s, written to the table
//! run me again within 20 s: the next process starts Open with the time left
//! $ postgres_restart postgresql://postgres@127.0.0.1:5432/postgres
//! inventory starts Open, 20.0 s left of the Open a previous process made: the restart did not reset it
//! a call now is rejected without reaching the dependency: circuit breaker `inventory` is open (remote: 3 consecutive failures); retry in 19s986ms
//! ```

use std::time::Duration;

use breaker_core::store::postgres::PostgresStore;
use breaker_core::{Config, Error, Registry, State};

const RESET: Duration = Duration::from_secs(20);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(url) = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BREAKER_POSTGRES_URL").ok())
    else {
        return Err(
            "give the server: postgres_restart postgresql://user@host:port/database \
                    (or BREAKER_POSTGRES_URL)"
                .into(),
        );
    };
    // Fails, with what is wrong, on a connection string that does not parse,
    // credentials the server refuses or a table of another shape; a server
    // that is down is no error (the breakers work on their own meanwhile).
    let store = PostgresStore::builder(url)
        .table("breaker_example")
        .open()?;
    if !store.is_connected() {
        return Err("the server cannot be reached (see the report above)".into());
    }
    let registry = Registry::new(); // a service would use `breaker_core::registry()`
    registry.use_store(store.clone());
    let inventory = registry.get_or_create("inventory", || {
        Config::builder()
            .fail_max(3)
            .reset(RESET)
            .build()
            .expect("a valid config")
    });

    if inventory.state() == State::Open {
        let rejected = inventory
            .call(|| Ok::<(), Error>(()))
            .expect_err("an Open breaker rejects");
        let left = rejected.retry_after().unwrap_or_default();
        println!(
            "inventory starts Open, {:.1} s left of the Open a previous process made: \
             the restart did not reset it",
            left.as_secs_f64()
        );
        println!("a call now is rejected without reaching the dependency: {rejected}");
        return Ok(());
    }

    println!(
        "inventory starts {} (table breaker_example)",
        inventory.state()
    );
    for _ in 0..3 {
        let _ =
            inventory.call(|| Err::<(), Error>(Error::timeout("inventory".into(), Duration::ZERO)));
    }
    // Before exiting: let the store write what is still queued.
    store.flush(Duration::from_secs(1));
    println!(
        "three failures: inventory is {} for {} s, written to the table",
        inventory.state(),
        RESET.as_secs()
    );
    println!("run me again within 20 s: the next process starts Open with the time left");
    Ok(())
}
