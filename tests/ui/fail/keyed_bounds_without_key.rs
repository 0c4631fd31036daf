use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(upstream, max_keys = 100, idle = 10m)]
fn call(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = call("a");
}
