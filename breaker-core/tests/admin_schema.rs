//! The admin API's answers, checked against the JSON Schema in
//! `docs/admin-api.schema.json` (the contract `docs/admin-api.md`
//! describes): every route, its successes and its errors, and every kind of
//! `/events` message. A field added, renamed or retyped without the schema
//! fails here.

mod schema_support;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use breaker_core::clock::ManualClock;
use breaker_core::overrides::Overrides;
use breaker_core::{Error, Registry};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use schema_support::{check, validator};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "schema";

struct Admin {
    router: Router,
    registry: &'static Registry,
    clock: ManualClock,
}

/// A registry with a breaker of every kind the JSON distinguishes: opened
/// by failures, a rate policy overridden by the environment, adaptive, a dry
/// run, and one of default configuration.
fn admin() -> Admin {
    let overrides = Overrides::new().vars([
        ("BREAKER_SEARCH_MIN_CALLS", "4"),
        ("BREAKER_SEARCH_RESET", "1m"),
    ]);
    let registry: &'static Registry = Box::leak(Box::new(Registry::with_overrides(overrides)));
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(5));
    registry.use_clock(clock.clone());
    let router = breaker_core::admin::router_for(registry, TOKEN);
    let fail = || Err::<(), _>(Error::timeout("upstream".into(), Duration::from_secs(1)));

    let payments = registry.get_or_create("payments", || {
        "fail_max = 2, reset = 30s, success = 2, backoff = 2, reset_max = 5m"
            .parse()
            .unwrap()
    });
    let _ = payments.call(fail);
    let _ = payments.call(fail);
    let search = registry.get_or_create("search", || {
        "failure_rate = 50, window = 20, slow = 2s, slow_rate = 80, timeout = 1s"
            .parse()
            .unwrap()
    });
    for _ in 0..3 {
        search.call(|| Ok::<_, Error>(())).unwrap();
    }
    let _ = search.call(fail);
    registry.get_or_create("ads", || "adaptive = 2, window = 30s".parse().unwrap());
    registry
        .get_or_create("shadow", || "fail_max = 1".parse().unwrap())
        .metrics_only();
    let _ = registry.get("shadow").unwrap().call(fail);
    registry.get_or_create("db", breaker_core::Config::default);
    clock.advance(Duration::from_secs(12));
    Admin {
        router,
        registry,
        clock,
    }
}

impl Admin {
    async fn send(&self, method: Method, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let request = http::Request::builder().method(method).uri(path);
        self.answer(path, request, token, Body::empty()).await
    }

    /// `PATCH /breakers/{name}/config` with `body` as `content_type`.
    async fn reconfigure(&self, name: &str, content_type: &str, body: Body) -> (StatusCode, Value) {
        let path = format!("/breakers/{name}/config");
        let request = http::Request::patch(&path).header(http::header::CONTENT_TYPE, content_type);
        self.answer(&path, request, Some(TOKEN), body).await
    }

    async fn answer(
        &self,
        path: &str,
        mut request: http::request::Builder,
        token: Option<&str>,
        body: Body,
    ) -> (StatusCode, Value) {
        if let Some(token) = token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/json",
            "{path}"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).expect("a JSON body"))
    }
}

#[tokio::test]
async fn every_breaker_answer_matches_the_schema() {
    let admin = admin();
    let (status, list) = admin.send(Method::GET, "/breakers", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    check("breakers", &list);
    assert_eq!(list["breakers"].as_array().unwrap().len(), 5);

    for name in admin.registry.names() {
        let (status, one) = admin
            .send(Method::GET, &format!("/breakers/{name}"), Some(TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK);
        check("breaker", &one);
    }
    for action in ["trip", "force_open", "disable", "reset"] {
        let (status, after) = admin
            .send(Method::POST, &format!("/breakers/db/{action}"), Some(TOKEN))
            .await;
        assert_eq!(status, StatusCode::OK);
        check("breaker", &after);
    }
}

#[tokio::test]
async fn every_error_answer_matches_the_schema() {
    let admin = admin();
    let cases = [
        (Method::GET, "/breakers", None, StatusCode::UNAUTHORIZED),
        (
            Method::GET,
            "/breakers",
            Some("nope"),
            StatusCode::FORBIDDEN,
        ),
        (
            Method::GET,
            "/breakers/nope",
            Some(TOKEN),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/breakers/db/explode",
            Some(TOKEN),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/nowhere", Some(TOKEN), StatusCode::NOT_FOUND),
        (
            Method::DELETE,
            "/breakers/db",
            Some(TOKEN),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/breakers/%FF",
            Some(TOKEN),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, token, expected) in cases {
        let (status, body) = admin.send(method.clone(), path, token).await;
        assert_eq!(status, expected, "{method} {path}");
        check("error", &body);
        assert_eq!(body["status"], expected.as_u16());
    }
}

#[tokio::test]
async fn times_are_milliseconds_and_rfc_3339_dates() {
    let admin = admin();
    let (_, payments) = admin
        .send(Method::GET, "/breakers/payments", Some(TOKEN))
        .await;
    assert_eq!(payments["state"], "open");
    assert_eq!(payments["clock_ms"], 17_000);
    assert_eq!(payments["stats"]["opened_at_ms"], 5_000);
    assert_eq!(payments["retry_after_ms"], 18_000);
    assert_eq!(payments["open_reason"]["at_ms"], 5_000);
    assert_eq!(payments["open_reason"]["ago_ms"], 12_000);
    assert_eq!(payments["config"]["settings"]["reset"]["value_ms"], 30_000);
    assert_eq!(
        payments["config"]["settings"]["reset_max"]["value_ms"],
        300_000
    );
    let opened_at = payments["stats"]["opened_at"].as_str().unwrap();
    assert_eq!(payments["open_reason"]["at"], opened_at);

    // What a script does with it: `date` reads it, and it is 12 s before
    // now (the manual clock moved 12 s since), give or take the wall clock
    // moving while the test runs.
    let read = Command::new("date")
        .args(["-u", "-d", opened_at, "+%s.%N"])
        .output()
        .expect("date runs");
    assert!(read.status.success(), "date cannot read {opened_at}");
    let read: f64 = String::from_utf8(read.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let ago = now - read;
    assert!(
        (12.0..12.0 + 300.0).contains(&ago),
        "{opened_at} is {ago} s ago, expected 12 s"
    );
}

#[tokio::test]
async fn the_configuration_shows_every_key_its_effect_and_its_source() {
    let admin = admin();
    let (_, payments) = admin
        .send(Method::GET, "/breakers/payments", Some(TOKEN))
        .await;
    let settings = &payments["config"]["settings"];
    assert_eq!(
        settings.as_object().unwrap().len(),
        breaker_core::KEYS.len()
    );
    assert_eq!(
        settings["fail_max"],
        json!({ "value": 2, "text": "2", "in_effect": true, "source": "code", "origin": null })
    );
    // Written at its default value in code: a Config cannot tell, so it
    // shows as the default (the attribute's sites are told apart).
    assert_eq!(settings["success"]["source"], "default");
    assert_eq!(settings["success"]["value"], 2);
    assert_eq!(settings["backoff"]["value"], 2.0);
    // No rate policy: the window and min_calls do not apply.
    assert_eq!(settings["window"]["in_effect"], false);
    assert_eq!(settings["min_calls"]["in_effect"], false);
    assert_eq!(
        settings["timeout"],
        json!({ "value_ms": null, "text": null, "in_effect": false, "source": "default", "origin": null })
    );

    let (_, search) = admin
        .send(Method::GET, "/breakers/search", Some(TOKEN))
        .await;
    let settings = &search["config"]["settings"];
    assert_eq!(settings["min_calls"]["value"], 4);
    assert_eq!(settings["min_calls"]["source"], "env");
    assert_eq!(settings["min_calls"]["origin"], "BREAKER_SEARCH_MIN_CALLS");
    assert_eq!(settings["reset"]["value_ms"], 60_000);
    assert_eq!(settings["reset"]["text"], "1m");
    assert_eq!(settings["reset"]["origin"], "BREAKER_SEARCH_RESET");
    assert_eq!(settings["window"]["value_calls"], 20);
    assert_eq!(settings["window"]["in_effect"], true);
    assert_eq!(settings["failure_rate"]["value_percent"], 50.0);
    assert_eq!(settings["fail_max"]["in_effect"], false);
    assert_eq!(search["stats"]["failure_rate_percent"], 25.0);

    let (_, ads) = admin.send(Method::GET, "/breakers/ads", Some(TOKEN)).await;
    assert_eq!(ads["config"]["settings"]["window"]["value_ms"], 30_000);
    assert_eq!(ads["config"]["settings"]["adaptive"]["value"], 2.0);

    let (_, shadow) = admin
        .send(Method::GET, "/breakers/shadow", Some(TOKEN))
        .await;
    assert_eq!(shadow["state"], "metrics_only");
    assert_eq!(shadow["dry_run_state"], "open");
}

#[tokio::test]
async fn the_event_stream_messages_match_the_schema() {
    let admin = admin();
    let request = http::Request::get("/events")
        .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = admin.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    let mut next = async |name: &str| -> Value {
        let head = format!("event: {name}\ndata: ");
        loop {
            if let Some(start) = text.find(&head) {
                let data = &text[start + head.len()..];
                if let Some(end) = data.find("\n\n") {
                    let value = serde_json::from_str(&data[..end]).expect("JSON data");
                    text = data[end..].to_owned();
                    return value;
                }
            }
            let frame = body.frame().await.expect("the stream goes on").unwrap();
            if let Ok(data) = frame.into_data() {
                text.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    };
    let stats = next("stats").await;
    check("breakers", &stats);

    admin.clock.advance(Duration::from_secs(1));
    admin.registry.get("db").unwrap().trip();
    let transition = next("transition").await;
    check("transition", &transition);
    assert_eq!(transition["to"], "open");
    assert_eq!(transition["at_ms"], 18_000);
}

#[tokio::test]
async fn the_reconfiguration_answers_match_the_schema() {
    let admin = admin();
    for (name, content_type, body) in [
        (
            "payments",
            "application/json",
            r#"{"fail_max": 3, "reset": "1m"}"#,
        ),
        ("search", "text/plain", "failure_rate = 60, window = 10s"),
        ("shadow", "text/plain", "fail_max = 2"),
        ("db", "text/plain", ""),
    ] {
        let (status, answer) = admin
            .reconfigure(name, content_type, Body::from(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        check("reconfigured", &answer);
        // Both shapes stay closed: a field neither names is refused.
        assert!(
            !validator("breaker").is_valid(&answer),
            "`changed` in a breaker"
        );
        let mut stray = answer.clone();
        stray["chaged"] = json!([]);
        assert!(!validator("reconfigured").is_valid(&stray), "a stray field");
    }
    // A keyed breaker's name: its own closed shape.
    let _hosts = breaker_core::keyed::KeyedBreaker::<String>::builder("hosts")
        .registry(admin.registry)
        .build()
        .unwrap();
    let (status, answer) = admin
        .reconfigure("hosts", "text/plain", Body::from("fail_max = 9"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    check("reconfigured_keyed", &answer);
    assert!(!validator("reconfigured").is_valid(&answer));

    let (_, payments) = admin
        .send(Method::GET, "/breakers/payments", Some(TOKEN))
        .await;
    check("breaker", &payments);
    assert_eq!(
        payments["config"]["settings"]["reset"]["source"],
        "reconfigured"
    );

    for body in ["fail_mx = 3", "slow_rate = 80", "fail_max = 0"] {
        let (status, answer) = admin
            .reconfigure("db", "text/plain", Body::from(body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        check("invalid_config", &answer);
    }
    let (status, answer) = admin
        .reconfigure("db", "application/json", Body::from(r#"{"reset": null}"#))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    check("invalid_config", &answer);

    for (name, content_type, body, expected) in [
        (
            "nope",
            "text/plain",
            Body::from("fail_max = 3"),
            StatusCode::NOT_FOUND,
        ),
        (
            "db",
            "application/json",
            Body::from("{"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "db",
            "text/plain",
            Body::from(vec![0xFF]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "db",
            "text/plain",
            Body::from(vec![b' '; 70_000]),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let (status, answer) = admin.reconfigure(name, content_type, body).await;
        assert_eq!(status, expected, "{name}");
        check("error", &answer);
    }
}

#[tokio::test]
async fn the_configured_event_matches_the_schema() {
    let admin = admin();
    let request = http::Request::get("/events")
        .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = admin.router.clone().oneshot(request).await.unwrap();
    let mut body = response.into_body();
    let mut text = String::new();
    let head = "event: configured\ndata: ";
    admin
        .registry
        .reconfigure("search", "failure_rate = 60, min_calls = 5")
        .unwrap();
    let configured: Value = loop {
        if let Some(start) = text.find(head) {
            let data = &text[start + head.len()..];
            if let Some(end) = data.find("\n\n") {
                break serde_json::from_str(&data[..end]).expect("JSON data");
            }
        }
        let frame = body.frame().await.expect("the stream goes on").unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    };
    check("configured", &configured);
    assert_eq!(configured["keys"], "failure_rate=60 min_calls=5");
    assert_eq!(configured["at_ms"], 17_000);
}
