//! `aws::connect` against moto's STS: GitHub OIDC end to end (a local token endpoint that checks
//! the bearer and audience, AssumeRoleWithWebIdentity, then GetCallerIdentity signed with the
//! returned credentials), role chaining, static keys, allowed-account-ids and the OIDC
//! endpoint's failures. Run through `scripts/test` (needs ECS_TEST_MOTO_URL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

mod common;

use common::stand_in;
use ecs_poc_action::aws::{
    self, AwsSettings, CredentialSource, OidcRequest, Problem, RoleSettings, StaticKeys,
};
use ecs_poc_action::secret::Secret;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deployer";
const RUNNER_BEARER: &str = "runner-bearer-Zq81";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm9jdG8vYXBwIn0.sig-Yv3";

fn settings() -> AwsSettings {
    ecs_poc_action::install_crypto_provider();
    AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: Some(stand_in("ECS_TEST_MOTO_URL")),
        static_keys: None,
        role: None,
        oidc: None,
        allowed_account_ids: vec![],
        mask_account_id: true,
    }
}

fn role(session: &str) -> RoleSettings {
    RoleSettings {
        arn: ROLE.into(),
        session_name: session.into(),
        duration_seconds: 900,
        audience: "sts.amazonaws.com".into(),
        session_tags: vec![("Repository".into(), "octo/app".into())],
    }
}

fn moto_keys() -> StaticKeys {
    StaticKeys {
        access_key_id: Secret::new("test"),
        secret_access_key: Secret::new("test"),
        session_token: None,
    }
}

/// The runner's token endpoint: answers only the right bearer and audience.
async fn token_endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .and(query_param("api-version", "2.0"))
        .and(query_param("audience", "sts.amazonaws.com"))
        .and(header(
            "authorization",
            format!("Bearer {RUNNER_BEARER}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": JWT})))
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn oidc_request(server: &MockServer) -> OidcRequest {
    OidcRequest {
        url: format!("{}/idtoken?api-version=2.0", server.uri()),
        bearer: Secret::new(RUNNER_BEARER),
    }
}

#[tokio::test]
async fn oidc_role_is_assumed_and_its_credentials_sign_the_next_call() {
    let server = token_endpoint().await;
    let settings = AwsSettings {
        role: Some(role("oidc-e2e")),
        oidc: Some(oidc_request(&server)),
        ..settings()
    };
    let connected = aws::connect(&settings).await.expect("OIDC connect");
    assert_eq!(connected.source, CredentialSource::Oidc);
    // GetCallerIdentity was signed with the assumed role's keys: moto answers with the role.
    assert_eq!(
        connected.identity.arn,
        "arn:aws:sts::123456789012:assumed-role/gha-deployer/oidc-e2e"
    );
    assert_eq!(connected.identity.account, "123456789012");
    // The same credentials reach later clients built from the config.
    let sts = aws_sdk_sts::Client::new(&connected.sdk_config);
    let again = sts.get_caller_identity().send().await.expect("second call");
    assert_eq!(again.arn(), Some(connected.identity.arn.as_str()));
    server.verify().await;
}

#[tokio::test]
async fn chained_role_is_assumed_with_the_input_keys() {
    let settings = AwsSettings {
        static_keys: Some(moto_keys()),
        role: Some(role("chained")),
        ..settings()
    };
    let connected = aws::connect(&settings).await.expect("chained connect");
    assert_eq!(connected.source, CredentialSource::ChainedRole);
    assert_eq!(
        connected.identity.arn,
        "arn:aws:sts::123456789012:assumed-role/gha-deployer/chained"
    );
}

#[tokio::test]
async fn static_keys_are_used_as_given() {
    let settings = AwsSettings {
        static_keys: Some(moto_keys()),
        ..settings()
    };
    let connected = aws::connect(&settings).await.expect("static connect");
    assert_eq!(connected.source, CredentialSource::Inputs);
    assert_eq!(connected.identity.account, "123456789012");
    assert!(
        !connected.identity.arn.contains("assumed-role"),
        "{}",
        connected.identity.arn
    );
}

#[tokio::test]
async fn accounts_outside_allowed_account_ids_are_refused() {
    let allowed = AwsSettings {
        static_keys: Some(moto_keys()),
        allowed_account_ids: vec!["999999999999".into(), "123456789012".into()],
        ..settings()
    };
    aws::connect(&allowed).await.expect("listed account");

    let refused = AwsSettings {
        allowed_account_ids: vec!["999999999999".into()],
        ..allowed
    };
    let err = aws::connect(&refused).await.expect_err("unlisted account");
    assert_eq!(err.problem, Problem::AccountNotAllowed);
    let text = err.to_string();
    assert!(text.contains("`allowed-account-ids`"), "{text}");
    assert!(
        !text.contains("123456789012"),
        "the masked account leaked: {text}"
    );
}

#[tokio::test]
async fn role_without_keys_outside_an_id_token_job_says_what_to_add() {
    let settings = AwsSettings {
        role: Some(role("none")),
        ..settings()
    };
    let err = aws::connect(&settings)
        .await
        .expect_err("no OIDC variables");
    assert_eq!(err.problem, Problem::OidcNotAvailable);
    assert!(
        err.to_string().contains("permissions: id-token: write"),
        "{err}"
    );
}

#[tokio::test]
async fn transient_token_endpoint_failures_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": JWT})))
        .expect(1)
        .mount(&server)
        .await;
    let token = aws::oidc::fetch_id_token(&oidc_request(&server), "sts.amazonaws.com")
        .await
        .expect("token after two 503s");
    assert_eq!(token.expose(), JWT);
    server.verify().await;
}

#[tokio::test]
async fn a_refusing_token_endpoint_fails_at_once_without_leaking_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!("denied {JWT}")))
        .expect(1)
        .mount(&server)
        .await;
    let err = aws::oidc::fetch_id_token(&oidc_request(&server), "sts.amazonaws.com")
        .await
        .expect_err("403 is final");
    assert_eq!(err.problem, Problem::OidcRequestFailed);
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("403") && text.contains("id-token: write"),
        "{text}"
    );
    assert!(
        !text.contains(JWT) && !text.contains(RUNNER_BEARER),
        "secret leaked: {text}"
    );
    server.verify().await;
}

#[tokio::test]
async fn a_token_answer_without_a_value_is_an_error_that_quotes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("{{\"token\": \"{JWT}\"}}")),
        )
        .mount(&server)
        .await;
    let err = aws::oidc::fetch_id_token(&oidc_request(&server), "sts.amazonaws.com")
        .await
        .expect_err("no value field");
    let text = format!("{err} {err:?}");
    assert!(text.contains("\"value\""), "{text}");
    assert!(!text.contains(JWT), "secret leaked: {text}");
}

#[tokio::test]
async fn expiring_role_credentials_are_renewed_with_a_fresh_oidc_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .and(query_param("audience", "sts.amazonaws.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": JWT})))
        .expect(2)
        .mount(&server)
        .await;
    // Credentials living 5 s are inside the SDK cache's refresh window at once, so the next
    // call must assume the role again rather than sign with dying keys.
    let settings = AwsSettings {
        role: Some(RoleSettings {
            duration_seconds: 5,
            ..role("renewed")
        }),
        oidc: Some(oidc_request(&server)),
        ..settings()
    };
    let connected = aws::connect(&settings).await.expect("OIDC connect");
    let sts = aws_sdk_sts::Client::new(&connected.sdk_config);
    let again = sts
        .get_caller_identity()
        .send()
        .await
        .expect("call after renewal");
    assert_eq!(
        again.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/gha-deployer/renewed")
    );
    server.verify().await;
}
