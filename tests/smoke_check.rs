//! The smoke check against real local HTTP servers: 200, 503s then 200, persistent 500, refused;
//! and over HTTPS (a custom domain's URL) against a TLS front whose certificate a test CA signed:
//! the right name passes, another name or an untrusted issuer fails saying so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

#[path = "support/tls_front.rs"]
mod tls_front;

use ecs_poc_action::pipeline::smoke::{SmokePolicy, check};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast() -> SmokePolicy {
    SmokePolicy {
        deadline: Duration::from_secs(2),
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn passes_on_200() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let result = check(&format!("{}/health", server.uri()), &fast())
        .await
        .unwrap();
    assert_eq!(result.attempts, 1);
}

#[tokio::test]
async fn retries_through_503s() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let result = check(&format!("{}/health", server.uri()), &fast())
        .await
        .unwrap();
    assert_eq!(result.attempts, 4);
}

#[tokio::test]
async fn fails_clearly_on_a_persistent_500_within_its_bound() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let url = format!("{}/health", server.uri());
    let started = Instant::now();
    let err = check(&url, &fast()).await.unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.starts_with(&format!(
            "smoke check failed: GET {url} did not answer 200 within 2 s"
        )),
        "{err}"
    );
    assert!(
        err.ends_with("last: HTTP 500 Internal Server Error)"),
        "{err}"
    );
}

#[tokio::test]
async fn fails_clearly_when_the_connection_is_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/health");
    let err = check(&url, &fast()).await.unwrap_err().to_string();
    assert!(
        err.contains(&url) && err.ends_with("last: connection refused or unreachable)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------- HTTPS
// The client trusts the test CA only through SSL_CERT_FILE, which is read from the environment:
// a running test must not change its process's environment (other threads read it), so each
// HTTPS case runs `https_case` in a child process of this test binary, started with it set.

const CASE_CERT: &str = "ECS_TEST_SMOKE_CERT";
const CASE_KEY: &str = "ECS_TEST_SMOKE_KEY";
const RESULT: &str = "smoke-check result: ";

/// Runs `https_case` with `cert`/`key` served for `https://localhost:PORT/health` and `trusted`
/// as SSL_CERT_FILE; what the check returned, as the child printed it.
fn https_check(trusted: &Path, cert: &(std::path::PathBuf, std::path::PathBuf)) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "https_case",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SSL_CERT_FILE", trusted)
        .env(CASE_CERT, &cert.0)
        .env(CASE_KEY, &cert.1)
        // localhost must be reached directly, and trusted only through SSL_CERT_FILE
        .env_remove("SSL_CERT_DIR")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("run the HTTPS case");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "https_case: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once(RESULT).map(|(_, result)| result))
        .unwrap_or_else(|| panic!("no result line in: {stdout}"))
        .to_owned()
}

/// One HTTPS smoke check in this process (started by `https_check`): a TLS front with the given
/// certificate before a server answering 200 on /health.
#[tokio::test]
#[ignore = "run by the HTTPS tests in a child process with SSL_CERT_FILE set"]
async fn https_case() {
    let (Some(cert), Some(key)) = (std::env::var_os(CASE_CERT), std::env::var_os(CASE_KEY)) else {
        // Not a test of its own (`--include-ignored` runs it bare): the cases above assert.
        eprintln!("{CASE_CERT}/{CASE_KEY} unset: https_case does its work only under https_check");
        return;
    };
    let app = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app)
        .await;
    let front = tls_front::TlsFront::start(cert.as_ref(), key.as_ref(), *app.address())
        .await
        .expect("TLS front");
    let url = format!("https://localhost:{}/health", front.addr.port());
    match check(&url, &fast()).await {
        Ok(result) => println!("{RESULT}ok after {} attempt(s)", result.attempts),
        Err(e) => println!("{RESULT}{e:#}"),
    }
}

#[test]
fn https_passes_with_a_certificate_for_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls_front::test_ca(dir.path(), "ecs-poc-action test CA").unwrap();
    let cert = tls_front::signed_for(dir.path(), &ca, "localhost").unwrap();
    assert_eq!(https_check(&ca.0, &cert), "ok after 1 attempt(s)");
}

#[test]
fn https_fails_naming_the_certificate_when_it_is_for_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls_front::test_ca(dir.path(), "ecs-poc-action test CA").unwrap();
    let cert = tls_front::signed_for(dir.path(), &ca, "app.example.test").unwrap();
    let got = https_check(&ca.0, &cert);
    assert!(
        got.starts_with("smoke check failed: GET https://localhost:")
            && got.contains("last: TLS handshake failed: invalid peer certificate: ")
            && got.contains("localhost")
            && got.contains("app.example.test"),
        "{got}"
    );
}

#[test]
fn https_fails_naming_the_issuer_when_the_ca_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls_front::test_ca(dir.path(), "ecs-poc-action test CA").unwrap();
    let cert = tls_front::signed_for(dir.path(), &ca, "localhost").unwrap();
    let other = tempfile::tempdir().unwrap();
    let (untrusted, _) = tls_front::test_ca(other.path(), "another test CA").unwrap();
    let got = https_check(&untrusted, &cert);
    assert!(
        got.contains("last: TLS handshake failed: invalid peer certificate: UnknownIssuer"),
        "{got}"
    );
}
