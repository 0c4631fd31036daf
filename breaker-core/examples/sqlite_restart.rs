//! A restart in the middle of an incident, with the state kept in a SQLite
//! file: run it once, it opens the breaker and exits; run it again within
//! 20 s, and the new process starts Open, with the time left, instead of
//! hammering the dependency that was failing.
//!
//!     cargo run -p breaker-core --features sqlite --example sqlite_restart
//!     cargo run -p breaker-core --features sqlite --example sqlite_restart
//!
//! The file is `breaker-sqlite-restart.db` in the system's temporary
//! directory, or the path given as the first argument. Printed on a 2-core VM:
//!
//! ```text
//! $ sqlite_restart
//! inventory starts closed (file /tmp/breaker-sqlite-restart.db)
//! three failures: inventory is open for 20 s, written to the file
//! run me again within 20 s: the next process starts Open with the time left
//! $ sqlite_restart
//! inventory starts Open, 18.0 s left of the Open a previous process made: the restart did not reset it
//! a call now is rejected without reaching the dependency: circuit breaker `inventory` is open (remote: 3 consecutive failures); retry in 17s987ms
//! ```

use std::time::Duration;

use breaker_core::store::sqlite::SqliteStore;
use breaker_core::{Config, Error, Registry, State};

const RESET: Duration = Duration::from_secs(20);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).map_or_else(
        || std::env::temp_dir().join("breaker-sqlite-restart.db"),
        Into::into,
    );
    // Fails, with what is wrong, on a path that cannot be opened, a
    // read-only file or a file that is not a database.
    let store = SqliteStore::builder(&path).open()?;
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
        "inventory starts {} (file {})",
        inventory.state(),
        path.display()
    );
    for _ in 0..3 {
        let _ =
            inventory.call(|| Err::<(), Error>(Error::timeout("inventory".into(), Duration::ZERO)));
    }
    // Before exiting: let the store write what is still queued.
    store.flush(Duration::from_secs(1));
    println!(
        "three failures: inventory is {} for {} s, written to the file",
        inventory.state(),
        RESET.as_secs()
    );
    println!("run me again within 20 s: the next process starts Open with the time left");
    Ok(())
}
