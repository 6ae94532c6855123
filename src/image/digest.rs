//! Digests as the image code uses them: the registry's one digest grammar, and the check that
//! content read back is what its descriptor promised.

use anyhow::{Result, bail};
use oci_spec::image::Digest;

pub use crate::registry::digest::{from_hasher, parse_sha256, require_sha256, sha256_of};

/// Checks that content read back has the digest and size its descriptor promised.
pub fn check(
    what: &str,
    expected: &Digest,
    expected_size: u64,
    actual: &Digest,
    size: u64,
) -> Result<()> {
    if size != expected_size {
        bail!(
            "{what}: size {size} does not match the {expected_size} bytes its descriptor declares"
        );
    }
    if actual != expected {
        bail!("{what}: content digest {actual} does not match the declared {expected}");
    }
    Ok(())
}
