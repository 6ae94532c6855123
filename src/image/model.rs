//! A loaded, validated image: its manifests (or a multi-platform index of them), configs and
//! layers, each layer with the place its bytes come from.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use super::blob::BlobSource;
use super::digest;
use super::media::Family;

/// A manifest or index exactly as stored (the registry's own type), pushed byte for byte unless
/// a layer is rewritten.
pub use crate::registry::Manifest;

/// Whether a layer goes to the registry as stored or compressed on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerForm {
    /// Already compressed (or built by us): pushed as is, digest known up front.
    AsIs,
    /// An uncompressed tar (`docker save`): compressed while streaming; its descriptor's digest
    /// is the diff_id and the compressed digest is known only once it has streamed.
    Compress,
}

#[derive(Clone, Debug)]
pub struct Layer {
    /// The descriptor as the source states it (for `Compress`, the uncompressed tar's).
    pub descriptor: Descriptor,
    pub source: BlobSource,
    pub form: LayerForm,
}

/// The config blob: small, held in memory, already verified.
#[derive(Clone, Debug)]
pub struct ConfigBlob {
    pub descriptor: Descriptor,
    pub bytes: Bytes,
}

/// One platform's image.
#[derive(Clone, Debug)]
pub struct ImageParts {
    pub family: Family,
    /// `None` for a legacy `docker save` archive, which stores no manifest: one is written at push.
    pub manifest: Option<Manifest>,
    pub config: ConfigBlob,
    pub layers: Vec<Layer>,
    /// The uncompressed layer digests from the config, in layer order.
    pub diff_ids: Vec<Digest>,
    /// This image's descriptor in its parent index, if any (kept for the rewritten index).
    pub index_descriptor: Option<Descriptor>,
}

impl ImageParts {
    /// True when the manifest can be pushed byte for byte.
    pub fn is_final(&self) -> bool {
        self.manifest.is_some() && self.layers.iter().all(|l| l.form == LayerForm::AsIs)
    }

    pub fn total_size(&self) -> u64 {
        self.config.bytes.len() as u64
            + self.layers.iter().map(|l| l.descriptor.size()).sum::<u64>()
    }
}

/// A multi-platform index whose children are `LoadedImage::images`, in the same order.
#[derive(Clone, Debug)]
pub struct ImageIndexDoc {
    pub doc: Manifest,
}

/// Temporary files a built image streams from; removed when the last image using them is dropped.
#[derive(Debug)]
pub struct ScratchDir(pub PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An image ready to push: validated structure, verified documents, located blobs.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    pub images: Vec<ImageParts>,
    pub index: Option<ImageIndexDoc>,
    /// What it was loaded from, for logs.
    pub source: String,
    #[allow(dead_code)] // held, not read: keeps built layers' files alive as long as the image
    pub(crate) scratch: Vec<Arc<ScratchDir>>,
}

impl LoadedImage {
    /// The digest the image will have in the registry, when it is already fixed (no layer is
    /// compressed at push time).
    pub fn digest(&self) -> Option<&Digest> {
        match &self.index {
            Some(index) if self.images.iter().all(ImageParts::is_final) => Some(&index.doc.digest),
            Some(_) => None,
            None => self
                .images
                .first()
                .filter(|i| i.is_final())
                .and_then(|i| i.manifest.as_ref())
                .map(|m| &m.digest),
        }
    }
}

/// The part of an image config this tool reads.
#[derive(Deserialize)]
struct ConfigView {
    rootfs: RootFsView,
}

#[derive(Deserialize)]
struct RootFsView {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// The diff_ids of a config, checked to be sha256 digests.
pub fn diff_ids(config: &[u8]) -> Result<Vec<Digest>> {
    let view: ConfigView = serde_json::from_slice(config)
        .context("image config is not valid JSON with rootfs.diff_ids")?;
    view.rootfs
        .diff_ids
        .iter()
        .map(|d| digest::parse_sha256(d))
        .collect::<Result<_>>()
        .context("image config rootfs.diff_ids")
}

/// Checks the layers against the config: one diff_id per layer, and an uncompressed layer's
/// digest must be its diff_id.
pub fn check_layers(layers: &[Layer], diff_ids: &[Digest]) -> Result<()> {
    if layers.len() != diff_ids.len() {
        bail!(
            "the manifest lists {} layers but the config has {} diff_ids",
            layers.len(),
            diff_ids.len()
        );
    }
    for (i, (layer, diff_id)) in layers.iter().zip(diff_ids).enumerate() {
        if layer.form == LayerForm::Compress && layer.descriptor.digest() != diff_id {
            bail!(
                "uncompressed layer {i} has digest {} but the config's diff_id is {diff_id}",
                layer.descriptor.digest()
            );
        }
    }
    Ok(())
}
