//! `load_archive`: recognises the kind of image source at a path and reads it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::docker_save;
use super::model::LoadedImage;
use super::oci_layout;
use super::store::Store;
use super::tar_index::TarIndex;

/// Loads an image from a `docker save` tarball (legacy or Docker 25+), an OCI archive, or an OCI
/// layout directory. Everything but layer contents is validated here; nothing is uploaded.
pub fn load_archive(path: &Path) -> Result<LoadedImage> {
    load(path).with_context(|| format!("loading image archive {}", path.display()))
}

fn load(path: &Path) -> Result<LoadedImage> {
    let meta = std::fs::metadata(path).context("cannot read the path")?;
    let store = if meta.is_dir() {
        Store::dir(path)?
    } else {
        check_not_compressed(path)?;
        Store::Tar(TarIndex::open(path)?)
    };
    // Docker 25+ writes both an OCI layout and manifest.json: the layout carries the real manifest.
    let (images, index, kind) = if oci_layout::is_layout(&store) {
        let (images, index) = oci_layout::read(&store)?;
        (images, index, "OCI layout")
    } else if docker_save::is_docker_save(&store) {
        (
            vec![docker_save::read(&store)?],
            None,
            "docker save archive",
        )
    } else {
        bail!(
            "neither an OCI layout (oci-layout + index.json) nor a docker save archive (manifest.json)"
        );
    };
    Ok(LoadedImage {
        images,
        index,
        source: format!("{kind} {}", path.display()),
        scratch: Vec::new(),
    })
}

/// `docker save | gzip` is common; say so instead of failing on the tar headers.
fn check_not_compressed(path: &Path) -> Result<()> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)?;
    let n = file.read(&mut magic)?;
    match &magic[..n] {
        [0x1f, 0x8b, ..] => bail!("the archive is gzip-compressed; decompress it first (gunzip)"),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            bail!("the archive is zstd-compressed; decompress it first (unzstd)")
        }
        _ => Ok(()),
    }
}
