//! STS failures become one plain sentence naming the input to fix, with no secret in it.
//!
//! moto accepts any key, so AWS's refusals are pinned two ways: `aws-smithy-mocks` answers the
//! SDK with STS's real error documents (the SDK parses the code itself), and a loopback
//! wiremock server plays STS for `aws::connect` end to end with recognisable secret values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use aws_sdk_sts::Client;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use ecs_poc_action::aws::{
    self, AwsError, AwsSettings, CredentialSource, OidcRequest, Problem, RoleSettings, StaticKeys,
    identity, role,
};
use ecs_poc_action::secret::Secret;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCESS_KEY: &str = "AKIARECOGNISABLE0001";
const SECRET_KEY: &str = "secret-KEY-recognisable/+xyz";
const SESSION_TOKEN: &str = "session-TOKEN-recognisable-777";
const RUNNER_BEARER: &str = "runner-BEARER-recognisable-555";
const JWT: &str = "eyJ-JWT-recognisable.payload.signature";
const ROLE: &str = "arn:aws:iam::123456789012:role/gha-deployer";

/// STS's error document (awsQuery protocol), as AWS sends it.
fn sts_error(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"#
    )
}

fn role_settings() -> RoleSettings {
    RoleSettings {
        arn: ROLE.into(),
        session_name: "gha".into(),
        duration_seconds: 3600,
        audience: "sts.amazonaws.com".into(),
        session_tags: vec![],
    }
}

async fn caller_identity_error(status: u16, code: &str, message: &str) -> AwsError {
    let body = sts_error(code, message);
    let rule = mock!(Client::get_caller_identity)
        .sequence()
        .http_status(status, Some(body))
        .build();
    let sts = mock_client!(aws_sdk_sts, RuleMode::Sequential, &[&rule]);
    identity::caller_identity(&sts, CredentialSource::Inputs)
        .await
        .expect_err("STS refused")
}

async fn assume_role_error(status: u16, code: &str, message: &str) -> AwsError {
    let body = sts_error(code, message);
    let rule = mock!(Client::assume_role)
        .sequence()
        .http_status(status, Some(body))
        .build();
    let sts = mock_client!(aws_sdk_sts, RuleMode::Sequential, &[&rule]);
    role::assume_role(&sts, &role_settings())
        .await
        .expect_err("STS refused")
}

#[tokio::test]
async fn unknown_access_key_names_the_access_key_input() {
    let err = caller_identity_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )
    .await;
    assert_eq!(err.problem, Problem::UnknownAccessKey);
    assert_eq!(
        err.to_string(),
        "AWS does not recognise the access key id of the `aws-access-key-id` input: check it \
         (and `aws-session-token` if the keys are temporary) (AWS error code InvalidClientTokenId)"
    );
}

#[tokio::test]
async fn wrong_secret_names_the_secret_input() {
    let err = caller_identity_error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
    )
    .await;
    assert_eq!(err.problem, Problem::WrongSecretKey);
    assert!(
        err.to_string()
            .contains("check the `aws-secret-access-key` input"),
        "{err}"
    );
}

#[tokio::test]
async fn expired_session_token_names_the_session_token_input() {
    let err = caller_identity_error(
        400,
        "ExpiredToken",
        "The security token included in the request is expired",
    )
    .await;
    assert_eq!(err.problem, Problem::Expired);
    assert!(
        err.to_string().contains("refresh `aws-session-token`"),
        "{err}"
    );
}

#[tokio::test]
async fn access_denied_on_assume_role_names_the_role() {
    let err = assume_role_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole",
    )
    .await;
    assert_eq!(err.problem, Problem::RoleDenied);
    let text = err.to_string();
    assert!(text.contains(&format!("may not assume {ROLE}")), "{text}");
    assert!(text.contains("`role-to-assume`"), "{text}");
}

#[tokio::test]
async fn validation_error_on_assume_role_names_the_role_inputs_and_quotes_aws() {
    let message = "1 validation error detected: Value '43200' at 'durationSeconds' failed to satisfy constraint";
    let err = assume_role_error(400, "ValidationError", message).await;
    assert_eq!(err.problem, Problem::InvalidRoleRequest);
    let text = err.to_string();
    assert!(
        text.contains("`role-duration-seconds`") && text.contains(message),
        "{text}"
    );
}

#[tokio::test]
async fn unclassified_codes_keep_aws_words() {
    // (Throttling would be retried by the SDK first; this code is final.)
    let err = caller_identity_error(400, "InvalidAction", "Could not find operation").await;
    assert_eq!(err.problem, Problem::Other);
    assert!(
        err.to_string()
            .contains("(AWS said InvalidAction: Could not find operation)"),
        "{err}"
    );
}

fn settings(endpoint: String) -> AwsSettings {
    ecs_poc_action::install_crypto_provider();
    AwsSettings {
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint),
        static_keys: Some(StaticKeys {
            access_key_id: Secret::new(ACCESS_KEY),
            secret_access_key: Secret::new(SECRET_KEY),
            session_token: Some(Secret::new(SESSION_TOKEN)),
        }),
        role: None,
        oidc: None,
        allowed_account_ids: vec![],
        mask_account_id: true,
    }
}

fn assert_no_secret(err: &AwsError) {
    let text = format!("{err} | {err:?}");
    for secret in [SECRET_KEY, SESSION_TOKEN, RUNNER_BEARER, JWT] {
        assert!(!text.contains(secret), "secret {secret} in: {text}");
    }
}

#[tokio::test]
async fn connect_turns_a_refusal_into_the_sentence_without_secrets() {
    let sts = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(body_string_contains("Action=GetCallerIdentity"))
        .respond_with(ResponseTemplate::new(403).set_body_string(sts_error(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )))
        .expect(1)
        .mount(&sts)
        .await;
    let err = aws::connect(&settings(sts.uri()))
        .await
        .expect_err("refused");
    assert_eq!(err.problem, Problem::UnknownAccessKey);
    assert_no_secret(&err);
    // The request really was signed with the input keys.
    let requests = sts
        .received_requests()
        .await
        .expect("wiremock records requests");
    let auth = requests[0]
        .headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default());
    assert!(auth.is_some_and(|a| a.contains(ACCESS_KEY)), "{auth:?}");
}

#[tokio::test]
async fn connect_through_oidc_reports_a_distrusting_role_without_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/idtoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": JWT})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRoleWithWebIdentity"))
        .respond_with(ResponseTemplate::new(403).set_body_string(sts_error(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let settings = AwsSettings {
        static_keys: None,
        role: Some(role_settings()),
        oidc: Some(OidcRequest {
            url: format!("{}/idtoken?api-version=2.0", server.uri()),
            bearer: Secret::new(RUNNER_BEARER),
        }),
        ..settings(server.uri())
    };
    let err = aws::connect(&settings)
        .await
        .expect_err("role distrusts the token");
    assert_eq!(err.problem, Problem::RoleDenied);
    assert!(
        err.to_string()
            .contains("does not trust this workflow's OIDC token"),
        "{err}"
    );
    assert_no_secret(&err);
    // The unsigned call carried the token, and no ambient credentials signed it.
    let requests = server
        .received_requests()
        .await
        .expect("wiremock records requests");
    let assume = requests
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("STS call");
    assert!(String::from_utf8_lossy(&assume.body).contains("WebIdentityToken="));
    assert!(assume.headers.get("authorization").is_none());
}

#[tokio::test]
async fn unreachable_sts_names_the_region_and_endpoint_inputs() {
    // A loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = aws::connect(&settings(format!("http://127.0.0.1:{port}")))
        .await
        .expect_err("nothing listens");
    assert_eq!(err.problem, Problem::Unreachable);
    let text = err.to_string();
    assert!(text.contains("`aws-endpoint-url`"), "{text}");
    // The cause is kept, so the reader sees what failed (connection refused).
    assert!(text.contains(" ("), "no cause in: {text}");
    eprintln!("{text}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn no_credentials_anywhere_lists_the_ways_to_give_them() {
    // scripts/test makes the ambient chain hermetic (empty config files, no instance metadata);
    // keys in this process's environment would make this a different test.
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        assert!(
            std::env::var_os(var).is_none(),
            "{var} is set: run through scripts/test"
        );
    }
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true")
    );
    let sts = MockServer::start().await;
    let ambient = AwsSettings {
        static_keys: None,
        ..settings(sts.uri())
    };
    let err = aws::connect(&ambient)
        .await
        .expect_err("nothing to sign with");
    assert_eq!(err.problem, Problem::NoCredentials, "{err}");
    assert!(err.to_string().contains("`aws-access-key-id`"), "{err}");
    assert!(
        sts.received_requests()
            .await
            .expect("wiremock records requests")
            .is_empty(),
        "an unsigned call was sent"
    );
}
