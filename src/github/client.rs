//! The octocrab client shared by the deployment record and the PR comment, and the one place
//! that decides whether the integration runs at all.

use std::time::Duration;

use octocrab::Octocrab;

use super::settings::{GithubSettings, Repository};
use crate::runner;

/// An authenticated client for one repository.
pub struct Github {
    pub octocrab: Octocrab,
    pub repository: Repository,
}

/// The client, or `None` after a notice (no token, no repository) or a warning (bad token,
/// bad API URL): the integration never fails a deploy.
pub fn connect(settings: &GithubSettings, what: &str) -> Option<Github> {
    let Some(token) = &settings.token else {
        runner::notice(&format!("no `github-token` given: skipping the {what}"));
        return None;
    };
    let Some(repository) = settings.repository.clone() else {
        runner::notice(&format!(
            "GITHUB_REPOSITORY is not set: skipping the {what}"
        ));
        return None;
    };
    let token = token.expose().trim();
    // octocrab builds the Authorization header with `unwrap()`: a token with a newline or a
    // control character would panic instead of failing.
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        runner::warning(&format!(
            "`github-token` contains characters no token has: skipping the {what}"
        ));
        return None;
    }
    // On reqwest rather than octocrab's own hyper client, which ignores the runner's proxy
    // variables and trusts only the roots compiled into it (see `crate::net`).
    let http = match crate::net::http_client_builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            runner::warning(&format!(
                "cannot build the HTTP client ({e}): skipping the {what}"
            ));
            return None;
        }
    };
    let built = Octocrab::builder()
        .base_uri(settings.api_url.as_str())
        .map(|b| {
            b.personal_token(token.to_string()).add_header(
                http_header("x-github-api-version"),
                "2022-11-28".to_string(),
            )
        })
        .and_then(|b| b.build_with_reqwest(http));
    match built {
        Ok(octocrab) => Some(Github {
            octocrab,
            repository,
        }),
        Err(e) => {
            runner::warning(&format!(
                "GitHub API URL `{}` is unusable ({}): skipping the {what}",
                settings.api_url,
                describe(&e)
            ));
            None
        }
    }
}

/// reqwest re-exports the `http` crate octocrab takes its header names from.
fn http_header(name: &'static str) -> reqwest::header::HeaderName {
    reqwest::header::HeaderName::from_static(name)
}

/// One line about a failed GitHub call: status and GitHub's message when GitHub answered.
/// (octocrab's own `Display` appends a backtrace.)
pub fn describe(err: &octocrab::Error) -> String {
    match err {
        octocrab::Error::GitHub { source, .. } => {
            format!("HTTP {}: {}", source.status_code.as_u16(), source.message)
        }
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}
