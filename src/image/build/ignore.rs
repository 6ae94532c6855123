//! What of an `image-from` directory goes into the image. The directory is the workspace, which a
//! pull request can change and where other steps leave credentials, and the image may end up
//! public (Docker Hub's default). So:
//! - `.git` (a directory, or a worktree/submodule pointer file) never goes in, at any depth:
//!   `actions/checkout` keeps the token in `.git/config`;
//! - a `.dockerignore` in the directory is honoured with Docker's semantics: patterns relative to
//!   the directory, `*`/`?` within one path component, `**` across any number, `!` re-includes,
//!   the last matching line wins, and a pattern matching a directory matches everything below;
//! - well-known credential files are refused unless a `!` line names them (a deliberate choice).
//!
//! Patterns are compiled with `globset` (ripgrep's matcher) with `literal_separator`, which gives
//! Go's `filepath.Match` rules that Docker's matcher is built on.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use globset::{GlobBuilder, GlobMatcher};

/// The ignore file, read from the root of `image-from`.
pub const IGNORE_FILE: &str = ".dockerignore";

/// An ignore file larger than this is not a list of patterns.
const MAX_IGNORE_FILE: u64 = 1 << 20;

struct Rule {
    glob: GlobMatcher,
    exception: bool,
}

#[derive(Default)]
pub struct Ignore {
    rules: Vec<Rule>,
}

impl Ignore {
    /// Reads `<root>/.dockerignore` when it is a regular file (a link is not followed: its
    /// target could be anywhere).
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(IGNORE_FILE);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => bail!("{} is not a regular file", path.display()),
            Err(_) => return Ok(Self::default()),
        }
        let mut text = String::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_IGNORE_FILE + 1).read_to_string(&mut text))
            .with_context(|| format!("reading {}", path.display()))?;
        if text.len() as u64 > MAX_IGNORE_FILE {
            bail!("{} is larger than {MAX_IGNORE_FILE} bytes", path.display());
        }
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .with_context(|| format!("pattern {line:?} is not valid"))?
                .compile_matcher();
            rules.push(Rule { glob, exception });
        }
        Ok(Self { rules })
    }

    /// True when `rel` (a `/`-separated path below the root) is left out: the last rule that
    /// matches it or one of its parent directories decides.
    pub fn excluded(&self, rel: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if rule.glob.is_match(rel) || parents(rel).any(|p| rule.glob.is_match(p)) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// True when a `!` line names `rel` itself: the user chose to pack it.
    pub fn explicitly_included(&self, rel: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.exception && r.glob.is_match(rel))
    }

    /// True when no `!` line exists: an excluded directory can then be skipped whole.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

/// Docker's pattern preprocessing: `filepath.Clean`, then no leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `a/b/c` → `a/b`, `a`.
fn parents(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(|(i, _)| &rel[..i])
}

/// Why `rel` looks like a credential file, if it does. Names that are credentials by themselves
/// are refused outright; `.npmrc` and key-like names only when their content holds a secret.
pub fn credential_kind(rel: &str, path: &Path) -> Option<&'static str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let by_name = match name {
        ".git-credentials" => Some("git credentials"),
        ".netrc" | "_netrc" => Some("a netrc login file"),
        ".pypirc" => Some("PyPI credentials"),
        ".env" => Some("a dotenv file (application secrets)"),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" => Some("an SSH private key"),
        _ if name.starts_with("gha-creds-") && name.ends_with(".json") => {
            Some("Google Cloud credentials (written by google-github-actions/auth)")
        }
        _ => None,
    };
    if by_name.is_some() {
        return by_name;
    }
    if rel == ".docker/config.json" || rel.ends_with("/.docker/config.json") {
        return Some("Docker registry credentials");
    }
    if rel == ".aws/credentials" || rel.ends_with("/.aws/credentials") {
        return Some("AWS credentials");
    }
    if name == ".npmrc" && head_contains(path, &["_authToken", "_auth=", "_password"]) {
        return Some("npm registry credentials");
    }
    let key_like = [".pem", ".key"].iter().any(|ext| name.ends_with(ext));
    if key_like && head_contains(path, &["PRIVATE KEY-----"]) {
        return Some("a private key");
    }
    None
}

/// True when the first 64 KiB of the file contain any of `needles`.
fn head_contains(path: &Path, needles: &[&str]) -> bool {
    let mut head = Vec::new();
    if std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .is_err()
    {
        return false;
    }
    let text = String::from_utf8_lossy(&head);
    needles.iter().any(|n| text.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics() {
        let ig = Ignore::parse(
            "# comment\n*.md\n!README.md\nnode_modules\n/tmp/\n**/*.log\ndocs/*/draft\n",
        )
        .unwrap();
        // `*.md` is anchored at the root, as in Docker (unlike .gitignore).
        assert!(ig.excluded("CHANGES.md"));
        assert!(!ig.excluded("docs/CHANGES.md"));
        assert!(!ig.excluded("README.md"));
        assert!(ig.explicitly_included("README.md"));
        // A matched directory takes everything below it.
        assert!(ig.excluded("node_modules"));
        assert!(ig.excluded("node_modules/x/index.js"));
        assert!(!ig.excluded("src/node_modules"));
        assert!(ig.excluded("tmp/a"));
        assert!(ig.excluded("a/b/c.log"));
        assert!(ig.excluded("c.log"));
        assert!(ig.excluded("docs/x/draft"));
        assert!(!ig.excluded("docs/x/y/draft"));
        assert!(!ig.excluded("main.rs"));
    }

    #[test]
    fn the_last_matching_line_wins() {
        let ig = Ignore::parse("!keep\n*\n").unwrap();
        assert!(ig.excluded("keep"));
        let ig = Ignore::parse("*\n!keep\n").unwrap();
        assert!(!ig.excluded("keep") && ig.excluded("other"));
    }

    #[test]
    fn credential_files_by_name_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str, body: &str| {
            let path = dir.path().join(n.replace('/', "_"));
            std::fs::write(&path, body).unwrap();
            path
        };
        for name in [
            ".git-credentials",
            ".netrc",
            "gha-creds-1234abcd.json",
            "sub/.docker/config.json",
            ".aws/credentials",
            "deploy/id_ed25519",
        ] {
            assert!(credential_kind(name, &p(name, "x")).is_some(), "{name}");
        }
        assert!(credential_kind(".npmrc", &p("a", "//r/:_authToken=abc\n")).is_some());
        assert!(credential_kind(".npmrc", &p("b", "save-exact=true\n")).is_none());
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";
        assert!(credential_kind("tls/server.key", &p("c", key)).is_some());
        let cert = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n";
        assert!(credential_kind("tls/ca.pem", &p("d", cert)).is_none());
        assert!(credential_kind("static/app.json", &p("e", "{}")).is_none());
    }
}
