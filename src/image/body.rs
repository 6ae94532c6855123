//! The blob bodies a push hands to the registry client: a blob read in place (verified against
//! its digest while it streams) and an uncompressed layer compressed on the fly.

use anyhow::Result;
use futures::future::BoxFuture;
use oci_spec::image::Digest;

use super::blob::BlobSource;
use super::compress;
use super::media::Compression;
use crate::registry::{BlobBody, ByteStream};

/// A stored blob, streamed from its file range; ends in an error if its content no longer
/// matches `digest`.
pub struct StoredBody {
    pub source: BlobSource,
    pub digest: Digest,
}

impl BlobBody for StoredBody {
    fn open(&self) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(self.source.stream_verified(self.digest.clone()))
    }
}

/// An uncompressed layer, compressed while it streams (each `open` compresses afresh, so a
/// retried upload sends the same deterministic bytes again).
pub struct CompressedBody {
    pub source: BlobSource,
    pub diff_id: Digest,
    pub compression: Compression,
}

impl BlobBody for CompressedBody {
    fn open(&self) -> BoxFuture<'_, Result<ByteStream>> {
        let stream = compress::compressed_stream(
            self.source.clone(),
            self.diff_id.clone(),
            self.compression,
        );
        Box::pin(async move { Ok(stream) })
    }
}
