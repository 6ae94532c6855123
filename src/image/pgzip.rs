//! Parallel gzip the way pigz (and Go's pgzip, which skopeo uses) does it: the input is cut into
//! blocks compressed as raw deflate on worker threads, each primed with the previous block's last
//! 32 KiB as its dictionary and ended with a sync flush, so the compressed blocks concatenate into
//! **one standard deflate stream**; one gzip header and one trailer (CRC-32 and length of the
//! whole input) wrap it. Any gzip reader accepts the result, and the bytes depend only on the
//! input, the level and `BLOCK` — never on the number of threads — so layers stay reproducible.
//!
//! Memory is bounded: at most `workers` blocks are being compressed while the next one fills,
//! about `(workers + 1) × 2 × BLOCK` bytes per stream.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

/// Input per block. pigz uses 128 KiB; larger blocks spend fewer bytes on flush markers and
/// thread hand-offs, smaller ones bound memory when several layers compress at once.
pub const BLOCK: usize = 512 * 1024;
/// Deflate's window: a block primed with this much history compresses as if it were not cut.
const DICT: usize = 32 * 1024;

/// gzip header: magic, deflate, no flags, mtime 0 (reproducible), no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final block with fixed Huffman codes: ends the deflate stream after sync-flushed
/// blocks (what pigz appends).
const LAST_BLOCK: [u8; 2] = [0x03, 0x00];

type Compressed = JoinHandle<io::Result<Vec<u8>>>;

/// A `Write` that gzips what it is given in parallel blocks into `inner`.
pub struct ParGzWriter<W: Write> {
    inner: W,
    level: u32,
    workers: usize,
    block: Vec<u8>,
    /// The tail of the previous block, the next block's dictionary.
    dict: Option<Vec<u8>>,
    pending: VecDeque<Compressed>,
    crc: crc32fast::Hasher,
    len: u64,
    started: bool,
}

impl<W: Write> ParGzWriter<W> {
    /// One worker per core (at least one).
    pub fn new(inner: W, level: u32) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_workers(inner, level, workers)
    }

    pub fn with_workers(inner: W, level: u32, workers: usize) -> Self {
        Self {
            inner,
            level: level.min(9),
            workers: workers.max(1),
            block: Vec::with_capacity(BLOCK),
            dict: None,
            pending: VecDeque::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
            started: false,
        }
    }

    /// Compresses what is buffered, writes the end of the stream and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() {
            self.dispatch()?;
        }
        self.start()?;
        while let Some(done) = self.pending.pop_front() {
            write_block(&mut self.inner, done)?;
        }
        self.inner.write_all(&LAST_BLOCK)?;
        self.inner
            .write_all(&self.crc.clone().finalize().to_le_bytes())?;
        // ISIZE is the input length modulo 2^32 (RFC 1952).
        self.inner
            .write_all(&((self.len & 0xffff_ffff) as u32).to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.inner.write_all(&HEADER)?;
            self.started = true;
        }
        Ok(())
    }

    /// Hands the full (or final) block to a worker; writes finished blocks in order while more
    /// than `workers` are outstanding.
    fn dispatch(&mut self) -> io::Result<()> {
        self.start()?;
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        self.crc.update(&block);
        self.len += block.len() as u64;
        let tail = block[block.len().saturating_sub(DICT)..].to_vec();
        let dict = self.dict.replace(tail);
        let level = self.level;
        self.pending.push_back(std::thread::spawn(move || {
            deflate_block(&block, dict.as_deref(), level)
        }));
        while self.pending.len() > self.workers {
            if let Some(done) = self.pending.pop_front() {
                write_block(&mut self.inner, done)?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&data[..n]);
        if self.block.len() == BLOCK {
            self.dispatch()?;
        }
        Ok(n)
    }

    /// Compression happens per block; a flush cannot end a block early without changing the
    /// output, so it only flushes what is already compressed.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_block(out: &mut impl Write, done: Compressed) -> io::Result<()> {
    let bytes = done
        .join()
        .map_err(|_| io::Error::other("a gzip worker thread panicked"))??;
    out.write_all(&bytes)
}

/// Raw deflate of one block, ending on a byte boundary (sync flush) so blocks concatenate.
fn deflate_block(data: &[u8], dict: Option<&[u8]>, level: u32) -> io::Result<Vec<u8>> {
    let mut c = flate2::Compress::new(flate2::Compression::new(level), false);
    if let Some(dict) = dict {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 64);
    loop {
        let consumed = usize::try_from(c.total_in()).map_err(io::Error::other)?;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity() / 2 + 64);
        }
        c.compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // The flush is complete once all input is in and zlib left output space unused.
        if c.total_in() == data.len() as u64 && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        // Text-like and random-like runs, so blocks both compress and don't.
        (0..n)
            .map(|i| {
                let i = i as u32;
                if (i / 100_000).is_multiple_of(2) {
                    b"the quick brown fox jumps over the lazy dog "[(i % 44) as usize]
                } else {
                    (i.wrapping_mul(2_654_435_761) >> 13) as u8
                }
            })
            .collect()
    }

    fn gzip(data: &[u8], workers: usize, level: u32) -> Vec<u8> {
        let mut w = ParGzWriter::with_workers(Vec::new(), level, workers);
        // Uneven writes: block boundaries must not depend on how the caller slices its data.
        for piece in data.chunks(77_777) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // A single-member decoder: the output must be one gzip stream, not concatenated members.
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_as_one_gzip_member() {
        for n in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12_345] {
            let data = sample(n);
            let gz = gzip(&data, 3, 1);
            assert_eq!(gunzip(&gz), data, "{n} bytes");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_number_of_workers() {
        let data = sample(5 * BLOCK + 999);
        let one = gzip(&data, 1, 1);
        for workers in [2, 4, 16] {
            assert_eq!(gzip(&data, workers, 1), one, "{workers} workers");
        }
    }

    #[test]
    fn the_dictionary_keeps_the_ratio_of_a_single_stream() {
        let data = sample(4 * BLOCK);
        let par = gzip(&data, 2, 6).len() as f64;
        let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap().len() as f64;
        assert!(par <= single * 1.01, "parallel {par} vs single {single}");
    }

    #[test]
    fn system_gzip_accepts_the_stream() {
        let data = sample(2 * BLOCK + 5);
        let gz = gzip(&data, 2, 1);
        let mut child = std::process::Command::new("gzip")
            .args(["-d", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("gzip(1) is part of every Debian system");
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || stdin.write_all(&gz));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
