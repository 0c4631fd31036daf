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
    fn stale(self) -> Result<u32, AppError> {
        Ok(0)
    }

    fn stale_shared(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(0)
    }

    #[circuit_breaker(payments, fallback = Self::stale, fallback_on = failure)]
    fn finish(self) -> Result<u32, AppError> {
        Ok(1)
    }

    #[circuit_breaker(payments, fallback = Self::stale_shared, fallback_on = failure)]
    fn shared(self: Arc<Self>) -> Result<u32, AppError> {
        Ok(2)
    }
}

fn stale_greeting() -> &'static str {
    "hello (stale)"
}

#[circuit_breaker(greeter, fallback = stale_greeting, fallback_on = failure)]
fn greeting() -> &'static str {
    "hello"
}

fn main() {
    let _ = AppError;
    let _ = Client.finish();
    let _ = Arc::new(Client).shared();
    let _ = greeting();
    let _ = ping();
}

async fn stale_ping() {}

#[circuit_breaker(pinger, fallback = stale_ping, fallback_on = failure)]
async fn ping() {}
