//! An axum [`Router`] for operators (feature `admin`): see and act on every
//! breaker of a registry over HTTP.
//!
//! | route | answer |
//! |---|---|
//! | `GET /breakers` | `{"breakers": [..]}`: every breaker, sorted by name |
//! | `GET /breakers/{name}` | one breaker: `name`, `state`, `retry_after_ms`, `stats`, `open_reason`, `config` |
//! | `POST /breakers/{name}/{action}` | `trip`, `force_open`, `disable` or `reset`; answers the breaker after the action |
//! | `PATCH /breakers/{name}/config` | changes the live breaker's configuration with the attribute's keys (text or a JSON object); answers the breaker after, with the keys that changed |
//! | `GET /metrics` | every breaker's metrics as Prometheus text (the families the `metrics` feature publishes, rendered without an exporter) |
//! | `GET /fleet` | with a shared-state store: every replica, and each breaker as every live replica last described it, with the fleet's totals (503 when the store cannot read it, 404 without a store) |
//! | `GET /events` | Server-Sent Events: a `stats` snapshot of every breaker at once and every second after (with a store, each followed by a `fleet` message), a `transition` or `configured` as each happens |
//! | `GET /` | the live dashboard: one self-contained HTML page (no token needed, it holds no data) |
//!
//! Every route but `GET /`, unknown ones included, needs
//! `Authorization: Bearer <token>`: without it the answer is 401 (with
//! `WWW-Authenticate: Bearer`), with another token 403. The token is compared
//! in constant time, and a router built with an empty token refuses every
//! request. Errors are JSON, `{"error": "...", "status": 404}`, whatever
//! produced them: an unknown breaker, action or route is 404, a path that
//! does not decode 400, a wrong method 405 (with `Allow`), a body larger
//! than [`MAX_BODY`] 413 (announced or as it streams in), a configuration
//! the breaker cannot take 422 with the key at fault.
//!
//! The JSON is a documented contract: `docs/admin-api.md` describes every
//! route, body and status, and `docs/admin-api.schema.json` is its JSON
//! Schema, which the tests check real answers against. Durations are whole
//! milliseconds (`retry_after_ms`), instants RFC 3339 wall-clock times
//! (`opened_at`) beside the breaker clock's figure (`opened_at_ms`), and the
//! configuration lists every key with its effective value and its source
//! (default, code, file, environment: [`Registry::config_sources`]).
//!
//! # The dashboard
//!
//! `GET /` shows every breaker: its state as a colour, admitted, rejected and
//! failed calls per second over the last minute as sparklines, the time left
//! until the next trial, its last transitions with their reasons, and buttons
//! for `trip`, `force_open`, `disable` and `reset`, and a form that edits
//! its configuration (the attribute's text, sent as `PATCH .../config`; a
//! refusal shows beside the form). It updates live from `GET /events`, one
//! stream for all breakers; it never polls. With a store that describes the
//! fleet (`GET /fleet`), a bar above the cards lists every replica (one that
//! stopped dashed, with how long ago) and each card shows its breaker on every live
//! replica side by side, with the fleet's rates.
//!
//! A browser cannot send a header when it navigates, so the page is served
//! without the token and asks the operator for it. It keeps the token in
//! `sessionStorage` (this tab only, gone when the tab closes) and sends it as
//! `Authorization: Bearer` on every request, the event stream included: the
//! page reads `/events` with `fetch()` rather than `EventSource` (which
//! cannot set headers), so the token never appears in a URL, where access
//! logs, history and proxies would keep it. The trade-off: any script
//! running on the page's origin can read `sessionStorage`, so serve the
//! router on an origin of its own. The page loads nothing from elsewhere
//! and its `Content-Security-Policy` forbids it to, and it renders names as
//! text, never as markup.
//!
//! The time left until the next trial is the current open period's own end
//! ([`Breaker::retry_after`](crate::Breaker::retry_after)): a period grown by
//! `backoff` or set by `trip_for` shows as it is.
//!
//! `/events` never holds a breaker back: transitions and reconfigurations
//! reach it through listeners that only push onto a bounded broadcast
//! channel. A connection
//! that falls behind skips what it missed and gets a fresh snapshot.
//!
//! ```no_run
//! # async fn serve() -> std::io::Result<()> {
//! let token = std::env::var("BREAKER_ADMIN_TOKEN").unwrap_or_default();
//! let app = axum::Router::new().nest("/admin", breaker_core::admin::router(token));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Mount it on a port operators reach and users do not: the token guards the
//! actions, not the port.

mod answer;
mod events;
mod json;
mod prometheus;
mod reconfigure;
mod wall;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use http::{HeaderValue, StatusCode, header};

use crate::Registry;
use crate::telemetry::TransitionCounts;
pub use answer::MAX_BODY;
use answer::{Admin, ECHOED, error, respond, shorten};

/// The router for the global [`registry()`](crate::registry), guarded by
/// `token`.
pub fn router(token: impl Into<String>) -> Router {
    router_for(crate::registry(), token)
}

/// The router for `registry`, guarded by `token`.
///
/// Transitions (`breaker_transitions_total` on `/metrics`, and the
/// `transition` events of `/events`) and reconfigurations (the `configured`
/// events) are seen from the moment the router is built, by listeners on
/// `registry`. Serving `/events` needs a tokio runtime
/// with its timer enabled (as `axum::serve` has).
pub fn router_for(registry: &'static Registry, token: impl Into<String>) -> Router {
    let admin = Admin {
        registry,
        token: Arc::from(token.into().into_bytes()),
        transitions: TransitionCounts::listen(registry),
        events: events::Feed::listen(registry),
    };
    let guarded = Router::new()
        .route("/breakers", get(list))
        .route("/breakers/{name}", get(show))
        .route("/breakers/{name}/{action}", post(act))
        // A static segment wins over `{action}`: `config` is no action, so
        // `POST .../config` is 405 (Allow: PATCH) and `PATCH .../trip` 405
        // (Allow: POST).
        .route("/breakers/{name}/config", patch(reconfigure::configure))
        .route("/metrics", get(metrics))
        .route("/fleet", get(fleet))
        .route("/events", get(stream))
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(admin.clone(), authorize));
    Router::new()
        .route("/", get(dashboard))
        .merge(guarded)
        // The limit of bodies as they are read (a body sent without
        // `Content-Length`); `refuse_large_bodies` answers those announced.
        .layer(DefaultBodyLimit::max(MAX_BODY as usize))
        .layer(middleware::from_fn(refuse_large_bodies))
        .layer(middleware::map_response(json_errors))
        .with_state(admin)
}

/// Refuses a body announced larger than [`MAX_BODY`] with 413, before
/// anything else looks at the request (the token included: a client without
/// one learns nothing but the limit).
async fn refuse_large_bodies(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request bodies are limited to {MAX_BODY} bytes"),
        );
    }
    next.run(request).await
}

/// Gives every error answer the JSON shape, including those axum writes
/// itself (405 for a method a route does not take, 400 for a path that does
/// not decode), keeping their headers (`Allow`).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        // axum adds `Allow` outside this layer, on the way out.
        "method not allowed on this route; the Allow header lists the methods it takes".to_owned()
    } else if said.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        shorten(&said, 4 * ECHOED)
    };
    let mut answer = error(status, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// The dashboard: inline CSS and JavaScript, nothing fetched from elsewhere.
const DASHBOARD: &str = include_str!("dashboard.html");

/// Only the page itself and the same origin: no external script, style,
/// image or connection, no framing (its buttons act on breakers).
const DASHBOARD_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn authorize(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer(value.as_bytes()));
    let Some(given) = given else {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "this route needs `Authorization: Bearer <token>`",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"breaker-admin\""),
        );
        return response;
    };
    if admin.token.is_empty() || !same_token(given, &admin.token) {
        return error(
            StatusCode::FORBIDDEN,
            "the bearer token is not this router's",
        );
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}

/// Compares `given` with `expected` in a time that depends only on the
/// length of `expected`, so that timing does not reveal how much of a guess
/// was right.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (i, &byte) in expected.iter().enumerate() {
        let guess = given.get(i).copied().unwrap_or(!byte);
        difference |= usize::from(std::hint::black_box(guess ^ byte));
    }
    std::hint::black_box(difference) == 0
}

async fn list(State(admin): State<Admin>) -> Response {
    let breakers: Vec<_> = admin
        .registry
        .list()
        .iter()
        .map(|breaker| json::breaker(admin.registry, breaker))
        .collect();
    respond(StatusCode::OK, &serde_json::json!({ "breakers": breakers }))
}

async fn show(State(admin): State<Admin>, Path(name): Path<String>) -> Response {
    match admin.breaker(&name) {
        Ok(breaker) => respond(StatusCode::OK, &json::breaker(admin.registry, &breaker)),
        Err(response) => *response,
    }
}

async fn act(State(admin): State<Admin>, Path((name, action)): Path<(String, String)>) -> Response {
    let breaker = match admin.breaker(&name) {
        Ok(breaker) => breaker,
        Err(response) => return *response,
    };
    match action.as_str() {
        "trip" => breaker.trip(),
        "force_open" => breaker.force_open(),
        "disable" => breaker.disable(),
        "reset" => breaker.reset(),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown action `{}`; expected one of trip, force_open, disable, reset",
                    shorten(&action, ECHOED)
                ),
            );
        }
    }
    respond(StatusCode::OK, &json::breaker(admin.registry, &breaker))
}

async fn metrics(State(admin): State<Admin>) -> Response {
    let text = prometheus::render(admin.registry, &admin.transitions);
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus::CONTENT_TYPE),
    );
    response
}

/// The longest `GET /fleet` waits for the store.
const FLEET_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn fleet(State(admin): State<Admin>) -> Response {
    let Some(read) = admin.registry.fleet() else {
        return error(
            StatusCode::NOT_FOUND,
            "no fleet: this registry shares no state (a store installed with \
             `Registry::use_store`, such as the Redis store, describes the fleet)",
        );
    };
    match tokio::time::timeout(FLEET_WAIT, read).await {
        Ok(Ok(fleet)) => respond(StatusCode::OK, &json::fleet(&fleet)),
        Ok(Err(why)) => error(StatusCode::SERVICE_UNAVAILABLE, why),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store did not answer within {} s", FLEET_WAIT.as_secs()),
        ),
    }
}

async fn stream(State(admin): State<Admin>) -> impl IntoResponse {
    events::stream(admin.registry, &admin.events)
}

async fn dashboard() -> Response {
    let mut response = Response::new(Body::from(DASHBOARD));
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, DASHBOARD_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn unknown_route(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}; the routes are GET /, GET /breakers, GET /breakers/{{name}}, POST /breakers/{{name}}/{{action}}, PATCH /breakers/{{name}}/config, GET /metrics, GET /fleet, GET /events",
            request.method(),
            shorten(request.uri().path(), ECHOED)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(same_token(b"s3cret", b"s3cret"));
        assert!(!same_token(b"s3cre", b"s3cret"));
        assert!(!same_token(b"s3cret!", b"s3cret"));
        assert!(!same_token(b"S3cret", b"s3cret"));
        assert!(!same_token(b"", b"s3cret"));
    }

    #[test]
    fn bearer_takes_the_token_after_the_scheme() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bear"), None);
    }
}
