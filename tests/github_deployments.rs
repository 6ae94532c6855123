//! The Deployment record against a loopback wiremock "GitHub": exact paths, methods, bodies and
//! the auth header; GitHub Enterprise's `/api/v3` prefix; failures that stay warnings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use ecs_poc_action::github::{
    DeploymentTracker, EnvironmentKind, GithubSettings, Repository, deactivate_environment,
};
use ecs_poc_action::secret::Secret;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghs_recognisableToken0123";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const RUN_URL: &str = "https://github.com/octo/app/actions/runs/42";

fn settings(api_url: String) -> GithubSettings {
    ecs_poc_action::install_crypto_provider();
    GithubSettings {
        token: Some(Secret::new(TOKEN)),
        api_url,
        repository: Some(Repository {
            owner: "octo".into(),
            name: "app".into(),
        }),
        sha: Some(SHA.into()),
        run_url: Some(RUN_URL.into()),
        environment: "production".into(),
        pull_request: None,
    }
}

async fn mount_create(server: &MockServer, prefix: &str) {
    Mock::given(method("POST"))
        .and(path(format!("{prefix}/repos/octo/app/deployments")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "ref": SHA,
            "environment": "production",
            "description": "ecs-poc-action: ECS Fargate service",
            "auto_merge": false,
            "required_contexts": [],
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 4242, "sha": SHA})))
        .expect(1)
        .mount(server)
        .await;
}

async fn mount_status(server: &MockServer, prefix: &str, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path(format!(
            "{prefix}/repos/octo/app/deployments/4242/statuses"
        )))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .expect(1)
        .mount(server)
        .await;
}

fn in_progress() -> serde_json::Value {
    json!({"state": "in_progress", "log_url": RUN_URL, "description": "deploying"})
}

#[tokio::test]
async fn a_successful_deploy_is_recorded_in_progress_then_success_with_the_url() {
    let server = MockServer::start().await;
    mount_create(&server, "").await;
    mount_status(&server, "", in_progress()).await;
    mount_status(
        &server,
        "",
        json!({"state": "success", "log_url": RUN_URL,
               "environment_url": "http://web-123.us-east-1.elb.amazonaws.com", "description": "deployed"}),
    )
    .await;

    let tracker = DeploymentTracker::start(&settings(server.uri()), EnvironmentKind::Persistent)
        .await
        .expect("created");
    assert_eq!(tracker.id(), 4242);
    tracker
        .finish_success(Some("http://web-123.us-east-1.elb.amazonaws.com"))
        .await;
    server.verify().await;
    // In order: the deployment, then in_progress, then success.
    let requests = server
        .received_requests()
        .await
        .expect("wiremock records requests");
    let states: Vec<String> = requests
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .map(|b| b["state"].as_str().unwrap_or("create").to_string())
        .collect();
    assert_eq!(states, ["create", "in_progress", "success"]);
}

#[tokio::test]
async fn a_failed_deploy_is_recorded_as_failure_under_the_enterprise_prefix() {
    let server = MockServer::start().await;
    mount_create(&server, "/api/v3").await;
    mount_status(&server, "/api/v3", in_progress()).await;
    mount_status(
        &server,
        "/api/v3",
        json!({"state": "failure", "log_url": RUN_URL, "description": "the deploy failed"}),
    )
    .await;
    let tracker = DeploymentTracker::start(
        &settings(format!("{}/api/v3", server.uri())),
        EnvironmentKind::Persistent,
    )
    .await
    .expect("created");
    tracker.finish_failure().await;
    server.verify().await;
}

#[tokio::test]
async fn a_github_error_is_no_deployment_and_no_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .mount(&server)
        .await;
    assert!(
        DeploymentTracker::start(&settings(server.uri()), EnvironmentKind::Persistent)
            .await
            .is_none()
    );
    let requests = server
        .received_requests()
        .await
        .expect("wiremock records requests");
    // octocrab retries a 5xx three times at once; then it is a warning.
    assert_eq!(requests.len(), 4, "one try and three retries");
    assert!(
        requests
            .iter()
            .all(|r| r.url.path() == "/repos/octo/app/deployments"),
        "no status after a failed create"
    );
}

#[tokio::test]
async fn a_status_error_after_creation_is_only_a_warning() {
    let server = MockServer::start().await;
    mount_create(&server, "").await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/app/deployments/4242/statuses"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({"message": "Validation Failed"})),
        )
        .mount(&server)
        .await;
    let tracker = DeploymentTracker::start(&settings(server.uri()), EnvironmentKind::Persistent)
        .await
        .expect("created");
    tracker.finish_success(None).await;
    server.verify().await;
}

#[tokio::test]
async fn without_a_usable_token_github_is_never_called() {
    let server = MockServer::start().await;
    let no_token = GithubSettings {
        token: None,
        ..settings(server.uri())
    };
    assert!(
        DeploymentTracker::start(&no_token, EnvironmentKind::Persistent)
            .await
            .is_none()
    );
    // octocrab would panic building a header from this; it must be refused first.
    let bad_token = GithubSettings {
        token: Some(Secret::new("ghs_abc\nX-Evil: 1")),
        ..settings(server.uri())
    };
    assert!(
        DeploymentTracker::start(&bad_token, EnvironmentKind::Persistent)
            .await
            .is_none()
    );
    let no_sha = GithubSettings {
        sha: None,
        ..settings(server.uri())
    };
    assert!(
        DeploymentTracker::start(&no_sha, EnvironmentKind::Persistent)
            .await
            .is_none()
    );
    assert!(
        server
            .received_requests()
            .await
            .expect("wiremock records requests")
            .is_empty()
    );
}

#[tokio::test]
async fn a_preview_is_a_transient_non_production_environment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octo/app/deployments"))
        .and(body_json(json!({
            "ref": SHA,
            "environment": "pr-7",
            "description": "ecs-poc-action: ECS Fargate service",
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": true,
            "production_environment": false,
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 4242})))
        .expect(1)
        .mount(&server)
        .await;
    mount_status(&server, "", in_progress()).await;
    let preview = GithubSettings {
        environment: "pr-7".into(),
        ..settings(server.uri())
    };
    let tracker = DeploymentTracker::start(&preview, EnvironmentKind::Transient).await;
    assert_eq!(tracker.map(|t| t.id()), Some(4242));
    server.verify().await;
}

/// One page of the environment's deployments, ids `first..first+count`.
async fn mount_listing(server: &MockServer, page: u32, first: u64, count: u64) {
    let deployments: Vec<serde_json::Value> = (first..first + count)
        .map(|id| json!({"id": id, "environment": "pr-7", "sha": SHA}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/repos/octo/app/deployments"))
        .and(query_param("environment", "pr-7"))
        .and(query_param("per_page", "100"))
        .and(query_param("page", page.to_string()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(deployments))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn destroy_marks_every_deployment_of_the_environment_inactive_across_pages() {
    let server = MockServer::start().await;
    mount_listing(&server, 1, 1, 100).await;
    mount_listing(&server, 2, 101, 2).await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/repos/octo/app/deployments/[0-9]+/statuses$"))
        .and(body_json(json!({"state": "inactive", "log_url": RUN_URL,
            "description": "the stack was destroyed"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .expect(102)
        .mount(&server)
        .await;
    let preview = GithubSettings {
        environment: "pr-7".into(),
        ..settings(server.uri())
    };
    assert_eq!(deactivate_environment(&preview).await, Some(102));
    server.verify().await;
    let mut marked: Vec<String> = server
        .received_requests()
        .await
        .expect("wiremock records requests")
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.url.path().to_string())
        .collect();
    marked.sort();
    marked.dedup();
    assert_eq!(marked.len(), 102, "each deployment once");
}

#[tokio::test]
async fn a_refused_listing_is_a_warning_and_marks_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let preview = GithubSettings {
        environment: "pr-7".into(),
        ..settings(server.uri())
    };
    assert_eq!(deactivate_environment(&preview).await, None);
    let requests = server
        .received_requests()
        .await
        .expect("wiremock records requests");
    assert!(requests.iter().all(|r| r.method.as_str() == "GET"));
}
