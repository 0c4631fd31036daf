//! The admin router's `GET /metrics` as Prometheus itself reads it:
//! `promtool check metrics` (Prometheus' own parser and linter) accepts the
//! text, every family has HELP and TYPE, and the families are exactly the
//! ones `docs/metrics.md` lists.
//!
//! promtool comes with Debian's `prometheus` package (scripts/test installs
//! it and sets `BREAKER_REQUIRE_PROMTOOL=1`). Elsewhere, a missing promtool
//! skips only that check, unless `BREAKER_REQUIRE_PROMTOOL=1`: then it fails.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Config, Error, Registry};
use http_body_util::BodyExt;
use tower::ServiceExt;

const TOKEN: &str = "scrape";

/// A registry whose breakers give every family a sample: a consecutive
/// breaker opened and half-open, a rate breaker, an adaptive one, a dry run,
/// and a name that needs escaping; served by a router built before the
/// traffic, so that it counted every transition.
fn busy_router() -> axum::Router {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    registry.use_clock(clock.clone());
    let fail = || Err::<(), _>(Error::timeout("x".into(), Duration::from_secs(1)));

    let payments =
        registry.get_or_create("payments", || "fail_max = 2, reset = 10s".parse().unwrap());
    let router = breaker_core::admin::router_for(registry, TOKEN);
    payments.call(|| Ok::<_, Error>(())).unwrap();
    let _ = payments.call(fail);
    let _ = payments.call(fail);
    let _ = payments.call(|| Ok::<_, Error>(()));
    clock.advance(Duration::from_secs(10));
    let _ = payments.call(|| Ok::<_, Error>(()));

    let rates = registry.get_or_create("search \"eu\"\\west", || {
        "failure_rate = 50, window = 10, min_calls = 4, slow = 1s, slow_rate = 90"
            .parse()
            .unwrap()
    });
    for _ in 0..3 {
        rates.call(|| Ok::<_, Error>(())).unwrap();
    }
    let _ = rates.call(fail);

    let adaptive = registry.get_or_create("ads", || "adaptive = 2".parse().unwrap());
    let _ = adaptive.call(fail);

    let dry = registry.get_or_create("shadow", Config::default);
    dry.metrics_only();
    router
}

async fn scrape(router: axum::Router) -> String {
    let request = http::Request::get("/metrics")
        .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// `promtool` on the PATH (or `BREAKER_PROMTOOL`); `None` when missing and
/// not required.
fn promtool() -> Option<PathBuf> {
    let named = std::env::var_os("BREAKER_PROMTOOL").map(PathBuf::from);
    let found = named.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("BREAKER_REQUIRE_PROMTOOL").is_none_or(|v| v != "1"),
            "promtool is missing and BREAKER_REQUIRE_PROMTOOL=1: install Debian's `prometheus` \
             package (scripts/test does) or set BREAKER_PROMTOOL to its path"
        );
        eprintln!("skipped the promtool check: promtool is missing");
    }
    found
}

#[tokio::test]
async fn promtool_accepts_the_exposition() {
    let text = scrape(busy_router()).await;
    // What the test relies on: samples of the families promtool lints most.
    assert!(
        text.contains("breaker_failure_rate_ratio{breaker=\"search \\\"eu\\\"\\\\west\"} 0.25\n")
    );
    assert!(text.contains(
        "breaker_transitions_total{breaker=\"payments\",from=\"open\",to=\"half_open\"} 1\n"
    ));
    let Some(promtool) = promtool() else { return };
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", promtool.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics ({}) refused the exposition: {said}\n{text}",
        out.status
    );
}

#[tokio::test]
async fn every_family_has_help_and_type_before_its_samples_and_follows_the_naming_rules() {
    let text = scrape(busy_router()).await;
    let mut helped = BTreeSet::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{name} has an empty HELP");
            helped.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert_eq!(
                kind == "counter",
                name.ends_with("_total"),
                "{name} ({kind}): counters, and only counters, end in _total"
            );
            for unit in ["_ms", "_percent", "_milliseconds", "_minutes"] {
                assert!(!name.contains(unit), "{name}: base units only");
            }
            typed.push(name.to_owned());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(
                typed.last().map(String::as_str),
                Some(name),
                "sample outside its family: {line}"
            );
        }
    }
    assert_eq!(typed.len(), helped.len());
    let unique: BTreeSet<_> = typed.iter().collect();
    assert_eq!(unique.len(), typed.len(), "a family declared twice");
}

#[tokio::test]
async fn the_families_are_the_ones_docs_metrics_md_lists() {
    let text = scrape(busy_router()).await;
    let exposed: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|rest| rest.split(' ').next().unwrap().to_owned())
        .collect();
    let docs = package_dir().join("../docs/metrics.md");
    let docs = std::fs::read_to_string(&docs).expect("docs/metrics.md");
    // The Prometheus table's first column: `| `breaker_...` | ...`.
    let documented: BTreeSet<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `breaker_"))
        .map(|rest| format!("breaker_{}", rest.split('`').next().unwrap()))
        .collect();
    assert_eq!(exposed, documented, "docs/metrics.md and /metrics disagree");
}

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
