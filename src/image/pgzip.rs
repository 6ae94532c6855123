//! Parallel gzip the way pigz (and Go's pgzip, which skopeo uses) does it: the input is cut into
//! blocks compressed as raw deflate on worker threads, each primed with the previous block's last
//! 32 KiB as its dictionary and ended with a sync flush, so the compressed blocks concatenate into
//! **one standard deflate stream**; one gzip header and one trailer (CRC-32 and length of the
//! whole input) wrap it. Any gzip reader accepts the result, and the bytes depend only on the
//! input, the level and `BLOCK` — never on the number of threads — so layers stay reproducible.
//!
//! Blocks that look random (media, archives, anything already compressed) are written as stored
//! deflate blocks without running deflate on them, which is where most of a layer's time went:
//! their bytes cannot shrink, and deflate at any level above 1 searches them for matches at
//! every position.
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

/// A worker's result: the compressed block, and the input buffer to fill again.
type Compressed = JoinHandle<io::Result<(Vec<u8>, Vec<u8>)>>;

/// A `Write` that gzips what it is given in parallel blocks into `inner`.
pub struct ParGzWriter<W: Write> {
    inner: W,
    deflater: Deflater,
    workers: usize,
    block: Vec<u8>,
    /// The tail of the previous block, the next block's dictionary.
    dict: Option<Vec<u8>>,
    pending: VecDeque<Compressed>,
    /// Block-sized buffers back from the workers: faulting in fresh ones per block cost a few
    /// per cent of the compression time.
    spare: Vec<Vec<u8>>,
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
            deflater: Deflater::new(level),
            workers: workers.max(1),
            block: Vec::with_capacity(BLOCK),
            dict: None,
            pending: VecDeque::new(),
            spare: Vec::new(),
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
            self.write_block(done)?;
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

    fn buffer(&mut self) -> Vec<u8> {
        self.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK))
    }

    /// Hands the full (or final) block to a worker; writes finished blocks in order while more
    /// than `workers` are outstanding.
    fn dispatch(&mut self) -> io::Result<()> {
        self.start()?;
        let next = self.buffer();
        let block = std::mem::replace(&mut self.block, next);
        self.crc.update(&block);
        self.len += block.len() as u64;
        let tail = block[block.len().saturating_sub(DICT)..].to_vec();
        let dict = self.dict.replace(tail);
        let mut out = self.buffer();
        let deflater = self.deflater;
        self.pending.push_back(std::thread::spawn(move || {
            deflater.block(&block, dict.as_deref(), &mut out)?;
            Ok((out, block))
        }));
        while self.pending.len() > self.workers {
            if let Some(done) = self.pending.pop_front() {
                self.write_block(done)?;
            }
        }
        Ok(())
    }

    fn write_block(&mut self, done: Compressed) -> io::Result<()> {
        let (out, mut input) = done
            .join()
            .map_err(|_| io::Error::other("a gzip worker thread panicked"))??;
        self.inner.write_all(&out)?;
        input.clear();
        self.spare.extend([out, input]);
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

/// zlib's memory level 9 (flate2 fixes it at 8): twice the symbols per Huffman block, so fewer
/// block headers and tables fitted to more data — about 0.1 % fewer bytes at the same speed.
const MEM_LEVEL: i32 = 9;

/// Compresses blocks at one level. Each block gets a fresh zlib state: zlib-rs 0.6's `reset`
/// keeps window contents that change later output (4 of 80 text blocks came out different in
/// our measurement), and a layer's bytes must depend on its content only.
#[derive(Clone, Copy)]
struct Deflater {
    level: i32,
}

impl Deflater {
    fn new(level: u32) -> Self {
        Self {
            level: i32::try_from(level.min(9)).unwrap_or(6),
        }
    }

    /// One block as raw deflate into `out`, ending on a byte boundary so blocks concatenate:
    /// stored when the bytes look random (already-compressed assets, which deflate would only
    /// slow down on and grow), compressed otherwise, and stored after all when deflate did not
    /// make it smaller.
    fn block(&self, data: &[u8], dict: Option<&[u8]>, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        if !looks_incompressible(data) {
            self.deflate(data, dict, out)?;
            if out.len() <= stored_len(data.len()) {
                return Ok(());
            }
            out.clear();
        }
        stored(data, out);
        Ok(())
    }

    /// Raw deflate of one block, ended with a sync flush.
    fn deflate(&self, data: &[u8], dict: Option<&[u8]>, out: &mut Vec<u8>) -> io::Result<()> {
        let failed = |e: zlib_rs::DeflateError| io::Error::other(format!("deflate failed: {e:?}"));
        let mut z = zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
            level: self.level,
            window_bits: -15, // raw deflate: the gzip framing is ours
            mem_level: MEM_LEVEL,
            ..zlib_rs::DeflateConfig::default()
        });
        if let Some(dict) = dict {
            z.set_dictionary(dict).map_err(failed)?;
        }
        // The bound covers the worst case plus the flush marker, so one call takes everything.
        out.resize(zlib_rs::compress_bound(data.len()) + 16, 0);
        z.compress(data, out, zlib_rs::DeflateFlush::SyncFlush)
            .map_err(failed)?;
        if z.total_in() != data.len() as u64 {
            return Err(io::Error::other("deflate did not take the whole block"));
        }
        out.truncate(usize::try_from(z.total_out()).map_err(io::Error::other)?);
        Ok(())
    }
}

/// Order-0 entropy at or above this many bits per byte: Huffman coding can save at most 1.25 %
/// of such a block, and deflate's matches only more where random bytes repeat within 32 KiB
/// (rare in a layer), so the block is stored without trying.
const INCOMPRESSIBLE_BITS: f64 = 7.9;

fn looks_incompressible(data: &[u8]) -> bool {
    // Four histograms: consecutive increments of one counter stall on each other.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        for (lane, &b) in counts.iter_mut().zip(q) {
            lane[usize::from(b)] += 1;
        }
    }
    for &b in quads.remainder() {
        counts[0][usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    let bits: f64 = (0..256)
        .map(|i| counts.iter().map(|lane| f64::from(lane[i])).sum::<f64>())
        .filter(|&c| c > 0.0)
        .map(|c| -(c / n) * (c / n).log2())
        .sum();
    bits >= INCOMPRESSIBLE_BITS
}

/// A stored deflate block holds at most this many bytes.
const STORED_MAX: usize = 65_535;

fn stored_len(n: usize) -> usize {
    n + 5 * n.div_ceil(STORED_MAX)
}

/// Stored (uncompressed) deflate blocks, not final: a byte with BFINAL=0 and BTYPE=00 (the
/// stream is byte-aligned here, so the header's padding fills the byte), LEN, its complement,
/// then the bytes themselves (RFC 1951 §3.2.4).
fn stored(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(stored_len(data.len()));
    let mut emit = |piece: &[u8]| {
        let len = u16::try_from(piece.len()).unwrap_or(u16::MAX);
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    };
    for piece in data.chunks(STORED_MAX) {
        emit(piece);
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
            let gz = gzip(&data, 3, 6);
            assert_eq!(gunzip(&gz), data, "{n} bytes");
        }
    }

    /// xorshift: incompressible bytes, reproducible without a dependency.
    fn random(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    #[test]
    fn random_blocks_are_stored_and_cost_five_bytes_per_64_kib() {
        let data = random(3 * BLOCK + 7);
        let gz = gzip(&data, 2, 6);
        assert_eq!(gunzip(&gz), data);
        let blocks: usize = data.chunks(BLOCK).map(|b| stored_len(b.len())).sum();
        // header + stored blocks + the empty final block + CRC and length
        assert_eq!(gz.len(), HEADER.len() + blocks + LAST_BLOCK.len() + 8);
    }

    #[test]
    fn the_entropy_bar_separates_random_from_what_compresses() {
        assert!(looks_incompressible(&random(BLOCK)));
        assert!(!looks_incompressible(&sample(100_000)[..]));
        assert!(!looks_incompressible(&[]));
        // Executables and the like: random runs between zero pages still compress 2:1.
        let pages: Vec<u8> = random(BLOCK / 2)
            .chunks(2048)
            .flat_map(|r| r.iter().copied().chain(std::iter::repeat_n(0, 2048)))
            .collect();
        assert!(!looks_incompressible(&pages));
        assert!(gzip(&pages, 2, 6).len() < pages.len() * 6 / 10);
    }

    #[test]
    fn a_block_deflate_would_grow_is_stored() {
        // Too short for its order-0 entropy to look random, too short for deflate to win.
        let data = random(12);
        assert!(!looks_incompressible(&data));
        let deflater = Deflater::new(6);
        let (mut compressed, mut block, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        deflater.deflate(&data, None, &mut compressed).unwrap();
        assert!(compressed.len() > stored_len(data.len()));
        deflater.block(&data, None, &mut block).unwrap();
        stored(&data, &mut plain);
        assert_eq!(block, plain);
        assert_eq!(gunzip(&gzip(&data, 1, 6)), data);
    }

    #[test]
    fn output_does_not_depend_on_the_number_of_workers() {
        let data = sample(5 * BLOCK + 999);
        let one = gzip(&data, 1, 6);
        for workers in [2, 4, 16] {
            assert_eq!(gzip(&data, workers, 6), one, "{workers} workers");
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
        let mut data = sample(2 * BLOCK + 5);
        data.extend(random(BLOCK + 70_000)); // stored blocks, one of them short
        let gz = gzip(&data, 2, 6);
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
