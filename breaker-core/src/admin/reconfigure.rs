//! `PATCH /breakers/{name}/config`: an operator changes a live breaker's
//! configuration (SEMANTICS.md, "Reconfiguration").
//!
//! The body says which keys to change, in one of two spellings: the
//! attribute's own text (`fail_max = 10, reset = 1m`, any content type but
//! JSON) or a JSON object of the same keys (`{"fail_max": 10, "reset":
//! "1m"}`, `Content-Type: application/json`). Both become one patch for
//! [`Registry::reconfigure`](crate::Registry::reconfigure), so the two
//! spellings are checked by the same rules and refused with the same
//! messages. The patch is applied whole or not at all: a refused one changes
//! nothing.
//!
//! The answers: 200 with the breaker as `GET /breakers/{name}` shows it plus
//! the keys whose value changed (`"changed": [..]`, empty when none did); for
//! a keyed breaker's name (every key's breaker changes, and those to come),
//! `{"name", "keyed": true, "changed"}`;
//! 422 with the key at fault (`"key"`) and what it takes; 400 for a body
//! that is not UTF-8 or not JSON; 404 for an unknown breaker; 413 for a body
//! over [`MAX_BODY`](super::MAX_BODY), however it is sent.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::answer::{Admin, ECHOED, MAX_BODY, error, respond, shorten};
use crate::ConfigError;
use crate::ReconfigureError;

/// Reconfigures the breaker `name` with the keys of the request's body.
pub(super) async fn configure(
    State(admin): State<Admin>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A keyed breaker's name reconfigures its family: every key's breaker,
    // live and to come.
    let breaker = match admin.breaker(&name) {
        Ok(breaker) => Some(breaker),
        Err(_) if admin.registry.has_keyed_family(&name) => None,
        Err(response) => return *response,
    };
    let body = match body {
        Ok(body) => body,
        // The router's `DefaultBodyLimit` stops a body as it streams in, so a
        // client that announces no `Content-Length` meets the same limit.
        Err(refused) if refused.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request bodies are limited to {MAX_BODY} bytes"),
            );
        }
        Err(refused) => return error(refused.status(), refused.body_text()),
    };
    let patch = match patch(&headers, &body) {
        Ok(patch) => patch,
        Err(Refusal::Malformed(message)) => return error(StatusCode::BAD_REQUEST, message),
        Err(Refusal::Invalid(refused)) => return invalid(&refused),
    };
    match admin.registry.reconfigure(&name, &patch) {
        Ok(changed) => {
            let mut answer = match &breaker {
                Some(breaker) => super::json::breaker(admin.registry, breaker),
                None => json!({ "name": name, "keyed": true }),
            };
            answer["changed"] = json!(changed);
            respond(StatusCode::OK, &answer)
        }
        Err(ReconfigureError::Invalid(refused)) => invalid(&refused),
        // Removed since `admin.breaker` found it, or any refusal to come.
        Err(other) => error(StatusCode::NOT_FOUND, shorten(&other.to_string(), ECHOED)),
    }
}

/// Why a body makes no patch.
#[derive(Debug)]
enum Refusal {
    /// Not UTF-8, not JSON, or JSON that is not an object: 400.
    Malformed(String),
    /// A key or value the configuration does not take: 422.
    Invalid(ConfigError),
}

/// The patch text of a body: the body itself, or its JSON object's keys
/// written as the attribute writes them.
fn patch(headers: &HeaderMap, body: &[u8]) -> Result<String, Refusal> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Refusal::Malformed(format!(
            "the body is not UTF-8 (byte {} is not); send the keys as UTF-8 text or JSON",
            e.valid_up_to()
        ))
    })?;
    if is_json(headers) {
        from_json(text)
    } else {
        Ok(text.to_owned())
    }
}

/// Whether the request says its body is JSON: `application/json` or a
/// `+json` type, parameters (`; charset=utf-8`) aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The patch text of a JSON object of keys: `{"fail_max": 10, "reset":
/// "1m"}` is `fail_max = 10, reset = 1m`.
///
/// Keys and string values are refused when they hold what separates the
/// text's pairs (whitespace, `,`, `=`): passed on, `{"fail_max": "5, reset =
/// 1s"}` would set a key the object does not name.
fn from_json(text: &str) -> Result<String, Refusal> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json's message ends with where: "at line 1 column 14".
        Refusal::Malformed(format!("the body is not valid JSON: {e}"))
    })?;
    let Value::Object(keys) = value else {
        return Err(Refusal::Malformed(format!(
            "expected a JSON object of keys (`{{\"fail_max\": 10, \"reset\": \"1m\"}}`), got {}",
            kind(&value)
        )));
    };
    let mut pairs = Vec::with_capacity(keys.len());
    for (key, value) in &keys {
        if key.is_empty() || key.contains(is_separator) {
            // The builder names an unknown key and suggests the nearest one.
            let refused = crate::Config::builder()
                .set(key, "1")
                .err()
                .unwrap_or_else(|| ConfigError::new(key.clone(), "is not a key"));
            return Err(Refusal::Invalid(refused));
        }
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.trim().is_empty() && !s.trim().contains(is_separator) => {
                s.trim().to_owned()
            }
            Value::String(_) => {
                return Err(Refusal::Invalid(ConfigError::new(
                    key.clone(),
                    "takes one value, without spaces, commas or `=` (`\"1m\"`)",
                )));
            }
            other => {
                return Err(Refusal::Invalid(ConfigError::new(
                    key.clone(),
                    format!(
                        "takes a number (`10`) or a string (`\"1m\"`), got {}",
                        kind(other)
                    ),
                )));
            }
        };
        pairs.push(format!("{key} = {text}"));
    }
    Ok(pairs.join(", "))
}

/// What separates the pairs of the attribute's text.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ',' || c == '='
}

/// A JSON value's kind, as a message names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The 422 answer: `{"error": .., "status": 422, "key": ..}`. The key and the
/// message are cut short, as every echo of the request is.
fn invalid(refused: &ConfigError) -> Response {
    let key = shorten(refused.field(), ECHOED);
    let message = ConfigError::new(key.clone(), refused.message().to_owned()).to_string();
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut body = super::json::error(status, shorten(&message, 4 * ECHOED));
    body["key"] = json!(key);
    respond(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        headers
    }

    fn refused_key(result: Result<String, Refusal>) -> String {
        match result {
            Err(Refusal::Invalid(e)) => e.field().to_owned(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn json_keys_become_the_attributes_text() {
        let patch = from_json(r#"{"fail_max": 10, "reset": "1m", "failure_rate": 50.5}"#);
        // serde_json's map keeps keys sorted; the patch is checked whole, so
        // the order does not matter.
        assert_eq!(
            patch.unwrap(),
            "fail_max = 10, failure_rate = 50.5, reset = 1m"
        );
        assert_eq!(from_json("{}").unwrap(), "");
    }

    #[test]
    fn only_scalars_are_taken_and_the_key_is_named() {
        assert_eq!(refused_key(from_json(r#"{"reset": ["1m"]}"#)), "reset");
        assert_eq!(refused_key(from_json(r#"{"reset": null}"#)), "reset");
        assert_eq!(refused_key(from_json(r#"{"success": true}"#)), "success");
        assert_eq!(refused_key(from_json(r#"{"reset": {"s": 1}}"#)), "reset");
    }

    #[test]
    fn a_value_cannot_smuggle_in_another_key() {
        assert_eq!(
            refused_key(from_json(r#"{"fail_max": "5, reset = 1s"}"#)),
            "fail_max"
        );
        assert_eq!(refused_key(from_json(r#"{"fail_max": ""}"#)), "fail_max");
        assert_eq!(
            refused_key(from_json(r#"{"fail_max = 5, reset": "1s"}"#)),
            "fail_max = 5, reset"
        );
    }

    #[test]
    fn malformed_json_says_where() {
        match from_json("{\"fail_max\": 10,\n \"reset\" 1}") {
            Err(Refusal::Malformed(m)) => assert!(m.contains("line 2 column"), "{m}"),
            other => panic!("expected a 400, got {other:?}"),
        }
        assert!(matches!(from_json("[1]"), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn the_content_type_chooses_the_spelling() {
        assert!(is_json(&json_headers()));
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!is_json(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "Application/Merge-Patch+JSON".parse().unwrap(),
        );
        assert!(is_json(&headers));
        assert_eq!(patch(&headers, b"{\"success\": 3}").unwrap(), "success = 3");
        assert!(matches!(
            patch(&HeaderMap::new(), b"fail_max = \xFF"),
            Err(Refusal::Malformed(_))
        ));
    }
}
