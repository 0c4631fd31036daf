use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

fn cached() -> Result<u32, AppError> {
    Ok(0)
}

#[circuit_breaker(payments, fallback = cached, fallback_on = everything)]
fn call() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, fallback = cached, fallback_on = "failure")]
fn quoted() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, fallback = cached, fallback_on = failure | rejection)]
fn both() -> Result<u32, AppError> {
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = call();
    let _ = quoted();
    let _ = both();
}
