//! Where a built image comes from: source URL, revision and creation time, all taken from the
//! environment of the run so the config (and so the digest) depends on the commit, not the clock.

use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// `org.opencontainers.image.source`, e.g. `https://github.com/owner/repo`.
    pub source_url: Option<String>,
    /// `org.opencontainers.image.revision`: the commit SHA.
    pub revision: Option<String>,
    /// Seconds since the epoch for the config's `created`.
    pub created: i64,
}

impl Provenance {
    /// From `GITHUB_SERVER_URL`/`GITHUB_REPOSITORY`/`GITHUB_SHA`, and `SOURCE_DATE_EPOCH` or the
    /// last commit's time in `workspace` (falling back to the epoch: never the current time).
    pub fn from_env(workspace: &Path) -> Result<Self> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let source_url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY")) {
            (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
            _ => None,
        };
        let created = match var("SOURCE_DATE_EPOCH") {
            Some(v) => v
                .parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds"))?,
            None => commit_time(workspace).unwrap_or(0),
        };
        Ok(Self {
            source_url,
            revision: var("GITHUB_SHA"),
            created,
        })
    }

    pub fn created_rfc3339(&self) -> Result<String> {
        let t = OffsetDateTime::from_unix_timestamp(self.created)
            .context("creation time out of range")?;
        Ok(t.format(&time::format_description::well_known::Rfc3339)?)
    }
}

/// `git log -1 --format=%ct` in the workspace; `None` when git or the repository is missing.
fn commit_time(workspace: &Path) -> Option<i64> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["log", "-1", "--format=%ct"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_is_formatted_as_rfc3339_utc() {
        let p = Provenance {
            source_url: None,
            revision: None,
            created: 1_700_000_000,
        };
        assert_eq!(p.created_rfc3339().unwrap(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn commit_time_is_read_from_the_workspace_repository() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_AUTHOR_DATE", "@1650000000 +0000")
                .env("GIT_COMMITTER_DATE", "@1650000000 +0000")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        assert_eq!(commit_time(dir.path()), None, "not a repository yet");
        git(&["init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "first"]);
        assert_eq!(commit_time(dir.path()), Some(1_650_000_000));
    }
}
