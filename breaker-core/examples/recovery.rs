//! A breaker opening and recovering, on a manual clock: no sleeping.
//!
//! Run it with `cargo run -p breaker-core --example recovery`.

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Config, Error, registry};

#[derive(Debug)]
enum QuoteError {
    Upstream(&'static str),
    Breaker(Error),
}

impl From<Error> for QuoteError {
    fn from(e: Error) -> Self {
        QuoteError::Breaker(e)
    }
}

impl std::fmt::Display for QuoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QuoteError::Upstream(m) => write!(f, "upstream: {m}"),
            QuoteError::Breaker(e) => write!(f, "{e}"),
        }
    }
}

fn main() {
    let clock = ManualClock::new();
    registry().use_clock(clock.clone());
    registry().on_transition(|t| {
        println!(
            "  [{:>6}] {} -> {} ({})",
            breaker_core::format_duration(t.at),
            t.from,
            t.to,
            t.reason
        )
    });
    let quotes = registry().get_or_create("quotes", || {
        Config::builder()
            .fail_max(3)
            .reset(Duration::from_secs(30))
            .success(2)
            .build()
            .expect("a valid config")
    });

    // The upstream is down for the first 40 seconds.
    let upstream = |now: Duration| {
        if now < Duration::from_secs(40) {
            Err(QuoteError::Upstream("connection refused"))
        } else {
            Ok(42)
        }
    };

    for step in 0..12 {
        let now = clock.now();
        let result = quotes.call(|| upstream(now));
        let shown = match &result {
            Ok(v) => format!("ok {v}"),
            Err(e) => e.to_string(),
        };
        println!(
            "t={:>4} {:<9} {shown}",
            breaker_core::format_duration(now),
            quotes.state().as_str()
        );
        clock.advance(Duration::from_secs(if step < 4 { 1 } else { 10 }));
    }
    let s = quotes.stats();
    println!(
        "admitted {} rejected {} successes {} failures {} transitions {}",
        s.admitted, s.rejected, s.successes, s.failures, s.transitions
    );
}
