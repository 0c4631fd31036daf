use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[circuit_breaker(upstream, key = format!("{}-{}", region, host))]
fn call(region: &str, host: &str) -> Result<u32, AppError> {
    let _ = (region, host);
    Ok(1)
}

#[circuit_breaker(pairs, key = pair.0)]
fn pair(pair: (u32, u32)) -> Result<u32, AppError> {
    Ok(pair.1)
}

fn main() {
    let _ = AppError;
    let _ = call("eu", "a");
    let _ = pair((1, 2));
}
