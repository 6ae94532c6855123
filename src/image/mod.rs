//! The image to push: where it comes from (a `docker save` tarball, an OCI layout or archive, or
//! a daemonless build), how its layers are compressed on the way, and the push itself.
//!
//! Loading validates structure, sizes, media types and every small document (manifests, index,
//! config) before anything touches the network; layer contents are verified against their
//! digests before the first upload and again while they stream.

mod blob;
mod body;
mod build;
mod compress;
mod digest;
mod docker_save;
mod load;
mod media;
mod model;
mod oci_layout;
mod pgzip;
mod plan;
mod platform;
mod push;
mod report;
mod rewrite;
mod store;
mod tar_index;

pub use blob::BlobSource;
pub use build::{BuildSpec, Provenance, build, build_platforms, scratch_candidates};
pub use load::load_archive;
pub use media::Compression;
pub use model::{ImageIndexDoc, ImageParts, Layer, LayerForm, LoadedImage, Manifest};
pub use platform::{
    Platform, PlatformInput, elf_platform, parse_inputs as parse_platform_inputs,
    resolve as resolve_platform,
};
pub use push::{PushOptions, push};
pub use report::{LayerOutcome, LayerResult, PushReport, megabytes};

/// Largest manifest, index or config accepted: the registry's manifest limit, applied to every
/// small document (anything bigger is malformed input, not something to buffer).
pub const MAX_DOCUMENT_SIZE: u64 = crate::registry::MANIFEST_LIMIT;
