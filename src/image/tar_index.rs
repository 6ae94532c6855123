//! An index of a tar archive's entries by byte offset, so blobs are read in place from the
//! archive file instead of being unpacked or held in memory. Names are normalised and checked:
//! an entry or link that would point outside the archive makes the whole archive invalid.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tar::EntryType;

use super::blob::BlobSource;

/// Links followed before a chain is declared a loop.
const MAX_LINK_HOPS: usize = 16;

/// Limits on what a hostile archive can make the index hold. A GNU long-name/long-link or PAX
/// extension is read whole into memory by the tar reader, so each is capped (real ones are a
/// path of at most 4 KiB plus a few records); entries and the bytes of their names are capped so
/// the index stays small. With these, indexing an archive holds at most ~64 KiB of header data at
/// a time and an index of at most 16 MiB of names — whatever the archive claims.
pub const MAX_EXTENSION_SIZE: u64 = 64 * 1024;
pub const MAX_ENTRIES: usize = 100_000;
pub const MAX_NAME_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
enum Entry {
    File {
        offset: u64,
        len: u64,
    },
    /// A symlink or hard link, with its target already resolved to an archive path.
    Link(String),
    Other,
}

#[derive(Debug)]
pub struct TarIndex {
    path: Arc<PathBuf>,
    entries: HashMap<String, Entry>,
}

impl TarIndex {
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let file_len = file.metadata()?.len();
        check_headers(&mut file, file_len)?;
        file.seek(SeekFrom::Start(0))?;
        let mut name_bytes = 0usize;
        let mut archive = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = archive
            .entries_with_seek()
            .context("reading the tar archive")?;
        for entry in iter {
            let entry =
                entry.context("reading a tar entry header (truncated or not a tar archive?)")?;
            let raw_name = entry
                .path()
                .context("a tar entry name is not valid")?
                .into_owned();
            let name = normalize(&raw_name)?;
            let header = entry.header();
            let kind = header.entry_type();
            let value = match kind {
                EntryType::Regular | EntryType::Continuous => {
                    let offset = entry.raw_file_position();
                    let len = entry.size();
                    if offset.checked_add(len).is_none_or(|end| end > file_len) {
                        bail!(
                            "tar entry {name} runs past the end of the archive: the archive is truncated"
                        );
                    }
                    Entry::File { offset, len }
                }
                EntryType::Symlink | EntryType::Link => {
                    let target = entry
                        .link_name()
                        .context("a tar link target is not valid")?
                        .with_context(|| format!("tar link {name} has no target"))?
                        .into_owned();
                    let base = if kind == EntryType::Symlink {
                        // Symlinks resolve relative to the link's own directory.
                        Path::new(&name)
                            .parent()
                            .map(Path::to_path_buf)
                            .unwrap_or_default()
                    } else {
                        // Hard links name a path from the archive root.
                        PathBuf::new()
                    };
                    let resolved = normalize(&base.join(&target))
                        .with_context(|| format!("tar link {name} -> {}", target.display()))?;
                    Entry::Link(resolved)
                }
                _ => Entry::Other,
            };
            name_bytes = name_bytes.saturating_add(name.len());
            if name_bytes > MAX_NAME_BYTES {
                bail!(
                    "the archive's entry names exceed {MAX_NAME_BYTES} bytes: not an image archive"
                );
            }
            // Later entries replace earlier ones, as when a tar is extracted.
            entries.insert(name, value);
        }
        Ok(Self {
            path: Arc::new(path.to_path_buf()),
            entries,
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The bytes of the regular file at `name`, following links inside the archive.
    pub fn file(&self, name: &str) -> Result<BlobSource> {
        let mut current = name.to_string();
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&current) {
                Some(Entry::File { offset, len }) => {
                    return Ok(BlobSource::file_range(self.path.clone(), *offset, *len));
                }
                Some(Entry::Link(target)) => current = target.clone(),
                Some(Entry::Other) => bail!("{name} in the archive is not a regular file"),
                None => bail!("{name} is missing from the archive"),
            }
        }
        bail!("{name} in the archive is a link loop")
    }
}

/// Walks the raw 512-byte headers before the tar reader sees them, refusing header extensions
/// larger than [`MAX_EXTENSION_SIZE`] and more than [`MAX_ENTRIES`] entries: the reader would
/// otherwise buffer a 256 MiB "long name" whole. Reads one header at a time and seeks past data;
/// anything malformed is left to the reader, which reports it.
fn check_headers(file: &mut File, file_len: u64) -> Result<()> {
    let mut offset = 0u64;
    let mut block = [0u8; 512];
    for _ in 0..=MAX_ENTRIES {
        if offset.saturating_add(512) > file_len {
            return Ok(());
        }
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut block)?;
        if block.iter().all(|b| *b == 0) {
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(&block);
        let Ok(size) = header.entry_size() else {
            return Ok(());
        };
        let kind = header.entry_type();
        let extension = match kind {
            EntryType::GNULongName => Some("GNU long name"),
            EntryType::GNULongLink => Some("GNU long link name"),
            EntryType::XHeader => Some("PAX extended header"),
            EntryType::XGlobalHeader => Some("PAX global header"),
            _ => None,
        };
        if let Some(what) = extension
            && size > MAX_EXTENSION_SIZE
        {
            bail!(
                "tar entry at byte {offset} is a {what} of {size} bytes (at most {MAX_EXTENSION_SIZE} accepted): not an image archive"
            );
        }
        let Some(next) = size
            .checked_add(511)
            .map(|s| s & !511)
            .and_then(|s| s.checked_add(offset + 512))
        else {
            return Ok(());
        };
        offset = next;
    }
    bail!("the archive has more than {MAX_ENTRIES} entries: not an image archive")
}

/// An archive-relative path with `.` removed and a leading `/` dropped; `..` is resolved and may
/// never climb above the archive root.
pub fn normalize(path: &Path) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(p) => {
                let Some(p) = p.to_str() else {
                    bail!("path {} is not UTF-8", path.display())
                };
                parts.push(p.to_string());
            }
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    bail!("path {} escapes the archive", path.display());
                }
            }
            Component::Prefix(_) => bail!("path {} is not a relative archive path", path.display()),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn index(bytes: &[u8]) -> (tempfile::TempDir, Result<TarIndex>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, bytes).unwrap();
        let idx = TarIndex::open(&p);
        (dir, idx)
    }

    #[test]
    fn reads_files_in_place_and_follows_links() {
        let bytes = tar_with(|b| {
            add(b, "./a/layer.tar", b"layer bytes");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "b/layer.tar", "../a/layer.tar")
                .unwrap();
        });
        let (_d, idx) = index(&bytes);
        let idx = idx.unwrap();
        let src = idx.file("b/layer.tar").unwrap();
        assert_eq!(src.read_small(100).unwrap().as_ref(), b"layer bytes");
        assert!(idx.file("missing").is_err());
    }

    #[test]
    fn a_link_escaping_the_archive_is_rejected() {
        let bytes = tar_with(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "x/layer.tar", "../../etc/passwd")
                .unwrap();
        });
        let err = index(&bytes).1.unwrap_err();
        assert!(
            format!("{err:#}").contains("escapes the archive"),
            "{err:#}"
        );
    }

    #[test]
    fn a_name_escaping_the_archive_is_rejected() {
        let mut bytes = tar_with(|b| add(b, "aa/manifest.json", b"{}"));
        // Rewrite the name in the header to "../manifest.json" and fix the checksum.
        bytes[..16].copy_from_slice(b"../manifest.json");
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&bytes[..512]);
        h.set_cksum();
        bytes[..512].copy_from_slice(h.as_bytes());
        let err = index(&bytes).1.unwrap_err();
        assert!(
            format!("{err:#}").contains("escapes the archive"),
            "{err:#}"
        );
    }

    #[test]
    fn a_truncated_archive_is_rejected() {
        let bytes = tar_with(|b| add(b, "blob", &[1u8; 5000]));
        let err = index(&bytes[..2048]).1.unwrap_err();
        assert!(format!("{err:#}").contains("truncated"), "{err:#}");
    }

    #[test]
    fn normalize_keeps_inner_parent_steps() {
        assert_eq!(normalize(Path::new("./a/../b/./c")).unwrap(), "b/c");
        assert!(normalize(Path::new("a/../../b")).is_err());
    }
}
