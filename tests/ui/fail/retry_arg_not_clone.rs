use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

struct Connection;

#[circuit_breaker(payments, retry = 3)]
fn send(connection: Connection, body: String) -> Result<usize, AppError> {
    let _ = connection;
    Ok(body.len())
}

fn main() {
    let _ = AppError;
    let _ = send(Connection, String::new());
}
