//! Operators change a breaker's settings without a rebuild: a TOML file named
//! by `BREAKER_CONFIG`, and `BREAKER_<NAME>_<KEY>` variables, override the
//! attribute's values when the breaker is first created; a mistake keeps the
//! attribute's values and is reported, never a panic.
//!
//! ```text
//! cargo run -p breaker-core --features config-file --example config_overrides
//! BREAKER_CONFIG=ops.toml BREAKER_PAYMENTS_FAIL_MAX=10 cargo run ... # the same, from the process
//! ```
//!
//! This example builds the overrides from explicit parts, as a test would,
//! and installs them on a registry of its own; the global `registry()` reads
//! the process's environment and file the same way, once, when first touched.

use breaker_core::overrides::{Overrides, env_var};
use breaker_core::{Config, Registry};

const FILE: &str = r#"
# One table per breaker; keys and values as in the attribute.
[payments]
fail_max = 10
reset = "1m"

["payments-eu"]
failure_rate = 25
window = "30s"

[search]
fail_max = 0        # out of range: `search` keeps its own configuration
"#;

fn main() {
    let overrides = Overrides::new()
        .file("ops/breakers.toml", FILE)
        // The environment wins over the file, key by key.
        .vars([(env_var("payments", "reset"), "2m".to_owned())]);
    let registry = Registry::with_overrides(overrides);

    // In code, before traffic (the operators' overrides still apply on top).
    registry
        .configure("inventory", "fail_max = 3, reset = 10s".parse().unwrap())
        .unwrap();

    for (name, written) in [
        ("payments", "fail_max = 5, reset = 30s"),
        ("payments-eu", "failure_rate = 50"),
        ("search", "fail_max = 5"),
        ("inventory", "fail_max = 20"),
    ] {
        let written: Config = written.parse().unwrap();
        let breaker = registry.get_or_create(name, || written.clone());
        let written = written.to_string();
        println!(
            "{name:12} written: {written:28} running: {}",
            breaker.config()
        );
    }

    println!("\nmistakes (also logged through tracing, target `breaker`):");
    for error in registry.config_errors() {
        println!("  {error}");
    }
}
