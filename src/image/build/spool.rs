//! Where the built layer's compressed bytes go: memory, so that a build needs no writable
//! directory at all (the action's own image is `scratch`, with only the runner's mounts
//! writable), spilling to a file only past `limit` bytes.
//!
//! The spill directory is the first usable of: `RUNNER_TEMP` when it exists (on a runner it does
//! for `run:` steps; inside a container action it names a host path that is not mounted), then
//! the system temporary directory, created when missing (a `scratch` root is writable), then
//! `HOME` (`/github/home`, always mounted in a container action).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;

use crate::image::blob::BlobSource;
use crate::image::model::ScratchDir;

/// A compressed layer of a single static binary is tens of MB; past this, memory is spared.
pub const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

pub enum Spool {
    Memory {
        buf: Vec<u8>,
        limit: usize,
        spill_to: Vec<PathBuf>,
    },
    File {
        file: BufWriter<File>,
        dir: ScratchDir,
        path: PathBuf,
    },
}

/// The finished layer: its bytes, and the directory to keep alive while they are read.
pub struct Spooled {
    pub source: BlobSource,
    pub scratch: Option<Arc<ScratchDir>>,
}

impl Spool {
    pub fn new(limit: usize, spill_to: Vec<PathBuf>) -> Self {
        Self::Memory {
            buf: Vec::new(),
            limit,
            spill_to,
        }
    }

    pub fn finish(self) -> Result<Spooled> {
        match self {
            Self::Memory { buf, .. } => Ok(Spooled {
                source: BlobSource::Memory(Bytes::from(buf)),
                scratch: None,
            }),
            Self::File { file, dir, path } => {
                let file = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .context("writing the layer")?;
                file.sync_all().context("writing the layer")?;
                let len = file.metadata().context("writing the layer")?.len();
                Ok(Spooled {
                    source: BlobSource::file_range(Arc::new(path), 0, len),
                    scratch: Some(Arc::new(dir)),
                })
            }
        }
    }

    fn spill(buf: &[u8], candidates: &[PathBuf]) -> std::io::Result<Self> {
        let dir = scratch_dir(candidates).map_err(std::io::Error::other)?;
        let path = dir.0.join("layer");
        let mut file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        file.write_all(buf)?;
        Ok(Self::File { file, dir, path })
    }
}

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Memory {
                buf,
                limit,
                spill_to,
            } => {
                if buf.len() + data.len() <= *limit {
                    buf.extend_from_slice(data);
                    return Ok(data.len());
                }
                let mut spilled = Self::spill(buf, spill_to)?;
                let n = spilled.write(data)?;
                *self = spilled;
                Ok(n)
            }
            Self::File { file, .. } => file.write(data),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Memory { .. } => Ok(()),
            Self::File { file, .. } => file.flush(),
        }
    }
}

/// The spill directories in the order described at the top of this file.
pub fn scratch_candidates(env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(t) = env("RUNNER_TEMP").map(PathBuf::from)
        && t.is_dir()
    {
        dirs.push(t);
    }
    dirs.push(env("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from));
    if let Some(home) = env("HOME") {
        dirs.push(PathBuf::from(home));
    }
    dirs
}

/// A fresh directory of our own under the first candidate where one can be made.
fn scratch_dir(candidates: &[PathBuf]) -> Result<ScratchDir> {
    let name = format!(
        "ecs-poc-action-build-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    let mut tried = Vec::new();
    for parent in candidates {
        let dir = parent.join(&name);
        match std::fs::create_dir_all(&dir) {
            Ok(()) => return Ok(ScratchDir(dir)),
            Err(e) => tried.push(format!("{}: {e}", parent.display())),
        }
    }
    bail!(
        "the layer is larger than {} MiB and no directory to spill it to could be made ({})",
        MEMORY_LIMIT >> 20,
        tried.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(source: &BlobSource) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut source.reader().unwrap(), &mut out).unwrap();
        out
    }

    #[test]
    fn small_layers_stay_in_memory_and_touch_no_directory() {
        let mut spool = Spool::new(1024, vec![PathBuf::from("/nonexistent/never-made")]);
        spool.write_all(b"hello ").unwrap();
        spool.write_all(b"world").unwrap();
        let done = spool.finish().unwrap();
        assert!(matches!(done.source, BlobSource::Memory(_)));
        assert!(done.scratch.is_none());
        assert_eq!(read_all(&done.source), b"hello world");
    }

    #[test]
    fn large_layers_spill_to_the_first_usable_candidate_and_are_removed_after() {
        let usable = tempfile::tempdir().unwrap();
        // A file where a directory is expected: create_dir_all fails there, the next one is used.
        let blocked = usable.path().join("not-a-dir");
        std::fs::write(&blocked, "").unwrap();
        let mut spool = Spool::new(8, vec![blocked, usable.path().join("made/by/us")]);
        spool.write_all(b"0123456").unwrap();
        spool.write_all(b"789abcdef").unwrap();
        let done = spool.finish().unwrap();
        let scratch = done.scratch.clone().unwrap();
        assert!(scratch.0.starts_with(usable.path().join("made/by/us")));
        assert_eq!(read_all(&done.source), b"0123456789abcdef");
        drop(done);
        drop(scratch);
        let left: Vec<_> = std::fs::read_dir(usable.path().join("made/by/us"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "scratch directory removed with the image");
    }

    #[test]
    fn no_usable_directory_is_a_clear_error() {
        let base = tempfile::tempdir().unwrap();
        let blocked = base.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let mut spool = Spool::new(2, vec![blocked.clone()]);
        let err = spool.write_all(b"too long").unwrap_err().to_string();
        assert!(
            err.contains("no directory to spill it to")
                && err.contains(&*blocked.to_string_lossy()),
            "{err}"
        );
    }
}
