//! Push orchestration: every blob of the image made present in the repository — already there
//! (HEAD), mounted from `mount_from`, or uploaded (compressed on the way when stored
//! uncompressed) — layers in parallel with the configs alongside, then the manifests by digest,
//! the index, and each tag.
//!
//! Phases: plan (local) → login → warm-push lookup → check (HEAD/mount, no upload) → upload →
//! manifests. Content is hashed once, while it streams: a blob that does not match its digest
//! (or a layer its diff_id) ends its upload with an error before the registry commits it (the
//! compressor holds its last chunk back until the diff_id matches; a known digest is also checked
//! by the registry's `PUT ?digest=`), the push stops, and no manifest refers to anything.

mod blobs;
mod transfer;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use oci_spec::image::{Descriptor, Digest, MediaType};

use super::blob::BlobSource;
use super::media::Compression;
use super::model::{LayerForm, LoadedImage, Manifest};
use super::report::{self, LayerOutcome, LayerResult, PushReport};
use super::{plan, rewrite};
use crate::registry::{Reference, Registry, Repository, Tag, Target};
use crate::runner;
use blobs::{Blobs, Compress, Slot, State, compressed_desc, compressed_seconds, outcome_of};

#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Blobs transferred at once (`push-concurrency`, default 4).
    pub concurrency: usize,
    /// How uncompressed layers are compressed (`compression`).
    pub compression: Compression,
    /// A repository on the same registry to mount missing blobs from (`mount-from`).
    pub mount_from: Option<Repository>,
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

/// Pushes `image` to `repo` (by digest, then as each of `tags`), one protocol phase after the
/// other, like go-containerregistry's `remote.Write`: plan → login → reuse → check → verify →
/// upload → manifests → report.
pub async fn push(
    registry: &Registry,
    repo: &Repository,
    image: &LoadedImage,
    tags: &[Tag],
    opts: &PushOptions,
) -> Result<PushReport> {
    let started = Instant::now();
    let before = registry.stats();
    let jobs = opts.concurrency.max(1);
    let targets = compression_targets(image, opts.compression)?;
    registry.check_login(repo.as_str()).await?;
    let reused = reusable_layers(registry, repo, image, tags.first(), opts).await?;
    let (mut blobs, slots) = collect_blobs(image, &targets, &reused, opts.compression);
    let mount_from = opts.mount_from.as_ref().map(Repository::as_str);
    transfer::check_present(registry, repo.as_str(), mount_from, &mut blobs, jobs).await?;
    let redirect = compress_what_went_missing(&mut blobs)?;
    transfer::upload(registry, repo.as_str(), &mut blobs, jobs).await?;
    let placed = Placed {
        blobs,
        slots,
        redirect,
    };
    let root = put_manifests(registry, repo, image, &placed, tags, opts.compression).await?;
    let pushed = summarize(registry, repo, &placed, &root, started, &before)?;
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

/// Plan (local only): the media type each layer to compress becomes; fails on an impossible
/// combination (zstd in a Docker manifest) before any request.
fn compression_targets(
    image: &LoadedImage,
    compression: Compression,
) -> Result<Vec<Vec<Option<MediaType>>>> {
    image
        .images
        .iter()
        .map(|img| {
            img.layers
                .iter()
                .map(|l| match l.form {
                    LayerForm::AsIs => Ok(None),
                    LayerForm::Compress => {
                        rewrite::target_layer_type(img, l, compression).map(Some)
                    }
                })
                .collect()
        })
        .collect()
}

/// Warm push (GET manifest + config): layers to compress that the first tag — here or in the
/// mount source — already holds compressed the way this push would, so nothing is recompressed.
async fn reusable_layers(
    registry: &Registry,
    repo: &Repository,
    image: &LoadedImage,
    tag: Option<&Tag>,
    opts: &PushOptions,
) -> Result<Vec<Option<Vec<Descriptor>>>> {
    let mut reused = vec![None; image.images.len()];
    let Some(tag) = tag else {
        return Ok(reused);
    };
    let sources: Vec<&Repository> = std::iter::once(repo).chain(&opts.mount_from).collect();
    for (i, img) in image.images.iter().enumerate() {
        if img.layers.iter().all(|l| l.form == LayerForm::AsIs) {
            continue;
        }
        for source in &sources {
            let found = plan::reusable_layers(
                registry,
                source.as_str(),
                tag.as_str(),
                img,
                opts.compression,
            )
            .await?;
            if found.is_some() {
                reused[i] = found;
                break;
            }
        }
    }
    Ok(reused)
}

/// Every blob of every image once, and per image where its config and layers come from.
fn collect_blobs(
    image: &LoadedImage,
    targets: &[Vec<Option<MediaType>>],
    reused: &[Option<Vec<Descriptor>>],
    compression: Compression,
) -> (Blobs, Vec<(Slot, Vec<Slot>)>) {
    let mut blobs = Blobs::default();
    let mut slots = Vec::with_capacity(image.images.len());
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
                        compression,
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
    (blobs, slots)
}

/// Blobs found neither in the repository nor by mount but known only from the registry (a
/// reused layer since deleted): compress them from the local source after all.
fn compress_what_went_missing(blobs: &mut Blobs) -> Result<HashMap<usize, usize>> {
    let mut redirect = HashMap::new();
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
    Ok(redirect)
}

/// Where every blob ended up once uploads are done.
struct Placed {
    blobs: Blobs,
    slots: Vec<(Slot, Vec<Slot>)>,
    redirect: HashMap<usize, usize>,
}

impl Placed {
    fn layer_desc(&self, slot: Slot) -> Result<Descriptor> {
        match slot {
            Slot::Known(i) => match self.redirect.get(&i) {
                Some(&c) => compressed_desc(&self.blobs, c),
                None => Ok(self.blobs.known[i].desc.clone()),
            },
            Slot::Compress(c) => compressed_desc(&self.blobs, c),
        }
    }

    fn outcome(&self, slot: Slot) -> (LayerOutcome, f64) {
        match slot {
            Slot::Known(i) => match self.redirect.get(&i) {
                None => (
                    outcome_of(self.blobs.known[i].state),
                    self.blobs.known[i].seconds,
                ),
                Some(&c) => (LayerOutcome::Pushed, compressed_seconds(&self.blobs, c)),
            },
            Slot::Compress(c) => (LayerOutcome::Pushed, compressed_seconds(&self.blobs, c)),
        }
    }
}

/// PUT each image manifest by digest, the index over them, then every tag on the root.
async fn put_manifests(
    registry: &Registry,
    repo: &Repository,
    image: &LoadedImage,
    placed: &Placed,
    tags: &[Tag],
    compression: Compression,
) -> Result<Manifest> {
    let repo = repo.as_str();
    let mut manifests: Vec<Manifest> = Vec::with_capacity(image.images.len());
    for (img, (_, layer_slots)) in image.images.iter().zip(&placed.slots) {
        let descs = layer_slots
            .iter()
            .map(|s| placed.layer_desc(*s))
            .collect::<Result<Vec<_>>>()?;
        let doc = rewrite::image_manifest(img, &descs, compression)?;
        put(registry, repo, doc.digest.as_ref(), &doc).await?;
        manifests.push(doc);
    }
    let root = match &image.index {
        Some(index) => {
            let children: Vec<(Digest, &Manifest)> = image
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
            put(registry, repo, doc.digest.as_ref(), &doc).await?;
            doc
        }
        None => manifests
            .first()
            .cloned()
            .context("the image has no manifest")?,
    };
    for tag in tags {
        put(registry, repo, tag.as_str(), &root).await?;
    }
    Ok(root)
}

async fn put(registry: &Registry, repo: &str, reference: &str, doc: &Manifest) -> Result<()> {
    registry
        .put_manifest(repo, reference, &doc.media_type, doc.bytes.clone())
        .await
        .map(drop)
}

/// The report: each distinct blob once, in image and layer order.
fn summarize(
    registry: &Registry,
    repo: &Repository,
    placed: &Placed,
    root: &Manifest,
    started: Instant,
    before: &crate::registry::Stats,
) -> Result<PushReport> {
    let mut layers = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total_size = 0u64;
    for (config, layer_slots) in &placed.slots {
        if let Slot::Known(c) = config
            && seen.insert(placed.blobs.known[*c].desc.digest().clone())
        {
            total_size += placed.blobs.known[*c].desc.size();
        }
        for slot in layer_slots {
            let desc = placed.layer_desc(*slot)?;
            if !seen.insert(desc.digest().clone()) {
                continue;
            }
            let (outcome, seconds) = placed.outcome(*slot);
            total_size += desc.size();
            layers.push(LayerResult {
                digest: desc.digest().clone(),
                size: desc.size(),
                outcome,
                seconds,
            });
        }
    }
    let stats = registry.stats().since(before);
    Ok(PushReport {
        reference: Reference {
            host: Some(registry.address().name().to_string()),
            repository: repo.clone(),
            target: Some(Target::Digest(root.digest.clone())),
        }
        .to_string(),
        digest: root.digest.clone(),
        media_type: root.media_type.clone(),
        total_size,
        layers,
        bytes_uploaded: stats.blob_bytes_uploaded,
        duration: started.elapsed(),
    })
}
