use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

struct Connection;

fn queued(connection: Connection, body: String) -> Result<usize, AppError> {
    let _ = connection;
    Ok(body.len())
}

#[circuit_breaker(payments, fallback = queued, fallback_on = failure)]
fn send(connection: Connection, body: String) -> Result<usize, AppError> {
    let _ = connection;
    Ok(body.len())
}

fn main() {
    let _ = AppError;
    let _ = send(Connection, String::new());
}
