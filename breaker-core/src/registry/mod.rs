//! Breakers by name, shared by the whole program: the registry itself
//! (`named`), the operators' changes to its live breakers (`reconfigure`,
//! and `watch` for the operators' file), and what it knows of a keyed
//! breaker whatever its key type (`family`).

// This file only says what the crate sees; its children share what they
// need through siblings, never through it.

mod family;
mod named;
mod reconfigure;
#[cfg(feature = "config-file")]
mod watch;

pub(crate) use family::Family;
pub use named::{ConfigureError, Registry};
pub use reconfigure::ReconfigureError;
#[cfg(feature = "config-file")]
pub use watch::{ConfigWatcher, WatchError};
