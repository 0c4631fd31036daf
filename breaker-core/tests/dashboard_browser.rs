//! The admin router's dashboard in a real headless Chromium, driven over
//! WebDriver by chromedriver: the page shows a breaker the test opens
//! without a reload, and its reset button closes it; its edit form
//! reconfigures a breaker, and shows a refusal beside the form; with a store
//! that describes the fleet, each card shows its breaker on every live
//! replica and the bar above marks a stopped replica.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's `chromium`
//! and `chromium-driver`; scripts/test installs them). Where they are
//! missing the test fails, unless `BREAKER_SKIP_BROWSER=1`.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use breaker_core::clock::ManualClock;
use breaker_core::{Config, Registry, State};
use http::Method;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const TOKEN: &str = "dashboard-token";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long the page may take to show a transition pushed by the server.
const LIVE_WITHIN: Duration = Duration::from_secs(1);
/// A generous bound for the steps that are not under test (startup, loading).
const PATIENCE: Duration = Duration::from_secs(20);

/// One browser at a time: two would share the cores the live bound is
/// measured on.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the browser is here; where it is not, a failure unless
/// `BREAKER_SKIP_BROWSER=1`.
fn browser_present() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var_os("BREAKER_SKIP_BROWSER").is_some_and(|v| v == "1") {
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} is missing");
        return false;
    }
    panic!(
        "{CHROMIUM} or {CHROMEDRIVER} is missing: install Debian's `chromium` and \
         `chromium-driver` (scripts/test does), or set BREAKER_SKIP_BROWSER=1 to skip"
    );
}

/// Serves the admin router for `registry` under `/admin` on loopback.
async fn serve(registry: &'static Registry) -> SocketAddr {
    let app = axum::Router::new().nest("/admin", breaker_core::admin::router_for(registry, TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn the_dashboard_shows_a_breaker_open_live_and_its_reset_button_closes_it() {
    if !browser_present() {
        return;
    }
    let _alone = ONE_BROWSER.lock().await;
    let started = Instant::now();

    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(3600));
    let ramp_clock = clock.clone();
    registry.use_clock(clock);
    let payments = registry.get_or_create("payments", || {
        Config::builder()
            .fail_max(3)
            .reset(Duration::from_secs(30))
            .build()
            .expect("a valid config")
    });
    let db = registry.get_or_create("db", Config::default);
    // A breaker that recovered on its trial a moment ago: ramping at 10%.
    let quotes = registry.get_or_create("quotes", || {
        "fail_max = 1, reset = 1s, success = 1, ramp = 1h"
            .parse()
            .unwrap()
    });
    quotes.acquire().unwrap().failure();
    ramp_clock.advance(Duration::from_secs(1));
    quotes.acquire().unwrap().success();
    assert_eq!(quotes.stats().ramp_share, Some(0.1));
    // Traffic, so that the sparklines have something to draw.
    let calls = payments.clone();
    tokio::spawn(async move {
        for n in 0u64.. {
            let _ = calls.call(|| Ok::<_, breaker_core::Error>(()));
            let _ = db.call(|| match n % 7 {
                0 => Err(breaker_core::Error::timeout(
                    "db".into(),
                    Duration::from_secs(1),
                )),
                _ => Ok(()),
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let addr = serve(registry).await;

    let browser = Browser::start().await;
    browser.log_in(addr).await;

    let shown = "const card = document.querySelector('[data-name=\"payments\"]'); \
                 return card ? card.dataset.state : null;";
    browser.wait_for(shown, "closed", PATIENCE).await;
    let ramping = "const card = document.querySelector('[data-name=\"quotes\"]'); \
                   return card && card.textContent.includes('slow start: admitting 10% of calls') ? 'ramping' : 'not yet';";
    browser.wait_for(ramping, "ramping", PATIENCE).await;
    // A few seconds of rates drawn before the breaker opens.
    browser
        .wait_for(
            "const line = document.querySelector('[data-name=\"payments\"] polyline'); \
             return line && line.points.length >= 3 ? 'yes' : 'no';",
            "yes",
            PATIENCE,
        )
        .await;
    let load_id = browser.script("return window.__loadId;").await;
    assert!(load_id.is_string(), "the page marks its load: {load_id}");

    payments.trip();
    let tripped = Instant::now();
    browser.wait_for(shown, "open", PATIENCE).await;
    let took = tripped.elapsed();
    assert!(
        took <= LIVE_WITHIN,
        "the page showed the breaker open after {took:?}, more than {LIVE_WITHIN:?}"
    );
    assert_eq!(
        browser.script("return window.__loadId;").await,
        load_id,
        "the page was not reloaded"
    );
    // Let a stats snapshot fill in why it opened before the picture.
    browser
        .wait_for(
            "const t = document.querySelector('[data-name=\"payments\"] .why'); \
             return t && t.textContent.includes('manual trip') ? 'yes' : 'no';",
            "yes",
            PATIENCE,
        )
        .await;
    let picture = browser.screenshot().await;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| package_dir().join("../target"));
    std::fs::create_dir_all(&target).expect("the target directory");
    let saved = target.join("dashboard.png");
    std::fs::write(&saved, &picture).expect("the screenshot written");
    eprintln!("screenshot: {}", saved.display());

    let reset = browser
        .find("[data-name=\"payments\"] button[data-action=\"reset\"]")
        .await;
    browser
        .post(&format!("element/{reset}/click"), json!({}))
        .await;
    let clicked = Instant::now();
    while payments.state() != State::Closed {
        assert!(
            clicked.elapsed() < PATIENCE,
            "the reset button did not close the breaker: {:?}",
            payments.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser.wait_for(shown, "closed", PATIENCE).await;
    browser.close().await;
    eprintln!(
        "open shown {took:?} after the trip; whole test {:?}",
        started.elapsed()
    );
}

/// A store that joins no breaker and describes a fixed fleet: the page's
/// fleet view under test, without a Redis (tests/redis_fleet.rs reads a real
/// one).
struct DescribedFleet;

impl breaker_core::store::Store for DescribedFleet {
    fn attach(
        &self,
        _breaker: &breaker_core::Breaker,
    ) -> Option<std::sync::Arc<dyn breaker_core::store::Link>> {
        None
    }

    fn fleet(&self) -> Option<breaker_core::store::FleetFuture> {
        use breaker_core::store::{Fleet, Replica, ReplicaBreaker};
        let db = |state, rejected, retry: Option<u64>| {
            [(
                "db".to_owned(),
                ReplicaBreaker::new(state, 40, rejected, 2, retry.map(Duration::from_millis)),
            )]
            .into_iter()
            .collect()
        };
        let fleet = Fleet::new(
            vec![
                Replica::new(
                    "web-1:11",
                    Duration::from_millis(300),
                    true,
                    db(State::Closed, 0, None),
                ),
                Replica::new(
                    "web-2:22",
                    Duration::from_millis(500),
                    true,
                    db(State::Open, 9, Some(20_000)),
                ),
                Replica::new(
                    "web-3:33",
                    Duration::from_secs(7),
                    false,
                    Default::default(),
                ),
            ],
            Duration::from_secs(1),
        );
        Some(Box::pin(async move { Ok(fleet) }))
    }
}

#[tokio::test]
async fn the_dashboard_shows_each_breaker_on_every_replica_and_a_stopped_replica() {
    if !browser_present() {
        return;
    }
    let _alone = ONE_BROWSER.lock().await;
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let _db = registry.get_or_create("db", Config::default);
    registry.use_store(DescribedFleet);
    let addr = serve(registry).await;
    let browser = Browser::start().await;
    browser.log_in(addr).await;

    let chips = "const chips = [...document.querySelectorAll('[data-name=\"db\"] .fleet .chip')]; \
                 return chips.map(c => c.dataset.replica + '=' + c.dataset.state).join(' ');";
    browser
        .wait_for(chips, "web-1:11=closed web-2:22=open", PATIENCE)
        .await;
    let rates = browser
        .script("return document.querySelector('[data-name=\"db\"] .fleet').textContent;")
        .await;
    let rates = rates.as_str().unwrap_or_default();
    assert!(
        rates.contains("fleet (2 replicas): 80.0 admitted/s · 9.0 rejected/s · 4.0 failures/s"),
        "{rates}"
    );
    let bar = "return [...document.querySelectorAll('#fleet .replica')] \
               .map(r => r.dataset.replica + '=' + r.dataset.live).join(' ');";
    browser
        .wait_for(bar, "web-1:11=yes web-2:22=yes web-3:33=no", PATIENCE)
        .await;
    let stopped = browser
        .script("return document.querySelector('#fleet [data-live=\"no\"]').textContent;")
        .await;
    assert!(
        stopped
            .as_str()
            .is_some_and(|t| t.contains("web-3:33 (stopped 7 s ago)")),
        "{stopped}"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| package_dir().join("../target"));
    std::fs::create_dir_all(&target).expect("the target directory");
    let saved = target.join("dashboard-fleet.png");
    std::fs::write(&saved, browser.screenshot().await).expect("the screenshot written");
    eprintln!("screenshot: {}", saved.display());
    browser.close().await;
}

#[tokio::test]
async fn the_edit_form_applies_a_good_edit_and_shows_a_refusal_in_place() {
    if !browser_present() {
        return;
    }
    let _alone = ONE_BROWSER.lock().await;
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let clock = ManualClock::new();
    registry.use_clock(clock);
    let payments = registry.get_or_create("payments", || {
        "fail_max = 3, reset = 30s".parse().expect("a valid config")
    });
    registry.get_or_create("db", Config::default);
    let addr = serve(registry).await;
    let browser = Browser::start().await;
    browser.log_in(addr).await;

    let card = "[data-name=\"payments\"]";
    let field_value =
        format!("return document.querySelector('{card} form.edit input')?.value ?? null;");
    browser
        .wait_for(&field_value, "fail_max = 3", PATIENCE)
        .await;
    let field = browser.find(&format!("{card} form.edit input")).await;
    let apply = browser.find(&format!("{card} form.edit button")).await;
    // The message beside the form: `kind|text`.
    let message = format!(
        "const m = document.querySelector('{card} form.edit + .edit-message'); \
         return m && m.dataset.kind ? m.dataset.kind + '|' + m.textContent : null;"
    );

    // A typo: refused with the server's words, beside the form; nothing changed.
    browser.type_into(&field, "fail_mx = 1").await;
    browser
        .post(&format!("element/{apply}/click"), json!({}))
        .await;
    browser
        .wait_for(
            &message,
            "error|invalid `fail_mx`: unknown key; did you mean `fail_max`?",
            PATIENCE,
        )
        .await;
    assert_eq!(payments.config().fail_max(), Some(3), "nothing changed");
    assert_eq!(
        browser
            .script(&format!("return document.querySelector('{card} form.edit input').getAttribute('aria-invalid');"))
            .await,
        "true"
    );
    // The operator's text stays to be fixed, snapshots notwithstanding.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(browser.script(&field_value).await, "fail_mx = 1");

    // The fix: applied, the new configuration shown.
    browser.type_into(&field, "fail_max = 1, reset = 45s").await;
    browser
        .post(&format!("element/{apply}/click"), json!({}))
        .await;
    browser
        .wait_for(&message, "ok|applied: fail_max, reset changed", PATIENCE)
        .await;
    assert_eq!(payments.config().fail_max(), Some(1));
    assert_eq!(payments.config().reset(), Duration::from_secs(45));
    let shown = format!("return document.querySelector('{card} .config').textContent;");
    assert_eq!(
        browser.script(&shown).await,
        "config: fail_max = 1, reset = 45s"
    );
    assert_eq!(
        browser.script(&field_value).await,
        "fail_max = 1, reset = 45s"
    );
    browser
        .wait_for(
            &format!(
                "return document.querySelector('{card} ol.moves')?.textContent.includes('configured fail_max=1 reset=45s') ? 'yes' : 'no';"
            ),
            "yes",
            PATIENCE,
        )
        .await;

    // In force on the live breaker: one failure now opens it.
    let _ = payments.call(|| {
        Err::<(), _>(breaker_core::Error::timeout(
            "payments".into(),
            Duration::from_secs(1),
        ))
    });
    assert_eq!(payments.state(), State::Open);
    browser
        .wait_for(
            &format!("return document.querySelector('{card}').dataset.state;"),
            "open",
            PATIENCE,
        )
        .await;
    browser.close().await;
}

/// A chromedriver of this test's own and one headless Chromium session.
struct Browser {
    driver: Child,
    client: Client<HttpConnector, String>,
    session: String,
    base: String,
}

impl Drop for Browser {
    /// Ends chromedriver and the browsers it started, even after a failed
    /// assertion left the session open: they share its process group.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a: SocketAddr| a.port())
            .expect("a free port for chromedriver");
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            client: Client::builder(TokioExecutor::new()).build_http(),
            session: String::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let since = Instant::now();
        loop {
            let ready = browser.send(Method::GET, "/status", None).await;
            if ready.as_ref().is_ok_and(|s| s["value"]["ready"] == true) {
                break;
            }
            assert!(
                since.elapsed() < PATIENCE,
                "chromedriver did not become ready: {ready:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,520"],
            },
        }}});
        let session = browser
            .send(Method::POST, "/session", Some(capabilities))
            .await
            .expect("a browser session");
        browser.session = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {session}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; an answer with an `error` is an `Err`.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .expect("a valid request");
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        match answer["value"].get("error") {
            Some(error) => Err(format!("{error}: {}", answer["value"]["message"])),
            None => Ok(answer),
        }
    }

    async fn post(&self, command: &str, body: Value) -> Value {
        let path = format!("/session/{}/{command}", self.session);
        self.send(Method::POST, &path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("WebDriver {command}: {e}"))["value"]
            .take()
    }

    /// The element matching `css`, as a WebDriver element id.
    async fn find(&self, css: &str) -> String {
        let found = self
            .post("element", json!({ "using": "css selector", "value": css }))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element `{css}`: {found}"))
            .to_owned()
    }

    /// Opens the dashboard at `addr` and connects with the token.
    async fn log_in(&self, addr: SocketAddr) {
        self.post("url", json!({ "url": format!("http://{addr}/admin") }))
            .await;
        let field = self.find("#token").await;
        self.post(&format!("element/{field}/value"), json!({ "text": TOKEN }))
            .await;
        let connect = self.find("#connect").await;
        self.post(&format!("element/{connect}/click"), json!({}))
            .await;
    }

    /// Replaces the text of the input `element` with `text`, typed as keys.
    async fn type_into(&self, element: &str, text: &str) {
        self.post(&format!("element/{element}/clear"), json!({}))
            .await;
        self.post(&format!("element/{element}/value"), json!({ "text": text }))
            .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.post("execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Runs `script` until it returns `expected`, for at most `bound`.
    async fn wait_for(&self, script: &str, expected: &str, bound: Duration) {
        let since = Instant::now();
        loop {
            let got = self.script(script).await;
            if got == expected {
                return;
            }
            if since.elapsed() > bound {
                let status = self
                    .script("return document.getElementById('status').textContent;")
                    .await;
                panic!("waited {bound:?} for `{expected}`, the page says {got} (status {status})");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The page as a PNG.
    async fn screenshot(&self) -> Vec<u8> {
        let path = format!("/session/{}/screenshot", self.session);
        let answer = self
            .send(Method::GET, &path, None)
            .await
            .unwrap_or_else(|e| panic!("WebDriver screenshot: {e}"));
        base64(answer["value"].as_str().expect("a base64 PNG"))
    }

    async fn close(&self) {
        let path = format!("/session/{}", self.session);
        let _ = self.send(Method::DELETE, &path, None).await;
    }
}

/// Decodes standard base64 (WebDriver's screenshots), padding optional.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n' | b'\r'))
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | (u32::from(d) << (18 - 6 * i)));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_it_should() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGVsbG8h"), b"hello!");
    assert_eq!(base64("aGk"), b"hi");
}

/// This package's directory, as `cargo test` gives it to the running test:
/// a cache shared by clones at other paths runs binaries built elsewhere,
/// whose compile-time `CARGO_MANIFEST_DIR` names that other clone.
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}
