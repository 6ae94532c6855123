//! Streaming compression of an uncompressed layer: a blocking compressor thread reads the tar,
//! checks it against its diff_id, and feeds compressed chunks into a bounded channel that the
//! upload drains — compression overlaps the upload and memory stays at a few chunks per layer.

use std::io::{Read, Write};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use super::blob::{BlobSource, CHUNK};
use super::digest;
use super::media::Compression;
use super::pgzip::ParGzWriter;

/// Measured on a real 614 MB /usr layer against skopeo's gzip (klauspost pgzip, default level):
/// level 4 stores 0.99x its bytes for about 25 % less CPU than level 6 (which stores 0.976x but
/// takes 1.2x skopeo's time); level 3 is no faster and 1.006x; level 1 (zlib's "quick" mode,
/// fixed codes) is 1.22x. Incompressible blocks skip deflate at every level (see `pgzip`).
pub const GZIP_LEVEL: u32 = 4;
pub const ZSTD_LEVEL: i32 = 3;

/// Compressed chunks in flight per layer (bounded: backpressure from a slow upload stops the
/// compressor instead of buffering the layer).
const CHANNEL_DEPTH: usize = 4;

type Chunk = std::io::Result<Bytes>;

/// The compressed form of `source`, produced while it is consumed. The stream ends with an error
/// (so the upload never commits) if the uncompressed bytes do not hash to `diff_id`.
pub fn compressed_stream(
    source: BlobSource,
    diff_id: Digest,
    compression: Compression,
) -> BoxStream<'static, Chunk> {
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = compress(&source, &diff_id, compression, &tx) {
            // The receiver may be gone (upload aborted); then nobody needs the error either.
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Compresses synchronously into `out` chunk by chunk, so the same code serves the daemonless
/// build (writing a file) and the streaming push (feeding a channel).
pub fn compress_into(
    mut input: impl Read,
    compression: Compression,
    sink: impl FnMut(Bytes) -> std::io::Result<()>,
) -> std::io::Result<(Digest, u64)> {
    let mut writer = ChunkWriter {
        buf: Vec::with_capacity(CHUNK + CHUNK / 4),
        sink,
    };
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK];
    let mut encoder = Encoder::new(compression, &mut writer)?;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
        encoder.write_all(&buf[..n])?;
    }
    encoder.finish()?;
    writer.flush_all()?;
    Ok((digest::from_hasher(hasher), total))
}

fn compress(
    source: &BlobSource,
    diff_id: &Digest,
    compression: Compression,
    tx: &mpsc::Sender<Chunk>,
) -> std::io::Result<()> {
    let reader = source.reader().map_err(std::io::Error::other)?;
    // Hold the last chunk back until the diff_id is checked: the upload must not see a clean
    // end of stream for content that does not match.
    let mut pending: Option<Bytes> = None;
    let send = |chunk: Bytes, pending: &mut Option<Bytes>| -> std::io::Result<()> {
        if let Some(prev) = pending.replace(chunk) {
            tx.blocking_send(Ok(prev))
                .map_err(|_| std::io::Error::other("upload stopped"))?;
        }
        Ok(())
    };
    let (actual, size) = compress_into(reader, compression, |chunk| send(chunk, &mut pending))?;
    if &actual != diff_id || size != source.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("layer content has digest {actual} ({size} bytes), not its diff_id {diff_id}"),
        ));
    }
    if let Some(last) = pending {
        tx.blocking_send(Ok(last))
            .map_err(|_| std::io::Error::other("upload stopped"))?;
    }
    Ok(())
}

/// Collects encoder output into chunks of about `CHUNK` bytes.
struct ChunkWriter<F> {
    buf: Vec<u8>,
    sink: F,
}

impl<F: FnMut(Bytes) -> std::io::Result<()>> ChunkWriter<F> {
    fn flush_all(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + CHUNK / 4));
            (self.sink)(Bytes::from(chunk))?;
        }
        Ok(())
    }
}

impl<F: FnMut(Bytes) -> std::io::Result<()>> Write for ChunkWriter<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_all()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(super) enum Encoder<W: Write> {
    Gzip(ParGzWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub(super) fn new(compression: Compression, w: W) -> std::io::Result<Self> {
        Ok(match compression {
            // Parallel blocks in one standard stream; no file name, mtime 0: the output depends
            // on the input bytes only, which keeps built and re-compressed layers reproducible.
            Compression::Gzip => Self::Gzip(ParGzWriter::new(w, GZIP_LEVEL)),
            Compression::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(w, ZSTD_LEVEL)?),
        })
    }
    pub(super) fn finish(self) -> std::io::Result<W> {
        match self {
            Self::Gzip(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Gzip(e) => e.write(data),
            Self::Zstd(e) => e.write(data),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Gzip(e) => e.flush(),
            Self::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn sample() -> Vec<u8> {
        (0..1_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i % 7) as u8)
            .collect()
    }

    async fn run(data: &[u8], diff_id: Digest, c: Compression) -> Vec<std::io::Result<Bytes>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("layer.tar");
        std::fs::write(&p, data).unwrap();
        let src = BlobSource::file_range(Arc::new(p), 0, data.len() as u64);
        compressed_stream(src, diff_id, c).collect().await
    }

    #[tokio::test]
    async fn gzip_and_zstd_round_trip_and_are_deterministic() {
        let data = sample();
        let diff_id = digest::sha256_of(&data);
        for c in [Compression::Gzip, Compression::Zstd] {
            let a: Vec<u8> = run(&data, diff_id.clone(), c)
                .await
                .into_iter()
                .flat_map(|r| r.unwrap().to_vec())
                .collect();
            let b: Vec<u8> = run(&data, diff_id.clone(), c)
                .await
                .into_iter()
                .flat_map(|r| r.unwrap().to_vec())
                .collect();
            assert_eq!(a, b, "{c} output must be deterministic");
            let mut out = Vec::new();
            match c {
                Compression::Gzip => flate2::read::GzDecoder::new(&a[..])
                    .read_to_end(&mut out)
                    .unwrap(),
                Compression::Zstd => zstd::stream::read::Decoder::new(&a[..])
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap(),
            };
            assert_eq!(out, data);
        }
    }

    #[tokio::test]
    async fn a_wrong_diff_id_ends_the_stream_with_an_error() {
        let data = sample();
        let chunks = run(&data, digest::sha256_of(b"other"), Compression::Gzip).await;
        assert!(chunks.last().unwrap().is_err());
    }
}
