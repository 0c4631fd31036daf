//! Where a trace's text comes from: a file, or standard input (`-`), read
//! as it is or decompressed on the fly (gzip, zstd), so a recorded trace is
//! never held whole, on disk uncompressed or in memory.
//!
//! Compression is recognised by the stream's first bytes (gzip's and
//! zstd's magic numbers), whatever the name, so a compressed trace piped
//! to `-` is read the same as `day.trace.gz`: a trace is UTF-8 text, which
//! never starts with either.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The name that stands for standard input.
pub const STDIN: &str = "-";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Standard input copied to a file of its own, as it was (compressed or
/// not), so that a command that reads the trace twice (`plot`) can read it
/// as it reads files, a piece at a time, rather than hold it in memory. The
/// file is removed when the spool is dropped.
#[derive(Debug)]
pub struct Spool {
    path: String,
}

impl Spool {
    /// Copies standard input, to its end, into a new file in the system's
    /// temporary directory.
    pub fn stdin() -> std::io::Result<Spool> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "breaker-sim-stdin-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        // Refused before standard input is read, so that the caller can
        // still read it another way.
        let path = path.into_os_string().into_string().map_err(|path| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{path:?} is not UTF-8"),
            )
        })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let spool = Spool { path };
        std::io::copy(&mut std::io::stdin().lock(), &mut file)?;
        Ok(spool)
    }

    /// The copy's path, as [`open`] takes it.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Opens the trace `name` (`-`: standard input), decompressing it if its
/// first bytes say it is gzip or zstd. Every byte read from the file itself
/// (compressed or not) is added to `read`, for a progress bar.
pub fn open(name: &str, read: Arc<AtomicU64>) -> std::io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if name == STDIN {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(name)?)
    };
    let mut source = BufReader::with_capacity(1 << 16, Counted { inner: raw, read });
    let head = source.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        // Multi-member, as `cat a.gz b.gz` and some recorders write.
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(source)))
    } else if head.starts_with(&ZSTD_MAGIC) {
        Ok(Box::new(Zstd::new(source)?))
    } else {
        Ok(Box::new(source))
    }
}

/// The size of file `name` in bytes, if it is a file whose size is known
/// (not standard input).
pub fn size(name: &str) -> Option<u64> {
    if name == STDIN {
        return None;
    }
    std::fs::metadata(name)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// A reader that adds what it reads to a shared count.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A count for display only: no ordering with anything else.
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A zstd stream of one frame or more, one after the other (as
/// `cat a.zst b.zst` writes them), decoded as one text.
struct Zstd<R: BufRead> {
    frame: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> Zstd<R> {
    fn new(source: R) -> std::io::Result<Zstd<R>> {
        let frame = ruzstd::decoding::StreamingDecoder::new(source).map_err(invalid)?;
        Ok(Zstd { frame: Some(frame) })
    }
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let n = frame.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The frame is over: another may follow.
            let Some(frame) = self.frame.take() else {
                return Ok(0);
            };
            let (mut source, decoder) = frame.into_parts();
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            // Reads the next frame's header into the same decoder.
            self.frame = Some(
                ruzstd::decoding::StreamingDecoder::new_with_decoder(source, decoder)
                    .map_err(invalid)?,
            );
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("bad zstd data: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: Vec<u8>) -> String {
        let path = std::env::temp_dir().join(format!(
            "breaker-sim-input-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::write(&path, bytes).unwrap();
        let mut text = String::new();
        let read = open(path.to_str().unwrap(), Arc::default())
            .unwrap()
            .read_to_string(&mut text);
        let _ = std::fs::remove_file(&path);
        read.unwrap();
        text
    }

    #[test]
    fn reads_plain_gzip_and_zstd_text_alike() {
        let text = "breaker db\n0s db ok\n".repeat(50);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            text.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(read_all(text.clone().into_bytes()), text);
        assert_eq!(read_all(gz.finish().unwrap()), text);
        assert_eq!(read_all(zst), text);
    }

    #[test]
    fn reads_zstd_frames_one_after_the_other() {
        // `zstd` twice, concatenated: one frame a file.
        let both = include_bytes!("../../tests/data/two_frames.trace.zst");
        assert_eq!(read_all(both.to_vec()), "breaker a\n0s a ok\n");
    }
}
