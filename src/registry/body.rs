//! Blob bodies: re-openable byte streams, so a broken upload restarts from the first byte
//! without ever holding the blob in memory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

/// The stream an upload sends: chunks of the blob, in order.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A blob's content that can be opened again from the start (each upload attempt opens it once).
pub trait BlobBody: Send + Sync {
    fn open(&self) -> BoxFuture<'_, Result<ByteStream>>;
}

/// Chunk size for file reads: large chunks keep per-chunk overhead (syscalls, HTTP framing, the
/// blocking-pool hop of tokio's file I/O) negligible next to the copy itself.
pub const FILE_CHUNK: usize = 1 << 20;

/// A blob stored in a file, streamed in [`FILE_CHUNK`] pieces.
#[derive(Clone, Debug)]
pub struct FileBlob {
    path: PathBuf,
}

impl FileBlob {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl BlobBody for FileBlob {
    fn open(&self) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(&self.path)
                .await
                .with_context(|| format!("opening blob file {}", self.path.display()))?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, FILE_CHUNK);
            Ok(stream.boxed())
        })
    }
}

/// A small blob already in memory (configs, manifests' companions, tests). Cloning `Bytes` is
/// a reference-count bump, so reopening costs nothing.
impl BlobBody for Bytes {
    fn open(&self) -> BoxFuture<'_, Result<ByteStream>> {
        let chunk = self.clone();
        Box::pin(async move { Ok(stream::once(async move { Ok(chunk) }).boxed()) })
    }
}

/// A failure reading the blob's own source (file, compressor): marked so the retry layer never
/// mistakes it for a network fault, even after the HTTP client wraps it.
#[derive(Debug, thiserror::Error)]
#[error("reading the blob's content failed")]
pub struct SourceError(#[source] pub std::io::Error);

/// Running SHA-256 and length of what has been sent, shared with the request that sends it.
#[derive(Default)]
pub(crate) struct Hashing {
    hasher: Sha256,
    len: u64,
}

impl Hashing {
    pub(crate) fn finish(self) -> (Digest, u64) {
        (super::digest::from_hasher(self.hasher), self.len)
    }
}

/// Wraps a blob stream for sending: counts bytes into `sent`, feeds `hashing` when given, marks
/// source errors, and — when the size is known — fails a source that gives more or fewer bytes
/// than announced (a permanent error, not a network one worth retrying).
pub(crate) fn meter(
    stream: ByteStream,
    sent: Arc<AtomicU64>,
    hashing: Option<Arc<Mutex<Hashing>>>,
    expected: Option<u64>,
) -> BoxStream<'static, Result<Bytes, SourceError>> {
    let seen = Arc::new(AtomicU64::new(0));
    let counted = seen.clone();
    let body = stream.map(move |item| {
        let chunk = item.map_err(SourceError)?;
        let total = counted.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if let Some(e) = expected.filter(|e| total > *e) {
            return Err(size_error(total, e));
        }
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if let Some(h) = &hashing {
            // A poisoned lock only means another holder panicked; the state is still bytes.
            let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
            h.hasher.update(&chunk);
            h.len += chunk.len() as u64;
        }
        Ok(chunk)
    });
    // Runs once the source has ended: a short source is an error too.
    let end_check = stream::once(async move {
        let total = seen.load(Ordering::Relaxed);
        match expected {
            Some(e) if total != e => Some(Err(size_error(total, e))),
            _ => None,
        }
    })
    .filter_map(|r| async move { r });
    body.chain(end_check).boxed()
}

fn size_error(got: u64, expected: u64) -> SourceError {
    SourceError(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the blob's source gave {got}+ bytes where its descriptor says {expected}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_and_bytes_bodies_reopen_and_meter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..(FILE_CHUNK * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = FileBlob::new(&path);
        for _ in 0..2 {
            let sent = Arc::new(AtomicU64::new(0));
            let hashing = Arc::new(Mutex::new(Hashing::default()));
            let s = meter(
                file.open().await.unwrap(),
                sent.clone(),
                Some(hashing.clone()),
                Some(data.len() as u64),
            );
            let chunks: Vec<_> = s.collect().await;
            assert!(chunks.iter().all(Result::is_ok));
            assert_eq!(sent.load(Ordering::Relaxed), data.len() as u64);
            let (d, n) = std::mem::take(&mut *hashing.lock().unwrap()).finish();
            assert_eq!(
                (d, n),
                (crate::registry::digest::sha256_of(&data), data.len() as u64)
            );
        }
        // A source that disagrees with the announced size fails, short or long.
        for announced in [4u64, 6] {
            let b = Bytes::from_static(b"hello");
            let sent = Arc::new(AtomicU64::new(0));
            let items: Vec<_> = meter(b.open().await.unwrap(), sent, None, Some(announced))
                .collect()
                .await;
            assert!(items.iter().any(Result::is_err), "announced {announced}");
        }
        let b = Bytes::from_static(b"hello");
        let all: Vec<_> = b.open().await.unwrap().collect().await;
        assert_eq!(all.len(), 1);
        assert_eq!(
            crate::registry::digest::sha256_of(b"hello").to_string(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[tokio::test]
    async fn missing_file_is_an_error_with_its_path() {
        let err = FileBlob::new("/nonexistent/blob")
            .open()
            .await
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("/nonexistent/blob"));
    }
}
