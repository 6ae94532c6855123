//! Files named by inputs (`template`, a `parameter-overrides` file). The workspace is untrusted
//! (a pull request can change it) and a path input may come from a dispatch form, so a file is
//! read only when it is a regular file (no `/dev/zero`, no FIFO), no larger than its limit (read
//! through a bounded reader, so a file that lies about its size cannot grow memory either), and —
//! inside Actions — inside `GITHUB_WORKSPACE`, after following every symlink.

use std::io::Read;
use std::path::PathBuf;

use super::Env;
use super::values::shown;

/// Where input files may live.
#[derive(Debug, Clone)]
pub enum FileScope {
    /// Inside Actions: the workspace, resolved (symlinks followed) once.
    Workspace(PathBuf),
    /// A CLI run on someone's own machine: any path they name.
    Anywhere,
}

impl FileScope {
    /// The workspace rule applies in Actions (`GITHUB_ACTIONS=true` with `GITHUB_WORKSPACE`).
    pub fn from_env(env: &Env) -> Self {
        match (env.get("GITHUB_ACTIONS"), env.get("GITHUB_WORKSPACE")) {
            (Some("true"), Some(ws)) => {
                Self::Workspace(std::fs::canonicalize(ws).unwrap_or_else(|_| PathBuf::from(ws)))
            }
            _ => Self::Anywhere,
        }
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum FileError {
    TooLarge(u64),
    Other(String),
}

/// Reads `path` as UTF-8 text under the rules above, refusing more than `limit` bytes.
pub fn read_text(path: &str, limit: u64, scope: &FileScope) -> Result<String, FileError> {
    let other = |m: String| FileError::Other(m);
    let resolved = std::fs::canonicalize(path)
        .map_err(|e| other(format!("cannot read {}: {e}", shown(path))))?;
    if let FileScope::Workspace(ws) = scope
        && !resolved.starts_with(ws)
    {
        return Err(other(format!(
            "{} resolves to {}, outside the workspace {}: inside Actions, files named by inputs must be in GITHUB_WORKSPACE (write generated files there)",
            shown(path),
            shown(&resolved.to_string_lossy()),
            ws.display()
        )));
    }
    let meta = std::fs::metadata(&resolved)
        .map_err(|e| other(format!("cannot read {}: {e}", shown(path))))?;
    if !meta.is_file() {
        return Err(other(format!("{} is not a regular file", shown(path))));
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge(meta.len()));
    }
    let file = std::fs::File::open(&resolved)
        .map_err(|e| other(format!("cannot read {}: {e}", shown(path))))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| other(format!("cannot read {}: {e}", shown(path))))?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| other(format!("{} is not UTF-8 text", shown(path))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_files_fifos_and_large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let any = FileScope::Anywhere;
        assert!(matches!(
            read_text("/dev/zero", 100, &any),
            Err(FileError::Other(m)) if m.contains("not a regular file")
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 101]).unwrap();
        assert!(matches!(
            read_text(big.to_str().unwrap(), 100, &any),
            Err(FileError::TooLarge(101))
        ));
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "A: 1\n").unwrap();
        assert_eq!(
            read_text(ok.to_str().unwrap(), 100, &any).unwrap(),
            "A: 1\n"
        );
    }

    #[test]
    fn the_workspace_bounds_paths_and_links() {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.yml");
        std::fs::write(&secret, "A: 1\n").unwrap();
        let link = ws.path().join("link.yml");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let inside = ws.path().join("t.yml");
        std::fs::write(&inside, "A: 2\n").unwrap();
        let scope = FileScope::Workspace(std::fs::canonicalize(ws.path()).unwrap());
        for p in [&secret, &link] {
            match read_text(p.to_str().unwrap(), 100, &scope) {
                Err(FileError::Other(m)) => assert!(m.contains("outside the workspace"), "{m}"),
                other => panic!("{} was read: {other:?}", p.display()),
            }
        }
        assert_eq!(
            read_text(inside.to_str().unwrap(), 100, &scope).unwrap(),
            "A: 2\n"
        );
    }
}
