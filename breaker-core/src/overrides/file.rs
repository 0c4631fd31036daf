//! The TOML file of overrides: one table per breaker, read with positions so
//! that every mistake names its line and column.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::setting::{Origin, OverrideError, Setting};

/// The file's settings by breaker name, and the entries that were not a
/// breaker's table (reported, and left out).
pub(super) struct Tables {
    pub(super) settings: BTreeMap<String, Vec<Setting>>,
    pub(super) errors: Vec<OverrideError>,
}

/// Reads the file's text; `Err` when it is not TOML at all.
pub(super) fn parse(path: &Path, text: &str) -> Result<Tables, OverrideError> {
    let at = |span: Range<usize>| {
        let (line, column) = line_column(text, span.start);
        Origin::File {
            path: path.to_owned(),
            line,
            column,
        }
    };
    let root = DeTable::parse(text).map_err(|error| {
        let origin = error.span().map_or_else(
            || Origin::File {
                path: path.to_owned(),
                line: 0,
                column: 0,
            },
            at,
        );
        OverrideError::new(
            origin,
            None,
            None,
            format!(
                "not valid TOML: {}; the file is ignored (expected a table per breaker: `[payments]` then `fail_max = 10`, `reset = \"30s\"`)",
                error.message().trim_end()
            ),
        )
    })?;
    let mut tables = Tables {
        settings: BTreeMap::new(),
        errors: Vec::new(),
    };
    for (name, value) in root.get_ref() {
        let name_text = name.get_ref().as_ref();
        let DeValue::Table(table) = value.get_ref() else {
            tables.errors.push(OverrideError::new(
                at(name.span()),
                None,
                Some(name_text),
                format!(
                    "expected a table per breaker, as in `[{name_text}]` followed by its keys; a key outside a table configures nothing"
                ),
            ));
            continue;
        };
        let settings = tables.settings.entry(name_text.to_owned()).or_default();
        for (key, value) in table {
            let key_text = key.get_ref().as_ref();
            let text = match value_text(value.get_ref()) {
                Ok(text) => text,
                Err(found) => {
                    let message = match value.get_ref() {
                        DeValue::Table(_) => format!(
                            "is a table, not a key: a breaker whose name has a dot is written `[\"{name_text}.{key_text}\"]`"
                        ),
                        _ => format!(
                            "expected a number or a string (durations as strings: `reset = \"30s\"`), found {found}"
                        ),
                    };
                    tables.errors.push(OverrideError::new(
                        at(value.span()),
                        Some(name_text),
                        Some(key_text),
                        message,
                    ));
                    continue;
                }
            };
            settings.push(Setting {
                key: key_text.to_owned(),
                value: text,
                key_at: at(key.span()),
                value_at: at(value.span()),
            });
        }
    }
    // The parser's maps are sorted by key: report in the file's order.
    tables.errors.sort_by_key(|e| match e.origin() {
        Origin::File { line, column, .. } => (*line, *column),
        Origin::Env { .. } => (0, 0),
    });
    Ok(tables)
}

/// A value in the text form of `ConfigBuilder::set`, or what it was instead.
fn value_text(value: &DeValue<'_>) -> Result<String, &'static str> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) if i.radix() == 10 => Ok(i.as_str().replace('_', "")),
        DeValue::Integer(_) => Err("a hexadecimal, octal or binary number (write it in decimal)"),
        DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
        DeValue::Boolean(_) => Err("a boolean"),
        DeValue::Datetime(_) => Err("a date or time"),
        DeValue::Array(_) => Err("an array"),
        DeValue::Table(_) => Err("a table"),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::overrides::Overrides;

    fn errors(text: &str) -> Vec<String> {
        let o = Overrides::new().file("ops.toml", text);
        let mut all: Vec<String> = o.errors().iter().map(|e| e.to_string()).collect();
        if let Err(more) = o.apply("payments", &Config::default()) {
            all.extend(more.iter().map(|e| e.to_string()));
        }
        all
    }

    #[test]
    fn reads_a_table_per_breaker_with_the_attributes_values() {
        let o = Overrides::new().file(
            "ops.toml",
            "[payments]\nfail_max = 10\nreset = \"1m30s\"\n\n[\"payments-eu\"]\nfailure_rate = 12.5\nwindow = \"10s\"\n",
        );
        assert!(o.errors().is_empty(), "{:?}", o.errors());
        let c = o.apply("payments", &Config::default()).unwrap();
        assert_eq!(c.to_keys(), "fail_max = 10, reset = 1m30s");
        let c = o.apply("payments-eu", &Config::default()).unwrap();
        assert_eq!(c.to_keys(), "failure_rate = 12.5, window = 10s");
    }

    #[test]
    fn a_syntax_error_names_line_and_column_and_ignores_the_file() {
        let e = errors("[payments]\nfail_max = 10\nreset = 30s\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("ops.toml:3:9: not valid TOML"), "{e:?}");
        assert!(e[0].contains("the file is ignored"), "{e:?}");
    }

    #[test]
    fn a_bad_value_names_its_position_key_and_range() {
        let e = errors("[payments]\nfail_max = 0\n");
        assert_eq!(
            e,
            ["ops.toml:2:12: breaker `payments`, `fail_max`: must be between 1 and 1000000, got 0"]
        );
    }

    #[test]
    fn an_unknown_key_is_pointed_at_with_a_suggestion() {
        let e = errors("[payments]\n  fail_mx = 3\n");
        assert_eq!(
            e,
            ["ops.toml:2:3: breaker `payments`, `fail_mx`: unknown key; did you mean `fail_max`?"]
        );
    }

    #[test]
    fn a_duration_without_unit_says_how_to_write_it() {
        let e = errors("[payments]\nreset = 30\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("ops.toml:2:9: breaker `payments`, `reset`: missing unit after `30`"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_kinds_of_values_are_named() {
        let e = errors("top = 1\n[payments]\nfail_max = true\n[payments.eu]\nreset = \"1s\"\n");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].starts_with("ops.toml:1:1: `top`: expected a table per breaker"),
            "{e:?}"
        );
        assert!(
            e[1].contains(
                "ops.toml:3:12: breaker `payments`, `fail_max`: expected a number or a string"
            ),
            "{e:?}"
        );
        assert!(e[2].contains("`eu`: is a table, not a key: a breaker whose name has a dot is written `[\"payments.eu\"]`"), "{e:?}");
    }

    #[test]
    fn variables_win_over_the_file() {
        let o = Overrides::new()
            .file("ops.toml", "[db]\nfail_max = 10\nreset = \"1m\"\n")
            .vars([("BREAKER_DB_FAIL_MAX", "3")]);
        assert_eq!(
            o.apply("db", &Config::default()).unwrap().to_keys(),
            "fail_max = 3, reset = 1m"
        );
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_column("é = 1\nab", 0), (1, 1));
        assert_eq!(line_column("é = 1\nab", 3), (1, 3));
        assert_eq!(line_column("é = 1\nab", 8), (2, 2));
        assert_eq!(line_column("", 5), (1, 1));
    }
}
