//! Corpus: every receiver shape found in async runtimes and actor crates:
//! `self: Arc<Self>` (tokio tasks, actix actors), `self: Pin<&mut Self>`
//! (futures/streams, hyper bodies), `self: Box<Self>` (state machines),
//! `self: Rc<Self>` (single-threaded UI state).

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use breaker_core::circuit_breaker;

#[derive(Debug)]
pub struct E(pub breaker_core::Error);

impl From<breaker_core::Error> for E {
    fn from(e: breaker_core::Error) -> Self {
        E(e)
    }
}

pub struct Worker {
    pub sent: AtomicU64,
}

impl Worker {
    // A task body spawned with `tokio::spawn(worker.clone().run())`.
    #[circuit_breaker(corpus_arc_self_async, timeout = 30s)]
    pub async fn run(self: Arc<Self>, batch: Vec<u8>) -> Result<u64, E> {
        Ok(self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed))
    }

    fn dropped(self: Arc<Self>) -> u64 {
        0
    }

    // Sync `self: Arc<Self>` with a fallback taking `self: Arc<Self>` too.
    #[circuit_breaker(corpus_arc_self_fallback, fallback = Self::dropped)]
    pub fn flush(self: Arc<Self>) -> u64 {
        self.sent.swap(0, Ordering::Relaxed)
    }
}

// A hand-written stream/body: `self: Pin<&mut Self>` (hyper `Body::poll_frame`-like, simplified to sync).
pub struct Chunks {
    pub left: u32,
}

impl Chunks {
    #[circuit_breaker(corpus_pin_mut_self)]
    pub fn next_chunk(mut self: Pin<&mut Self>) -> Result<Option<u32>, E> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        Ok(Some(self.left))
    }

    async fn no_chunk(self: Pin<&mut Self>) -> Option<u32> {
        let _ = self;
        None
    }

    // Async, pinned receiver, with an async fallback.
    #[circuit_breaker(corpus_pin_mut_self_async, fallback = Self::no_chunk)]
    pub async fn read_chunk(self: Pin<&mut Self>) -> Option<u32> {
        Some(self.left)
    }
}

// A boxed state machine consuming itself (`Box<dyn State>` transitions).
pub trait Stage {
    fn advance(self: Box<Self>, input: u8) -> Result<Box<dyn Stage>, E>;
}

pub struct Start;
pub struct Done(pub u8);

impl Stage for Done {
    fn advance(self: Box<Self>, _input: u8) -> Result<Box<dyn Stage>, E> {
        Ok(self)
    }
}

impl Stage for Start {
    #[circuit_breaker(corpus_box_self)]
    fn advance(self: Box<Self>, input: u8) -> Result<Box<dyn Stage>, E> {
        Ok(Box::new(Done(input)))
    }
}

// A single-threaded model (`Rc<Self>`), not `Send`.
pub struct Model {
    pub title: String,
}

impl Model {
    #[circuit_breaker(corpus_rc_self)]
    pub fn title_len(self: Rc<Self>) -> Result<usize, E> {
        Ok(self.title.len())
    }

    // `&mut self` returning a borrow of self (`HashMap::entry`-like).
    #[circuit_breaker(corpus_mut_self_borrow)]
    pub fn title_mut(&mut self) -> Result<&mut String, E> {
        Ok(&mut self.title)
    }
}

fn main() {
    let worker = Arc::new(Worker {
        sent: AtomicU64::new(0),
    });
    drop(worker.clone().run(vec![1]));
    let _ = worker.flush();
    let mut chunks = Chunks { left: 2 };
    let _ = Pin::new(&mut chunks).next_chunk();
    drop(Pin::new(&mut chunks).read_chunk());
    let _ = Box::new(Start).advance(1);
    let model = Rc::new(Model { title: "t".into() });
    let _ = model.title_len();
    let _ = Model { title: "t".into() }.title_mut().map(|t| t.push('x'));
}
