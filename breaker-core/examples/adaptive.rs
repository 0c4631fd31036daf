//! Adaptive throttling (`adaptive = K`): instead of opening, the breaker
//! drops calls with probability `max(0, (R - K*A) / (R + 1))` over its
//! window, so it sheds load in proportion to the failures it sees and
//! recovers smoothly as successes return. Virtual time and a fixed seed, so
//! every run prints the same:
//!
//!     cargo run -p breaker-core --example adaptive

use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    let config = Config::builder()
        .adaptive(1.5)
        .window_time(Duration::from_secs(10))
        .build()?;
    let api = Breaker::with_clock("api", config, clock.clone());
    api.reseed(2026);

    println!("second  dependency  admitted  dropped  drop probability");
    for second in 0..40u64 {
        // Down from 10 s to 20 s, healthy otherwise.
        let down = (10..20).contains(&second);
        let (mut admitted, mut dropped) = (0, 0);
        for _ in 0..100 {
            clock.advance(Duration::from_millis(10));
            match api.call(|| {
                if down {
                    Err(Error::timeout("api".into(), Duration::ZERO))
                } else {
                    Ok(())
                }
            }) {
                Err(e) if e.is_rejected() => dropped += 1,
                _ => admitted += 1,
            }
        }
        if second % 2 == 1 {
            let p = api.stats().drop_probability.unwrap_or(0.0);
            let state = if down { "down" } else { "up" };
            println!("{second:>6}  {state:>10}  {admitted:>8}  {dropped:>7}  {p:>16.2}");
        }
    }
    Ok(())
}
