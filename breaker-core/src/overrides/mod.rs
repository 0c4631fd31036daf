//! Operators' overrides: a breaker's keys changed from outside the program,
//! by environment variables and (feature `config-file`) a TOML file.
//!
//! The global [`registry()`](crate::registry) reads them once, when it is
//! first touched ([`Overrides::from_process`]), and applies them to each
//! breaker when it is first created: the attribute's values (or the ones
//! given to [`Registry::get_or_create`](crate::Registry::get_or_create) or
//! [`Registry::configure`](crate::Registry::configure)) are the base, then the
//! file's keys, then the environment's, later ones winning key by key. Every
//! value is read by [`ConfigBuilder::set`](crate::ConfigBuilder::set), the
//! same text form as the attribute's, and the result is checked as a whole.
//!
//! **Environment**: `BREAKER_<NAME>_<KEY>=<value>`, where `<NAME>` is the
//! breaker's name in upper case with every character other than an ASCII
//! letter or digit written `_` ([`env_var`]), and `<KEY>` the key in upper
//! case: `BREAKER_PAYMENTS_FAIL_MAX=10`, `BREAKER_PAYMENTS_EU_RESET=1m` for a
//! breaker named `payments-eu`. Two names that map to the same `<NAME>`
//! (`payments-eu` and `payments_eu`) read the same variables.
//!
//! **File** (feature `config-file`): the path is `BREAKER_CONFIG`; one table
//! per breaker name, keys exactly the attribute's, values as the attribute
//! writes them (durations as strings):
//!
//! ```toml
//! [payments]
//! fail_max = 10
//! reset = "30s"
//!
//! ["payments-eu"]
//! failure_rate = 12.5
//! window = "10s"
//! ```
//!
//! **Mistakes** never panic and never half-apply: when any override of a
//! breaker is wrong (an unknown key, a value out of range, a combination the
//! rules refuse), that breaker keeps its base configuration, and each mistake
//! is an [`OverrideError`] naming the file, line and column (or the
//! variable), the breaker, the key and what is allowed. They are reported
//! through `tracing` (target `breaker`, level `error`) and kept by the
//! registry ([`Registry::config_errors`](crate::Registry::config_errors)). A
//! file that cannot be read or parsed is ignored whole.
//!
//! **Reload** (feature `config-file`): [`Registry::reload_config`](crate::Registry::reload_config)
//! reads the file again and applies it to every live breaker as a
//! reconfiguration (SEMANTICS.md, "Reconfiguration": state and counts carry
//! on, the latest change wins), the whole file or nothing;
//! `Registry::watch_config` (feature `config-file`) does so each time the
//! file is saved, until the watcher it returns is dropped.
//!
//! Overrides cover the breaker's keys (those of [`KEYS`] that
//! this version supports), and for a keyed breaker (`key = ...`) also
//! `max_keys` and `idle` ([`KEYED_KEYS`]); `fallback`, `failure`, `retry` and
//! `retry_backoff` belong to the function's code and are refused.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Config, ConfigBuilder, ConfigError, KEYS};

#[cfg(feature = "config-file")]
mod file;
mod setting;

use setting::Setting;
pub use setting::{Origin, OverrideError, Source};

/// The variable that names the TOML file of overrides.
pub const CONFIG_VAR: &str = "BREAKER_CONFIG";

/// What every override variable starts with.
pub const ENV_PREFIX: &str = "BREAKER_";

/// The attribute's keys that only a keyed breaker has: how many keys it keeps
/// live, and how long a key may go without a call before it is dropped.
pub const KEYED_KEYS: [&str; 2] = ["max_keys", "idle"];

/// A keyed breaker's own settings, the values of [`KEYED_KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedSettings {
    /// At most this many live keys (`max_keys`).
    pub max_keys: usize,
    /// A key with no call for this long is dropped (`idle`).
    pub idle: Duration,
}

/// The attribute's keys that are code, not configuration.
const CODE_KEYS: [&str; 5] = ["fallback", "failure", "retry", "retry_backoff", "name"];

/// The environment variable that overrides `key` of the breaker `name`:
/// `env_var("payments-eu", "fail_max")` is `BREAKER_PAYMENTS_EU_FAIL_MAX`.
///
/// ```
/// assert_eq!(breaker_core::overrides::env_var("payments-eu", "fail_max"), "BREAKER_PAYMENTS_EU_FAIL_MAX");
/// assert_eq!(breaker_core::overrides::env_var("app::db::load", "reset"), "BREAKER_APP__DB__LOAD_RESET");
/// ```
pub fn env_var(name: &str, key: &str) -> String {
    format!("{}{}", env_prefix(name), key.to_ascii_uppercase())
}

/// `BREAKER_<NAME>_` for a breaker's name.
fn env_prefix(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{ENV_PREFIX}{name}_")
}

/// The overrides of every breaker, read once: the file's tables and the
/// `BREAKER_*` variables.
///
/// Built from the process ([`Overrides::from_process`], what the global
/// registry does) or from explicit parts, so that tests need not touch the
/// process environment:
///
/// ```
/// use breaker_core::{Config, Registry, overrides::Overrides};
///
/// let overrides = Overrides::new().vars([("BREAKER_PAYMENTS_FAIL_MAX", "10")]);
/// let registry = Registry::with_overrides(overrides);
/// let payments = registry.get_or_create("payments", || "fail_max = 5".parse().unwrap());
/// assert_eq!(payments.config().fail_max(), Some(10));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// The file's settings, by breaker name.
    file: BTreeMap<String, Vec<Setting>>,
    /// The `BREAKER_*` variables, in the order given.
    vars: Vec<(String, String)>,
    /// Mistakes found while reading, that concern no single breaker's keys.
    errors: Vec<OverrideError>,
    /// The file read from disk ([`read_file`](Overrides::read_file)), which
    /// a reload reads again.
    #[cfg(feature = "config-file")]
    path: Option<PathBuf>,
}

impl Overrides {
    /// No overrides.
    pub fn new() -> Overrides {
        Overrides::default()
    }

    /// The process's overrides: the `BREAKER_*` environment variables and,
    /// when `BREAKER_CONFIG` names a file, that file (feature `config-file`;
    /// without it, a `BREAKER_CONFIG` is reported as an error and ignored).
    pub fn from_process() -> Overrides {
        let mut overrides = Overrides::new();
        let mut vars = Vec::new();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            if !key.starts_with(ENV_PREFIX) {
                continue;
            }
            match value.into_string() {
                Ok(value) => vars.push((key.to_owned(), value)),
                Err(_) => overrides.errors.push(OverrideError::new(
                    Origin::Env {
                        var: key.to_owned(),
                    },
                    None,
                    None,
                    "is not valid UTF-8; it is ignored".to_owned(),
                )),
            }
        }
        // Sorted, so that the result does not depend on the environment's order.
        vars.sort();
        if let Some((_, path)) = vars.iter().find(|(k, _)| k == CONFIG_VAR) {
            overrides = overrides.read_file(PathBuf::from(path));
        }
        overrides.vars(vars)
    }

    /// Adds environment-style pairs (`("BREAKER_PAYMENTS_FAIL_MAX", "10")`).
    /// Pairs that do not start with `BREAKER_`, and `BREAKER_CONFIG`, are
    /// left out; a later pair wins over an earlier one for the same key.
    pub fn vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Overrides
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.vars.extend(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k != CONFIG_VAR),
        );
        self
    }

    /// Reads the TOML file at `path` (what `BREAKER_CONFIG` names), and
    /// remembers it: [`Registry::reload_config`](crate::Registry::reload_config)
    /// reads it again. A file that cannot be read is an error in
    /// [`errors`](Overrides::errors), and adds nothing.
    #[cfg(feature = "config-file")]
    pub fn read_file(mut self, path: impl Into<PathBuf>) -> Overrides {
        let path = path.into();
        self.path = Some(path.clone());
        match std::fs::read_to_string(&path) {
            Ok(text) => self.file(path, &text),
            Err(error) => self.error(
                Origin::File {
                    path,
                    line: 0,
                    column: 0,
                },
                format!(
                    "cannot be read ({error}); named by `{CONFIG_VAR}`, it is ignored, and every breaker keeps its configuration"
                ),
            ),
        }
    }

    #[cfg(not(feature = "config-file"))]
    fn read_file(self, path: PathBuf) -> Overrides {
        self.error(
            Origin::Env {
                var: CONFIG_VAR.to_owned(),
            },
            format!(
                "names the file `{}`, but breaker-core was built without its `config-file` feature: the file is ignored",
                path.display()
            ),
        )
    }

    fn error(mut self, origin: Origin, message: String) -> Overrides {
        self.errors
            .push(OverrideError::new(origin, None, None, message));
        self
    }

    /// Adds the overrides of a TOML file, given as its text; `path` names it
    /// in errors. A file that does not parse is ignored whole (its mistake is
    /// in [`errors`](Overrides::errors)).
    ///
    /// ```
    /// use breaker_core::overrides::Overrides;
    ///
    /// let overrides = Overrides::new().file("ops.toml", "[payments]\nfail_max = 10\nreset = \"1m\"\n");
    /// assert!(overrides.errors().is_empty());
    /// let broken = Overrides::new().file("ops.toml", "[payments]\nfail_max = \n");
    /// assert!(broken.errors()[0].to_string().starts_with("ops.toml:2:"));
    /// ```
    #[cfg(feature = "config-file")]
    pub fn file(mut self, path: impl Into<PathBuf>, text: &str) -> Overrides {
        let path = path.into();
        match file::parse(&path, text) {
            Ok(tables) => {
                for (name, settings) in tables.settings {
                    self.file.entry(name).or_default().extend(settings);
                }
                self.errors.extend(tables.errors);
            }
            Err(error) => self.errors.push(error),
        }
        self
    }

    /// These overrides with their file read again from disk (the same
    /// variables): what a reload applies. Without a file read from disk,
    /// the same overrides.
    pub(crate) fn reread(&self) -> Overrides {
        #[cfg(feature = "config-file")]
        if let Some(path) = &self.path {
            return Overrides::new()
                .read_file(path.clone())
                .vars(self.vars.clone());
        }
        self.clone()
    }

    /// The file these overrides read from disk, if any.
    #[cfg(feature = "config-file")]
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Whether there is nothing to apply and nothing to report.
    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.vars.is_empty() && self.errors.is_empty()
    }

    /// The mistakes found while reading that concern no single breaker's
    /// keys: a file that cannot be read or parsed, a file entry that is not a
    /// breaker's table. Mistakes in a breaker's keys are found when it is
    /// created ([`apply`](Overrides::apply)).
    pub fn errors(&self) -> &[OverrideError] {
        &self.errors
    }

    /// The settings for breaker `name`: the file's first, then the variables'.
    fn settings(&self, name: &str) -> (Vec<Setting>, Vec<OverrideError>) {
        let mut settings = self.file.get(name).cloned().unwrap_or_default();
        let mut errors = Vec::new();
        let prefix = env_prefix(name);
        for (var, value) in &self.vars {
            let Some(rest) = var.strip_prefix(&prefix) else {
                continue;
            };
            let key = rest.to_ascii_lowercase();
            let origin = Origin::Env { var: var.clone() };
            if KEYS.contains(&key.as_str())
                || CODE_KEYS.contains(&key.as_str())
                || KEYED_KEYS.contains(&key.as_str())
            {
                settings.push(Setting {
                    key,
                    value: value.clone(),
                    key_at: origin.clone(),
                    value_at: origin,
                });
            } else if let Some(near) = crate::suggest(&key) {
                // Only a near miss is reported: the variable may belong to
                // another breaker whose name starts like this one's
                // (`BREAKER_PAYMENTS_EU_RESET` for `payments-eu`, not `payments`).
                errors.push(OverrideError::new(
                    origin,
                    Some(name),
                    Some(&key),
                    format!(
                        "unknown key; did you mean `{near}` (`{}`)?",
                        env_var(name, near)
                    ),
                ));
            }
        }
        (settings, errors)
    }

    /// Where each key of [`KEYS`] that the overrides of breaker `name`
    /// write was written, the last writer of a key winning (the variables
    /// after the file), as [`apply`](Overrides::apply) applies them.
    pub(crate) fn origins(&self, name: &str) -> BTreeMap<String, Origin> {
        let (settings, _) = self.settings(name);
        settings
            .into_iter()
            .filter(|setting| KEYS.contains(&setting.key.as_str()))
            .map(|setting| (setting.key, setting.value_at))
            .collect()
    }

    /// `base` with the overrides of breaker `name` applied, or every mistake
    /// found in them (then `base` stands unchanged).
    ///
    /// ```
    /// use breaker_core::{Config, overrides::Overrides};
    ///
    /// let overrides = Overrides::new().vars([("BREAKER_DB_FAIL_MAX", "0"), ("BREAKER_DB_RESET", "10")]);
    /// let errors = overrides.apply("db", &Config::default()).unwrap_err();
    /// assert_eq!(errors[0].to_string(),
    ///     "environment variable `BREAKER_DB_FAIL_MAX`: breaker `db`, `fail_max`: must be between 1 and 1000000, got 0");
    /// assert_eq!(errors[1].key(), Some("reset"));
    /// ```
    pub fn apply(&self, name: &str, base: &Config) -> Result<Config, Vec<OverrideError>> {
        self.apply_to(name, base, None).map(|(config, _)| config)
    }

    /// For the keyed breaker `name`: `base` and its `keyed` settings with
    /// the overrides applied (`max_keys` and `idle` too), or every mistake
    /// found in them (then both stand unchanged).
    ///
    /// ```
    /// use std::time::Duration;
    /// use breaker_core::{Config, overrides::{KeyedSettings, Overrides}};
    ///
    /// let overrides = Overrides::new().vars([("BREAKER_HOSTS_MAX_KEYS", "5000"), ("BREAKER_HOSTS_IDLE", "1m")]);
    /// let keyed = KeyedSettings { max_keys: 1000, idle: Duration::from_secs(600) };
    /// let (_, keyed) = overrides.apply_keyed("hosts", &Config::default(), keyed).unwrap();
    /// assert_eq!(keyed, KeyedSettings { max_keys: 5000, idle: Duration::from_secs(60) });
    /// ```
    pub fn apply_keyed(
        &self,
        name: &str,
        base: &Config,
        keyed: KeyedSettings,
    ) -> Result<(Config, KeyedSettings), Vec<OverrideError>> {
        self.apply_to(name, base, Some(keyed))
            .map(|(config, settings)| (config, settings.unwrap_or(keyed)))
    }

    fn apply_to(
        &self,
        name: &str,
        base: &Config,
        mut keyed: Option<KeyedSettings>,
    ) -> Result<(Config, Option<KeyedSettings>), Vec<OverrideError>> {
        let (settings, mut errors) = self.settings(name);
        if settings.is_empty() && errors.is_empty() {
            return Ok((base.clone(), keyed));
        }
        let mut builder = ConfigBuilder::from(base);
        // The last setting of a key wins; keep where it was written, so a
        // mistake that only `build` finds still points at it.
        let mut written: BTreeMap<&str, &Setting> = BTreeMap::new();
        for setting in &settings {
            let key = setting.key.as_str();
            if KEYED_KEYS.contains(&key) {
                match keyed.as_mut() {
                    Some(keyed) => {
                        if let Err(message) = keyed.set(key, &setting.value) {
                            errors.push(setting.value_error(name, message));
                        }
                    }
                    None => errors.push(setting.error(
                        name,
                        "applies to keyed breakers only (`key = ...`)".to_owned(),
                    )),
                }
                continue;
            }
            if CODE_KEYS.contains(&key) {
                errors.push(setting.error(
                    name,
                    format!(
                        "is part of the function's code, not of the breaker's configuration; overrides take {}",
                        overridable_keys()
                    ),
                ));
                continue;
            }
            // Each key is checked alone first, so that every mistake is reported.
            match Config::builder().set(key, &setting.value).and_then(|b| {
                let checked = b.build();
                match checked {
                    Err(e) if e.field() == key && !depends_on_others(&e) => Err(e),
                    _ => Ok(()),
                }
            }) {
                Err(error) => errors.push(setting.config_error(name, &error)),
                Ok(()) => {
                    builder = match builder.set(key, &setting.value) {
                        Ok(next) => next,
                        Err(error) => {
                            errors.push(setting.config_error(name, &error));
                            return Err(errors);
                        }
                    };
                    written.insert(key, setting);
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        builder
            .build()
            .map(|config| (config, keyed))
            .map_err(|error| {
                // The rule may be broken by a key the overrides did not write
                // (`min_calls` from the base, above an overridden `window`): then
                // the mistake points at the first override.
                let field = error.field();
                let at = written.get(field).or_else(|| written.values().next());
                let mut e = match at {
                    Some(setting) => setting.config_error(name, &error),
                    None => OverrideError::new(
                        Origin::Env {
                            var: env_prefix(name),
                        },
                        Some(name),
                        None,
                        String::new(),
                    ),
                };
                e.key = Some(field.to_owned());
                e.message = error.message().to_owned();
                vec![e]
            })
    }
}

impl KeyedSettings {
    /// Sets `key` (one of [`KEYED_KEYS`]) from its text, as the attribute
    /// writes it.
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        // The vocabulary's limit, not keyed's constant: overrides stand below
        // the keyed breakers that read them.
        let max = breaker_vocab::keys::MAX_KEYS as usize;
        match key {
            "max_keys" => match value.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => self.max_keys = n,
                _ => {
                    return Err(format!(
                        "must be a whole number between 1 and {max}, got {value:?}"
                    ));
                }
            },
            _ => match crate::parse_duration(value.trim()) {
                Ok(d) if !d.is_zero() => self.idle = d,
                Ok(_) => return Err("must be longer than zero".to_owned()),
                Err(e) => return Err(format!("{e}, got {value:?}")),
            },
        }
        Ok(())
    }
}

/// Whether a mistake found by building one key alone is about its partners
/// (`within` without `fail_max`) rather than its value.
fn depends_on_others(error: &ConfigError) -> bool {
    let m = error.message();
    m.starts_with("needs")
        || m.starts_with("is the window")
        || m.starts_with("applies to")
        || m.starts_with("caps")
        || m.starts_with("must be at least `reset`")
        || m.starts_with("must be at most the count window")
}

/// "`fail_max`, `within`, ..." for messages.
pub(crate) fn overridable_keys() -> String {
    KEYS.iter()
        .filter(|k| {
            Config::builder()
                .set(k, "1")
                .map_or_else(|e| !e.message().contains("not supported"), |_| true)
        })
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        "fail_max = 5, reset = 30s".parse().unwrap()
    }

    fn keyed() -> KeyedSettings {
        KeyedSettings {
            max_keys: 1000,
            idle: Duration::from_secs(600),
        }
    }

    #[test]
    fn max_keys_and_idle_override_a_keyed_breaker_only() {
        let overrides = Overrides::new().vars([
            ("BREAKER_HOSTS_MAX_KEYS", "50"),
            ("BREAKER_HOSTS_IDLE", "90s"),
            ("BREAKER_HOSTS_FAIL_MAX", "9"),
        ]);
        let (config, settings) = overrides.apply_keyed("hosts", &base(), keyed()).unwrap();
        assert_eq!(config.fail_max(), Some(9));
        assert_eq!(
            settings,
            KeyedSettings {
                max_keys: 50,
                idle: Duration::from_secs(90),
            }
        );
        // A breaker without a key has nothing to keep live: every override
        // of it is refused, and it keeps its base configuration.
        let errors = overrides.apply("hosts", &base()).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].to_string(),
            "environment variable `BREAKER_HOSTS_MAX_KEYS`: breaker `hosts`, `max_keys`: applies to keyed breakers only (`key = ...`)"
        );
        assert_eq!(errors[1].key(), Some("idle"));
    }

    #[test]
    fn bad_keyed_values_are_refused_whole_and_name_the_variable() {
        let overrides = Overrides::new().vars([
            ("BREAKER_HOSTS_MAX_KEYS", "0"),
            ("BREAKER_HOSTS_IDLE", "0s"),
            ("BREAKER_HOSTS_FAIL_MAX", "9"),
        ]);
        let errors = overrides
            .apply_keyed("hosts", &base(), keyed())
            .unwrap_err();
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "environment variable `BREAKER_HOSTS_MAX_KEYS`: breaker `hosts`, `max_keys`: must be a whole number between 1 and 1000000, got \"0\"",
                "environment variable `BREAKER_HOSTS_IDLE`: breaker `hosts`, `idle`: must be longer than zero",
            ]
        );
        let errors = Overrides::new()
            .vars([("BREAKER_HOSTS_IDLE", "soon")])
            .apply_keyed("hosts", &base(), keyed())
            .unwrap_err();
        assert!(
            errors[0].message().ends_with("got \"soon\""),
            "{}",
            errors[0]
        );
    }

    #[cfg(feature = "config-file")]
    #[test]
    fn a_file_sets_max_keys_and_idle_as_the_attribute_writes_them() {
        let overrides = Overrides::new().file(
            "ops.toml",
            "[hosts]\nmax_keys = 5_000\nidle = \"1m\"\n\n[db]\nmax_keys = 5\n",
        );
        assert!(overrides.errors().is_empty(), "{:?}", overrides.errors());
        let (_, settings) = overrides.apply_keyed("hosts", &base(), keyed()).unwrap();
        assert_eq!(settings.max_keys, 5000);
        assert_eq!(settings.idle, Duration::from_secs(60));
        let errors = overrides.apply("db", &base()).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "ops.toml:6:1: breaker `db`, `max_keys`: applies to keyed breakers only (`key = ...`)"
        );
    }

    #[test]
    fn env_names_are_upper_case_with_underscores() {
        assert_eq!(env_var("payments", "fail_max"), "BREAKER_PAYMENTS_FAIL_MAX");
        assert_eq!(env_var("payments-eu", "reset"), "BREAKER_PAYMENTS_EU_RESET");
        assert_eq!(env_var("a.b c", "slow"), "BREAKER_A_B_C_SLOW");
    }

    #[test]
    fn a_variable_overrides_the_base_key_by_key() {
        let o = Overrides::new().vars([("BREAKER_PAYMENTS_FAIL_MAX", "10")]);
        let c = o.apply("payments", &base()).unwrap();
        assert_eq!(c.to_keys(), "fail_max = 10");
        assert_eq!(o.apply("other", &base()).unwrap(), base());
    }

    #[test]
    fn the_last_variable_of_a_key_wins() {
        let o =
            Overrides::new().vars([("BREAKER_DB_FAIL_MAX", "10"), ("BREAKER_DB_FAIL_MAX", "7")]);
        assert_eq!(o.apply("db", &base()).unwrap().fail_max(), Some(7));
    }

    #[test]
    fn variables_of_other_tools_and_breakers_are_ignored() {
        let o = Overrides::new().vars([
            ("BREAKER_SIM_PYTHON", "/usr/bin/python3"),
            ("BREAKER_PAYMENTS_EU_RESET", "1m"),
            ("HOME", "/root"),
        ]);
        assert_eq!(o.apply("payments", &base()), Ok(base()));
        assert_eq!(
            o.apply("payments-eu", &base()).unwrap().reset(),
            std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn a_near_miss_variable_is_an_error_with_the_right_name() {
        let o = Overrides::new().vars([("BREAKER_DB_FAIL_MX", "3")]);
        let errors = o.apply("db", &base()).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "environment variable `BREAKER_DB_FAIL_MX`: breaker `db`, `fail_mx`: unknown key; did you mean `fail_max` (`BREAKER_DB_FAIL_MAX`)?"
        );
    }

    #[test]
    fn one_bad_key_keeps_the_whole_base() {
        let o =
            Overrides::new().vars([("BREAKER_DB_FAIL_MAX", "10"), ("BREAKER_DB_RESET", "soon")]);
        let errors = o.apply("db", &base()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].key(), Some("reset"));
        assert!(errors[0].message().contains("expected"), "{}", errors[0]);
    }

    #[test]
    fn every_bad_value_is_reported() {
        let o = Overrides::new().vars([
            ("BREAKER_DB_FAIL_MAX", "0"),
            ("BREAKER_DB_SUCCESS", "70000"),
            ("BREAKER_DB_FAILURE_RATE", "150"),
        ]);
        let keys: Vec<_> = o
            .apply("db", &base())
            .unwrap_err()
            .iter()
            .map(|e| e.key().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["fail_max", "success", "failure_rate"]);
    }

    #[test]
    fn a_rule_between_keys_is_checked_on_the_result() {
        // `within` is fine with the base's `fail_max`...
        let o = Overrides::new().vars([("BREAKER_DB_WITHIN", "10s")]);
        let c = o.apply("db", &base()).unwrap();
        assert_eq!(
            c.failures_within(),
            Some((5, std::time::Duration::from_secs(10)))
        );
        // ...but `slow_rate` needs `slow`, which nobody gave.
        let o = Overrides::new().vars([("BREAKER_DB_SLOW_RATE", "50")]);
        let errors = o.apply("db", &base()).unwrap_err();
        assert_eq!(errors[0].key(), Some("slow_rate"));
        assert!(errors[0].message().starts_with("needs `slow`"));
    }

    #[cfg(not(feature = "config-file"))]
    #[test]
    fn a_file_without_the_feature_is_reported_not_read() {
        let o = Overrides::new().read_file(PathBuf::from("ops.toml"));
        assert_eq!(
            o.errors()[0].to_string(),
            "environment variable `BREAKER_CONFIG`: names the file `ops.toml`, but breaker-core was built without its `config-file` feature: the file is ignored"
        );
    }

    #[cfg(feature = "config-file")]
    #[test]
    fn an_unreadable_file_is_reported_and_ignored() {
        let o = Overrides::new().read_file(PathBuf::from("/nonexistent/breakers.toml"));
        let e = o.errors()[0].to_string();
        assert!(
            e.starts_with("/nonexistent/breakers.toml: cannot be read ("),
            "{e}"
        );
        assert!(e.ends_with("every breaker keeps its configuration"), "{e}");
    }

    #[test]
    fn code_keys_are_refused() {
        let o = Overrides::new().vars([("BREAKER_DB_RETRY", "3")]);
        let errors = o.apply("db", &base()).unwrap_err();
        assert!(
            errors[0].message().contains("function's code"),
            "{}",
            errors[0]
        );
    }
}
