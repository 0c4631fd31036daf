use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

fn is_bad(_: &u32) -> bool {
    true
}

fn cached() -> u32 {
    0
}

#[circuit_breaker(payments, fallback = cached, failure = is_bad)]
fn call() -> u32 {
    1
}

fn main() {
    let _ = AppError;
    let _ = call();
}
