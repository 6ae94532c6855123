//! The network-facing phases of a push over the blob set: check (HEAD, mount), verify (hash what
//! is about to be uploaded), upload (bounded, largest first).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use oci_spec::image::Descriptor;

use super::blobs::{Blobs, State, outcome_of};
use crate::image::body::{CompressedBody, StoredBody};
use crate::image::report::{self, LayerOutcome, LayerResult};
use crate::registry::Registry;
use crate::runner;

/// HEAD every known blob; mount the missing ones from `mount_from` when given. Uploads nothing.
pub async fn check_present(
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

/// Silence after which an upload prints how far it has got.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Runs the transfers, printing every [`PROGRESS_EVERY`] the bytes sent so far, the rate and an
/// estimate of the time left (`at_most`: uncompressed sizes, so an upper bound when compressing).
async fn with_progress<T>(
    registry: &Registry,
    at_most: u64,
    transfers: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let before = registry.stats().blob_bytes_uploaded;
    let started = Instant::now();
    let ticker = async {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let sent = registry.stats().blob_bytes_uploaded.saturating_sub(before);
            runner::info(&progress_line(sent, at_most, started.elapsed()));
        }
    };
    tokio::pin!(transfers);
    tokio::select! {
        r = &mut transfers => r,
        never = ticker => never,
    }
}

/// `uploading: 120.0 MB of at most 400.0 MB sent (12.0 MB/s), about 24 s left`
fn progress_line(sent: u64, at_most: u64, elapsed: Duration) -> String {
    let rate = sent as f64 / elapsed.as_secs_f64().max(0.001);
    let mut line = format!(
        "uploading: {} of at most {} sent ({}/s)",
        report::megabytes(sent),
        report::megabytes(at_most),
        report::megabytes(rate as u64)
    );
    if rate > 0.0 && at_most > sent {
        let left = (at_most - sent) as f64 / rate;
        line.push_str(&format!(", at most about {left:.0} s left"));
    }
    line
}

enum Done {
    Known(usize, f64),
    Compress(usize, Box<Descriptor>, f64),
}

/// Uploads what is missing: stored blobs with their digest known (monolithic PUT), layers to
/// compress streamed (PATCH, digest computed on the way). Bounded by `jobs`.
pub async fn upload(registry: &Registry, repo: &str, blobs: &mut Blobs, jobs: usize) -> Result<()> {
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
    let at_most: u64 = work
        .iter()
        .map(|j| match *j {
            Job::Known(i) => view.known[i].desc.size(),
            Job::Compress(c) => view.compress[c].job.source.len(),
        })
        .sum();
    let transfers = stream::iter(work)
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
                        compression: job.compression,
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
        .try_collect::<Vec<Done>>();
    let done = with_progress(registry, at_most, transfers)
        .await
        .context("uploading the image's blobs (no manifest was pushed)")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_says_bytes_rate_and_time_left() {
        let line = progress_line(120_000_000, 400_000_000, Duration::from_secs(10));
        assert_eq!(
            line,
            "uploading: 120.0 MB of at most 400.0 MB sent (12.0 MB/s), at most about 23 s left"
        );
        assert_eq!(
            progress_line(0, 5, Duration::ZERO),
            "uploading: 0.0 MB of at most 0.0 MB sent (0.0 MB/s)"
        );
    }
}
