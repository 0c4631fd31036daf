//! The breaker on the real clock, as a service lives it: an HTTP upstream on
//! loopback that is up, then down, then slow, then up again, and many
//! concurrent callers reaching it through one `#[circuit_breaker]` async
//! function with a `timeout` and a `fallback`. The state machine is proven on
//! a manual clock elsewhere; this is where the pieces meet real time, real
//! sockets and a multi-thread runtime, so that a broken real clock, a lost
//! count under load or a timeout that is not a failure shows up here.
//!
//! Every check is exact (the breaker's counters against the callers' and the
//! upstream's) or has a margin that only a broken breaker exceeds: a breaker
//! that never opened would let thousands of calls reach the down upstream
//! where the bound is a hundred and some; one that never closed again would
//! miss the recovery deadline by the whole last phase.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use breaker_core::{Error, State, circuit_breaker, registry};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use support::AppError;

const FAIL_MAX: u64 = 5;
const RESET: Duration = Duration::from_millis(400);
/// `success` and so, by default, `half_open`: trials in flight at once.
const TRIALS: u64 = 2;
const TIMEOUT: Duration = Duration::from_millis(100);
/// How long the slow upstream takes: well past `TIMEOUT`.
const SLOW_FOR: Duration = Duration::from_millis(300);
const CALLERS: u64 = 32;
/// Each caller's pause between its calls: a rejection returns at once, and a
/// caller that never waited would never yield to the runtime.
const PACE: Duration = Duration::from_millis(5);
/// Each phase's length; the upstream starts up for `WARM_UP`.
const WARM_UP: Duration = Duration::from_millis(1000);
const PHASE: Duration = Duration::from_millis(1200);
/// Scheduling on a loaded machine: wake-ups, the listener's own delay.
const SLACK: Duration = Duration::from_millis(500);

/// What the fallback answers; the upstream's numbers start at 1.
const CACHED: u64 = 0;

static FALLBACKS: AtomicU64 = AtomicU64::new(0);

type HttpClient = Client<HttpConnector, String>;

#[circuit_breaker(ground_upstream, fail_max = 5, reset = 400ms, success = 2, timeout = 100ms, fallback = cached)]
async fn quote(client: &HttpClient, uri: &Uri) -> Result<u64, AppError> {
    // A transport error is the upstream's failure as much as a 500 is.
    let response = client.get(uri.clone()).await.map_err(|_| AppError::Busy)?;
    if response.status() != StatusCode::OK {
        return Err(AppError::Down);
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|_| AppError::Busy)?
        .to_bytes();
    let text = std::str::from_utf8(&body).expect("the upstream answers utf-8");
    Ok(text.parse().expect("the upstream answers a number"))
}

async fn cached(_client: &HttpClient, _uri: &Uri) -> Result<u64, AppError> {
    FALLBACKS.fetch_add(1, Ordering::SeqCst);
    Ok(CACHED)
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const SLOW: u8 = 2;

/// The upstream's mode and the requests it received, counted as they arrive,
/// by the mode they found.
#[derive(Default)]
struct Upstream {
    mode: AtomicU8,
    received: [AtomicU64; 3],
}

impl Upstream {
    fn received(&self, mode: u8) -> u64 {
        self.received[usize::from(mode)].load(Ordering::SeqCst)
    }
}

/// Serves the upstream on a free loopback port until the runtime ends.
async fn serve(upstream: Arc<Upstream>) -> SocketAddr {
    let app = Router::new().route(
        "/quote",
        get(move || {
            let upstream = upstream.clone();
            async move {
                let mode = upstream.mode.load(Ordering::SeqCst);
                let n = upstream.received[usize::from(mode)].fetch_add(1, Ordering::SeqCst) + 1;
                match mode {
                    DOWN => (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned()),
                    SLOW => {
                        tokio::time::sleep(SLOW_FOR).await;
                        (StatusCode::OK, n.to_string())
                    }
                    _ => (StatusCode::OK, n.to_string()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// What one caller saw, call by call.
#[derive(Default, Debug)]
struct Tally {
    calls: u64,
    answered: u64,
    fallbacks: u64,
    down: u64,
    timeouts: u64,
    transport: u64,
}

async fn caller(client: HttpClient, uri: Uri, stop: Arc<AtomicBool>) -> Tally {
    let mut tally = Tally::default();
    while !stop.load(Ordering::SeqCst) {
        tally.calls += 1;
        match quote(&client, &uri).await {
            Ok(CACHED) => tally.fallbacks += 1,
            Ok(_) => tally.answered += 1,
            Err(AppError::Down) => tally.down += 1,
            Err(AppError::Busy) => tally.transport += 1,
            Err(AppError::Breaker(Error::Timeout { after, .. })) => {
                assert_eq!(after, TIMEOUT);
                tally.timeouts += 1;
            }
            Err(AppError::Breaker(e)) => panic!("a rejection goes to the fallback: {e}"),
        }
        tokio::time::sleep(PACE).await;
    }
    tally
}

/// A transition as the listener saw it: on the breaker's clock, and the
/// `Instant` it was delivered (after the transition), with the failure that
/// opened the breaker.
#[derive(Debug)]
struct Seen {
    from: State,
    to: State,
    at: Duration,
    delivered: Instant,
    last_failure: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_breaker_guards_a_real_upstream_through_down_slow_and_back_up() {
    let started = Instant::now();
    let breaker = registry()
        .get("ground_upstream")
        .expect("registered before its first call");
    let config = breaker.config();
    assert_eq!(
        (config.fail_max(), config.reset(), config.success()),
        (Some(FAIL_MAX as u32), RESET, TRIALS as u32),
        "the constants restate the attribute"
    );
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let sink = seen.clone();
    let watched = breaker.clone();
    breaker.on_transition(move |t| {
        // Read on the thread that made the opening, right after it: the next
        // opening is at least a reset period away.
        let last_failure = (t.to == State::Open)
            .then(|| watched.open_reason())
            .flatten()
            .filter(|o| o.at == t.at)
            .and_then(|o| o.last_failure.clone());
        sink.lock().unwrap().push(Seen {
            from: t.from,
            to: t.to,
            at: t.at,
            delivered: Instant::now(),
            last_failure,
        });
    });

    let upstream = Arc::new(Upstream::default());
    let addr = serve(upstream.clone()).await;
    let uri: Uri = format!("http://{addr}/quote").parse().expect("a valid uri");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| tokio::spawn(caller(client.clone(), uri.clone(), stop.clone())))
        .collect();

    tokio::time::sleep(WARM_UP).await;
    let down_at = Instant::now();
    upstream.mode.store(DOWN, Ordering::SeqCst);
    tokio::time::sleep(PHASE).await;
    let slow_at = Instant::now();
    upstream.mode.store(SLOW, Ordering::SeqCst);
    tokio::time::sleep(PHASE).await;
    let up_at = Instant::now();
    upstream.mode.store(UP, Ordering::SeqCst);
    tokio::time::sleep(PHASE).await;
    stop.store(true, Ordering::SeqCst);
    let mut tally = Tally::default();
    for c in callers {
        let t = c.await.expect("a caller panicked");
        tally.calls += t.calls;
        tally.answered += t.answered;
        tally.fallbacks += t.fallbacks;
        tally.down += t.down;
        tally.timeouts += t.timeouts;
        tally.transport += t.transport;
    }
    let stats = breaker.stats();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let received: u64 = [UP, DOWN, SLOW].map(|m| upstream.received(m)).iter().sum();
    let context = format!("{tally:?}\n{stats:?}\nreceived {received}\n{seen:#?}");

    // Accounting: every call admitted or rejected, every admitted call one
    // outcome, every rejection answered by the fallback.
    assert_eq!(stats.admitted + stats.rejected, tally.calls, "{context}");
    assert_eq!((stats.in_flight, stats.cancelled), (0, 0), "{context}");
    assert_eq!(
        stats.admitted,
        stats.successes + stats.failures,
        "{context}"
    );
    assert_eq!(stats.successes, tally.answered, "{context}");
    assert_eq!(
        stats.failures,
        tally.down + tally.timeouts + tally.transport,
        "a timeout is a failure: {context}"
    );
    assert_eq!(stats.rejected, tally.fallbacks, "{context}");
    assert_eq!(
        FALLBACKS.load(Ordering::SeqCst),
        stats.rejected,
        "{context}"
    );
    // A rejected call never reaches the upstream; every answered call did. A
    // call that timed out (or lost its connection) may or may not have.
    assert!(received <= stats.admitted, "{context}");
    assert!(
        received >= stats.admitted - tally.timeouts - tally.transport,
        "{context}"
    );
    assert!(
        tally.timeouts > 0,
        "the slow upstream timed calls out: {context}"
    );

    // While down, the upstream sees the calls in flight when it went down
    // (one per caller), those admitted before the fifth failure in a row came
    // back (the failures come back within a round trip, far less than a
    // caller's pace: two more per caller is generous), and a trial or two
    // per reset period. A breaker that never opened would let
    // every call through: 32 callers every 5 ms, thousands in the phase.
    let periods = (PHASE.as_millis() / RESET.as_millis()) as u64 + 1;
    let down_bound = 3 * CALLERS + FAIL_MAX + TRIALS * periods;
    assert!(
        upstream.received(DOWN) <= down_bound,
        "{} requests reached the down upstream (at most {down_bound}): {context}",
        upstream.received(DOWN)
    );
    assert!(upstream.received(DOWN) >= FAIL_MAX, "{context}");

    // Transitions chain from Closed, and a trial is admitted only once its
    // Open period has run out, on the breaker's clock (exact: no backoff, so
    // every period is `reset`).
    let mut state = State::Closed;
    let mut opened_at = None;
    for s in &seen {
        assert_eq!(s.from, state, "{context}");
        state = s.to;
        match s.to {
            State::Open => opened_at = Some(s.at),
            State::HalfOpen => {
                let opened_at = opened_at.expect("HalfOpen only after Open");
                assert!(
                    s.at >= opened_at + RESET,
                    "a trial {:?} after opening, before reset {RESET:?}: {context}",
                    s.at - opened_at
                );
            }
            State::Closed => {}
            other => panic!("no operator here, yet {other:?}: {context}"),
        }
    }
    assert_eq!(stats.transitions, seen.len() as u64, "{context}");

    // The breaker opened in the down phase on the upstream's 500s, and in the
    // slow phase on timeouts.
    let opened_within = |from: Instant, to: Instant, failure: &str| {
        seen.iter().any(|s| {
            s.to == State::Open
                && (from..to).contains(&s.delivered)
                && s.last_failure
                    .as_deref()
                    .is_some_and(|f| f.contains(failure))
        })
    };
    assert!(
        opened_within(down_at, slow_at, "dependency down"),
        "no opening on 500s while down: {context}"
    );
    assert!(
        opened_within(slow_at, up_at, "timed out"),
        "no opening on timeouts while slow: {context}"
    );

    // Once the upstream is back, the breaker closes within its open period
    // (a slow call admitted just before may reopen it up to `TIMEOUT` later),
    // the two trials' round trips, and the slack.
    let deadline = up_at + TIMEOUT + RESET + SLACK;
    let closed = seen
        .iter()
        .find(|s| s.to == State::Closed && s.delivered >= up_at)
        .unwrap_or_else(|| panic!("never closed after the upstream came back: {context}"));
    assert!(
        closed.delivered <= deadline,
        "closed {:?} after the upstream came back (deadline {:?}): {context}",
        closed.delivered - up_at,
        deadline - up_at
    );

    assert!(started.elapsed() < Duration::from_secs(30), "{context}");
}
