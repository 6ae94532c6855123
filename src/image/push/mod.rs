//! Push orchestration: every blob of the image made present in the repository — already there
//! (HEAD), mounted from `mount_from`, or uploaded (compressed on the way when stored
//! uncompressed) — layers in parallel with the configs alongside, then the manifests by digest,
//! the index, and each tag.
//!
//! Phases, so that malformed content pushes nothing: plan (local) → login → warm-push lookup →
//! check (HEAD/mount, no upload) → verify the content of everything still to upload → upload →
//! manifests. Layer contents are verified once more while they stream.

mod blobs;
mod transfer;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, Digest};

use super::blob::BlobSource;
use super::media::Compression;
use super::model::{LayerForm, LoadedImage, ManifestDoc};
use super::report::{self, LayerOutcome, LayerResult, PushReport};
use super::{plan, rewrite};
use crate::registry::Registry;
use crate::runner;
use blobs::{Blobs, Compress, Slot, State, compressed_desc, compressed_seconds, outcome_of};

#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Blobs transferred at once (`push-concurrency`, default 4).
    pub concurrency: usize,
    /// How uncompressed layers are compressed (`compression`).
    pub compression: Compression,
    /// A repository on the same registry to mount missing blobs from.
    pub mount_from: Option<String>,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            compression: Compression::Gzip,
            mount_from: None,
        }
    }
}

/// Pushes `image` to `repo` (by digest, then as each of `tags`).
pub async fn push(
    registry: &Registry,
    repo: &str,
    image: &LoadedImage,
    tags: &[String],
    opts: &PushOptions,
) -> Result<PushReport> {
    let started = Instant::now();
    let before = registry.stats();
    for tag in tags {
        check_tag(tag)?;
    }
    let jobs = opts.concurrency.max(1);

    // Plan (local only): fails on an impossible combination before any request.
    let mut targets = Vec::with_capacity(image.images.len());
    for img in &image.images {
        let t = img
            .layers
            .iter()
            .map(|l| match l.form {
                LayerForm::AsIs => Ok(None),
                LayerForm::Compress => {
                    rewrite::target_layer_type(img, l, opts.compression).map(Some)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        targets.push(t);
    }

    registry.check_login(repo).await?;

    // Warm push: layers to compress that the tag (or the mount source's tag) already holds.
    let mut sources = vec![repo.to_string()];
    sources.extend(opts.mount_from.iter().cloned());
    let mut reused: Vec<Option<Vec<Descriptor>>> = vec![None; image.images.len()];
    if let Some(tag) = tags.first() {
        for (i, img) in image.images.iter().enumerate() {
            if img.layers.iter().all(|l| l.form == LayerForm::AsIs) {
                continue;
            }
            for source_repo in &sources {
                if let Some(found) =
                    plan::reusable_layers(registry, source_repo, tag, img, opts.compression).await?
                {
                    reused[i] = Some(found);
                    break;
                }
            }
        }
    }

    let mut blobs = Blobs::default();
    let mut slots: Vec<(Slot, Vec<Slot>)> = Vec::with_capacity(image.images.len());
    for (i, img) in image.images.iter().enumerate() {
        let config = blobs.add_known(
            img.config.descriptor.clone(),
            Some(BlobSource::Memory(img.config.bytes.clone())),
            None,
            false,
        );
        let mut layers = Vec::with_capacity(img.layers.len());
        for (j, layer) in img.layers.iter().enumerate() {
            let slot = match (layer.form, &targets[i][j]) {
                (LayerForm::Compress, Some(target)) => {
                    let job = Compress {
                        source: layer.source.clone(),
                        diff_id: layer.descriptor.digest().clone(),
                        target: target.clone(),
                    };
                    match reused[i].as_ref().and_then(|r| r.get(j)) {
                        Some(desc) => blobs.add_known(desc.clone(), None, Some(job), true),
                        None => Slot::Compress(blobs.add_compress(job)),
                    }
                }
                _ => blobs.add_known(
                    layer.descriptor.clone(),
                    Some(layer.source.clone()),
                    None,
                    true,
                ),
            };
            layers.push(slot);
        }
        slots.push((config, layers));
    }

    transfer::check_present(registry, repo, opts.mount_from.as_deref(), &mut blobs, jobs).await?;

    // Blobs found neither in the repository nor by mount but known only from the registry:
    // compress them from the local source after all.
    let mut redirect: HashMap<usize, usize> = HashMap::new();
    for i in 0..blobs.known.len() {
        if blobs.known[i].state == State::Missing && blobs.known[i].source.is_none() {
            let Some(job) = blobs.known[i].fallback.clone() else {
                bail!(
                    "internal: blob {} has no source",
                    blobs.known[i].desc.digest()
                );
            };
            redirect.insert(i, blobs.add_compress(job));
        }
    }

    transfer::verify_sources(&blobs).await?;
    transfer::upload(registry, repo, &mut blobs, jobs).await?;

    // Final descriptors, manifests by digest, the index, then tags.
    let layer_desc = |slot: Slot| -> Result<Descriptor> {
        match slot {
            Slot::Known(i) => match redirect.get(&i) {
                Some(&c) => compressed_desc(&blobs, c),
                None => Ok(blobs.known[i].desc.clone()),
            },
            Slot::Compress(c) => compressed_desc(&blobs, c),
        }
    };
    let mut manifests: Vec<ManifestDoc> = Vec::with_capacity(image.images.len());
    for (img, (_, layer_slots)) in image.images.iter().zip(&slots) {
        let descs = layer_slots
            .iter()
            .map(|s| layer_desc(*s))
            .collect::<Result<Vec<_>>>()?;
        let doc = rewrite::image_manifest(img, &descs, opts.compression)?;
        registry
            .put_manifest(
                repo,
                doc.digest.as_ref(),
                &doc.media_type,
                doc.bytes.clone(),
            )
            .await?;
        manifests.push(doc);
    }
    let root = match &image.index {
        Some(index) => {
            let children: Vec<(Digest, &ManifestDoc)> = image
                .images
                .iter()
                .zip(&manifests)
                .map(|(img, doc)| {
                    let old = img
                        .index_descriptor
                        .as_ref()
                        .map(|d| d.digest().clone())
                        .unwrap_or_else(|| doc.digest.clone());
                    (old, doc)
                })
                .collect();
            let doc = rewrite::index_manifest(index, &children)?;
            registry
                .put_manifest(
                    repo,
                    doc.digest.as_ref(),
                    &doc.media_type,
                    doc.bytes.clone(),
                )
                .await?;
            doc
        }
        None => manifests
            .first()
            .cloned()
            .context("the image has no manifest")?,
    };
    for tag in tags {
        registry
            .put_manifest(repo, tag, &root.media_type, root.bytes.clone())
            .await?;
    }

    // Report: each distinct layer once, in image and layer order.
    let mut layers = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total_size = 0u64;
    for (config, layer_slots) in &slots {
        if let Slot::Known(c) = config
            && seen.insert(blobs.known[*c].desc.digest().clone())
        {
            total_size += blobs.known[*c].desc.size();
        }
        for slot in layer_slots {
            let desc = layer_desc(*slot)?;
            if !seen.insert(desc.digest().clone()) {
                continue;
            }
            let (outcome, seconds) = match slot {
                Slot::Known(i) if !redirect.contains_key(i) => {
                    (outcome_of(blobs.known[*i].state), blobs.known[*i].seconds)
                }
                Slot::Known(i) => (
                    LayerOutcome::Pushed,
                    compressed_seconds(&blobs, redirect[i]),
                ),
                Slot::Compress(c) => (LayerOutcome::Pushed, compressed_seconds(&blobs, *c)),
            };
            total_size += desc.size();
            layers.push(LayerResult {
                digest: desc.digest().clone(),
                size: desc.size(),
                outcome,
                seconds,
            });
        }
    }
    let stats = registry.stats().since(&before);
    let pushed = PushReport {
        reference: format!("{}/{repo}@{}", registry.address().name(), root.digest),
        digest: root.digest.clone(),
        media_type: root.media_type.clone(),
        total_size,
        layers,
        bytes_uploaded: stats.blob_bytes_uploaded,
        duration: started.elapsed(),
    };
    runner::info(&format!(
        "pushed {}: {} layers ({} pushed, {} skipped, {} mounted), {} of {} uploaded in {:.2} s",
        pushed.reference,
        pushed.layers.len(),
        pushed.count(LayerOutcome::Pushed),
        pushed.count(LayerOutcome::Skipped),
        pushed.count(LayerOutcome::Mounted),
        report::megabytes(pushed.bytes_uploaded),
        report::megabytes(pushed.total_size),
        pushed.duration.as_secs_f64()
    ));
    Ok(pushed)
}

/// Tag grammar of the distribution spec: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && (b == b'.' || b == b'-'))
        });
    if !ok {
        bail!(
            "tag {tag:?} is not valid (letters, digits, _ . -, not starting with . or -, at most 128)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_spec_grammar() {
        for good in ["latest", "v1.2.3", "sha-abc_DEF", "_x"] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
    }
}
