//! One operator's setting and what can be wrong with it: where each
//! `key = value` was written (a place in the file, or a variable) and the
//! error that points there. The environment's reader, the file's reader and
//! the overrides that apply them all stand on this module.

use std::fmt;
use std::path::PathBuf;

use crate::ConfigError;

/// Where an override was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A place in the TOML file. Line and column count from 1; both are 0
    /// for a mistake about the file as a whole (it cannot be read).
    File {
        /// The file, as `BREAKER_CONFIG` (or the caller) named it.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The column, in characters, from 1.
        column: usize,
    },
    /// An environment variable.
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line: 0, .. } => write!(f, "{}", path.display()),
            Origin::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Origin::Env { var } => write!(f, "environment variable `{var}`"),
        }
    }
}

/// Where one key of a breaker's configuration got the value the breaker
/// runs with ([`Registry::config_sources`](crate::Registry::config_sources)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Nobody wrote the key: the default value.
    Default,
    /// The program: the `#[circuit_breaker]` attribute, or the [`Config`](crate::Config)
    /// given to `get_or_create` or `configure`. A key written in code at its
    /// default value (`success = 2`) counts as written when the attribute
    /// wrote it; a [`Config`](crate::Config) built in code does not remember such keys.
    Code,
    /// An operator's override: the file or the environment variable.
    Override(Origin),
    /// A reconfiguration of the live breaker
    /// ([`Registry::reconfigure`](crate::Registry::reconfigure)), which wins
    /// over every other source until the next.
    Reconfigured,
}

impl Source {
    /// `default`, `code`, `file`, `env` or `reconfigured`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Code => "code",
            Source::Override(Origin::File { .. }) => "file",
            Source::Override(Origin::Env { .. }) => "env",
            Source::Reconfigured => "reconfigured",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Override(origin) => write!(f, "{origin}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A mistake in the overrides: where, which breaker and key, and what is
/// allowed. The breaker it concerns keeps its base configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideError {
    origin: Origin,
    breaker: Option<String>,
    pub(super) key: Option<String>,
    pub(super) message: String,
}

impl OverrideError {
    pub(super) fn new(
        origin: Origin,
        breaker: Option<&str>,
        key: Option<&str>,
        message: String,
    ) -> Self {
        OverrideError {
            origin,
            breaker: breaker.map(str::to_owned),
            key: key.map(str::to_owned),
            message,
        }
    }

    /// Where the mistake was written.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The breaker it concerns, when it concerns one.
    pub fn breaker(&self) -> Option<&str> {
        self.breaker.as_deref()
    }

    /// The key at fault, when there is one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What was wrong and what is allowed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        match (&self.breaker, &self.key) {
            (Some(b), Some(k)) => write!(f, "breaker `{b}`, `{k}`: ")?,
            (Some(b), None) => write!(f, "breaker `{b}`: ")?,
            (None, Some(k)) => write!(f, "`{k}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for OverrideError {}

/// One `key = value` of the overrides, with where its key and value were written.
#[derive(Clone, Debug)]
pub(super) struct Setting {
    pub(super) key: String,
    pub(super) value: String,
    pub(super) key_at: Origin,
    pub(super) value_at: Origin,
}

impl Setting {
    pub(super) fn error(&self, name: &str, message: String) -> OverrideError {
        OverrideError::new(self.key_at.clone(), Some(name), Some(&self.key), message)
    }

    pub(super) fn value_error(&self, name: &str, message: String) -> OverrideError {
        OverrideError::new(self.value_at.clone(), Some(name), Some(&self.key), message)
    }

    pub(super) fn config_error(&self, name: &str, error: &ConfigError) -> OverrideError {
        let at = if error.message().starts_with("unknown key") {
            &self.key_at
        } else {
            &self.value_at
        };
        OverrideError::new(
            at.clone(),
            Some(name),
            Some(error.field()),
            error.message().to_owned(),
        )
    }
}
