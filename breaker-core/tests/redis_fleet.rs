//! The fleet view (`GET /fleet`) through a real redis-server: three OS
//! processes (this test binary, started again twice as a replica) describe
//! their breakers every second, and one admin router shows them all; a
//! replica that stops shows as not live; junk descriptions are left out and
//! reported once. Each test starts its own redis-server.
//!
//! Real clock, bounded: every wait polls for at most ten seconds (a
//! description is written every second and expires after three).

mod redis_support;
mod schema_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use breaker_core::store::redis::RedisStore;
use breaker_core::{Breaker, Config, Error, Registry, State};
use http::StatusCode;
use http_body_util::BodyExt;
use redis_support::{RedisServer, log};
use serde_json::{Value, json};
use tower::ServiceExt;

const ROLE: &str = "BREAKER_FLEET_REPLICA";
const TOKEN: &str = "fleet";
const WAIT: Duration = Duration::from_secs(10);

fn config() -> Config {
    Config::builder()
        .fail_max(2)
        .reset(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn fail(b: &Breaker) {
    let _ = b.call(|| Err::<(), Error>(Error::timeout("db".into(), Duration::ZERO)));
}

fn succeed(b: &Breaker, n: usize) {
    for _ in 0..n {
        let _ = b.call(|| Ok::<(), Error>(()));
    }
}

/// A replica process: joins namespace `$NS` as `$REPLICA` (with a quorum of
/// two, so that one replica's opening stays its own), opens its `db`
/// breaker if `$OPEN` is set, calls it now and then, and exits when its
/// input closes. Run as an ordinary test (without the variable), it does
/// nothing.
#[test]
fn replica_process_entry_point() {
    let Ok(url) = std::env::var(ROLE) else { return };
    let store = RedisStore::builder(url)
        .namespace(std::env::var("NS").unwrap())
        .replica(std::env::var("REPLICA").unwrap())
        .quorum(2)
        .connect()
        .expect("a store");
    let registry = Registry::new();
    registry.use_store(store);
    let db = registry.get_or_create("db", config);
    if std::env::var("OPEN").is_ok() {
        fail(&db);
        fail(&db);
    }
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let _ = done_tx.send(());
    });
    println!("@@ ready");
    let _ = std::io::stdout().flush();
    while done.recv_timeout(Duration::from_millis(100)).is_err() {
        succeed(&db, 5);
    }
}

struct ReplicaProcess {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ReplicaProcess {
    fn start(server: &RedisServer, ns: &str, id: &str, open: bool) -> ReplicaProcess {
        let exe = std::env::current_exe().expect("the test binary");
        let mut command = Command::new(exe);
        command
            .args(["--exact", "replica_process_entry_point", "--nocapture"])
            .env(ROLE, server.url())
            .env("NS", ns)
            .env("REPLICA", id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if open {
            command.env("OPEN", "1");
        }
        let mut child = command.spawn().expect("a replica process");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let ready = lines.by_ref().any(|line| line.contains("@@ ready"));
        assert!(ready, "replica {id} did not start");
        // Read to the end, so that its last words do not meet a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let stdin = child.stdin.take();
        ReplicaProcess { child, stdin }
    }

    /// Closes its input: it exits.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for ReplicaProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let request = http::Request::get(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

/// Polls `GET /fleet` until `done` holds; the last answer.
async fn fleet_until(router: &Router, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + WAIT;
    loop {
        let (status, body) = get(router, "/fleet").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < until, "never: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn replica<'a>(fleet: &'a Value, id: &str) -> Option<&'a Value> {
    fleet["replicas"]
        .as_array()?
        .iter()
        .find(|r| r["replica"] == id)
}

fn breaker<'a>(fleet: &'a Value, name: &str) -> Option<&'a Value> {
    fleet["breakers"]
        .as_array()?
        .iter()
        .find(|b| b["name"] == name)
}

/// This process as the third replica, with the admin router.
fn this_replica(server: &RedisServer, ns: &str) -> (Router, Breaker) {
    log();
    let store = RedisStore::builder(server.url())
        .namespace(ns)
        .replica("here")
        .quorum(2)
        .connect()
        .expect("a store");
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    registry.use_store(store);
    let db = registry.get_or_create("db", config);
    (breaker_core::admin::router_for(registry, TOKEN), db)
}

#[tokio::test]
async fn three_processes_show_up_in_one_fleet_and_one_that_stops_shows_as_not_live() {
    let server = RedisServer::start();
    let mut opened = ReplicaProcess::start(&server, "fleet1", "opened", true);
    let _closed = ReplicaProcess::start(&server, "fleet1", "closed", false);
    let (router, db) = this_replica(&server, "fleet1");
    succeed(&db, 10);

    // A replica's first description may precede its breaker's opening.
    let fleet = fleet_until(&router, |f| {
        breaker(f, "db")
            .is_some_and(|b| b["totals"]["replicas"] == 3 && b["totals"]["states"]["open"] == 1)
    })
    .await;
    schema_support::check("fleet", &fleet);
    assert_eq!(fleet["interval_ms"], 1000);
    for id in ["closed", "here", "opened"] {
        let r = replica(&fleet, id).unwrap_or_else(|| panic!("{id} missing: {fleet:#}"));
        assert_eq!(r["live"], true, "{id}");
        assert!(r["age_ms"].as_u64().unwrap() <= 3000, "{id}: {r}");
    }
    let db_fleet = breaker(&fleet, "db").unwrap();
    assert_eq!(
        db_fleet["totals"]["states"],
        json!({"closed": 2, "open": 1})
    );
    let of = |id: &str| {
        db_fleet["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["replica"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(of("opened")["state"], "open");
    let left = of("opened")["retry_after_ms"].as_u64().unwrap();
    assert!(left > 20_000 && left <= 30_000, "{left}");
    assert_eq!(of("here")["retry_after_ms"], Value::Null);

    // Calls show in the interval's figures: the replicas call every 100 ms.
    let fleet = fleet_until(&router, |f| {
        breaker(f, "db").is_some_and(|b| b["totals"]["admitted"].as_u64() > Some(0))
    })
    .await;
    let totals = &breaker(&fleet, "db").unwrap()["totals"];
    assert!(
        totals["admitted_per_second"].as_f64().unwrap() > 0.0,
        "{totals}"
    );

    opened.stop();
    let fleet = fleet_until(&router, |f| {
        replica(f, "opened").is_some_and(|r| r["live"] == false)
    })
    .await;
    schema_support::check("fleet", &fleet);
    assert_eq!(
        breaker(&fleet, "db").unwrap()["totals"]["states"],
        json!({"closed": 2}),
        "a replica that stopped no longer counts"
    );
    assert_eq!(
        db.state(),
        State::Closed,
        "one opening of a quorum of two stays local"
    );
}

#[tokio::test]
async fn junk_descriptions_are_left_out_and_reported_once() {
    let server = RedisServer::start();
    let (router, _db) = this_replica(&server, "fleet2");
    let mut conn = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .unwrap();
    let (secs, _): (u64, u64) = redis::cmd("TIME").query(&mut conn).unwrap();
    let now_ms = secs * 1000;
    for (id, fields) in [
        (
            "bad-state",
            vec![("_at", now_ms.to_string()), ("db", "sleepy 1 2 3 -".into())],
        ),
        (
            "far-future",
            vec![
                ("_at", (now_ms + 3_600_000).to_string()),
                ("db", "closed 1 2 3 -".into()),
            ],
        ),
        ("no-time", vec![("db", "closed 1 2 3 -".into())]),
    ] {
        let key = format!("fleet2:fleet:{id}");
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&key);
        for (f, v) in &fields {
            cmd.arg(f).arg(v);
        }
        let _: () = cmd.query(&mut conn).unwrap();
        let _: () = redis::cmd("ZADD")
            .arg("fleet2:replicas")
            .arg(now_ms + 60_000) // seen "in a minute": still listed for minutes
            .arg(id)
            .query(&mut conn)
            .unwrap();
    }
    // Once `here` describes its `db` (its first description may precede it).
    let fleet = fleet_until(&router, |f| breaker(f, "db").is_some()).await;
    schema_support::check("fleet", &fleet);
    for id in ["bad-state", "far-future", "no-time"] {
        assert_eq!(replica(&fleet, id).unwrap()["live"], false, "{id}");
    }
    assert_eq!(breaker(&fleet, "db").unwrap()["totals"]["replicas"], 1);
    let _ = get(&router, "/fleet").await;
    let reports = |id: &str| {
        log()
            .text()
            .lines()
            .filter(|l| l.contains("namespace=fleet2") && l.contains(&format!("replica={id}")))
            .count()
    };
    for id in ["bad-state", "far-future", "no-time"] {
        assert_eq!(reports(id), 1, "{id} reported once: {}", log().text());
    }
}

#[tokio::test]
async fn without_a_store_there_is_no_fleet_and_without_redis_it_cannot_be_read() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let router = breaker_core::admin::router_for(registry, TOKEN);
    let (status, body) = get(&router, "/fleet").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no fleet"));

    let port = redis_support::free_port();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{port}/"))
        .connect_timeout(Duration::from_millis(100))
        .connect()
        .expect("a store, Redis or not");
    registry.use_store(store);
    let (status, body) = get(&router, "/fleet").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("unreachable"),
        "{body}"
    );
}
