//! `registry().configure(name, config)` on annotated functions: before a
//! function's first call it replaces the attribute's configuration (the
//! global registry creates every annotated breaker at start, unhanded); after
//! it, the breaker is in use and keeps its configuration.

mod support;

use std::time::Duration;

use breaker_core::{ConfigureError, Error, State, circuit_breaker, registry};
use support::*;

#[circuit_breaker(cfg_fail_max, fail_max = 5)]
fn fail_max_five(ok: bool) -> Result<u32, AppError> {
    outcome(ok)
}

#[test]
fn configure_before_the_first_call_replaces_the_attributes_values() {
    let _t = time();
    registry()
        .configure("cfg_fail_max", "fail_max = 2".parse().unwrap())
        .unwrap();
    let _ = fail_max_five(false);
    let _ = fail_max_five(false);
    assert_eq!(breaker("cfg_fail_max").state(), State::Open);
    // The function's first call took the breaker: it is in use now.
    assert!(matches!(
        registry().configure("cfg_fail_max", "fail_max = 9".parse().unwrap()),
        Err(ConfigureError::InUse { .. })
    ));
    assert_eq!(breaker("cfg_fail_max").config().fail_max(), Some(2));
}

#[circuit_breaker(cfg_timeout, fail_max = 100, timeout = 5s)]
async fn slow_op() -> Result<u32, AppError> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(1)
}

#[test]
fn a_configured_timeout_replaces_the_attributes() {
    let _t = time();
    on_paused_tokio(async {
        registry()
            .configure(
                "cfg_timeout",
                "fail_max = 100, timeout = 1s".parse().unwrap(),
            )
            .unwrap();
        let started = tokio::time::Instant::now();
        let result = slow_op().await;
        assert!(
            matches!(result, Err(AppError::Breaker(Error::Timeout { after, .. })) if after == Duration::from_secs(1)),
            "{result:?}"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    });
}
