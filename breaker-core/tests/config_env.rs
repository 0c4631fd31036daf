//! The global registry reads the process's overrides once, when first
//! touched: `BREAKER_<NAME>_<KEY>` variables and the TOML file named by
//! `BREAKER_CONFIG`. This binary holds one test, so that setting its own
//! environment races with no other thread.

use breaker_core::overrides::Origin;
use breaker_core::{Error, circuit_breaker, registry};

#[derive(Debug)]
struct AppError(#[allow(dead_code)] Error);

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(env_payments, fail_max = 5, reset = 30s)]
fn payments() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker("env-search", fail_max = 5)]
fn search() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(env_inventory, fail_max = 5)]
fn inventory() -> Result<u32, AppError> {
    Ok(1)
}

#[test]
fn the_global_registry_applies_the_process_overrides_at_start() {
    let dir = std::env::temp_dir().join(format!("breaker-config-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("breakers.toml");
    std::fs::write(
        &file,
        "[env_payments]\nfail_max = 8\nreset = \"1m\"\n\n[\"env-search\"]\nhalf_open = 0\n",
    )
    .unwrap();
    // SAFETY: the only test of this binary, run before anything reads the
    // environment; no other thread exists that could read it concurrently.
    unsafe {
        std::env::set_var("BREAKER_CONFIG", &file);
        std::env::set_var("BREAKER_ENV_PAYMENTS_FAIL_MAX", "10");
        std::env::set_var("BREAKER_ENV_INVENTORY_SUCCESS", "3");
    }

    let config = |name: &str| registry().get(name).unwrap().config().to_keys();
    assert_eq!(config("env_payments"), "fail_max = 10, reset = 1m");
    assert_eq!(config("env_inventory"), "fail_max = 5, success = 3");
    assert_eq!(
        config("env-search"),
        "fail_max = 5",
        "a mistake keeps the attribute's values"
    );
    let errors = registry().config_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].origin(),
        &Origin::File {
            path: file.clone(),
            line: 6,
            column: 13
        }
    );
    assert_eq!(errors[0].key(), Some("half_open"));
    assert_eq!(errors[0].message(), "must be between 1 and 65535, got 0");
    let _ = (payments(), search(), inventory());
    let _ = std::fs::remove_dir_all(&dir);
}
