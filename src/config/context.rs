//! What the runner tells us about the workflow run (`GITHUB_*`), read once.

use std::collections::HashMap;

/// A snapshot of the environment, so config building is a pure function (and testable).
#[derive(Debug, Clone, Default)]
pub struct Env(pub HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A lookup for code that takes one (`Fn(&str) -> Option<String>`).
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| self.get(name).map(String::from)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubContext {
    /// `owner/repo`
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub server_url: String,
    pub api_url: String,
    pub event_name: Option<String>,
    pub event_path: Option<String>,
    /// The event payload at `event_path`, read once (pull request number, head commit).
    pub event_payload: Option<String>,
    pub workflow: Option<String>,
    pub actor: Option<String>,
    /// `GITHUB_WORKSPACE`: relative paths in inputs are resolved against it.
    pub workspace: Option<String>,
    pub oidc_available: bool,
}

impl GithubContext {
    pub fn from_env(env: &Env) -> Self {
        let get = |n: &str| env.get(n).map(String::from);
        Self {
            repository: get("GITHUB_REPOSITORY"),
            sha: get("GITHUB_SHA"),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            server_url: get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
            api_url: get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            event_name: get("GITHUB_EVENT_NAME"),
            event_path: get("GITHUB_EVENT_PATH"),
            event_payload: get("GITHUB_EVENT_PATH").and_then(|p| std::fs::read_to_string(p).ok()),
            workflow: get("GITHUB_WORKFLOW"),
            actor: get("GITHUB_ACTOR"),
            workspace: get("GITHUB_WORKSPACE"),
            oidc_available: env.has("ACTIONS_ID_TOKEN_REQUEST_URL")
                && env.has("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        }
    }

    /// The repository's name without its owner.
    pub fn repository_name(&self) -> Option<&str> {
        self.repository
            .as_deref()
            .map(|r| r.rsplit('/').next().unwrap_or(r))
    }

    pub fn short_sha(&self) -> Option<String> {
        self.sha.as_deref().map(|s| s.chars().take(7).collect())
    }

    /// This run's page, for logs and Deployment statuses.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url.trim_end_matches('/'),
            self.repository.as_ref()?,
            self.run_id.as_ref()?
        ))
    }
}
