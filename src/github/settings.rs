//! What the GitHub integration needs, from the `github-token` input and the runner's GITHUB_*
//! variables.

use std::fmt;
use std::str::FromStr;

use crate::config::GithubContext;
use crate::secret::Secret;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// `github-token`; without it the integration is skipped with a notice.
    pub token: Option<Secret>,
    /// `GITHUB_API_URL` (GitHub Enterprise Server: `https://HOST/api/v3`).
    pub api_url: String,
    /// `GITHUB_REPOSITORY`.
    pub repository: Option<Repository>,
    /// The commit a deployment is recorded for: `GITHUB_SHA`, except on a pull request, whose
    /// `GITHUB_SHA` is a merge commit no branch has: there the head commit, which GitHub shows
    /// in the pull request's timeline.
    pub sha: Option<String>,
    /// This run's page: `GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// The deployment environment (`environment` input).
    pub environment: String,
    /// The pull request of a `pull_request`/`pull_request_target` event.
    pub pull_request: Option<u64>,
}

impl GithubSettings {
    /// From the run's one GitHub context (read once by config, event payload included).
    pub fn from_context(context: &GithubContext, token: Option<Secret>, environment: &str) -> Self {
        let (pull_request, head_sha) = match (&context.event_name, &context.event_payload) {
            (Some(name), Some(payload)) => (
                pull_request_number(name, payload),
                pull_request_head_sha(name, payload),
            ),
            _ => (None, None),
        };
        Self {
            token: token.filter(|t| !t.expose().trim().is_empty()),
            api_url: context.api_url.clone(),
            repository: context.repository.as_deref().and_then(|r| r.parse().ok()),
            sha: head_sha.or_else(|| context.sha.clone()),
            run_url: context.run_url(),
            environment: environment.to_string(),
            pull_request,
        }
    }
}

/// The pull request number of a pull-request event payload; `None` for other events.
pub fn pull_request_number(event_name: &str, payload: &str) -> Option<u64> {
    if !matches!(event_name, "pull_request" | "pull_request_target") {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(payload).ok()?;
    payload
        .get("pull_request")
        .and_then(|pr| pr.get("number"))
        .or_else(|| payload.get("number"))
        .and_then(serde_json::Value::as_u64)
}

/// The head commit of a pull-request event payload; `None` for other events.
fn pull_request_head_sha(event_name: &str, payload: &str) -> Option<String> {
    if !matches!(event_name, "pull_request" | "pull_request_target") {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(payload).ok()?;
    let sha = payload.pointer("/pull_request/head/sha")?.as_str()?;
    (sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())).then(|| sha.to_string())
}

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub owner: String,
    pub name: String,
}

impl FromStr for Repository {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        match s.trim().split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => Ok(Self {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!("`{s}` is not an owner/name repository")),
        }
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runner_variables_and_the_pull_request() {
        let env = crate::config::Env(
            [
                ("GITHUB_REPOSITORY", "octo/app"),
                ("GITHUB_SERVER_URL", "https://github.com/"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_SHA", "abc"),
                ("GITHUB_EVENT_NAME", "pull_request"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        let mut context = GithubContext::from_env(&env);
        context.event_payload = Some(r#"{"number": 7, "pull_request": {"number": 7}}"#.into());
        let s = GithubSettings::from_context(&context, Some(Secret::new("  ")), "prod");
        assert!(s.token.is_none(), "a blank token is no token");
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(
            s.repository,
            Some(Repository {
                owner: "octo".into(),
                name: "app".into()
            })
        );
        assert_eq!(
            s.run_url.as_deref(),
            Some("https://github.com/octo/app/actions/runs/42")
        );
        assert_eq!(s.pull_request, Some(7));
        assert_eq!(s.sha.as_deref(), Some("abc"), "no head in the payload");
        let head = "0123456789abcdef0123456789abcdef01234567";
        let payload =
            format!(r#"{{"number": 7, "pull_request": {{"head": {{"sha": "{head}"}}}}}}"#);
        context.event_payload = Some(payload);
        let s = GithubSettings::from_context(&context, None, "pr-7");
        assert_eq!(
            s.sha.as_deref(),
            Some(head),
            "the head, not the merge commit"
        );
    }

    #[test]
    fn only_pull_request_events_have_a_number() {
        assert_eq!(pull_request_number("push", r#"{"number": 3}"#), None);
        assert_eq!(
            pull_request_number("pull_request_target", r#"{"pull_request": {"number": 3}}"#),
            Some(3)
        );
        assert_eq!(pull_request_number("pull_request", "not json"), None);
        assert_eq!(
            pull_request_number("pull_request", r#"{"number": "3"}"#),
            None
        );
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        assert!("octo/app".parse::<Repository>().is_ok());
        for bad in ["octo", "/app", "octo/", "o/a/b", "o o/a"] {
            assert!(bad.parse::<Repository>().is_err(), "{bad}");
        }
    }
}
