use breaker_core::circuit_breaker;

async fn cached(x: u32) -> u32 {
    x
}

#[circuit_breaker(payments, timeout = 1s, fallback = cached)]
async fn call(x: u32) -> &'static str {
    let _ = x;
    "live"
}

fn main() {
    drop(call(1));
}
