//! A pull request's preview environment, as seen on GitHub: the stack's one pull-request comment
//! says where the deployed preview answers (or that it is gone), and a destroyed stack's
//! environment has its Deployments marked inactive. Best effort, like the rest of `github/`.

use super::{State, settings};
use crate::config::Config;
use crate::github;
use crate::runner;
use crate::stack;

/// After a successful deploy from a pull-request run: the URL and what changed, in the stack's
/// comment (edited in place by every later push to the pull request).
pub(super) async fn deployed(config: &Config, state: &State) {
    let github = settings::github(config);
    if github.pull_request.is_none() {
        return; // a push or manual deploy has no pull request to tell
    }
    // Through the one Markdown path: only an http(s) URL becomes a link, anything else is text.
    let url = state.report.url.as_deref().map(runner::markdown::link);
    let changes = match &state.report.changes {
        Some(changes) if state.report.has_changes => stack::changes_markdown(changes),
        _ => "No changes: the stack already runs this image with these settings.\n".to_string(),
    };
    let markdown = format!(
        "### Preview environment\n\n**Stack** `{}` · **URL** {}\n\n{changes}",
        config.stack.name,
        url.as_deref()
            .unwrap_or("(the stack has no `ServiceUrl` output)")
    );
    github::upsert_plan_comment(&github, &config.stack.name, &markdown).await;
}

/// After a successful destroy: the environment's Deployments go inactive (any run, given a
/// token), and a pull request's comment stops pointing at a dead URL.
pub(super) async fn destroyed(config: &Config) {
    let github = settings::github(config);
    github::deactivate_environment(&github).await;
    if github.pull_request.is_some() {
        let markdown = format!(
            "### Preview environment\n\n**Stack** `{}` was destroyed; its URL no longer answers.\n",
            config.stack.name
        );
        github::upsert_plan_comment(&github, &config.stack.name, &markdown).await;
    }
}
