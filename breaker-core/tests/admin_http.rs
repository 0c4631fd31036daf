//! The admin router over real HTTP on loopback: an axum server, a hyper
//! client, a registry of this test's own on a manual clock.

use std::net::SocketAddr;
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Config, Registry, State};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

const TOKEN: &str = "let-me-in";

struct Admin {
    addr: SocketAddr,
    client: Client<HttpConnector, String>,
    registry: &'static Registry,
    clock: ManualClock,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A registry with two breakers, served by the admin router.
async fn admin(token: &str) -> Admin {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    registry.use_clock(clock.clone());
    registry.get_or_create("payments", || {
        Config::builder()
            .fail_max(2)
            .reset(Duration::from_secs(30))
            .build()
            .expect("a valid config")
    });
    registry.get_or_create("db", Config::default);
    let app = breaker_core::admin::router_for(registry, token);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Admin {
        addr,
        client: Client::builder(TokioExecutor::new()).build_http(),
        registry,
        clock,
    }
}

impl Admin {
    async fn send(&self, method: Method, path: &str, token: Option<&str>) -> Answer {
        self.send_body(method, path, token, None, String::new())
            .await
    }

    /// A request with a body, of `content_type` when given.
    async fn send_body(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: String,
    ) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(http::header::CONTENT_TYPE, content_type);
        }
        let response = self
            .client
            .request(request.body(body).expect("a valid request"))
            .await
            .expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a whole body")
            .to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).expect("utf-8"),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, Some(TOKEN)).await
    }

    async fn post(&self, path: &str) -> Answer {
        self.send(Method::POST, path, Some(TOKEN)).await
    }

    /// `PATCH /breakers/{name}/config` with `body` as `content_type`.
    async fn reconfigure(&self, name: &str, content_type: &str, body: &str) -> Answer {
        let path = format!("/breakers/{name}/config");
        self.send_body(
            Method::PATCH,
            &path,
            Some(TOKEN),
            Some(content_type),
            body.to_owned(),
        )
        .await
    }

    /// The stream of `GET /events`, read event by event.
    async fn events(&self) -> Events {
        let request = http::Request::builder()
            .uri(format!("http://{}/events", self.addr))
            .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(String::new())
            .expect("a valid request");
        let response = self.client.request(request).await.expect("the stream");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            body: response.into_body(),
            text: String::new(),
        }
    }
}

/// An open `/events` stream and what was read of it but not yet taken.
struct Events {
    body: hyper::body::Incoming,
    text: String,
}

impl Events {
    /// Reads the stream up to the next event named `name`; its data, parsed.
    async fn next(&mut self, name: &str) -> Value {
        let head = format!("event: {name}\ndata: ");
        loop {
            if let Some(start) = self.text.find(&head) {
                let data = &self.text[start + head.len()..];
                if let Some(end) = data.find("\n\n") {
                    let value = serde_json::from_str(&data[..end]).expect("JSON data");
                    self.text = data[end..].to_owned();
                    return value;
                }
            }
            let frame = tokio::time::timeout(Duration::from_secs(10), self.body.frame())
                .await
                .expect("an event within the bound")
                .expect("the stream goes on")
                .expect("a frame");
            if let Ok(data) = frame.into_data() {
                self.text
                    .push_str(std::str::from_utf8(&data).expect("utf-8"));
            }
        }
    }
}

#[tokio::test]
async fn every_route_needs_the_bearer_token() {
    let admin = admin(TOKEN).await;
    for (method, path) in [
        (Method::GET, "/breakers"),
        (Method::GET, "/breakers/payments"),
        (Method::POST, "/breakers/payments/force_open"),
        (Method::PATCH, "/breakers/payments/config"),
        (Method::GET, "/metrics"),
        (Method::GET, "/events"),
        (Method::GET, "/no/such/route"),
    ] {
        let anonymous = admin.send(method.clone(), path, None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(
            anonymous.headers["www-authenticate"],
            "Bearer realm=\"breaker-admin\""
        );
        assert!(
            anonymous.json()["error"]
                .as_str()
                .unwrap()
                .contains("Bearer")
        );

        let wrong = admin.send(method.clone(), path, Some("let-me-inn")).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let payments = admin.registry.get("payments").unwrap();
    assert_eq!(payments.state(), State::Closed, "no action was taken");
}

#[tokio::test]
async fn a_router_without_a_token_refuses_everyone() {
    let admin = admin("").await;
    for token in ["", "anything"] {
        let answer = admin.send(Method::GET, "/breakers", Some(token)).await;
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status),
            "token {token:?}: {}",
            answer.status
        );
    }
}

#[tokio::test]
async fn breakers_are_listed_with_state_stats_and_config() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();
    for _ in 0..2 {
        let _ = payments.call(|| {
            Err::<(), _>(breaker_core::Error::timeout(
                "payments".into(),
                Duration::from_secs(1),
            ))
        });
    }

    let answer = admin.get("/breakers").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    let list = answer.json();
    let names: Vec<&str> = list["breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "payments"]);

    let one = admin.get("/breakers/payments").await.json();
    assert_eq!(one["state"], "open");
    assert_eq!(one["stats"]["failures"], 2);
    assert_eq!(one["stats"]["admitted"], 2);
    assert_eq!(one["config"]["settings"]["fail_max"]["value"], 2);
    assert_eq!(one["config"]["settings"]["reset"]["value_ms"], 30_000);
    assert_eq!(one["config"]["settings"]["reset"]["text"], "30s");
    assert_eq!(one["config"]["keys"], "fail_max = 2");
    assert_eq!(one["open_reason"]["reason"], "2 consecutive failures");
    // The list shows each breaker as its own route does; the wall-clock
    // times are placed at each answer, so they may differ by the time between.
    let without_wall_times = |mut b: Value| {
        b["stats"]["opened_at"] = Value::Null;
        b["open_reason"]["at"] = Value::Null;
        b
    };
    assert_eq!(
        without_wall_times(list["breakers"][1].clone()),
        without_wall_times(one)
    );
}

#[tokio::test]
async fn unknown_breakers_actions_and_routes_are_404_with_a_json_error() {
    let admin = admin(TOKEN).await;
    let missing = admin.get("/breakers/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers["content-type"], "application/json");
    assert_eq!(
        missing.json()["error"],
        "no breaker named `nope`; GET /breakers lists them"
    );

    let missing = admin.post("/breakers/nope/trip").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let action = admin.post("/breakers/payments/explode").await;
    assert_eq!(action.status, StatusCode::NOT_FOUND);
    assert!(
        action.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown action `explode`")
    );

    let route = admin.get("/breaker").await;
    assert_eq!(route.status, StatusCode::NOT_FOUND);
    assert!(
        route.json()["error"]
            .as_str()
            .unwrap()
            .contains("GET /breaker")
    );
}

#[tokio::test]
async fn operators_trip_force_open_disable_and_reset() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();

    let tripped = admin.post("/breakers/payments/trip").await;
    assert_eq!(tripped.status, StatusCode::OK);
    assert_eq!(tripped.json()["state"], "open");
    assert_eq!(payments.state(), State::Open);
    admin.clock.advance(Duration::from_secs(30));
    assert!(payments.acquire().is_ok(), "a trip recovers as usual");

    for (action, state) in [
        ("force_open", State::ForcedOpen),
        ("disable", State::Disabled),
        ("reset", State::Closed),
    ] {
        let answer = admin.post(&format!("/breakers/payments/{action}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{action}");
        assert_eq!(answer.json()["state"], state.as_str());
        assert_eq!(payments.state(), state);
    }
    let reason = admin.get("/breakers/payments").await.json()["open_reason"]["reason"].clone();
    assert_eq!(reason, "manual force_open");

    let wrong_method = admin.get("/breakers/payments/reset").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();
    payments.call(|| Ok::<_, breaker_core::Error>(())).unwrap();
    admin.post("/breakers/payments/force_open").await;
    let _ = payments.acquire();

    let answer = admin.get("/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = answer.body;
    for line in [
        "# TYPE breaker_calls_total counter",
        "# TYPE breaker_state gauge",
        "# TYPE breaker_transitions_total counter",
        "breaker_calls_total{breaker=\"payments\",outcome=\"success\"} 1",
        "breaker_calls_total{breaker=\"db\",outcome=\"success\"} 0",
        "breaker_rejections_total{breaker=\"payments\"} 1",
        "breaker_state{breaker=\"payments\",state=\"forced_open\"} 1",
        "breaker_state{breaker=\"payments\",state=\"closed\"} 0",
        "breaker_transitions_total{breaker=\"payments\",from=\"closed\",to=\"forced_open\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    // Every sample line belongs to a family declared above it.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split('{').next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "undeclared {name}"
        );
    }
}

#[tokio::test]
async fn the_dashboard_page_needs_no_token_and_loads_nothing_external() {
    let admin = admin(TOKEN).await;
    let page = admin.send(Method::GET, "/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(page.body.contains("/events"));
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.body.contains(external), "the page loads {external}");
    }
}

#[tokio::test]
async fn events_stream_a_snapshot_then_each_transition() {
    let admin = admin(TOKEN).await;
    let mut events = admin.events().await;
    let mut next = async |name: &str| events.next(name).await;

    let first = next("stats").await;
    let names: Vec<&str> = first["breakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "payments"]);
    assert_eq!(first["breakers"][1]["state"], "closed");
    assert_eq!(first["breakers"][1]["retry_after_ms"], Value::Null);
    assert_eq!(
        first["breakers"][1]["config"]["settings"]["reset"]["value_ms"],
        30_000
    );

    let payments = admin.registry.get("payments").unwrap();
    payments.trip();
    let transition = next("transition").await;
    assert_eq!(transition["name"], "payments");
    assert_eq!(transition["from"], "closed");
    assert_eq!(transition["to"], "open");
    assert_eq!(transition["reason"], "manual trip");
    assert_eq!(transition["dry_run"], false);

    admin.clock.advance(Duration::from_secs(12));
    let open = loop {
        let stats = next("stats").await;
        if stats["breakers"][1]["state"] == "open" {
            break stats;
        }
    };
    assert_eq!(open["breakers"][1]["retry_after_ms"], 18_000);
    assert_eq!(open["breakers"][1]["open_reason"]["reason"], "manual trip");
    assert_eq!(open["breakers"][1]["open_reason"]["ago_ms"], 12_000);
}

/// One failure, as the breakers here count them.
fn fail(breaker: &breaker_core::Breaker) {
    let _ = breaker.call(|| {
        Err::<(), _>(breaker_core::Error::timeout(
            "upstream".into(),
            Duration::from_secs(1),
        ))
    });
}

#[tokio::test]
async fn a_json_patch_reconfigures_the_live_breaker() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();

    let answer = admin
        .reconfigure(
            "payments",
            "application/json",
            r#"{"fail_max": 1, "reset": "1m"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "application/json");
    let body = answer.json();
    assert_eq!(body["changed"], serde_json::json!(["fail_max", "reset"]));
    assert_eq!(body["name"], "payments");
    assert_eq!(body["state"], "closed");
    let settings = &body["config"]["settings"];
    assert_eq!(settings["fail_max"]["value"], 1);
    assert_eq!(settings["fail_max"]["source"], "reconfigured");
    assert_eq!(settings["reset"]["value_ms"], 60_000);
    assert_eq!(settings["reset"]["source"], "reconfigured");
    assert_eq!(settings["success"]["source"], "default", "untouched");
    assert_eq!(body["config"]["keys"], "fail_max = 1, reset = 1m");

    // In force at once: one failure now trips it, for the new reset.
    fail(&payments);
    assert_eq!(payments.state(), State::Open);
    assert_eq!(payments.retry_after(), Some(Duration::from_secs(60)));
    let shown = admin.get("/breakers/payments").await.json();
    assert_eq!(shown["config"], body["config"], "GET shows what PATCH said");
}

#[tokio::test]
async fn a_text_patch_takes_the_attributes_syntax_whatever_its_type() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();
    let answer = admin
        .reconfigure(
            "payments",
            "text/plain; charset=utf-8",
            "fail_max = 3, success = 1",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // `half_open` follows `success` unless set: its effective value moved too.
    assert_eq!(
        answer.json()["changed"],
        serde_json::json!(["fail_max", "success", "half_open"])
    );
    assert_eq!(payments.config().fail_max(), Some(3));
    assert_eq!(payments.config().success(), 1);

    // No content type at all is text too, and `key=value` pairs on lines.
    let answer = admin
        .send_body(
            Method::PATCH,
            "/breakers/payments/config",
            Some(TOKEN),
            None,
            "fail_max=4\nreset=10s\n".to_owned(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.json()["changed"],
        serde_json::json!(["fail_max", "reset"])
    );
    for _ in 0..3 {
        fail(&payments);
    }
    assert_eq!(payments.state(), State::Closed, "three of four failures");
    fail(&payments);
    assert_eq!(payments.state(), State::Open);
    assert_eq!(payments.retry_after(), Some(Duration::from_secs(10)));
}

#[tokio::test]
async fn a_patch_that_changes_nothing_is_200_with_no_key_changed() {
    let admin = admin(TOKEN).await;
    for (content_type, body) in [
        ("text/plain", "fail_max = 2, reset = 30s"),
        ("text/plain", ""),
        ("application/json", r#"{"fail_max": 2}"#),
        ("application/json", "{}"),
    ] {
        let answer = admin.reconfigure("payments", content_type, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {}", answer.body);
        let json = answer.json();
        assert_eq!(json["changed"], serde_json::json!([]), "{body}");
        assert_eq!(
            json["config"]["settings"]["fail_max"]["source"], "code",
            "an unchanged value keeps its source"
        );
    }
}

#[tokio::test]
async fn refused_patches_are_422_naming_the_key_and_change_nothing() {
    let admin = admin(TOKEN).await;
    let payments = admin.registry.get("payments").unwrap();
    for (content_type, body, key, says) in [
        (
            "text/plain",
            "fail_mx = 1",
            "fail_mx",
            "invalid `fail_mx`: unknown key; did you mean `fail_max`?",
        ),
        (
            "application/json",
            r#"{"fail_mx": 1}"#,
            "fail_mx",
            "did you mean `fail_max`?",
        ),
        (
            "text/plain",
            "fail_max = 1, reset = 0s",
            "reset",
            "invalid `reset`: must be between 1ns and 365 days",
        ),
        (
            "application/json",
            r#"{"fail_max": 0}"#,
            "fail_max",
            "must be between 1 and",
        ),
        (
            "application/json",
            r#"{"fail_max": -1}"#,
            "fail_max",
            "expected a whole number, got `-1`",
        ),
        (
            "text/plain",
            "failure_rate = 150",
            "failure_rate",
            "must be a percentage in (0, 100]",
        ),
        // Each key is fine alone; together with the breaker's they are not.
        (
            "application/json",
            r#"{"slow_rate": 80}"#,
            "slow_rate",
            "needs `slow`",
        ),
        (
            "text/plain",
            "backoff = 2, reset_max = 10s",
            "reset_max",
            "must be at least `reset` (30s), got 10s",
        ),
        (
            "application/json",
            r#"{"reset": ["1m"]}"#,
            "reset",
            "takes a number (`10`) or a string (`\"1m\"`), got an array",
        ),
        (
            "application/json",
            r#"{"success": true}"#,
            "success",
            "got a boolean",
        ),
        (
            "application/json",
            r#"{"fail_max": "1, reset = 1s"}"#,
            "fail_max",
            "without spaces, commas or `=`",
        ),
        (
            "text/plain",
            "fail_max = 1, fail_max = 2",
            "fail_max",
            "is given twice",
        ),
    ] {
        let answer = admin.reconfigure("payments", content_type, body).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.headers["content-type"], "application/json");
        let json = answer.json();
        assert_eq!(json["status"], 422);
        assert_eq!(json["key"], key, "{body}");
        let error = json["error"].as_str().unwrap();
        assert!(
            error.contains(says),
            "{body}: {error:?} does not say {says:?}"
        );
    }
    assert_eq!(payments.config().fail_max(), Some(2), "nothing changed");
    assert_eq!(payments.config().reset(), Duration::from_secs(30));
    let shown = admin.get("/breakers/payments").await.json();
    assert_eq!(shown["config"]["settings"]["fail_max"]["source"], "code");
}

#[tokio::test]
async fn reconfiguring_an_unknown_breaker_is_404() {
    let admin = admin(TOKEN).await;
    let answer = admin
        .reconfigure("nope", "text/plain", "fail_max = 1")
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(
        answer.json()["error"],
        "no breaker named `nope`; GET /breakers lists them"
    );
    // `config` is no action: `POST` there is the wrong method, not a 404,
    // and the actions next to it still answer as before.
    let post = admin.post("/breakers/payments/config").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers["allow"], "PATCH");
    let action = admin.post("/breakers/payments/explode").await;
    assert_eq!(action.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_keyed_breaker_s_name_reconfigures_every_key() {
    let admin = admin(TOKEN).await;
    let hosts = breaker_core::keyed::KeyedBreaker::<String>::builder("hosts")
        .config("fail_max = 3".parse().unwrap())
        .registry(admin.registry)
        .build()
        .unwrap();
    let live = hosts.get("a.example");
    let answer = admin
        .reconfigure("hosts", "text/plain", "fail_max = 7")
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = answer.json();
    assert_eq!(
        (body["name"].as_str(), body["keyed"].as_bool()),
        (Some("hosts"), Some(true))
    );
    assert_eq!(body["changed"], serde_json::json!(["fail_max"]));
    assert_eq!(live.config().fail_max(), Some(7), "a live key");
    assert_eq!(
        hosts.get("b.example").config().fail_max(),
        Some(7),
        "a key to come"
    );
    let refused = admin
        .reconfigure("hosts", "text/plain", "fail_max = 0")
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(live.config().fail_max(), Some(7), "nothing changed");
}

#[tokio::test]
async fn reconfiguring_needs_the_bearer_token() {
    let admin = admin(TOKEN).await;
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("let-me-inn"), StatusCode::FORBIDDEN),
    ] {
        let answer = admin
            .send_body(
                Method::PATCH,
                "/breakers/payments/config",
                token,
                Some("text/plain"),
                "fail_max = 1".to_owned(),
            )
            .await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.json()["status"], status.as_u16());
    }
    let payments = admin.registry.get("payments").unwrap();
    assert_eq!(payments.config().fail_max(), Some(2), "nothing changed");
}

#[tokio::test]
async fn events_stream_each_reconfiguration_that_changed_a_value() {
    let admin = admin(TOKEN).await;
    admin.clock.advance(Duration::from_secs(7));
    let mut events = admin.events().await;
    events.next("stats").await;

    let nothing = admin
        .reconfigure("payments", "text/plain", "fail_max = 2")
        .await;
    assert_eq!(nothing.json()["changed"], serde_json::json!([]));
    let answer = admin
        .reconfigure(
            "payments",
            "application/json",
            r#"{"reset": "1m", "fail_max": 5}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let configured = events.next("configured").await;
    assert_eq!(configured["name"], "payments");
    assert_eq!(configured["keys"], "fail_max=5 reset=1m");
    assert_eq!(
        configured["changed"],
        serde_json::json!(["fail_max", "reset"])
    );
    assert_eq!(configured["at_ms"], 7_000);

    // A change made in code streams the same way, in order with transitions.
    admin.registry.reconfigure("db", "success = 3").unwrap();
    admin.registry.get("db").unwrap().trip();
    let configured = events.next("configured").await;
    assert_eq!(configured["name"], "db");
    assert_eq!(configured["keys"], "success=3 half_open=3");
    let transition = events.next("transition").await;
    assert_eq!(transition["name"], "db");
}
