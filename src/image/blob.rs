//! Where a blob's bytes live: in memory (small documents, generated configs) or as a byte range
//! of a file (a blob file of an OCI layout, or an entry inside a tar archive, read in place).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::digest;

/// Read size for blob files: the registry client's, so a file is read the same way everywhere.
pub const CHUNK: usize = crate::registry::FILE_CHUNK;

#[derive(Clone, Debug)]
pub enum BlobSource {
    Memory(Bytes),
    File {
        path: Arc<PathBuf>,
        offset: u64,
        len: u64,
    },
}

impl BlobSource {
    pub fn file_range(path: Arc<PathBuf>, offset: u64, len: u64) -> Self {
        Self::File { path, offset, len }
    }

    pub fn len(&self) -> u64 {
        match self {
            Self::Memory(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A blocking reader over exactly this blob's bytes.
    pub fn reader(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Self::Memory(b) => Ok(Box::new(std::io::Cursor::new(b.clone()))),
            Self::File { path, offset, len } => {
                let mut file = open(path)?;
                file.seek(SeekFrom::Start(*offset))
                    .with_context(|| format!("seeking in {}", path.display()))?;
                Ok(Box::new(ExactRange {
                    inner: file.take(*len),
                    left: *len,
                }))
            }
        }
    }

    /// Reads a small blob (a manifest, index or config) whole, refusing anything over `max`.
    pub fn read_small(&self, max: u64) -> Result<Bytes> {
        if self.len() > max {
            bail!(
                "document of {} bytes exceeds the {max}-byte limit",
                self.len()
            );
        }
        match self {
            Self::Memory(b) => Ok(b.clone()),
            Self::File { .. } => {
                let mut buf = Vec::with_capacity(self.len() as usize);
                self.reader()?.read_to_end(&mut buf)?;
                Ok(Bytes::from(buf))
            }
        }
    }

    /// The blob as an async stream of chunks that fails, at the end, unless the content has
    /// `expected` digest and `len` bytes — so a blob changed on disk since it was validated can
    /// never complete an upload.
    pub async fn stream_verified(
        &self,
        expected: Digest,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let len = self.len();
        let raw: BoxStream<'static, std::io::Result<Bytes>> = match self {
            Self::Memory(b) => futures::stream::iter([Ok(b.clone())]).boxed(),
            Self::File { path, offset, len } => {
                let mut file = tokio::fs::File::open(path.as_path())
                    .await
                    .with_context(|| format!("opening {}", path.display()))?;
                file.seek(SeekFrom::Start(*offset)).await?;
                tokio_util::io::ReaderStream::with_capacity(file.take(*len), CHUNK).boxed()
            }
        };
        Ok(verify_stream(raw, expected, len))
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Wraps a chunk stream so it hashes as it goes and turns a short read or a digest mismatch into
/// an error item instead of a clean end.
pub fn verify_stream(
    raw: BoxStream<'static, std::io::Result<Bytes>>,
    expected: Digest,
    len: u64,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    struct State {
        raw: BoxStream<'static, std::io::Result<Bytes>>,
        hasher: Option<Sha256>,
        seen: u64,
    }
    let state = State {
        raw,
        hasher: Some(Sha256::new()),
        seen: 0,
    };
    futures::stream::unfold(state, move |mut st| {
        let expected = expected.clone();
        async move {
            let hasher = st.hasher.as_mut()?;
            match st.raw.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    st.seen += chunk.len() as u64;
                    Some((Ok(chunk), st))
                }
                Some(Err(e)) => {
                    st.hasher = None;
                    Some((Err(e), st))
                }
                None => {
                    let hasher = st.hasher.take()?;
                    let actual = digest::from_hasher(hasher);
                    if st.seen != len || actual != expected {
                        let msg = format!(
                            "blob {expected} does not match its content: got {} bytes with digest {actual}, expected {len}",
                            st.seen
                        );
                        Some((Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg)), st))
                    } else {
                        None
                    }
                }
            }
        }
    })
    .boxed()
}

/// A `take` that reports a file shorter than the range as an error, not a quiet short read.
struct ExactRange<R> {
    inner: std::io::Take<R>,
    left: u64,
}

impl<R: Read> Read for ExactRange<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("file ends {} bytes before the end of the blob", self.left),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_changed_blob_fails_at_the_end_of_its_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"xxhello worldyy").unwrap();
        let src = BlobSource::file_range(Arc::new(path), 2, 11);
        let good = digest::sha256_of(b"hello world");
        let chunks: Vec<_> = src.stream_verified(good).await.unwrap().collect().await;
        assert!(chunks.iter().all(|c| c.is_ok()));
        let bad = digest::sha256_of(b"hello there");
        let chunks: Vec<_> = src.stream_verified(bad).await.unwrap().collect().await;
        assert!(chunks.last().unwrap().is_err());
    }

    #[test]
    fn a_range_past_the_end_of_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"short").unwrap();
        let src = BlobSource::file_range(Arc::new(path), 2, 100);
        assert!(std::io::copy(&mut src.reader().unwrap(), &mut std::io::sink()).is_err());
        assert!(src.read_small(1000).is_err());
    }
}
