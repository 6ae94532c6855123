//! Named files of an image source, wherever they are: a directory on disk or entries of a tar
//! archive. The readers (`oci_layout`, `docker_save`) only ask for paths like `index.json` or
//! `blobs/sha256/<hex>`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::Digest;

use super::MAX_DOCUMENT_SIZE;
use super::blob::BlobSource;
use super::digest;
use super::tar_index::{TarIndex, normalize};

pub enum Store {
    Dir(PathBuf),
    Tar(TarIndex),
}

impl Store {
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Self::Dir(root) => root.join(name).is_file(),
            Self::Tar(index) => index.contains(name),
        }
    }

    pub fn file(&self, name: &str) -> Result<BlobSource> {
        match self {
            Self::Dir(root) => {
                // Names come from the image's own JSON: keep them inside the layout directory.
                let rel = normalize(Path::new(name))?;
                let path = root.join(rel);
                let meta = std::fs::metadata(&path)
                    .with_context(|| format!("{name} is missing from {}", root.display()))?;
                if !meta.is_file() {
                    bail!("{name} in {} is not a regular file", root.display());
                }
                Ok(BlobSource::file_range(Arc::new(path), 0, meta.len()))
            }
            Self::Tar(index) => index.file(name),
        }
    }

    /// A small named document (manifest.json, index.json), size-limited.
    pub fn document(&self, name: &str) -> Result<Bytes> {
        self.file(name)?
            .read_small(MAX_DOCUMENT_SIZE)
            .with_context(|| format!("reading {name}"))
    }

    /// The blob with `digest` in an OCI layout (`blobs/<alg>/<hex>`).
    pub fn blob(&self, digest: &Digest) -> Result<BlobSource> {
        digest::require_sha256(digest)?;
        self.file(&format!("blobs/sha256/{}", digest.digest()))
            .with_context(|| format!("blob {digest} is missing"))
    }

    /// A small blob (manifest, index, config) read whole and checked against its descriptor.
    pub fn verified_document(&self, what: &str, digest: &Digest, size: u64) -> Result<Bytes> {
        let source = self
            .blob(digest)
            .with_context(|| format!("{what} {digest}"))?;
        if source.len() != size {
            bail!(
                "{what} {digest}: {} bytes on disk, its descriptor declares {size}",
                source.len()
            );
        }
        let bytes = source
            .read_small(MAX_DOCUMENT_SIZE)
            .with_context(|| format!("{what} {digest}"))?;
        let actual = digest::sha256_of(&bytes);
        digest::check(what, digest, size, &actual, bytes.len() as u64)?;
        Ok(bytes)
    }
}
