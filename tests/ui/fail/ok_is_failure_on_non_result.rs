use breaker_core::circuit_breaker;

fn is_bad(_: &u32) -> bool {
    false
}

fn cached() -> u32 {
    0
}

#[circuit_breaker(payments, fallback = cached, ok_is_failure = is_bad)]
fn plain() -> u32 {
    1
}

fn main() {}
