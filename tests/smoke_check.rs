//! The smoke check against real local HTTP servers: 200, 503s then 200, persistent 500, refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the point

use ecs_poc_action::pipeline::smoke::{SmokePolicy, check};
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
