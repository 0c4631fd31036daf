use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

const LIMIT: u32 = 5;

#[circuit_breaker(payments, fail_max = LIMIT)]
fn call() -> Result<u32, AppError> {
    Ok(LIMIT)
}

fn main() {
    let _ = AppError;
    let _ = call();
}
