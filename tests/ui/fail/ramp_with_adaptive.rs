use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(api, adaptive = 1.5, ramp = 30s)]
fn call() -> Result<u32, AppError> {
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = call();
}
