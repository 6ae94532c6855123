//! The set of blobs a push makes present, deduplicated: by digest for blobs known up front
//! (configs, stored layers, layers found compressed in the registry), by diff_id and target type
//! for layers compressed at push time.

use std::collections::HashMap;

use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};

use crate::image::blob::BlobSource;
use crate::image::media::Compression;
use crate::image::report::LayerOutcome;

/// A blob whose digest is known before the push: a config, a stored layer, or a layer found
/// already compressed in the registry (then `source` is `None` and `fallback` compresses it if the
/// registry no longer has it).
pub struct Known {
    pub desc: Descriptor,
    pub source: Option<BlobSource>,
    pub fallback: Option<Compress>,
    pub is_layer: bool,
    pub state: State,
    pub seconds: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    Unchecked,
    Present,
    Mounted,
    Missing,
    Pushed,
}

/// An uncompressed layer to compress and upload; its digest is known once it has streamed.
#[derive(Clone)]
pub struct Compress {
    pub source: BlobSource,
    pub diff_id: Digest,
    pub target: MediaType,
    pub compression: Compression,
}

pub struct Compressed {
    pub job: Compress,
    pub result: Option<(Descriptor, f64)>,
}

#[derive(Clone, Copy)]
pub enum Slot {
    Known(usize),
    Compress(usize),
}

/// Everything the push has to make present, deduplicated by digest (or by diff_id and target
/// type for layers to compress), and per image where its config and layers come from.
#[derive(Default)]
pub struct Blobs {
    pub known: Vec<Known>,
    pub by_digest: HashMap<Digest, usize>,
    pub compress: Vec<Compressed>,
    pub by_diff_id: HashMap<(Digest, String), usize>,
}

impl Blobs {
    pub fn add_known(
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

    pub fn add_compress(&mut self, job: Compress) -> usize {
        let key = (job.diff_id.clone(), job.target.to_string());
        if let Some(&i) = self.by_diff_id.get(&key) {
            return i;
        }
        self.by_diff_id.insert(key, self.compress.len());
        self.compress.push(Compressed { job, result: None });
        self.compress.len() - 1
    }
}

pub fn outcome_of(state: State) -> LayerOutcome {
    match state {
        State::Mounted => LayerOutcome::Mounted,
        State::Pushed | State::Missing | State::Unchecked => LayerOutcome::Pushed,
        State::Present => LayerOutcome::Skipped,
    }
}

pub fn compressed_desc(blobs: &Blobs, c: usize) -> Result<Descriptor> {
    blobs.compress[c]
        .result
        .as_ref()
        .map(|(d, _)| d.clone())
        .context("internal: a compressed layer was not uploaded")
}

pub fn compressed_seconds(blobs: &Blobs, c: usize) -> f64 {
    blobs.compress[c].result.as_ref().map_or(0.0, |(_, s)| *s)
}
