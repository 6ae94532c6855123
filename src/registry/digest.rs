//! The one digest grammar and computation: registries address content by `sha256:<hex>`, and
//! every module that names or computes a digest goes through here.

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
    // 64 lowercase hex characters always form a valid sha256 digest.
    match Digest::from_str(&format!("sha256:{hex}")) {
        Ok(d) => d,
        Err(_) => unreachable!("a sha256 hex string is a valid digest"),
    }
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

/// `sha256:d39c6f1a2b3c`: enough to tell images apart in a log line or a table.
pub fn short(digest: &Digest) -> String {
    let s = digest.to_string();
    s.chars().take("sha256:".len() + 12).collect()
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
    fn only_lowercase_sha256_is_accepted() {
        let hex = "a".repeat(64);
        assert!(parse_sha256(&format!("sha256:{hex}")).is_ok());
        for bad in [
            format!("sha512:{}", "a".repeat(128)),
            "sha256:xyz".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
            hex.clone(),
            String::new(),
        ] {
            assert!(parse_sha256(&bad).is_err(), "{bad}");
        }
        assert_eq!(short(&sha256_of(b"")), "sha256:e3b0c44298fc");
    }
}
