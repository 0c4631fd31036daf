//! What every route shares: the router's state ([`Admin`]) and how an
//! answer is written (JSON, errors in one shape, echoes cut short).

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::events;
use super::json;
use crate::telemetry::TransitionCounts;
use crate::{Breaker, Registry};

/// The largest request body, in bytes. Only `PATCH /breakers/{name}/config`
/// reads one (a few keys); a body announced larger (`Content-Length`) is
/// refused before anything else looks at the request, one sent without a
/// length as soon as it grows past this.
pub const MAX_BODY: u64 = 64 * 1024;

/// How much of a name or a path an error message repeats.
pub(super) const ECHOED: usize = 120;

/// `text` cut to at most `max` characters, marked with `…` when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[derive(Clone)]
pub(super) struct Admin {
    pub(super) registry: &'static Registry,
    pub(super) token: Arc<[u8]>,
    pub(super) transitions: Arc<TransitionCounts>,
    pub(super) events: events::Feed,
}

impl Admin {
    /// The breaker `name`, or the 404 answer naming it.
    pub(super) fn breaker(&self, name: &str) -> Result<Breaker, Box<Response>> {
        self.registry.get(name).ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                format!(
                    "no breaker named `{}`; GET /breakers lists them",
                    shorten(name, ECHOED)
                ),
            ))
        })
    }
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    respond(status, &json::error(status, message))
}

pub(super) fn respond(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
