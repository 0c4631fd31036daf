use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(payments, retry = 3, retry_backoff = 5s..100ms)]
fn reversed() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, retry = 3, retry_backoff = 100ms)]
fn not_a_range() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, retry = 3, retry_backoff = 100ms..=5s)]
fn inclusive() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, retry = 3, retry_backoff = 100..5s)]
fn base_without_unit() -> Result<u32, AppError> {
    Ok(1)
}

#[circuit_breaker(payments, retry = 3, retry_backoff = "100ms..0s")]
fn zero_max() -> Result<u32, AppError> {
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = (reversed(), not_a_range(), inclusive(), base_without_unit(), zero_max());
}
