//! A multi-platform build: one image per platform, tied together by an OCI image index whose
//! entries carry each image's `platform`, so a runtime pulls the one for its own architecture.
//! The index is written in a fixed order (by platform), so its digest depends only on the inputs.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::MediaType;
use serde_json::json;

use super::{BuildSpec, build};
use crate::image::model::{ImageIndexDoc, LoadedImage, Manifest};

/// Builds each spec (one per platform) and returns them as one image: a single manifest when
/// there is one spec, else an index of them.
pub fn build_platforms(specs: &[BuildSpec]) -> Result<LoadedImage> {
    let mut specs: Vec<&BuildSpec> = specs.iter().collect();
    specs.sort_by(|a, b| a.architecture.cmp(&b.architecture));
    if specs
        .windows(2)
        .any(|w| w[0].architecture == w[1].architecture)
    {
        bail!("two image-from inputs were given for the same platform");
    }
    let Some(first) = specs.first() else {
        bail!("image-from gave nothing to build");
    };
    if specs.len() == 1 {
        return build(first);
    }

    let mut images = Vec::with_capacity(specs.len());
    let mut scratch = Vec::new();
    let mut entries = Vec::with_capacity(specs.len());
    for spec in &specs {
        let built = build(spec)?;
        let image = built
            .images
            .into_iter()
            .next()
            .context("a build returned no image")?;
        let manifest = image
            .manifest
            .as_ref()
            .context("a built image has no manifest")?;
        entries.push(json!({
            "mediaType": manifest.media_type.to_string(),
            "digest": manifest.digest.to_string(),
            "size": manifest.bytes.len(),
            "platform": { "architecture": spec.architecture, "os": "linux" },
        }));
        images.push(image);
        scratch.extend(built.scratch);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let doc = Manifest::new(
        MediaType::ImageIndex,
        Bytes::from(serde_json::to_vec(&index)?),
    );
    let platforms: Vec<String> = specs
        .iter()
        .map(|s| format!("linux/{}", s.architecture))
        .collect();
    Ok(LoadedImage {
        images,
        index: Some(ImageIndexDoc { doc }),
        source: format!("build for {}", platforms.join(", ")),
        scratch,
    })
}
