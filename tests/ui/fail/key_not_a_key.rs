use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct Host(String);

#[circuit_breaker(upstream, key = host)]
fn call(host: Host) -> Result<u32, AppError> {
    let _ = host;
    Ok(1)
}

#[circuit_breaker(scores, key = score)]
fn by_score(score: f64) -> Result<u32, AppError> {
    let _ = score;
    Ok(1)
}

fn main() {
    let _ = AppError;
    let _ = call(Host("a".into()));
    let _ = by_score(1.0);
}
