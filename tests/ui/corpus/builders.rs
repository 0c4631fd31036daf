//! Corpus: builders and constructors, as in HTTP clients (reqwest, hyper),
//! connection pools (deadpool, bb8) and SDK clients (aws-sdk-*).

use std::time::Duration;

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub enum BuildError {
    MissingUrl,
    Breaker(breaker_core::Error),
}

impl From<breaker_core::Error> for BuildError {
    fn from(e: breaker_core::Error) -> Self {
        BuildError::Breaker(e)
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for BuildError {}

#[derive(Debug, Default, Clone)]
pub struct ClientBuilder {
    url: Option<String>,
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Client {
    pub url: String,
    pub timeout: Duration,
}

impl ClientBuilder {
    // reqwest-style `ClientBuilder::build(self) -> Result<Client, Error>`.
    #[circuit_breaker(corpus_builder_build)]
    pub fn build(self) -> Result<Client, BuildError> {
        let url = self.url.ok_or(BuildError::MissingUrl)?;
        Ok(Client {
            url,
            timeout: self.timeout.unwrap_or(Duration::from_secs(30)),
        })
    }

    fn keep_timeout(self, _timeout: Duration) -> Self {
        self
    }

    // By-value chaining setter (`reqwest::ClientBuilder::timeout`), with a fallback.
    #[circuit_breaker(corpus_builder_setter, fallback = Self::keep_timeout)]
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn skip_header(&mut self, _name: &str, _value: &str) -> &mut Self {
        self
    }

    // `&mut self -> &mut Self` chaining (`std::process::Command::arg` style).
    #[circuit_breaker(corpus_builder_mut_chain, fallback = Self::skip_header)]
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl Client {
    // `Client::new(url) -> Result<Self, E>` constructor (sqlx `PgPool::connect`-like, sync).
    #[circuit_breaker(corpus_client_new)]
    pub fn new(url: impl Into<String>) -> Result<Self, BuildError> {
        let url = url.into();
        if url.is_empty() {
            return Err(BuildError::MissingUrl);
        }
        Ok(Self {
            url,
            timeout: Duration::from_secs(5),
        })
    }

    // Async constructor that performs a handshake (`tokio_postgres::connect`-like).
    #[circuit_breaker(corpus_client_connect, timeout = 10s)]
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, BuildError> {
        std::future::ready(()).await;
        Ok(Self {
            url: url.to_owned(),
            timeout,
        })
    }

    // `from_env() -> Result<Self, E>` with a generic source (`config`/`envy`-like).
    #[circuit_breaker(corpus_client_from_env)]
    pub fn from_env<I, K>(vars: I) -> Result<Self, BuildError>
    where
        I: IntoIterator<Item = (K, String)>,
        K: AsRef<str>,
    {
        for (key, value) in vars {
            if key.as_ref() == "URL" {
                return Self::new(value);
            }
        }
        Err(BuildError::MissingUrl)
    }
}

// A pool builder generic over its manager (`bb8::Builder<M>::build`).
pub trait ManageConnection: Send + Sync + 'static {
    type Connection: Send;
    fn connect(&self) -> Result<Self::Connection, BuildError>;
}

pub struct Pool<M: ManageConnection> {
    pub manager: M,
    pub size: u32,
}

pub struct PoolBuilder<M> {
    size: u32,
    _manager: std::marker::PhantomData<M>,
}

impl<M: ManageConnection> PoolBuilder<M> {
    #[circuit_breaker(corpus_pool_build)]
    pub async fn build(self, manager: M) -> Result<Pool<M>, BuildError> {
        let _first = manager.connect()?;
        Ok(Pool {
            manager,
            size: self.size,
        })
    }
}

fn main() {
    let mut builder = ClientBuilder::default();
    builder.header("a", "b").header("c", "d");
    let _ = builder.clone().timeout(Duration::from_secs(1)).build();
    let _ = Client::new("http://x");
    drop(Client::connect("x", Duration::from_secs(1)));
    let _ = Client::from_env([("URL", "http://y".to_owned())]);
    let _ = PoolBuilder::<()>::size_hint();
}

impl ManageConnection for () {
    type Connection = ();
    fn connect(&self) -> Result<(), BuildError> {
        Ok(())
    }
}

impl PoolBuilder<()> {
    fn size_hint() -> u32 {
        let builder = PoolBuilder::<()> {
            size: 4,
            _manager: std::marker::PhantomData,
        };
        drop(builder.build(()));
        4
    }
}
