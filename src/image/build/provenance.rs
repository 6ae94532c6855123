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

/// Where the creation time came from, stated in the log (and warned about for the fallback).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatedFrom {
    SourceDateEpoch,
    /// The push event's `head_commit.timestamp`: the commit's own time.
    EventHeadCommit,
    /// The event's `repository.pushed_at` (events without a head commit: workflow_dispatch,
    /// pull_request…): the repository's last push, fixed for the event.
    EventPushedAt,
    /// `git log -1` in the workspace (runs on the host; the action's image has no git).
    Git,
    /// Nothing known: the epoch, so that the digest stays reproducible.
    Fallback,
}

impl std::fmt::Display for CreatedFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SourceDateEpoch => "SOURCE_DATE_EPOCH",
            Self::EventHeadCommit => "the event's head_commit.timestamp",
            Self::EventPushedAt => "the event's repository.pushed_at",
            Self::Git => "the workspace's last git commit",
            Self::Fallback => "no source (1970-01-01)",
        })
    }
}

impl Provenance {
    /// From `GITHUB_SERVER_URL`/`GITHUB_REPOSITORY`/`GITHUB_SHA`; the creation time from
    /// `SOURCE_DATE_EPOCH`, else the event payload (`GITHUB_EVENT_PATH`), else git in `workspace`,
    /// else the epoch with a warning — never the clock. Logs which source was used.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, workspace: &Path) -> Result<Self> {
        let (provenance, from) = resolve(env, workspace)?;
        let when = provenance.created_rfc3339()?;
        match from {
            CreatedFrom::Fallback => crate::runner::warning(&format!(
                "image created time unknown (no SOURCE_DATE_EPOCH, no commit time in the event payload, no git in {}): using {when} so the digest stays reproducible; set SOURCE_DATE_EPOCH to choose it",
                workspace.display()
            )),
            _ => crate::runner::info(&format!("image created time {when}, from {from}")),
        }
        Ok(provenance)
    }

    pub fn created_rfc3339(&self) -> Result<String> {
        let t = OffsetDateTime::from_unix_timestamp(self.created)
            .context("creation time out of range")?;
        Ok(t.format(&time::format_description::well_known::Rfc3339)?)
    }
}

/// The resolution order of `Provenance::from_env`, over any variable source (testable).
pub fn resolve(
    var: impl Fn(&str) -> Option<String>,
    workspace: &Path,
) -> Result<(Provenance, CreatedFrom)> {
    let var = |k: &str| {
        var(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let source_url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{}/{repo}", server.trim_end_matches('/'))),
        _ => None,
    };
    let (created, from) = if let Some(v) = var("SOURCE_DATE_EPOCH") {
        let secs = v
            .parse::<i64>()
            .with_context(|| format!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds"))?;
        (secs, CreatedFrom::SourceDateEpoch)
    } else if let Some(found) = var("GITHUB_EVENT_PATH").and_then(|p| event_time(Path::new(&p))) {
        found
    } else if let Some(secs) = commit_time(workspace) {
        (secs, CreatedFrom::Git)
    } else {
        (0, CreatedFrom::Fallback)
    };
    let provenance = Provenance {
        source_url,
        revision: var("GITHUB_SHA"),
        created,
    };
    Ok((provenance, from))
}

/// The commit time an event payload carries; `None` when the file is missing, unreadable, or
/// has neither field (a malformed payload is not worth failing a build over: git comes next).
fn event_time(path: &Path) -> Option<(i64, CreatedFrom)> {
    let text = std::fs::read(path).ok()?;
    let event: serde_json::Value = serde_json::from_slice(&text).ok()?;
    if let Some(t) = event
        .pointer("/head_commit/timestamp")
        .and_then(|v| v.as_str())
        .and_then(parse_rfc3339)
    {
        return Some((t, CreatedFrom::EventHeadCommit));
    }
    // An integer in push events, an RFC 3339 string in the others.
    let pushed = event.pointer("/repository/pushed_at")?;
    let t = pushed
        .as_i64()
        .or_else(|| pushed.as_str().and_then(parse_rfc3339))?;
    Some((t, CreatedFrom::EventPushedAt))
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

fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// A git repository whose last commit is at `secs`.
    fn repo_at(secs: i64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let date = format!("@{secs} +0000");
        for args in [
            &["init", "-q"][..],
            &["commit", "-q", "--allow-empty", "-m", "first"][..],
        ] {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        }
        dir
    }

    fn event_file(dir: &Path, payload: serde_json::Value) -> String {
        let path = dir.join("event.json");
        std::fs::write(&path, payload.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn source_date_epoch_comes_first() {
        let repo = repo_at(1_650_000_000);
        let event = event_file(
            repo.path(),
            serde_json::json!({"head_commit": {"timestamp": "2024-05-06T07:08:09+02:00"}}),
        );
        let (p, from) = resolve(
            vars(&[
                ("SOURCE_DATE_EPOCH", "1700000000"),
                ("GITHUB_EVENT_PATH", event.as_str()),
            ]),
            repo.path(),
        )
        .unwrap();
        assert_eq!(
            (p.created, from),
            (1_700_000_000, CreatedFrom::SourceDateEpoch)
        );
        assert!(resolve(vars(&[("SOURCE_DATE_EPOCH", "soon")]), repo.path()).is_err());
    }

    #[test]
    fn the_push_event_head_commit_comes_before_git() {
        let repo = repo_at(1_650_000_000);
        let event = event_file(
            repo.path(),
            serde_json::json!({
                "head_commit": {"timestamp": "2024-05-06T07:08:09+02:00"},
                "repository": {"pushed_at": 1_715_000_000}
            }),
        );
        let (p, from) =
            resolve(vars(&[("GITHUB_EVENT_PATH", event.as_str())]), repo.path()).unwrap();
        assert_eq!(
            (p.created, from),
            (1_714_972_089, CreatedFrom::EventHeadCommit)
        );
        assert_eq!(p.created_rfc3339().unwrap(), "2024-05-06T05:08:09Z");
    }

    #[test]
    fn events_without_a_head_commit_use_the_repository_push_time() {
        let dir = tempfile::tempdir().unwrap();
        for (pushed_at, want) in [
            (serde_json::json!(1_715_000_000), 1_715_000_000),
            (serde_json::json!("2024-05-06T12:53:20Z"), 1_715_000_000),
        ] {
            let event = event_file(
                dir.path(),
                serde_json::json!({"inputs": {"mode": "deploy"}, "repository": {"pushed_at": pushed_at}}),
            );
            let (p, from) =
                resolve(vars(&[("GITHUB_EVENT_PATH", event.as_str())]), dir.path()).unwrap();
            assert_eq!((p.created, from), (want, CreatedFrom::EventPushedAt));
        }
    }

    #[test]
    fn git_comes_after_an_event_without_times_and_the_epoch_is_the_stated_last_resort() {
        let repo = repo_at(1_650_000_000);
        let event = event_file(repo.path(), serde_json::json!({"action": "opened"}));
        let (p, from) =
            resolve(vars(&[("GITHUB_EVENT_PATH", event.as_str())]), repo.path()).unwrap();
        assert_eq!((p.created, from), (1_650_000_000, CreatedFrom::Git));

        let empty = tempfile::tempdir().unwrap();
        let missing = empty.path().join("no-event.json").display().to_string();
        let (p, from) = resolve(
            vars(&[("GITHUB_EVENT_PATH", missing.as_str())]),
            empty.path(),
        )
        .unwrap();
        assert_eq!((p.created, from), (0, CreatedFrom::Fallback));
    }

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
