//! A plain loop over one case, for instruction counts under callgrind:
//! `instructions <case> <calls>`; without arguments it lists the cases.
//! `scripts/user-instructions` runs each at two lengths and reports the
//! difference per call, so the setup cancels out. With
//! `USER_BENCH_BATCHES` set it also times itself (see `batches`).

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(name), Some(calls)) = (args.next(), args.next()) else {
        println!("cases: {}", breaker_user_bench::CASES.join(", "));
        return;
    };
    let Some(case) = breaker_user_bench::case(&name) else {
        eprintln!(
            "unknown case `{name}`; cases: {}",
            breaker_user_bench::CASES.join(", ")
        );
        std::process::exit(2);
    };
    let calls: u64 = calls.parse().unwrap_or_else(|_| {
        eprintln!("`{calls}` is not a number of calls");
        std::process::exit(2);
    });
    // The first call sets the case up (statics, registry); the rest is the loop.
    breaker_user_bench::setup();
    case(0);
    // The real clock's recent time is kept by a thread that the first cheap
    // reading starts, as in a service; under valgrind it runs only when this
    // one waits, so wait once, and the loop counts what a service's calls
    // execute rather than the kernel's clock read of the calls before it ran.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut admitted = 0u64;
    match batches() {
        None => {
            for i in 0..calls {
                admitted += u64::from(case(black_box(i)));
            }
        }
        // Timed in batches, the fastest reported: a noisy neighbour on a VM
        // slows some batches, and none makes one faster than the code is.
        Some(batches) => {
            let per_batch = (calls / batches).max(1);
            let mut fastest = f64::INFINITY;
            for b in 0..batches {
                let start = std::time::Instant::now();
                for i in b * per_batch..(b + 1) * per_batch {
                    admitted += u64::from(case(black_box(i)));
                }
                fastest = fastest.min(start.elapsed().as_nanos() as f64 / per_batch as f64);
            }
            println!("{fastest:.3}");
        }
    }
    black_box(admitted);
}

/// `USER_BENCH_BATCHES=<n>`: time the loop in `n` batches and print the
/// fastest batch's nanoseconds per call (`scripts/user-loop --batches`).
fn batches() -> Option<u64> {
    std::env::var("USER_BENCH_BATCHES")
        .ok()?
        .parse()
        .ok()
        .filter(|&n| n > 0)
}
