use breaker_core::circuit_breaker;

#[derive(Debug)]
struct AppError(breaker_core::Error);

impl From<breaker_core::Error> for AppError {
    fn from(e: breaker_core::Error) -> Self {
        AppError(e)
    }
}

trait Store {
    #[circuit_breaker(payments)]
    fn get(&self) -> Result<u32, AppError>;
}

fn main() {
    let _ = AppError;
    let _ = <() as Store>::get;
}

impl Store for () {
    fn get(&self) -> Result<u32, AppError> {
        Ok(1)
    }
}
