//! Daemonless build: a one-layer image on `scratch` from a directory or a single static binary,
//! with a reproducible digest — the same files and inputs always give the same image, so a rerun
//! pushes nothing.
//!
//! Reproducibility rules: entries sorted by path; mtime 0; owner 0:0 with no user/group names;
//! modes kept (a single binary gets 0755); gzip without name or mtime in its header; config
//! `created` from `SOURCE_DATE_EPOCH` or the commit's time, never the clock.

mod config;
mod ignore;
mod index;
mod layer;
mod provenance;
mod spool;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use oci_spec::image::{Descriptor, MediaType};

use super::media::{Compression, Family};
use super::model::{ConfigBlob, ImageParts, Layer, LayerForm, LoadedImage, Manifest};

pub use index::build_platforms;
pub use provenance::Provenance;
pub use spool::scratch_candidates;

/// What to build (`image-from`, `image-cmd`, `image-port`, `image-env`, `compression`).
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// A directory (copied with its relative paths and modes) or a single executable.
    pub from: PathBuf,
    /// For a directory: the entrypoint (required). For a binary: arguments passed to it.
    pub cmd: Vec<String>,
    pub port: Option<u16>,
    pub env: Vec<(String, String)>,
    /// Go-style architecture name (`amd64`, `arm64`); the OS is always linux.
    pub architecture: String,
    pub compression: Compression,
    pub provenance: Provenance,
    /// Where a layer past `spool::MEMORY_LIMIT` may spill, first usable wins
    /// ([`scratch_candidates`]).
    pub scratch_dirs: Vec<PathBuf>,
}

/// Builds the image (its layer in memory, or past `spool::MEMORY_LIMIT` in a scratch file) and
/// returns it ready to push.
pub fn build(spec: &BuildSpec) -> Result<LoadedImage> {
    build_inner(spec).with_context(|| format!("building an image from {}", spec.from.display()))
}

fn build_inner(spec: &BuildSpec) -> Result<LoadedImage> {
    let meta = std::fs::metadata(&spec.from).context("cannot read image-from")?;
    let content = if meta.is_dir() {
        if spec.cmd.is_empty() {
            bail!("image-cmd is required when image-from is a directory (the entrypoint to run)");
        }
        layer::Content::Dir(spec.from.clone())
    } else if meta.is_file() {
        let name = spec
            .from
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty())
            .context("image-from has no usable file name")?;
        check_machine(&spec.from, &spec.architecture)?;
        layer::Content::Binary {
            path: spec.from.clone(),
            name: name.to_string(),
        }
    } else {
        bail!("image-from must be a directory or a regular file");
    };
    for (key, _) in &spec.env {
        if key.is_empty() || key.contains('=') {
            bail!("image-env name {key:?} is not valid");
        }
    }

    let spool = spool::Spool::new(spool::MEMORY_LIMIT, spec.scratch_dirs.clone());
    let (spool, built) = layer::write(&content, spool, spec.compression)?;
    let spooled = spool.finish()?;
    if let layer::Content::Dir(dir) = &content {
        crate::runner::info(&packed_line(dir, &built.packed));
    }
    let layer_type = match spec.compression {
        Compression::Gzip => MediaType::ImageLayerGzip,
        Compression::Zstd => MediaType::ImageLayerZstd,
    };
    let layer_desc = Descriptor::new(layer_type, built.size, built.digest.clone());

    let entrypoint = match &content {
        layer::Content::Binary { name, .. } => vec![format!("/app/{name}")],
        layer::Content::Dir(_) => spec.cmd.clone(),
    };
    let args = match &content {
        layer::Content::Binary { .. } => spec.cmd.clone(),
        layer::Content::Dir(_) => Vec::new(),
    };
    let config_bytes = Bytes::from(config::config_json(
        spec,
        &entrypoint,
        &args,
        &built.diff_id,
    )?);
    let config_desc = Descriptor::new(
        MediaType::ImageConfig,
        config_bytes.len() as u64,
        super::digest::sha256_of(&config_bytes),
    );
    let manifest_bytes = Bytes::from(config::manifest_json(&config_desc, &layer_desc)?);

    let image = ImageParts {
        family: Family::Oci,
        manifest: Some(Manifest::new(MediaType::ImageManifest, manifest_bytes)),
        config: ConfigBlob {
            descriptor: config_desc,
            bytes: config_bytes,
        },
        layers: vec![Layer {
            descriptor: layer_desc,
            source: spooled.source,
            form: LayerForm::AsIs,
        }],
        diff_ids: vec![built.diff_id],
        index_descriptor: None,
    };
    Ok(LoadedImage {
        images: vec![image],
        index: None,
        source: format!("build of {}", spec.from.display()),
        scratch: spooled.scratch.into_iter().collect(),
    })
}

/// One log line saying what a directory build packed, so a file that should not be in a
/// (possibly public) image is seen: counts, bytes, the largest files, and what was left out.
fn packed_line(dir: &std::path::Path, p: &layer::Packed) -> String {
    let largest: Vec<String> = p
        .largest
        .iter()
        .map(|(name, len)| format!("{name} {}", human_bytes(*len)))
        .collect();
    let mut line = format!(
        "packed {} files, {} from {}",
        p.files,
        human_bytes(p.bytes),
        dir.display()
    );
    if !largest.is_empty() {
        line.push_str(&format!("; largest: {}", largest.join(", ")));
    }
    if p.git_skipped > 0 {
        line.push_str("; .git left out");
    }
    if p.ignored > 0 {
        line.push_str(&format!(
            "; {} entries left out by {}",
            p.ignored,
            ignore::IGNORE_FILE
        ));
    }
    line
}

/// Exact below a megabyte (a small file matters too), else the push report's `12.3 MB`.
fn human_bytes(n: u64) -> String {
    if n < 1_000_000 {
        format!("{n} bytes")
    } else {
        super::report::megabytes(n)
    }
}

/// An image labelled with another architecture than its binary's would be pulled by the wrong
/// runners and die there with `exec format error`.
fn check_machine(binary: &std::path::Path, architecture: &str) -> Result<()> {
    match super::platform::elf_platform(binary) {
        Ok(Some(found)) if found.architecture() != architecture => {
            bail!("the binary is built for {found} but the image was to be linux/{architecture}")
        }
        Ok(_) => Ok(()),
        Err(e) => bail!("the binary {e}"),
    }
}
