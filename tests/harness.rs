//! Proves the stand-ins started by `scripts/test` are real: a token-auth CNCF registry, its token
//! server and moto. Run through `scripts/test` (or `scripts/test -E 'binary(harness)'`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use common::stand_in;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

fn client() -> reqwest::Client {
    ecs_poc_action::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("building reqwest client")
}

async fn token(
    client: &reqwest::Client,
    user: &str,
    password: &str,
    scope: &str,
) -> reqwest::Response {
    // reqwest 0.13's `query` needs a feature this crate does not enable: build the URL with `url`.
    let url = url::Url::parse_with_params(
        &stand_in("ECS_TEST_TOKEN_URL"),
        &[
            ("service", "registry.local"),
            ("scope", scope),
            ("account", user),
        ],
    )
    .expect("token URL");
    client
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("token request")
}

#[tokio::test]
async fn registry_demands_a_bearer_token_from_the_token_server() {
    let registry = stand_in("ECS_TEST_REGISTRY");
    let realm = stand_in("ECS_TEST_TOKEN_URL");
    let resp = client()
        .get(format!("http://{registry}/v2/"))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .expect("WWW-Authenticate header")
        .to_str()
        .expect("ASCII header")
        .to_owned();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{realm}\"")),
        "{challenge}"
    );
    assert!(
        challenge.contains("service=\"registry.local\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn token_for_valid_credentials_opens_the_registry() {
    let client = client();
    let registry = stand_in("ECS_TEST_REGISTRY");
    let user = stand_in("ECS_TEST_REGISTRY_USERNAME");
    let password = stand_in("ECS_TEST_REGISTRY_PASSWORD");

    let resp = token(
        &client,
        &user,
        &password,
        "repository:harness/check:pull,push",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.expect("token JSON");
    let token = body["token"].as_str().expect("token field");
    assert_eq!(body["access_token"].as_str(), Some(token));
    assert_eq!(body["expires_in"].as_u64(), Some(300));

    let resp = client
        .get(format!("http://{registry}/v2/"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v2/ with token");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()
            .contains_key("docker-distribution-api-version")
    );
}

#[tokio::test]
async fn wrong_password_is_refused_like_docker_hub() {
    let client = client();
    let user = stand_in("ECS_TEST_REGISTRY_USERNAME");
    let resp = token(
        &client,
        &user,
        "not-the-password",
        "repository:harness/check:pull",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().await.expect("error JSON");
    assert_eq!(body["details"], "incorrect username or password");
}

/// moto answers as STS would. (Never `POST /moto-api/reset` here: it wipes the state of every
/// other test sharing this moto server, mid-run.)
#[tokio::test]
async fn moto_answers_sts() {
    let moto = stand_in("ECS_TEST_MOTO_URL");
    let resp = client()
        .post(&moto)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .expect("POST GetCallerIdentity");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.expect("body");
    assert!(body.contains("<Account>123456789012</Account>"), "{body}");
}

/// The moto reads tests rely on for "stack gone" and "nothing left behind" (tests/common/moto.rs)
/// fail when moto cannot be asked, instead of reporting nothing; and they do see moto's answer
/// for a stack that does not exist.
#[tokio::test]
async fn moto_reads_fail_rather_than_report_nothing() {
    use common::moto::{live_stack, sdk_config, stack_parameter, unexecuted_change_sets};
    let gone = common::unique("harness-never-made");
    let cfn = aws_sdk_cloudformation::Client::new(&sdk_config("us-east-1").await);
    assert!(live_stack(&cfn, &gone).await.unwrap().is_none());

    // The same client on a closed loopback port, without retries.
    let unreachable = aws_sdk_cloudformation::Client::from_conf(
        cfn.config()
            .to_builder()
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_cloudformation::config::retry::RetryConfig::disabled())
            .build(),
    );
    assert!(live_stack(&unreachable, &gone).await.is_err());
    assert!(
        stack_parameter(&unreachable, &gone, "ImageUri")
            .await
            .is_err()
    );
    assert!(unexecuted_change_sets(&unreachable, &gone).await.is_err());
}
