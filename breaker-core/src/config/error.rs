//! [`ConfigError`]: every configuration mistake a user sees, as the key at
//! fault and what would be right, whether the configuration came from code,
//! the attribute, text or an operator's override.

use std::borrow::Cow;
use std::fmt;

/// A configuration mistake: which field, and what would be right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    field: Cow<'static, str>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The key at fault (`fail_max`, `slow_rate`, ...), or the unknown key given.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong and what is allowed, without the field name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}
