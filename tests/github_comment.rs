//! The PR plan comment against a loopback wiremock "GitHub": created once, then found by its
//! marker and edited with PATCH (never a second comment); pages followed; failures are warnings;
//! only the token's own comments are ever edited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use ecs_poc_action::github::{CommentOutcome, GithubSettings, Repository, upsert_plan_comment};
use ecs_poc_action::secret::Secret;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghs_recognisableToken0123";
const MARKER: &str = "<!-- ecs-poc-action:plan:web-prod -->";
const COMMENTS: &str = "/repos/octo/app/issues/7/comments";
/// The token's account in these tests, and someone else's.
const ME: u64 = 4242;
const MALLORY: u64 = 666;
/// `github-actions[bot]`, the account `GITHUB_TOKEN` comments as on github.com.
const ACTIONS_BOT: u64 = 41_898_282;

fn comment(id: u64, author: u64, body: &str) -> serde_json::Value {
    json!({"id": id, "body": body, "user": {"id": author, "login": format!("user{author}"), "type": "User"}})
}

/// `GET /user` as GitHub answers it for a user token.
async fn mount_me(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"login": "deployer", "id": ME, "type": "User"})),
        )
        .mount(server)
        .await;
}

/// What an installation token (`GITHUB_TOKEN`) gets from `GET /user`.
async fn mount_user_forbidden(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/user"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
            "status": "403"
        })))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_no_patch(server: &MockServer) {
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

fn settings(api_url: String) -> GithubSettings {
    ecs_poc_action::install_crypto_provider();
    GithubSettings {
        token: Some(Secret::new(TOKEN)),
        api_url,
        repository: Some(Repository {
            owner: "octo".into(),
            name: "app".into(),
        }),
        sha: Some("abc".into()),
        run_url: None,
        environment: "production".into(),
        pull_request: Some(7),
    }
}

async fn mount_list(server: &MockServer, page: u32, comments: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .and(query_param("per_page", "100"))
        .and(query_param("page", page.to_string()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(comments))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_no_post(server: &MockServer) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_plan_is_posted_once_then_updated_in_place() {
    let server = MockServer::start().await;
    mount_me(&server).await;

    // Run 1: no comment of ours yet (someone else's, and another stack's) → POST.
    mount_list(
        &server,
        1,
        json!([
            comment(1, MALLORY, "LGTM"),
            comment(
                2,
                ME,
                "<!-- ecs-poc-action:plan:web-staging -->\nother stack"
            ),
        ]),
    )
    .await;
    let first = format!("{MARKER}\n| Add | LB |");
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({"body": first})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 99, "body": first})))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "| Add | LB |").await;
    assert_eq!(outcome, CommentOutcome::Created(99));
    server.verify().await;
    server.reset().await;
    mount_me(&server).await;

    // Run 2: GitHub lists what run 1 created → PATCH that comment, no new one.
    mount_list(
        &server,
        1,
        json!([
            comment(1, MALLORY, "LGTM"),
            comment(99, ME, &first),
            comment(100, MALLORY, "thanks")
        ]),
    )
    .await;
    let second = format!("{MARKER}\n| Modify | Service |");
    Mock::given(method("PATCH"))
        .and(path("/repos/octo/app/issues/comments/99"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({"body": second})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 99, "body": second})))
        .expect(1)
        .mount(&server)
        .await;
    mount_no_post(&server).await;
    let outcome =
        upsert_plan_comment(&settings(server.uri()), "web-prod", "| Modify | Service |").await;
    assert_eq!(outcome, CommentOutcome::Updated(99));
    server.verify().await;
}

#[tokio::test]
async fn the_marker_is_found_on_a_later_page() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    let full_page: Vec<_> = (1..=100).map(|i| comment(i, MALLORY, "chatter")).collect();
    mount_list(&server, 1, json!(full_page)).await;
    mount_list(
        &server,
        2,
        json!([comment(555, ME, &format!("{MARKER}\nold"))]),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/octo/app/issues/comments/555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 555})))
        .expect(1)
        .mount(&server)
        .await;
    mount_no_post(&server).await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "new").await;
    assert_eq!(outcome, CommentOutcome::Updated(555));
    server.verify().await;
}

#[tokio::test]
async fn a_github_error_is_a_warning_and_no_comment() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .mount(&server)
        .await;
    mount_no_post(&server).await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "plan").await;
    assert_eq!(outcome, CommentOutcome::Failed);
    server.verify().await;
}

#[tokio::test]
async fn no_pull_request_or_no_token_calls_nothing() {
    let server = MockServer::start().await;
    let not_a_pr = GithubSettings {
        pull_request: None,
        ..settings(server.uri())
    };
    assert_eq!(
        upsert_plan_comment(&not_a_pr, "web-prod", "plan").await,
        CommentOutcome::Skipped
    );
    let no_token = GithubSettings {
        token: None,
        ..settings(server.uri())
    };
    assert_eq!(
        upsert_plan_comment(&no_token, "web-prod", "plan").await,
        CommentOutcome::Skipped
    );
    assert!(
        server
            .received_requests()
            .await
            .expect("wiremock records requests")
            .is_empty()
    );
}

/// Anyone can paste the marker into a comment of theirs: that comment is left alone (an edit
/// would put the plan under their name), and the token posts its own.
#[tokio::test]
async fn a_marker_in_someone_elses_comment_is_never_edited() {
    let server = MockServer::start().await;
    mount_me(&server).await;
    mount_list(
        &server,
        1,
        json!([comment(
            5,
            MALLORY,
            &format!("{MARKER}\nforged plan: nothing changes")
        )]),
    )
    .await;
    mount_no_patch(&server).await;
    let body = format!("{MARKER}\nplan");
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .and(body_json(json!({"body": body})))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment(77, ME, &body)))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "plan").await;
    assert_eq!(outcome, CommentOutcome::Created(77));
    server.verify().await;
}

/// `GITHUB_TOKEN` cannot call `GET /user`; the GraphQL viewer says who it is, and of two marked
/// comments only the bot's own is edited.
#[tokio::test]
async fn an_installation_token_edits_only_the_bots_comment() {
    let server = MockServer::start().await;
    mount_user_forbidden(&server).await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"viewer": {"login": "github-actions[bot]", "databaseId": ACTIONS_BOT}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let bot = json!({"id": 8, "body": format!("{MARKER}\nold"), "user": {
        "login": "github-actions[bot]", "id": ACTIONS_BOT, "type": "Bot"}});
    mount_list(
        &server,
        1,
        json!([comment(5, MALLORY, &format!("{MARKER}\nforged")), bot]),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/octo/app/issues/comments/8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 8})))
        .expect(1)
        .mount(&server)
        .await;
    mount_no_post(&server).await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "new").await;
    assert_eq!(outcome, CommentOutcome::Updated(8));
    server.verify().await;
}

/// When GitHub says neither who the token is (`/user` forbidden, no GraphQL), no comment is
/// edited, not even one that looks like ours: a new one is posted.
#[tokio::test]
async fn an_unknown_token_account_edits_nothing() {
    let server = MockServer::start().await;
    mount_user_forbidden(&server).await;
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(
            8,
            ACTIONS_BOT,
            &format!("{MARKER}\nold")
        )])))
        .expect(0)
        .mount(&server)
        .await;
    mount_no_patch(&server).await;
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment(9, ACTIONS_BOT, "x")))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = upsert_plan_comment(&settings(server.uri()), "web-prod", "new").await;
    assert_eq!(outcome, CommentOutcome::Created(9));
    server.verify().await;
}
