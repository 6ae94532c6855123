//! A GitHub Deployment for this run: created `in_progress` before the deploy, then `success`
//! (with the service URL) or `failure`; and, when a stack is destroyed, every Deployment of its
//! environment marked `inactive`. octocrab has no deployments API, so the REST calls go through
//! its generic `get`/`post` with typed bodies.

use serde::{Deserialize, Serialize};

use super::client::{self, Github};
use super::settings::GithubSettings;
use crate::runner;

/// `POST /repos/{owner}/{repo}/deployments`.
#[derive(Debug, Serialize)]
struct NewDeployment<'a> {
    #[serde(rename = "ref")]
    git_ref: &'a str,
    environment: &'a str,
    description: &'a str,
    /// No merging of the default branch into the ref, and no commit-status gate: the workflow
    /// already decided to deploy this commit.
    auto_merge: bool,
    required_contexts: Vec<String>,
    /// Sent only for a preview, so other environments keep GitHub's own defaults
    /// (`production_environment` is true for an environment named `production`).
    #[serde(skip_serializing_if = "Option::is_none")]
    transient_environment: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    production_environment: Option<bool>,
}

/// Whether the environment outlives the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentKind {
    Persistent,
    /// A preview (one pull request's stack): transient and never production, so GitHub shows it
    /// as temporary and it is marked inactive when the stack is destroyed.
    Transient,
}

#[derive(Debug, Deserialize)]
struct CreatedDeployment {
    id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    InProgress,
    Success,
    Failure,
    Inactive,
}

impl DeploymentState {
    /// The API's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Inactive => "inactive",
        }
    }
}

/// `POST /repos/{owner}/{repo}/deployments/{id}/statuses`.
#[derive(Debug, Serialize)]
struct NewStatus<'a> {
    state: DeploymentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_url: Option<&'a str>,
    description: &'a str,
}

#[derive(Debug, Deserialize)]
struct CreatedStatus {
    #[allow(dead_code)] // read only to check GitHub answered with a status
    id: u64,
}

/// A deployment being recorded; finishing consumes it.
pub struct DeploymentTracker {
    github: Github,
    id: u64,
    log_url: Option<String>,
}

impl DeploymentTracker {
    /// Creates the deployment and marks it `in_progress`. `None` (after a notice or a warning)
    /// when there is no token, no commit, or GitHub refuses.
    pub async fn start(settings: &GithubSettings, kind: EnvironmentKind) -> Option<Self> {
        let github = client::connect(settings, "GitHub deployment record")?;
        let Some(sha) = settings.sha.as_deref() else {
            runner::notice("GITHUB_SHA is not set: skipping the GitHub deployment record");
            return None;
        };
        let route = format!("/repos/{}/deployments", github.repository);
        let body = NewDeployment {
            git_ref: sha,
            environment: &settings.environment,
            description: "ecs-poc-action: ECS Fargate service",
            auto_merge: false,
            required_contexts: Vec::new(),
            transient_environment: (kind == EnvironmentKind::Transient).then_some(true),
            production_environment: (kind == EnvironmentKind::Transient).then_some(false),
        };
        let created: Result<CreatedDeployment, _> = github.octocrab.post(route, Some(&body)).await;
        let id = match created {
            Ok(d) => d.id,
            Err(e) => {
                runner::warning(&format!(
                    "could not create a GitHub deployment for {sha} in `{}`: {}",
                    settings.environment,
                    client::describe(&e)
                ));
                return None;
            }
        };
        let tracker = Self {
            github,
            id,
            log_url: settings.run_url.clone(),
        };
        tracker
            .set_status(DeploymentState::InProgress, None, "deploying")
            .await;
        runner::info(&format!(
            "GitHub deployment {id} in `{}`",
            settings.environment
        ));
        Some(tracker)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// `success`, pointing the environment at the service.
    pub async fn finish_success(self, environment_url: Option<&str>) {
        self.set_status(DeploymentState::Success, environment_url, "deployed")
            .await;
    }

    pub async fn finish_failure(self) {
        self.set_status(DeploymentState::Failure, None, "the deploy failed")
            .await;
    }

    /// Returns whether GitHub recorded the status; a failure is only a warning.
    async fn set_status(
        &self,
        state: DeploymentState,
        environment_url: Option<&str>,
        description: &str,
    ) -> bool {
        let status = NewStatus {
            state,
            log_url: self.log_url.as_deref(),
            environment_url,
            description,
        };
        post_status(&self.github, self.id, &status).await
    }
}

/// `POST /repos/{owner}/{repo}/deployments/{id}/statuses` → 201; a failure is only a warning.
async fn post_status(github: &Github, id: u64, status: &NewStatus<'_>) -> bool {
    let route = format!("/repos/{}/deployments/{id}/statuses", github.repository);
    let result: Result<CreatedStatus, _> = github.octocrab.post(route, Some(status)).await;
    match result {
        Ok(_) => true,
        Err(e) => {
            runner::warning(&format!(
                "could not set GitHub deployment {id} to {}: {}",
                status.state.as_str(),
                client::describe(&e)
            ));
            false
        }
    }
}

/// A bound on the environment's Deployments read: 10 pages of 100.
const MAX_PAGES: u32 = 10;
const PAGE_SIZE: u32 = 100;

#[derive(Debug, Deserialize)]
struct ListedDeployment {
    id: u64,
}

/// Marks every Deployment of the environment `inactive` once its stack is gone, so GitHub stops
/// linking to a dead URL. Returns how many were marked; `None` when skipped or GitHub refused
/// the listing (after a notice or a warning, like the rest of the integration).
pub async fn deactivate_environment(settings: &GithubSettings) -> Option<usize> {
    let github = client::connect(settings, "deactivation of the GitHub environment")?;
    let ids = match list_deployments(&github, &settings.environment).await {
        Ok(ids) => ids,
        Err(e) => {
            runner::warning(&format!(
                "could not list the GitHub deployments of `{}`: {}",
                settings.environment,
                client::describe(&e)
            ));
            return None;
        }
    };
    let status = NewStatus {
        state: DeploymentState::Inactive,
        log_url: settings.run_url.as_deref(),
        environment_url: None,
        description: "the stack was destroyed",
    };
    let mut marked = 0;
    for id in &ids {
        if post_status(&github, *id, &status).await {
            marked += 1;
        }
    }
    runner::info(&format!(
        "GitHub environment `{}`: {marked} of {} deployment(s) marked inactive",
        settings.environment,
        ids.len()
    ));
    Some(marked)
}

/// `GET /repos/{owner}/{repo}/deployments?environment=…`, page by page.
async fn list_deployments(github: &Github, environment: &str) -> Result<Vec<u64>, octocrab::Error> {
    let route = format!("/repos/{}/deployments", github.repository);
    let mut ids = Vec::new();
    for page in 1..=MAX_PAGES {
        let params = [
            ("environment", environment.to_string()),
            ("per_page", PAGE_SIZE.to_string()),
            ("page", page.to_string()),
        ];
        let listed: Vec<ListedDeployment> = github.octocrab.get(&route, Some(&params)).await?;
        let last = listed.len() < PAGE_SIZE as usize;
        ids.extend(listed.into_iter().map(|d| d.id));
        if last {
            break;
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_rest_api() {
        let d = NewDeployment {
            git_ref: "abc",
            environment: "prod",
            description: "d",
            auto_merge: false,
            required_contexts: vec![],
            transient_environment: None,
            production_environment: None,
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"ref": "abc", "environment": "prod", "description": "d",
                "auto_merge": false, "required_contexts": []})
        );
        let s = NewStatus {
            state: DeploymentState::InProgress,
            log_url: Some("u"),
            environment_url: None,
            description: "x",
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"state": "in_progress", "log_url": "u", "description": "x"})
        );
    }
}
