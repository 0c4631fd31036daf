//! The admin API's JSON Schema (`docs/admin-api.schema.json`), for the tests
//! that check real answers against it.

use serde_json::{Value, json};

/// The validator of one definition of the schema (`breaker`, `fleet`, ...).
pub fn validator(definition: &str) -> jsonschema::Validator {
    let path = package_dir().join("../docs/admin-api.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/admin-api.schema.json");
    let mut schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    schema["$ref"] = json!(format!("#/$defs/{definition}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e}"))
}

/// Fails unless `body` is a `definition` of the schema, listing every error.
pub fn check(definition: &str, body: &Value) {
    let validator = validator(definition);
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a `{definition}`: {errors:#?}\n{body:#}"
    );
}

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
