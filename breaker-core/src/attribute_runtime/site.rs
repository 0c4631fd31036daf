//! The annotated functions, known from program start: each `#[circuit_breaker]`
//! submits its [`Site`] to a distributed slice, and the global registry
//! creates every annotated breaker from them before the first call, so that
//! operators see them all at once.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Config, Registry};

use crate::config::Value;

/// One annotated function: the breaker it names and the configuration its
/// attribute wrote, each value already typed ([`Value`]).
#[derive(Debug)]
pub struct Site {
    /// The breaker's name.
    pub name: &'static str,
    /// The annotated function, as `module::path::function`.
    pub function: &'static str,
    /// The attribute's keys and values (`("reset", Value::Nanos(30_000_000_000))`).
    pub keys: &'static [(&'static str, Value)],
}

impl Site {
    /// The configuration the attribute wrote. The macro has checked every
    /// rule the builder checks; should the two ever disagree, the mistake is
    /// reported through tracing and the default configuration is used, rather
    /// than panicking in the middle of a call.
    pub fn config(&self) -> Config {
        let built = self
            .keys
            .iter()
            .try_fold(Config::builder(), |builder, (key, value)| {
                builder.set_value(key, *value)
            })
            .and_then(|builder| builder.build());
        match built {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(
                    target: "breaker",
                    breaker = self.name,
                    function = self.function,
                    "#[circuit_breaker] configuration refused at run time ({error}); using the default configuration"
                );
                Config::default()
            }
        }
    }
}

/// The distributed slice's element: a pointer to an annotated function's [`Site`].
#[derive(Debug)]
pub struct Registration(pub &'static Site);

inventory::collect!(Registration);

/// Creates the breaker of every annotated function in `registry`: called once,
/// when the global registry is first touched, so that `registry().list()`
/// shows every annotated breaker before any of them is called.
///
/// Functions that name the same breaker share it. When their configurations
/// disagree, the function whose path (`module::function`) sorts first wins,
/// whatever the link order, and the disagreement is reported once, through
/// tracing at `warn` level, naming both functions.
///
/// The disagreements are reported by the first run only: the global registry
/// runs this once at its creation, and [`Handle`](super::Handle) once more on the first
/// guarded call, which finds every breaker already there.
pub fn register_annotated(registry: &Registry) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let report = !REPORTED.swap(true, Ordering::AcqRel);
    let mut sites: Vec<&'static Site> = inventory::iter::<Registration>
        .into_iter()
        .map(|registration| registration.0)
        .collect();
    sites.sort_by(|a, b| (a.name, a.function).cmp(&(b.name, b.function)));
    let mut first: Option<(&'static Site, Config)> = None;
    for site in sites {
        let config = site.config();
        match &first {
            Some((winner, winning)) if winner.name == site.name => {
                if report && *winning != config {
                    tracing::warn!(
                        target: "breaker",
                        breaker = site.name,
                        winner = winner.function,
                        ignored = site.function,
                        "functions `{}` and `{}` configure breaker `{}` differently; `{}` wins (the first function path in sort order)",
                        winner.function,
                        site.function,
                        site.name,
                        winner.function,
                    );
                }
            }
            _ => {
                registry.ensure(site.name, || config.clone());
                let written: Vec<&str> = site.keys.iter().map(|(key, _)| *key).collect();
                registry.written_in_code(site.name, &written);
                first = Some((site, config));
            }
        }
    }
}
