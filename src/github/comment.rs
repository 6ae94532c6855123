//! The change-set plan as ONE pull-request comment per stack, found again by a hidden marker
//! and edited in place on later runs.
//!
//! octocrab's `update_comment` sends POST; the REST API wants PATCH, so the generic `patch` is
//! used.

use serde::{Deserialize, Serialize};

use super::client::{self, Github};
use super::settings::GithubSettings;
use crate::runner;

/// GitHub refuses comment bodies over 65,536 characters.
const MAX_BODY_CHARS: usize = 65_536;
const PAGE_SIZE: usize = 100;
/// 100 pages of 100 comments: a bound, so a pathological thread cannot loop forever.
const MAX_PAGES: u32 = 100;

/// What happened to the plan comment; callers may ignore it (the deploy never fails on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created(u64),
    Updated(u64),
    /// No token, no repository, or not a pull-request run.
    Skipped,
    /// GitHub refused or could not be reached; a warning was printed.
    Failed,
}

#[derive(Debug, Serialize)]
struct CommentBody<'a> {
    body: &'a str,
}

#[derive(Debug, Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

/// The hidden marker of a stack's plan comment.
pub fn marker(stack: &str) -> String {
    format!("<!-- ecs-poc-action:plan:{stack} -->")
}

/// Creates or updates the plan comment of `stack` on the run's pull request.
pub async fn upsert_plan_comment(
    settings: &GithubSettings,
    stack: &str,
    markdown: &str,
) -> CommentOutcome {
    let Some(number) = settings.pull_request else {
        runner::notice("not a pull_request run: the plan is not posted as a comment");
        return CommentOutcome::Skipped;
    };
    let Some(github) = client::connect(settings, "pull request comment") else {
        return CommentOutcome::Skipped;
    };
    let marker = marker(stack);
    let body = comment_body(&marker, markdown);
    let outcome = match find_comment(&github, number, &marker).await {
        Ok(Some(id)) => update(&github, id, &body)
            .await
            .map(|()| CommentOutcome::Updated(id)),
        Ok(None) => create(&github, number, &body)
            .await
            .map(CommentOutcome::Created),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(outcome) => {
            runner::info(&format!(
                "plan comment on pull request #{number}: {outcome:?}"
            ));
            outcome
        }
        Err(e) => {
            runner::warning(&format!(
                "could not post the plan on pull request #{number}: {}",
                client::describe(&e)
            ));
            CommentOutcome::Failed
        }
    }
}

/// The marker first (invisible in rendered Markdown), then the plan, cut to GitHub's limit.
pub fn comment_body(marker: &str, markdown: &str) -> String {
    const CUT_NOTE: &str =
        "\n\n… (cut: the plan is longer than a GitHub comment can be; see the step summary)";
    let mut body = format!("{marker}\n{markdown}");
    if body.chars().count() > MAX_BODY_CHARS {
        let keep = MAX_BODY_CHARS - CUT_NOTE.chars().count();
        body = body.chars().take(keep).collect();
        body.push_str(CUT_NOTE);
    }
    body
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`, page by page, for the marker.
async fn find_comment(
    github: &Github,
    number: u64,
    marker: &str,
) -> Result<Option<u64>, octocrab::Error> {
    let route = format!("/repos/{}/issues/{number}/comments", github.repository);
    for page in 1..=MAX_PAGES {
        let params = [("per_page", PAGE_SIZE as u32), ("page", page)];
        let comments: Vec<IssueComment> = github.octocrab.get(&route, Some(&params)).await?;
        if let Some(found) = comments
            .iter()
            .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        {
            return Ok(Some(found.id));
        }
        if comments.len() < PAGE_SIZE {
            break;
        }
    }
    Ok(None)
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments` → 201.
async fn create(github: &Github, number: u64, body: &str) -> Result<u64, octocrab::Error> {
    let route = format!("/repos/{}/issues/{number}/comments", github.repository);
    let created: IssueComment = github
        .octocrab
        .post(route, Some(&CommentBody { body }))
        .await?;
    Ok(created.id)
}

/// `PATCH /repos/{owner}/{repo}/issues/comments/{id}` → 200.
async fn update(github: &Github, id: u64, body: &str) -> Result<(), octocrab::Error> {
    let route = format!("/repos/{}/issues/comments/{id}", github.repository);
    let _: IssueComment = github
        .octocrab
        .patch(route, Some(&CommentBody { body }))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_starts_with_the_marker_and_fits_github() {
        let m = marker("web-prod");
        assert_eq!(m, "<!-- ecs-poc-action:plan:web-prod -->");
        assert_eq!(comment_body(&m, "| a |"), format!("{m}\n| a |"));
        let long = comment_body(&m, &"é".repeat(70_000));
        assert_eq!(long.chars().count(), MAX_BODY_CHARS);
        assert!(long.starts_with(&m) && long.ends_with("see the step summary)"));
    }
}
