use breaker_core::circuit_breaker;

fn cached(x: u32) -> u32 {
    x
}

#[circuit_breaker(payments, fallback = cached)]
async fn call(x: u32) -> u32 {
    x
}

fn main() {
    drop(call(1));
}
