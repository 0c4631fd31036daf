use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(payments, fail_max = 5, fallback_on = failure)]
fn call() -> Result<u32, AppError> {
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = call();
}
