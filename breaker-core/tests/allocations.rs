//! A guarded call allocates nothing, in Closed and in Open. Only the test
//! thread's own allocations are counted: the harness's threads allocate at
//! times of their own (that made this test flaky when every thread counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use breaker_core::clock::ManualClock;
use breaker_core::{Breaker, Config, Error, State};

struct Counting;

thread_local! {
    // `const` and without a destructor: safe to touch from inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    ALLOCATIONS.set(ALLOCATIONS.get() + 1);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.get();
    f();
    ALLOCATIONS.get() - before
}

#[test]
fn guarded_calls_allocate_nothing_in_closed_and_open() {
    let clock = ManualClock::new();
    let consecutive = Breaker::with_clock("alloc", Config::default(), clock.clone());
    let rate = Breaker::with_clock(
        "alloc-rate",
        Config::builder()
            .failure_rate(99.0)
            .window_calls(100)
            .slow(Duration::from_millis(1))
            .build()
            .unwrap(),
        clock.clone(),
    );
    let ok = |b: &Breaker| b.call(|| Ok::<u64, Error>(1)).unwrap();
    // Warm up: this thread's counter slot.
    for _ in 0..200 {
        ok(&consecutive);
        ok(&rate);
    }

    let closed = allocations_during(|| {
        for i in 0..10_000 {
            ok(&consecutive);
            ok(&rate);
            if i % 3 == 0 {
                consecutive.acquire().unwrap().failure();
                rate.acquire().unwrap().failure();
            }
        }
    });
    assert_eq!(closed, 0, "allocations in Closed");

    consecutive.trip();
    assert_eq!(consecutive.state(), State::Open);
    let _ = consecutive.acquire().map(|p| p.success());
    let open = allocations_during(|| {
        for _ in 0..10_000 {
            let rejected = consecutive.call(|| Ok::<u64, Error>(1)).unwrap_err();
            assert!(rejected.is_rejected());
        }
    });
    assert_eq!(open, 0, "allocations in Open");
}

#[test]
fn a_known_keys_call_allocates_nothing() {
    let hosts: breaker_core::keyed::KeyedBreaker<String> =
        breaker_core::keyed::KeyedBreaker::builder("alloc-keyed")
            .clock(ManualClock::new())
            .build()
            .unwrap();
    let keys: Vec<String> = (0..100).map(|i| format!("host-{i}.example")).collect();
    for key in &keys {
        hosts.call(key.as_str(), || Ok::<u64, Error>(1)).unwrap();
    }
    let known = allocations_during(|| {
        for _ in 0..100 {
            for key in &keys {
                hosts.call(key.as_str(), || Ok::<u64, Error>(1)).unwrap();
            }
        }
    });
    assert_eq!(known, 0, "allocations for known keys");
}
