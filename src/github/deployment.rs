//! A GitHub Deployment for this run: created `in_progress` before the deploy, then `success`
//! (with the service URL) or `failure`. octocrab has no deployments API, so the REST calls go
//! through its generic `post` with typed bodies.

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
}

impl DeploymentState {
    /// The API's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
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
    pub async fn start(settings: &GithubSettings) -> Option<Self> {
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
        let route = format!(
            "/repos/{}/deployments/{}/statuses",
            self.github.repository, self.id
        );
        let body = NewStatus {
            state,
            log_url: self.log_url.as_deref(),
            environment_url,
            description,
        };
        let result: Result<CreatedStatus, _> = self.github.octocrab.post(route, Some(&body)).await;
        match result {
            Ok(_) => true,
            Err(e) => {
                runner::warning(&format!(
                    "could not set GitHub deployment {} to {}: {}",
                    self.id,
                    state.as_str(),
                    client::describe(&e)
                ));
                false
            }
        }
    }
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
