//! The program's registry, the one every `#[circuit_breaker]` function and
//! every operator's surface finds breakers in.
//!
//! It is a module of its own because it is where the registry meets the
//! attribute's runtime half: it is created with every annotated function's
//! breaker in it, while the attribute's handles look their breakers up in it.
//! Kept apart, neither the registry nor the attribute's runtime imports the
//! other.

use std::sync::LazyLock;

use crate::attribute_runtime::register_annotated;
use crate::overrides::Overrides;
use crate::registry::Registry;

/// Created with every annotated function's breaker already in it, so that
/// operators see (and can act on) them before any traffic, and with the
/// process's overrides (environment and `BREAKER_CONFIG`), read once, here.
static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::with_overrides(Overrides::from_process());
    register_annotated(&registry);
    registry
});

/// The program's registry: every `#[circuit_breaker]` function's breaker is
/// in it, and operators find breakers there by name.
///
/// When first touched it reads the operators' overrides once (the
/// `BREAKER_<NAME>_<KEY>` variables, and the TOML file named by
/// `BREAKER_CONFIG` with the `config-file` feature; see
/// [`overrides`](crate::overrides)), then creates every annotated function's
/// breaker with them applied. Mistakes in them are logged then: install the
/// `tracing` subscriber first, or read [`Registry::config_errors`].
pub fn registry() -> &'static Registry {
    &GLOBAL
}
