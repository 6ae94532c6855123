//! SHA-256 content digests: computing them over bytes, files and streams, and comparing.

use std::io::Read;

use anyhow::{Result, bail};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

pub use crate::registry::digest::{from_hasher, parse_sha256, require_sha256, sha256_of};

/// Hashes everything `reader` yields and counts it.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(Digest, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; crate::registry::FILE_CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((from_hasher(hasher), total))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_and_bytes_agree() {
        let data = vec![7u8; 600_000];
        let (d, n) = sha256_reader(&data[..]).unwrap();
        assert_eq!(n, 600_000);
        assert_eq!(d, sha256_of(&data));
    }
}
