//! A trace read a piece ahead of its replay, on a thread of its own: reading
//! and parsing a piece take about as long as replaying it, so on two cores
//! the two overlap. At most `AHEAD` pieces wait, so memory stays bounded.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use super::reader::{ChunkSource, Stopped, TraceReader};
use super::{Chunk, Declaration};

/// Pieces parsed and waiting for the replay, at most.
const AHEAD: usize = 2;

/// What the reading thread hands over.
enum Piece {
    /// A chunk, the breakers declared by its end (when they grew), and the
    /// reader's progress then.
    Lines {
        chunk: Chunk,
        declared: Option<Vec<Declaration>>,
        progress: (u64, Option<u64>),
    },
    /// The end of the trace, or why it stopped.
    End(Option<Stopped>),
}

/// A [`TraceReader`] run on a thread of its own, a few pieces ahead.
/// Dropped before the end, it lets the thread go: the thread ends at its
/// next piece, or with the process (it may be waiting on standard input).
pub struct Prefetch {
    pieces: Receiver<Piece>,
    breakers: Vec<Declaration>,
    progress: (u64, Option<u64>),
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts reading with `reader` on a thread of its own.
    pub fn start(mut reader: TraceReader) -> Prefetch {
        let (send, pieces) = sync_channel(AHEAD);
        let progress = reader.progress();
        let thread = std::thread::Builder::new()
            .name("trace-reader".into())
            .spawn(move || {
                let mut known = 0;
                loop {
                    let piece = match reader.next_chunk() {
                        Ok(Some(chunk)) => {
                            let breakers = reader.breakers();
                            let declared = (breakers.len() != known).then(|| breakers.to_vec());
                            known = breakers.len();
                            Piece::Lines {
                                chunk,
                                declared,
                                progress: reader.progress(),
                            }
                        }
                        Ok(None) => Piece::End(None),
                        Err(stop) => Piece::End(Some(stop)),
                    };
                    let end = matches!(piece, Piece::End(_));
                    // The replay stopped taking pieces: nothing more to do.
                    if send.send(piece).is_err() || end {
                        return;
                    }
                }
            })
            .expect("a thread to read the trace");
        Prefetch {
            pieces,
            breakers: Vec::new(),
            progress,
            done: false,
            thread: Some(thread),
        }
    }
}

impl ChunkSource for Prefetch {
    fn next_chunk(&mut self) -> Result<Option<Chunk>, Stopped> {
        if self.done {
            return Ok(None);
        }
        match self.pieces.recv() {
            Ok(Piece::Lines {
                chunk,
                declared,
                progress,
            }) => {
                if let Some(declared) = declared {
                    self.breakers = declared;
                }
                self.progress = progress;
                Ok(Some(chunk))
            }
            Ok(Piece::End(stop)) => {
                self.done = true;
                stop.map_or(Ok(None), Err)
            }
            // The reading thread ended without a word: it panicked.
            Err(_) => {
                self.done = true;
                if let Some(thread) = self.thread.take() {
                    if let Err(panic) = thread.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                Ok(None)
            }
        }
    }

    fn breakers(&self) -> &[Declaration] {
        &self.breakers
    }

    fn progress(&self) -> (u64, Option<u64>) {
        self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `text`, removed when dropped.
    struct Written(String);

    impl Drop for Written {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file(name: &str, text: &str) -> Written {
        let path = std::env::temp_dir().join(format!("prefetch-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Written(path.display().to_string())
    }

    /// Every chunk, the breakers after each, and the stop, as `source` hands them out.
    fn drain(mut source: impl ChunkSource) -> (Vec<(Chunk, usize)>, Option<String>) {
        let mut chunks = Vec::new();
        loop {
            match source.next_chunk() {
                Ok(Some(chunk)) => chunks.push((chunk, source.breakers().len())),
                Ok(None) => return (chunks, None),
                Err(stop) => return (chunks, Some(stop.to_string())),
            }
        }
    }

    #[test]
    fn it_hands_out_what_the_reader_does_in_small_pieces_and_at_a_stop() {
        let mut text = String::from("breaker a\n");
        for i in 0..200 {
            text += &format!("{i}ms a ok\n");
            if i == 100 {
                text += "breaker b fail_max=2\n";
            }
        }
        let good = file("good.trace", &text);
        text += "1s b eror\n";
        let bad = file("bad.trace", &text);
        for path in [&good, &bad] {
            let inputs = std::slice::from_ref(&path.0);
            let direct = drain(TraceReader::with_piece(inputs, 64));
            let ahead = drain(Prefetch::start(TraceReader::with_piece(inputs, 64)));
            assert!(direct.0.len() > 10, "many pieces");
            assert_eq!(direct, ahead);
        }
    }

    #[test]
    fn dropped_early_it_lets_its_thread_go() {
        let text: String = (0..10_000).map(|i| format!("{i}ms a ok\n")).collect();
        let path = file("long.trace", &format!("breaker a\n{text}"));
        let mut ahead = Prefetch::start(TraceReader::with_piece(std::slice::from_ref(&path.0), 64));
        assert!(ahead.next_chunk().unwrap().is_some());
        drop(ahead);
    }
}
