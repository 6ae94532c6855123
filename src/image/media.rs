//! Media types this tool understands, and what compressing a layer does to its media type.

use anyhow::{Result, bail};
use oci_spec::image::MediaType;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// How uncompressed layers are compressed on the way to the registry (`compression` input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    Gzip,
    /// OCI `tar+zstd`: smaller and faster to pull on Fargate; needs an OCI manifest.
    Zstd,
}

impl std::str::FromStr for Compression {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "" | "gzip" => Ok(Self::Gzip),
            "zstd" => Ok(Self::Zstd),
            other => bail!("compression must be gzip or zstd, not {other:?}"),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        })
    }
}

/// The two manifest families; a manifest keeps its family when it is pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Oci,
    Docker,
}

/// What kind of document a manifest descriptor points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    Image(Family),
    Index(Family),
}

pub fn manifest_kind(media_type: &MediaType) -> Result<ManifestKind> {
    Ok(match media_type {
        MediaType::ImageManifest => ManifestKind::Image(Family::Oci),
        MediaType::ImageIndex => ManifestKind::Index(Family::Oci),
        MediaType::Other(s) if s == DOCKER_MANIFEST => ManifestKind::Image(Family::Docker),
        MediaType::Other(s) if s == DOCKER_MANIFEST_LIST => ManifestKind::Index(Family::Docker),
        other => bail!("unknown manifest media type {other}"),
    })
}

pub fn check_config_type(media_type: &MediaType) -> Result<()> {
    match media_type {
        MediaType::ImageConfig => Ok(()),
        MediaType::Other(s) if s == DOCKER_CONFIG => Ok(()),
        other => bail!("unknown image config media type {other}"),
    }
}

/// How a layer's bytes are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Uncompressed,
    Gzip,
    Zstd,
}

impl From<Compression> for Encoding {
    fn from(c: Compression) -> Self {
        match c {
            Compression::Gzip => Self::Gzip,
            Compression::Zstd => Self::Zstd,
        }
    }
}

pub fn layer_encoding(media_type: &MediaType) -> Result<Encoding> {
    Ok(match media_type {
        MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => Encoding::Uncompressed,
        MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => Encoding::Gzip,
        MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => Encoding::Zstd,
        MediaType::Other(s) if s == DOCKER_LAYER => Encoding::Uncompressed,
        MediaType::Other(s) if s == DOCKER_LAYER_GZIP || s == DOCKER_FOREIGN_LAYER_GZIP => {
            Encoding::Gzip
        }
        other => bail!("unknown layer media type {other}"),
    })
}

/// The media type of an uncompressed layer once compressed with `compression`.
pub fn compressed_layer_type(
    uncompressed: &MediaType,
    compression: Compression,
) -> Result<MediaType> {
    Ok(match (uncompressed, compression) {
        (MediaType::ImageLayer, Compression::Gzip) => MediaType::ImageLayerGzip,
        (MediaType::ImageLayer, Compression::Zstd) => MediaType::ImageLayerZstd,
        (MediaType::ImageLayerNonDistributable, Compression::Gzip) => {
            MediaType::ImageLayerNonDistributableGzip
        }
        (MediaType::ImageLayerNonDistributable, Compression::Zstd) => {
            MediaType::ImageLayerNonDistributableZstd
        }
        (MediaType::Other(s), Compression::Gzip) if s == DOCKER_LAYER => {
            MediaType::Other(DOCKER_LAYER_GZIP.into())
        }
        (MediaType::Other(s), Compression::Zstd) if s == DOCKER_LAYER => {
            bail!(
                "zstd layers need an OCI manifest; this image uses Docker schema 2 (use compression: gzip)"
            )
        }
        (other, _) => bail!("{other} is not an uncompressed layer media type"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_parses_the_input_values() {
        assert_eq!("".parse::<Compression>().unwrap(), Compression::Gzip);
        assert_eq!(" zstd ".parse::<Compression>().unwrap(), Compression::Zstd);
        assert!("brotli".parse::<Compression>().is_err());
    }

    #[test]
    fn unknown_layer_types_are_rejected() {
        assert!(layer_encoding(&MediaType::from("application/x-whatever")).is_err());
        assert_eq!(
            layer_encoding(&MediaType::from(DOCKER_LAYER_GZIP)).unwrap(),
            Encoding::Gzip
        );
    }

    #[test]
    fn compressed_types_keep_the_family() {
        let docker = MediaType::from(DOCKER_LAYER);
        assert_eq!(
            compressed_layer_type(&docker, Compression::Gzip)
                .unwrap()
                .to_string(),
            DOCKER_LAYER_GZIP
        );
        assert!(compressed_layer_type(&docker, Compression::Zstd).is_err());
        assert_eq!(
            compressed_layer_type(&MediaType::ImageLayer, Compression::Zstd).unwrap(),
            MediaType::ImageLayerZstd
        );
    }
}
