//! docs/attribute.md's table of arguments says what [`keys::TABLE`] holds:
//! the same keys, each value of the kind the table gives, with the same
//! limits and defaults where the docs state them.

use breaker_vocab::keys::{self, Kind, TABLE};

/// `(key, value column)` for each row of the docs' table of arguments.
fn documented() -> Vec<(String, String)> {
    let path = package_dir().join("../docs/attribute.md");
    let text = std::fs::read_to_string(path).expect("docs/attribute.md");
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| argument | value |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if !line.starts_with('|') || cells.len() < 4 {
            break;
        }
        // The positional name has its own row; `name = ...` is the key.
        if let Some(key) = cells[1].strip_prefix('`').and_then(|k| k.strip_suffix('`')) {
            rows.push((key.to_owned(), cells[2].to_owned()));
        }
    }
    assert!(
        !rows.is_empty(),
        "no table of arguments in docs/attribute.md"
    );
    rows
}

/// `1000000` as the docs write it: `1 000 000`.
fn spaced(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_docs_table_lists_every_key_once_and_no_other() {
    let rows = documented();
    let mut documented: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    documented.sort_unstable();
    let mut table: Vec<&str> = TABLE.iter().map(|k| k.name).collect();
    table.sort_unstable();
    assert_eq!(documented, table);
}

#[test]
fn the_docs_table_states_each_kind_and_limit_as_the_crate() {
    for (name, value) in documented() {
        let key = keys::find(&name).unwrap();
        let words: &[&str] = match key.kind {
            Kind::Name => &["string"],
            Kind::Count { .. } => &["whole number"],
            Kind::Duration => &["duration"],
            Kind::Percent => &["percent"],
            Kind::Factor { .. } => &["factor"],
            Kind::Window { .. } => &["call count", "duration"],
            Kind::DurationRange => &["`base..max`", "durations"],
            Kind::Path => &["path to a"],
            Kind::Expr => &["expression"],
            Kind::Choice { values } => values,
        };
        for word in words {
            assert!(
                value.contains(word),
                "`{name}`: {value:?} does not say {word:?}"
            );
        }
        if let Kind::Count { max } = key.kind {
            if value.contains("1..=") {
                let range = format!("1..={}", spaced(max));
                assert!(value.contains(&range), "`{name}`: {value:?} is not {range}");
            }
        }
        if let Kind::Factor { max } = key.kind {
            let range = format!("1 to {max}");
            assert!(value.contains(&range), "`{name}`: {value:?} is not {range}");
        }
        if let Some((_, default)) = value.split_once("default ") {
            let stated = default.trim_start_matches('`');
            let given = key
                .default
                .unwrap_or_else(|| panic!("`{name}` has no default"));
            assert!(
                stated.starts_with(given),
                "`{name}`: default {stated:?}, not {given}"
            );
        }
    }
}

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
