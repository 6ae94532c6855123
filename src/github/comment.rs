//! The change-set plan as ONE pull-request comment per stack, found again by a hidden marker
//! and edited in place on later runs.
//!
//! Only a comment written by the token's own account is edited: anyone can paste the marker
//! into a comment of theirs, and an edit would put our plan under their name (or let them keep
//! a forged plan in place). Who the token is: `GET /user` for user tokens (PATs, OAuth); an
//! installation token, `GITHUB_TOKEN` included, gets 403 there, so then the GraphQL `viewer`
//! (`github-actions[bot]` for `GITHUB_TOKEN`, `<app-slug>[bot]` for an app). Comments are
//! matched by the numeric user id, which REST and GraphQL agree on (their logins differ by the
//! `[bot]` suffix). When neither call answers (GitHub Enterprise Server's GraphQL endpoint is
//! not under its REST base URL) nothing is edited: a new comment is posted, with a warning.
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

/// The three fields the upsert reads. Not octocrab's typed `issues().list_comments()` /
/// `create_comment()`: its `Comment` requires `node_id`, `created_at` and an `Author` with 16
/// required URL and string fields, so one field missing or renamed in an answer (GitHub Enterprise
/// Server versions, a proxy, a GitHub App's bot user) fails the whole deserialization and loses
/// the comment over data the action never looks at. The routes still go through octocrab's
/// client (auth, retries, proxy, base URL).
#[derive(Debug, Deserialize)]
struct IssueComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<Account>,
}

/// A GitHub account as REST shows it (`GET /user`, a comment's `user`).
#[derive(Debug, Clone, Deserialize)]
struct Account {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct Viewer {
    viewer: GraphqlAccount,
}

#[derive(Debug, Deserialize)]
struct GraphqlAccount {
    #[serde(rename = "databaseId")]
    database_id: u64,
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
    let me = token_account(&github).await;
    if me.is_none() {
        runner::warning(
            "could not tell which GitHub account the `github-token` is (GET /user and the GraphQL viewer both failed): posting a new plan comment instead of editing one",
        );
    }
    let found = match &me {
        Some(me) => find_comment(&github, number, &marker, me).await,
        None => Ok(None),
    };
    let outcome = match found {
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

/// The token's account id: `GET /user`, else the GraphQL `viewer` (installation tokens).
async fn token_account(github: &Github) -> Option<Account> {
    if let Ok(me) = github.octocrab.get::<Account, _, ()>("/user", None).await {
        return Some(me);
    }
    let query = serde_json::json!({"query": "query { viewer { databaseId } }"});
    let viewer: Viewer = github.octocrab.graphql(&query).await.ok()?;
    Some(Account {
        id: viewer.viewer.database_id,
    })
}

/// `GET /repos/{owner}/{repo}/issues/{number}/comments`, page by page, for the marker in a
/// comment of `me`.
async fn find_comment(
    github: &Github,
    number: u64,
    marker: &str,
    me: &Account,
) -> Result<Option<u64>, octocrab::Error> {
    let route = format!("/repos/{}/issues/{number}/comments", github.repository);
    for page in 1..=MAX_PAGES {
        let params = [("per_page", PAGE_SIZE as u32), ("page", page)];
        let comments: Vec<IssueComment> = github.octocrab.get(&route, Some(&params)).await?;
        if let Some(found) = comments.iter().find(|c| {
            c.user.as_ref().is_some_and(|u| u.id == me.id)
                && c.body.as_deref().is_some_and(|b| b.contains(marker))
        }) {
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
