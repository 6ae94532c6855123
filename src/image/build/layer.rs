//! Writes the build's single layer: a reproducible tar (sorted entries, mtime 0, owner 0:0),
//! compressed deterministically, hashed on the way (the tar's digest is the diff_id, the
//! compressed file's the layer digest).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

use super::ignore::{IGNORE_FILE, Ignore, credential_kind};
use crate::image::compress::Encoder;
use crate::image::digest;
use crate::image::media::Compression;

pub enum Content {
    Dir(PathBuf),
    /// A single executable, placed at `/app/<name>` with mode 0755.
    Binary {
        path: PathBuf,
        name: String,
    },
}

pub struct Built {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
    /// What went in, for the log.
    pub packed: Packed,
}

/// What a directory build put into the layer and what it left out.
#[derive(Debug, Default)]
pub struct Packed {
    pub files: u64,
    pub bytes: u64,
    /// The largest files, biggest first, at most [`LARGEST_SHOWN`].
    pub largest: Vec<(String, u64)>,
    /// `.git` entries skipped (never packed).
    pub git_skipped: u64,
    /// Entries left out by `.dockerignore` (a skipped directory counts once).
    pub ignored: u64,
}

pub const LARGEST_SHOWN: usize = 5;

impl Packed {
    fn add_file(&mut self, rel: &str, len: u64) {
        self.files += 1;
        self.bytes += len;
        let at = self.largest.partition_point(|(_, l)| *l >= len);
        if at < LARGEST_SHOWN {
            self.largest.insert(at, (rel.to_string(), len));
            self.largest.truncate(LARGEST_SHOWN);
        }
    }
}

/// The walk of a directory source: the ignore rules, credential files found, and the tally.
struct Walk {
    ignore: Ignore,
    refused: Vec<(String, &'static str)>,
    packed: Packed,
}

/// Writes the compressed layer into `out` and returns `out` with the layer's digests.
pub fn write<W: Write>(content: &Content, out: W, compression: Compression) -> Result<(W, Built)> {
    let compressed = Hashing::new(out);
    let encoder = Encoder::new(compression, compressed)?;
    let mut tar = tar::Builder::new(Hashing::new(encoder));
    let mut packed = Packed::default();
    match content {
        Content::Binary { path, name } => {
            append_dir(&mut tar, "app", 0o755)?;
            let meta = std::fs::metadata(path)?;
            append_file(&mut tar, &format!("app/{name}"), path, 0o755, meta.len())?;
            packed.add_file(name, meta.len());
        }
        Content::Dir(root) => {
            let mut walk = Walk {
                ignore: Ignore::load(root)?,
                refused: Vec::new(),
                packed: Packed::default(),
            };
            append_tree(&mut tar, &mut walk, root, Path::new(""))?;
            if !walk.refused.is_empty() {
                let list: Vec<String> = walk
                    .refused
                    .iter()
                    .map(|(rel, why)| format!("{rel} ({why})"))
                    .collect();
                bail!(
                    "refusing to pack credential files into the image: {}. Add them to {IGNORE_FILE} in {} to leave them out, or name them in a `!` line there to pack them deliberately",
                    list.join(", "),
                    root.display()
                );
            }
            packed = walk.packed;
        }
    }
    let tar_hash = tar.into_inner().context("finishing the layer tar")?;
    let (encoder, diff_id, _) = tar_hash.finish();
    let compressed = encoder.finish().context("finishing layer compression")?;
    let (mut out, digest, size) = compressed.finish();
    out.flush().context("writing the layer")?;
    Ok((
        out,
        Built {
            digest,
            size,
            diff_id,
            packed,
        },
    ))
}

/// Depth-first, children sorted by name: the order never depends on the file system. Symlinks
/// go in as links, never followed (their targets may lie outside the directory).
fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    walk: &mut Walk,
    dir: &Path,
    rel: &Path,
) -> Result<()> {
    let mut children = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<Vec<_>>>()?;
    children.sort();
    for name in children {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        let rel_str = rel
            .to_str()
            .with_context(|| format!("{} is not a UTF-8 path", path.display()))?;
        let meta = std::fs::symlink_metadata(&path)?;
        let mode = meta.permissions().mode() & 0o7777;
        let kind = meta.file_type();
        if name == ".git" {
            walk.packed.git_skipped += 1;
            continue;
        }
        let excluded = walk.ignore.excluded(rel_str);
        if kind.is_dir() {
            if excluded && !walk.ignore.has_exceptions() {
                walk.packed.ignored += 1;
                continue;
            }
            if !excluded {
                append_dir(tar, rel_str, mode)?;
            }
            append_tree(tar, walk, &path, &rel)?;
        } else if excluded {
            walk.packed.ignored += 1;
        } else if kind.is_file() {
            if let Some(why) = credential_kind(rel_str, &path)
                && !walk.ignore.explicitly_included(rel_str)
            {
                walk.refused.push((rel_str.to_string(), why));
                continue;
            }
            append_file(tar, rel_str, &path, mode, meta.len())?;
            walk.packed.add_file(rel_str, meta.len());
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path)?;
            let mut h = header(EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, rel_str, &target)?;
        } else {
            let what = if kind.is_fifo() {
                "a named pipe"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device file"
            };
            bail!(
                "{} is {what}: only regular files, directories and symlinks go into an image",
                path.display()
            );
        }
    }
    Ok(())
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, rel: &str, mode: u32) -> Result<()> {
    let mut h = header(EntryType::Directory, mode, 0);
    tar.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
    Ok(())
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    rel: &str,
    path: &Path,
    mode: u32,
    len: u64,
) -> Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = header(EntryType::Regular, mode, len);
    // `take` guards against a file growing while it is copied: the header already says `len`.
    tar.append_data(&mut h, rel, std::io::Read::take(file, len))
        .with_context(|| format!("adding {}", path.display()))?;
    Ok(())
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// Passes bytes through while hashing and counting them.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    fn finish(self) -> (W, Digest, u64) {
        (self.inner, digest::from_hasher(self.hasher), self.count)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
