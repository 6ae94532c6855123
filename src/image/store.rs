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
    /// A directory source; its path is resolved once so every name is checked against it.
    pub fn dir(root: &Path) -> Result<Self> {
        let root =
            std::fs::canonicalize(root).with_context(|| format!("resolving {}", root.display()))?;
        Ok(Self::Dir(root))
    }

    pub fn contains(&self, name: &str) -> bool {
        match self {
            // Present, even as a link going out: `file` then says why it is not read.
            Self::Dir(root) => normalize(Path::new(name)).is_ok_and(|rel| {
                std::fs::symlink_metadata(root.join(rel)).is_ok_and(|m| !m.is_dir())
            }),
            Self::Tar(index) => index.contains(name),
        }
    }

    pub fn file(&self, name: &str) -> Result<BlobSource> {
        match self {
            Self::Dir(root) => {
                let path = inside(root, name)?;
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

/// The real path of `name` under the (resolved) `root`. Names come from the image's own JSON and
/// files are links in some layouts: a link may point anywhere inside the source, never out of
/// it (a config or blob that is a symlink to `~/.docker/config.json` must not be read, let alone
/// pushed).
fn inside(root: &Path, name: &str) -> Result<PathBuf> {
    let rel = normalize(Path::new(name))?;
    let joined = root.join(&rel);
    let real = match std::fs::canonicalize(&joined) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{name} is missing from {}", root.display())
        }
        Err(e) => return Err(e).with_context(|| format!("resolving {name} in {}", root.display())),
    };
    if !real.starts_with(root) {
        bail!(
            "{name} in {} is a symlink to {}, outside the image directory: links out of an image source are never followed",
            root.display(),
            real.display()
        );
    }
    Ok(real)
}
