//! Corpus: the error types of application code and CLIs: boxed trait
//! objects, `anyhow`, `io::Result` and generic errors.

use std::error::Error as StdError;
use std::io;

use breaker_core::circuit_breaker;

type BoxError = Box<dyn StdError + Send + Sync>;

// tower/hyper's `BoxError`: `Result<T, Box<dyn Error + Send + Sync>>`, with `?`
// converting a concrete error.
#[circuit_breaker(corpus_box_dyn_error)]
pub fn parse_port(s: &str) -> Result<u16, Box<dyn StdError + Send + Sync>> {
    let port: u16 = s.parse()?;
    Ok(port)
}

// The same through an alias, async, with `timeout` (Error::Timeout boxes too).
#[circuit_breaker(corpus_box_error_alias, timeout = 1s)]
pub async fn fetch_len(url: &str) -> Result<usize, BoxError> {
    if url.is_empty() {
        return Err("empty url".into());
    }
    Ok(url.len())
}

// `Box<dyn Error>` without `Send + Sync` (examples and small CLIs).
#[circuit_breaker(corpus_box_dyn_error_local)]
pub fn read_config(text: &str) -> Result<Vec<(String, String)>, Box<dyn StdError>> {
    text.lines()
        .map(|line| {
            let (k, v) = line.split_once('=').ok_or("missing `=`")?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

// `anyhow::Result<T>` with `?` on an io error and `.context(..)`.
#[circuit_breaker(corpus_anyhow_sync)]
pub fn load(path: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    anyhow::ensure!(!text.is_empty(), "{path} is empty");
    Ok(text)
}

// `anyhow::Result<T>` in a generic async function (reqwest `.json::<T>()` style).
#[circuit_breaker(corpus_anyhow_async_generic, timeout = 3s)]
pub async fn get_json<T: std::str::FromStr>(body: &str) -> anyhow::Result<T>
where
    T::Err: StdError + Send + Sync + 'static,
{
    std::future::ready(()).await;
    Ok(body.parse::<T>()?)
}

// `std::result::Result<T, anyhow::Error>` spelled out, with `bail!`.
#[circuit_breaker(corpus_anyhow_spelled_out)]
pub fn check(n: i64) -> Result<i64, anyhow::Error> {
    if n < 0 {
        anyhow::bail!("negative: {n}");
    }
    Ok(n)
}

fn read_cached(_path: &str, _buf: &mut Vec<u8>) -> io::Result<usize> {
    Err(io::Error::other("breaker open"))
}

// `io::Result<T>` (io::Error has no `From<breaker_core::Error>`) with a fallback.
#[circuit_breaker(corpus_io_result, fallback = read_cached)]
pub fn read_into(path: &str, buf: &mut Vec<u8>) -> io::Result<usize> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    file.read_to_end(buf)
}

async fn write_nothing<W: io::Write + Send>(_w: &mut W, _data: &[u8]) -> io::Result<()> {
    Ok(())
}

// Async `io::Result<()>` generic over a writer, with an async fallback.
#[circuit_breaker(corpus_io_result_async, fallback = write_nothing)]
pub async fn write_all<W: io::Write + Send>(w: &mut W, data: &[u8]) -> io::Result<()> {
    w.write_all(data)
}

// An error type chosen by the caller (`E: From<..>` bound on the function).
#[circuit_breaker(corpus_generic_error)]
pub fn lookup<E>(key: &str) -> Result<u32, E>
where
    E: From<breaker_core::Error> + From<std::num::ParseIntError>,
{
    Ok(key.parse::<u32>()?)
}

// A thiserror-style enum wrapping the breaker's error and a source error.
#[derive(Debug)]
pub enum DbError {
    Breaker(breaker_core::Error),
    Io(io::Error),
}

impl From<breaker_core::Error> for DbError {
    fn from(e: breaker_core::Error) -> Self {
        DbError::Breaker(e)
    }
}

impl From<io::Error> for DbError {
    fn from(e: io::Error) -> Self {
        DbError::Io(e)
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Breaker(e) => write!(f, "breaker: {e}"),
            DbError::Io(e) => write!(f, "io: {e}"),
        }
    }
}

impl StdError for DbError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            DbError::Breaker(e) => Some(e),
            DbError::Io(e) => Some(e),
        }
    }
}

fn is_transient(e: &DbError) -> bool {
    matches!(e, DbError::Io(_))
}

#[circuit_breaker(corpus_thiserror_enum, failure = is_transient)]
pub fn query(sql: &str) -> Result<Vec<String>, DbError> {
    if sql.is_empty() {
        return Err(io::Error::other("empty").into());
    }
    Ok(vec![sql.to_owned()])
}

fn main() {
    let _ = parse_port("80");
    drop(fetch_len("x"));
    let _ = read_config("a=b");
    let _ = load("/nonexistent");
    drop(get_json::<u32>("1"));
    let _ = check(1);
    let _ = read_into("/nonexistent", &mut Vec::new());
    let mut sink = Vec::new();
    drop(write_all(&mut sink, b"x"));
    let _ = lookup::<anyhow::Error>("1");
    let _ = query("select 1");
}
