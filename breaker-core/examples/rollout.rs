//! Rolling a breaker out safely, then running it: a dry run (`metrics_only`)
//! that reports what the breaker would do, `ok_is_failure`-style
//! classification of answers that are failures, `max_half_open_wait` for a
//! trial that hangs, and `trip_for` for planned maintenance. Virtual time, so
//! it runs at once:
//!
//!     cargo run -p breaker-core --example rollout

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, Error, State};

/// What the dependency answers: a status, as an HTTP client would return it.
struct Response {
    status: u16,
}

fn unavailable(result: &Result<Response, Error>) -> bool {
    match result {
        Ok(response) => response.status >= 500,
        Err(_) => true,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    let config = Config::builder()
        .fail_max(3)
        .reset(Duration::from_secs(10))
        .success(1)
        .max_half_open_wait(Duration::from_secs(5))
        .build()?;
    let api = Breaker::with_clock("api", config, clock.clone());
    api.on_transition(|t| {
        let kind = if t.dry_run { "would move" } else { "moved" };
        println!(
            "  [{:>5?}] {} {kind} {} -> {} ({})",
            t.at, t.name, t.from, t.to, t.reason
        );
    });

    println!("1. A dry run: every call runs; the breaker says what it would do.");
    api.metrics_only();
    for _ in 0..5 {
        let answer = api.call_when(unavailable, || Ok::<_, Error>(Response { status: 503 }))?;
        assert_eq!(answer.status, 503, "the caller still gets the answer");
    }
    let stats = api.stats();
    println!(
        "  state {}, would be {:?}, would have rejected {} calls, rejected {}",
        stats.state,
        stats.dry_run.map(State::as_str),
        stats.would_reject,
        stats.rejected
    );

    println!("2. Live: three 503s open it.");
    api.reset();
    for _ in 0..3 {
        let _ = api.call_when(unavailable, || Ok::<_, Error>(Response { status: 503 }));
    }
    let rejected = api.call(|| Ok::<u16, Error>(200)).unwrap_err();
    println!("  {rejected}");

    println!("3. A trial that hangs does not keep it half-open for ever.");
    clock.advance(Duration::from_secs(10));
    let hung = api.acquire()?;
    clock.advance(Duration::from_secs(5));
    let rejected = api.call(|| Ok::<u16, Error>(200)).unwrap_err();
    println!("  {rejected}");
    drop(hung);

    println!("4. Planned maintenance: open for exactly five minutes.");
    api.trip_for(Duration::from_secs(300));
    println!("  {}", api.call(|| Ok::<u16, Error>(200)).unwrap_err());
    clock.advance(Duration::from_secs(300));
    api.call(|| Ok::<u16, Error>(200))?;
    println!("  state after the window: {}", api.state());
    Ok(())
}
