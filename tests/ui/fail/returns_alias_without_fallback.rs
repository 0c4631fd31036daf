use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

type Answer = Option<u32>;

#[circuit_breaker(payments)]
fn call() -> Answer {
    Some(1)
}

fn main() {
    let _ = AppError;
    let _ = call();
}
