//! Push orchestration: every blob of the image made present in the repository — already there
//! (HEAD), mounted from `mount_from`, or uploaded (compressed on the way when stored
//! uncompressed) — layers in parallel with the configs alongside, then the manifests by digest,
//! the index, and each tag.
//!
//! Phases, so that malformed content pushes nothing: plan (local) → login → warm-push lookup →
//! check (HEAD/mount, no upload) → verify the content of everything still to upload → upload →
//! manifests. Layer contents are verified once more while they stream.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use oci_spec::image::{Descriptor, Digest, MediaType};

use super::blob::BlobSource;
use super::body::{CompressedBody, StoredBody};
use super::media::Compression;
use super::model::{LayerForm, LoadedImage, ManifestDoc};
use super::report::{self, LayerOutcome, LayerResult, PushReport};
use super::{plan, rewrite};
use crate::registry::Registry;
use crate::runner;

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

/// A blob whose digest is known before the push: a config, a stored layer, or a layer found
/// already compressed in the registry (then `source` is `None` and `fallback` compresses it if the
/// registry no longer has it).
struct Known {
    desc: Descriptor,
    source: Option<BlobSource>,
    fallback: Option<Compress>,
    is_layer: bool,
    state: State,
    seconds: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Unchecked,
    Present,
    Mounted,
    Missing,
    Pushed,
}

/// An uncompressed layer to compress and upload; its digest is known once it has streamed.
#[derive(Clone)]
struct Compress {
    source: BlobSource,
    diff_id: Digest,
    target: MediaType,
}

struct Compressed {
    job: Compress,
    result: Option<(Descriptor, f64)>,
}

#[derive(Clone, Copy)]
enum Slot {
    Known(usize),
    Compress(usize),
}

/// Everything the push has to make present, deduplicated by digest (or by diff_id and target
/// type for layers to compress), and per image where its config and layers come from.
#[derive(Default)]
struct Blobs {
    known: Vec<Known>,
    by_digest: HashMap<Digest, usize>,
    compress: Vec<Compressed>,
    by_diff_id: HashMap<(Digest, String), usize>,
}

impl Blobs {
    fn add_known(
        &mut self,
        desc: Descriptor,
        source: Option<BlobSource>,
        fallback: Option<Compress>,
        is_layer: bool,
    ) -> Slot {
        if let Some(&i) = self.by_digest.get(desc.digest()) {
            return Slot::Known(i);
        }
        self.by_digest
            .insert(desc.digest().clone(), self.known.len());
        let state = State::Unchecked;
        self.known.push(Known {
            desc,
            source,
            fallback,
            is_layer,
            state,
            seconds: 0.0,
        });
        Slot::Known(self.known.len() - 1)
    }

    fn add_compress(&mut self, job: Compress) -> usize {
        let key = (job.diff_id.clone(), job.target.to_string());
        if let Some(&i) = self.by_diff_id.get(&key) {
            return i;
        }
        self.by_diff_id.insert(key, self.compress.len());
        self.compress.push(Compressed { job, result: None });
        self.compress.len() - 1
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

    check_present(registry, repo, opts.mount_from.as_deref(), &mut blobs, jobs).await?;

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

    verify_sources(&blobs).await?;
    upload(registry, repo, &mut blobs, jobs).await?;

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

fn outcome_of(state: State) -> LayerOutcome {
    match state {
        State::Mounted => LayerOutcome::Mounted,
        State::Pushed | State::Missing | State::Unchecked => LayerOutcome::Pushed,
        State::Present => LayerOutcome::Skipped,
    }
}

fn compressed_desc(blobs: &Blobs, c: usize) -> Result<Descriptor> {
    blobs.compress[c]
        .result
        .as_ref()
        .map(|(d, _)| d.clone())
        .context("internal: a compressed layer was not uploaded")
}

fn compressed_seconds(blobs: &Blobs, c: usize) -> f64 {
    blobs.compress[c].result.as_ref().map_or(0.0, |(_, s)| *s)
}

/// HEAD every known blob; mount the missing ones from `mount_from` when given. Uploads nothing.
async fn check_present(
    registry: &Registry,
    repo: &str,
    mount_from: Option<&str>,
    blobs: &mut Blobs,
    jobs: usize,
) -> Result<()> {
    let results: Vec<(usize, State, f64)> = stream::iter(blobs.known.iter().enumerate())
        .map(|(i, k)| async move {
            let t = Instant::now();
            let digest = k.desc.digest();
            let state = if registry.blob_exists(repo, digest).await?.is_some() {
                State::Present
            } else if let Some(from) = mount_from {
                if registry.mount_blob(repo, digest, from).await? {
                    State::Mounted
                } else {
                    State::Missing
                }
            } else {
                State::Missing
            };
            Ok::<_, anyhow::Error>((i, state, t.elapsed().as_secs_f64()))
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    for (i, state, seconds) in results {
        let k = &mut blobs.known[i];
        k.state = state;
        k.seconds = seconds;
        if k.is_layer && matches!(state, State::Present | State::Mounted) {
            let r = LayerResult {
                digest: k.desc.digest().clone(),
                size: k.desc.size(),
                outcome: outcome_of(state),
                seconds,
            };
            runner::info(&report::layer_line(&r));
        }
    }
    Ok(())
}

/// Hashes the content of everything about to be uploaded, before the first upload, so a blob
/// that does not match its digest (or diff_id) stops the push with nothing written.
async fn verify_sources(blobs: &Blobs) -> Result<()> {
    let mut checks: Vec<(BlobSource, Digest, &'static str)> = Vec::new();
    for k in &blobs.known {
        if k.state == State::Missing
            && let Some(source @ BlobSource::File { .. }) = &k.source
        {
            checks.push((source.clone(), k.desc.digest().clone(), "blob"));
        }
    }
    for c in &blobs.compress {
        checks.push((
            c.job.source.clone(),
            c.job.diff_id.clone(),
            "uncompressed layer",
        ));
    }
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    stream::iter(checks)
        .map(|(source, expected, what)| async move {
            let expected_len = source.len();
            let (actual, len) = tokio::task::spawn_blocking(move || source.sha256())
                .await
                .context("verifying blob content")??;
            super::digest::check(
                &format!("{what} {expected}"),
                &expected,
                expected_len,
                &actual,
                len,
            )
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<()>>()
        .await
        .context("verifying the image content before upload (nothing was pushed)")?;
    Ok(())
}

enum Done {
    Known(usize, f64),
    Compress(usize, Box<Descriptor>, f64),
}

/// Uploads what is missing: stored blobs with their digest known (monolithic PUT), layers to
/// compress streamed (PATCH, digest computed on the way). Bounded by `jobs`.
async fn upload(registry: &Registry, repo: &str, blobs: &mut Blobs, jobs: usize) -> Result<()> {
    #[derive(Clone, Copy)]
    enum Job {
        Known(usize),
        Compress(usize),
    }
    let view = &*blobs;
    let mut work: Vec<Job> = (0..view.known.len())
        .filter(|&i| view.known[i].state == State::Missing && view.known[i].source.is_some())
        .map(Job::Known)
        .chain((0..view.compress.len()).map(Job::Compress))
        .collect();
    // Largest first: the long transfers start at once and the small ones fill the gaps.
    work.sort_by_key(|j| {
        std::cmp::Reverse(match *j {
            Job::Known(i) => view.known[i].desc.size(),
            Job::Compress(c) => view.compress[c].job.source.len(),
        })
    });
    let done: Vec<Done> = stream::iter(work)
        .map(|job| async move {
            let t = Instant::now();
            match job {
                Job::Known(i) => {
                    let k = &view.known[i];
                    let (desc, is_layer) = (&k.desc, k.is_layer);
                    let Some(source) = k.source.clone() else {
                        bail!("internal: blob {} has no source", desc.digest());
                    };
                    let body = StoredBody {
                        source,
                        digest: desc.digest().clone(),
                    };
                    registry.upload_blob(repo, desc, &body).await?;
                    let seconds = t.elapsed().as_secs_f64();
                    if is_layer {
                        let r = LayerResult {
                            digest: desc.digest().clone(),
                            size: desc.size(),
                            outcome: LayerOutcome::Pushed,
                            seconds,
                        };
                        runner::info(&report::layer_line(&r));
                    }
                    Ok::<_, anyhow::Error>(Done::Known(i, seconds))
                }
                Job::Compress(c) => {
                    let job = &view.compress[c].job;
                    let body = CompressedBody {
                        source: job.source.clone(),
                        diff_id: job.diff_id.clone(),
                        compression: compression_of(&job.target),
                    };
                    let info = registry
                        .upload_blob_streamed(repo, &body)
                        .await
                        .with_context(|| {
                            format!(
                                "pushing layer {} ({})",
                                job.diff_id,
                                report::megabytes(job.source.len())
                            )
                        })?;
                    let desc = Descriptor::new(job.target.clone(), info.size, info.digest);
                    let seconds = t.elapsed().as_secs_f64();
                    let r = LayerResult {
                        digest: desc.digest().clone(),
                        size: desc.size(),
                        outcome: LayerOutcome::Pushed,
                        seconds,
                    };
                    runner::info(&report::layer_line(&r));
                    Ok(Done::Compress(c, Box::new(desc), seconds))
                }
            }
        })
        .buffer_unordered(jobs)
        .try_collect()
        .await?;
    for d in done {
        match d {
            Done::Known(i, s) => {
                blobs.known[i].state = State::Pushed;
                blobs.known[i].seconds = s;
            }
            Done::Compress(c, desc, s) => blobs.compress[c].result = Some((*desc, s)),
        }
    }
    Ok(())
}

/// The compression a target layer media type stands for.
fn compression_of(target: &MediaType) -> Compression {
    if target.to_string().ends_with("zstd") {
        Compression::Zstd
    } else {
        Compression::Gzip
    }
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
