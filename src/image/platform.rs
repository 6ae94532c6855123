//! The platforms a daemonless build targets (`linux/amd64`, `linux/arm64`), the `image-from`
//! grammar that maps them to inputs, and the ELF check that ties a binary to its platform.
//!
//! A binary's ELF header names its machine (`e_machine`: 62 is x86-64, 183 is AArch64); an image
//! labelled with another architecture would be pulled by the wrong runners and fail there with
//! `exec format error`, so a mismatch is refused before anything is built.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A platform an image can be built for. The OS is always linux (Fargate and Actions runners).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    Amd64,
    Arm64,
}

const ELF_MACHINE_X86_64: u16 = 62;
const ELF_MACHINE_AARCH64: u16 = 183;

impl Platform {
    /// `linux/amd64` or `linux/arm64` (a `linux/arm64/v8` variant is the same image).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linux/amd64" | "linux/x86_64" => Some(Self::Amd64),
            "linux/arm64" | "linux/arm64/v8" | "linux/aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    /// The Go-style architecture of image configs and index entries.
    pub fn architecture(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// The platform this binary was compiled for: what a directory source is built as when no
    /// platform is given.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Arm64
        } else {
            Self::Amd64
        }
    }

    fn from_elf_machine(machine: u16) -> Option<Self> {
        match machine {
            ELF_MACHINE_X86_64 => Some(Self::Amd64),
            ELF_MACHINE_AARCH64 => Some(Self::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.architecture())
    }
}

/// One `image-from` entry: a path, and the platform it was declared for (`None`: a single path
/// without a platform, which takes the binary's own or the host's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformInput {
    pub platform: Option<Platform>,
    pub path: PathBuf,
}

/// Parses `image-from`: one path, or lines of `os/arch=path` (blank lines ignored). Paths are
/// not checked here. Returns the well-formed entries and every problem found (each a sentence),
/// so that the entries can still be checked and all mistakes reported at once.
pub fn parse_inputs(value: &str) -> (Vec<PlatformInput>, Vec<String>) {
    let lines: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    if let [only] = lines.as_slice()
        && declared_platform(only).is_none()
    {
        return (
            vec![PlatformInput {
                platform: None,
                path: PathBuf::from(only),
            }],
            Vec::new(),
        );
    }
    for line in &lines {
        let Some((name, path)) = declared_platform(line) else {
            errors.push(format!(
                "line {line:?} names no platform: with several inputs, write one `linux/amd64=PATH` or `linux/arm64=PATH` per line"
            ));
            continue;
        };
        let Some(platform) = Platform::parse(name) else {
            errors.push(format!(
                "platform {name:?} is not supported: use linux/amd64 or linux/arm64"
            ));
            continue;
        };
        if path.is_empty() {
            errors.push(format!("{platform} has no path after `=`"));
            continue;
        }
        if inputs
            .iter()
            .any(|i: &PlatformInput| i.platform == Some(platform))
        {
            errors.push(format!("{platform} is given more than once"));
            continue;
        }
        inputs.push(PlatformInput {
            platform: Some(platform),
            path: PathBuf::from(path),
        });
    }
    if inputs.is_empty() && errors.is_empty() {
        errors.push("is empty".to_string());
    }
    (inputs, errors)
}

/// `linux/arm64=dist/app` → (`linux/arm64`, `dist/app`). A path holding `=` is a plain path
/// (None) unless what precedes the `=` is shaped like `os/arch` (words of letters, digits and `_`
/// joined by `/`): `a=b` and `out.d/a=b` are paths, `out/a=b` is an (unsupported) platform.
fn declared_platform(line: &str) -> Option<(&str, &str)> {
    let (name, path) = line.split_once('=')?;
    let name = name.trim();
    let looks_like_platform = name.contains('/')
        && name.split('/').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    looks_like_platform.then_some((name, path.trim()))
}

/// The platform of an ELF binary, `Ok(None)` for a file that is not ELF (a script: it runs
/// anywhere its interpreter does), an error for an ELF of an unsupported machine.
pub fn elf_platform(path: &Path) -> Result<Option<Platform>, String> {
    let mut header = [0u8; 20];
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(format!("cannot be read: {e}")),
        }
    }
    if read < header.len() || &header[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        other => {
            return Err(format!(
                "has an ELF header with an invalid byte order ({other})"
            ));
        }
    };
    match Platform::from_elf_machine(machine) {
        Some(p) => Ok(Some(p)),
        None => Err(format!(
            "is an ELF binary for machine {machine}, not x86-64 (linux/amd64) or AArch64 (linux/arm64)"
        )),
    }
}

/// The platform to build `input` as: the declared one, checked against a binary's ELF header;
/// else the binary's own; else (a directory or a non-ELF file) the host's. An error is a phrase
/// to follow the path ("is a linux/arm64 binary but was given for linux/amd64").
pub fn resolve(input: &PlatformInput) -> Result<Platform, String> {
    let is_file = std::fs::metadata(&input.path)
        .map(|m| m.is_file())
        .unwrap_or(false);
    let found = if is_file {
        elf_platform(&input.path)?
    } else {
        None
    };
    match (input.platform, found) {
        (Some(declared), Some(binary)) if declared != binary => {
            Err(format!("is a {binary} binary but was given for {declared}"))
        }
        (Some(declared), _) => Ok(declared),
        (None, Some(binary)) => Ok(binary),
        (None, None) => Ok(Platform::host()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 20 bytes of an ELF64 little-endian header for `machine`.
    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&2u16.to_le_bytes()); // e_type: executable
        h.extend_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn one_path_takes_no_platform() {
        let (got, errs) = parse_inputs("  dist/webapp \n");
        assert!(errs.is_empty());
        assert_eq!(
            got,
            vec![PlatformInput {
                platform: None,
                path: "dist/webapp".into()
            }]
        );
        // `=` in a plain path is not a platform line.
        assert_eq!(parse_inputs("out.d/a=b.bin").0[0].platform, None);
        assert_eq!(parse_inputs("a=b").0[0].platform, None);
        // …but a prefix shaped like `os/arch` is read as a platform, and checked as one.
        assert!(parse_inputs("out/a=b.bin").1[0].contains("\"out/a\" is not supported"));
    }

    #[test]
    fn lines_map_platforms_to_paths() {
        let (got, errs) =
            parse_inputs("linux/amd64=dist/amd64/app\n\nlinux/arm64 = dist/arm64/app\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].platform, Some(Platform::Amd64));
        assert_eq!(got[1].platform, Some(Platform::Arm64));
        assert_eq!(got[1].path, PathBuf::from("dist/arm64/app"));
        // A single platform line is a single-platform build for that platform.
        let (one, _) = parse_inputs("linux/arm64=app");
        assert_eq!(one[0].platform, Some(Platform::Arm64));
    }

    #[test]
    fn bad_lines_are_each_reported() {
        let (good, errs) =
            parse_inputs("linux/amd64=a\nlinux/amd64=b\nwindows/amd64=c\nplain\nlinux/arm64=");
        assert_eq!(good.len(), 1, "the well-formed line is kept");
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].contains("more than once"));
        assert!(errs[1].contains("\"windows/amd64\" is not supported"));
        assert!(errs[2].contains("names no platform"));
        assert!(errs[3].contains("no path"));
    }

    #[test]
    fn elf_machine_decides_the_platform() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let amd = write("amd", &elf(62));
        let arm = write("arm", &elf(183));
        let riscv = write("riscv", &elf(243));
        let script = write("script", b"#!/bin/sh\necho hi\n");
        assert_eq!(elf_platform(&amd).unwrap(), Some(Platform::Amd64));
        assert_eq!(elf_platform(&arm).unwrap(), Some(Platform::Arm64));
        assert!(elf_platform(&riscv).unwrap_err().contains("machine 243"));
        assert_eq!(elf_platform(&script).unwrap(), None);

        let given = |platform, path: &PathBuf| PlatformInput {
            platform,
            path: path.clone(),
        };
        assert_eq!(resolve(&given(None, &arm)).unwrap(), Platform::Arm64);
        assert_eq!(
            resolve(&given(Some(Platform::Arm64), &arm)).unwrap(),
            Platform::Arm64
        );
        let err = resolve(&given(Some(Platform::Amd64), &arm)).unwrap_err();
        assert!(
            err.contains("is a linux/arm64 binary but was given for linux/amd64"),
            "{err}"
        );
        assert_eq!(
            resolve(&given(Some(Platform::Arm64), &script)).unwrap(),
            Platform::Arm64
        );
        assert_eq!(
            resolve(&given(None, &dir.path().to_path_buf())).unwrap(),
            Platform::host()
        );
    }
}
