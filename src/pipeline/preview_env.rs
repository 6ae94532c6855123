//! A pull request's preview environment, as seen on GitHub: the stack's one pull-request comment
//! says where the deployed preview answers (or that it is gone), and a destroyed stack's
//! environment has its Deployments marked inactive. Best effort, like the rest of `github/`.

use super::{State, settings};
use crate::config::Config;
use crate::github;
use crate::stack;

/// After a successful deploy from a pull-request run: the URL and what changed, in the stack's
/// comment (edited in place by every later push to the pull request).
pub(super) async fn deployed(config: &Config, state: &State) {
    let github = settings::github(config);
    if github.pull_request.is_none() {
        return; // a push or manual deploy has no pull request to tell
    }
    let url = state.report.url.as_deref().and_then(autolink);
    let changes = match &state.report.changes {
        Some(changes) if state.report.has_changes => stack::changes_table_markdown(changes),
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

/// A Markdown autolink for an http(s) URL from a stack output. The parsed form percent-encodes
/// spaces, `<` and `>`, so nothing in it can end the link early or inject Markdown.
fn autolink(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| format!("<{parsed}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_become_links_and_nothing_escapes_them() {
        assert_eq!(
            autolink("http://web-1.us-east-1.elb.amazonaws.com").as_deref(),
            Some("<http://web-1.us-east-1.elb.amazonaws.com/>")
        );
        assert_eq!(
            autolink("https://h/a b<script>").as_deref(),
            Some("<https://h/a%20b%3Cscript%3E>")
        );
        assert_eq!(autolink("javascript:alert(1)"), None);
        assert_eq!(autolink("not a url"), None);
    }
}
