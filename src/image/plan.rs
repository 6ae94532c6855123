//! Warm-push detection for layers compressed at push time. Their compressed digest is unknown
//! until they are compressed, so HEAD cannot tell whether they are already pushed. Instead the
//! manifest already under the target tag is fetched with its config: if its diff_ids are ours and
//! its layers have the media types we would produce, its layer descriptors are reused and nothing
//! is compressed.

use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageManifest, MediaType};

use super::MAX_DOCUMENT_SIZE;
use super::media::{self, Compression, ManifestKind};
use super::model::{self, ImageParts, LayerForm};
use super::rewrite;
use crate::registry::Registry;

/// Descriptors in `repo:tag` for every layer of `image`, if that tag holds the same layers in
/// the form this push would produce; `None` when it does not (or does not exist).
pub async fn reusable_layers(
    registry: &Registry,
    repo: &str,
    tag: &str,
    image: &ImageParts,
    compression: Compression,
) -> Result<Option<Vec<Descriptor>>> {
    let Some(found) = registry.get_manifest(repo, tag).await? else {
        return Ok(None);
    };
    if !matches!(
        media::manifest_kind(&found.media_type),
        Ok(ManifestKind::Image(_))
    ) {
        return Ok(None);
    }
    let Ok(manifest) = ImageManifest::from_reader(&found.bytes[..]) else {
        return Ok(None);
    };
    if manifest.layers().len() != image.layers.len() {
        return Ok(None);
    }
    // The same config means the same diff_ids; otherwise read the registry's config to compare.
    let config = manifest.config();
    if config.digest() != image.config.descriptor.digest() {
        let bytes = registry
            .get_blob(repo, config.digest(), MAX_DOCUMENT_SIZE)
            .await
            .with_context(|| format!("reading the config of {repo}:{tag}"))?;
        match model::diff_ids(&bytes) {
            Ok(theirs) if theirs == image.diff_ids => {}
            _ => return Ok(None),
        }
    }
    for (ours, theirs) in image.layers.iter().zip(manifest.layers()) {
        let expected: MediaType = match ours.form {
            LayerForm::AsIs => ours.descriptor.media_type().clone(),
            LayerForm::Compress => rewrite::target_layer_type(image, ours, compression)?,
        };
        let same_blob =
            ours.form == LayerForm::Compress || ours.descriptor.digest() == theirs.digest();
        if theirs.media_type() != &expected || !same_blob {
            return Ok(None);
        }
    }
    Ok(Some(manifest.layers().clone()))
}
