use std::sync::Arc;

use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

struct Client;

impl Client {
    #[circuit_breaker(payments, retry = 3)]
    fn finish(self) -> Result<u32, AppError> {
        Ok(1)
    }

    #[circuit_breaker(payments, retry = 3)]
    fn shared(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(2)
    }
}

fn main() {
    let _ = AppError;
    let _ = Client.finish();
    let _ = Arc::new(Client).shared();
}
