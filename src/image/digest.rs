//! SHA-256 content digests: computing them over bytes, files and streams, and comparing.

use std::io::Read;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};

/// The digest of bytes already in memory.
pub fn sha256_of(bytes: &[u8]) -> Digest {
    from_hasher(Sha256::new_with_prefix(bytes))
}

/// Turns a finished hasher into an OCI digest.
pub fn from_hasher(hasher: Sha256) -> Digest {
    let hex = hex::encode(hasher.finalize());
    #[allow(clippy::expect_used)] // invariant, not input: 64 lowercase hex digits always parse
    Digest::from_str(&format!("sha256:{hex}")).expect("a sha256 hex string is a valid digest")
}

/// Parses a digest and requires sha256, the only algorithm registries universally accept.
pub fn parse_sha256(s: &str) -> Result<Digest> {
    let digest = Digest::from_str(s).with_context(|| format!("invalid digest {s:?}"))?;
    require_sha256(&digest)?;
    Ok(digest)
}

pub fn require_sha256(digest: &Digest) -> Result<()> {
    if *digest.algorithm() != DigestAlgorithm::Sha256 {
        bail!("unsupported digest algorithm in {digest} (only sha256 is supported)");
    }
    Ok(())
}

/// Hashes everything `reader` yields and counts it.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(Digest, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
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
    fn empty_blob_has_the_well_known_digest() {
        assert_eq!(
            sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn reader_and_bytes_agree() {
        let data = vec![7u8; 600_000];
        let (d, n) = sha256_reader(&data[..]).unwrap();
        assert_eq!(n, 600_000);
        assert_eq!(d, sha256_of(&data));
    }

    #[test]
    fn only_sha256_is_accepted() {
        let sha512 = format!("sha512:{}", "a".repeat(128));
        assert!(parse_sha256(&sha512).is_err());
        assert!(parse_sha256("sha256:xyz").is_err());
        assert!(parse_sha256(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
