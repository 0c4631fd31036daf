use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(a, key = host:)]
fn missing_expression(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[circuit_breaker(b, key = "a=b": host)]
fn bad_label(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[circuit_breaker(c, key = host +)]
fn not_an_expression(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[circuit_breaker(d, key = host, max_keys = 0, idle = 0s)]
fn zero_bounds(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[circuit_breaker(e, key = host, max_keys = 2000000)]
fn too_many_keys(host: &str) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

fn main() {
    let _ = AppError;
}
