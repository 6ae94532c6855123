//! `/`, `/health`, `/load`, 404/405, size limits and the access log, against the real binary.

mod common;

use std::time::{Duration, Instant};

use common::{Server, client, run_to_exit};
use reqwest::StatusCode;

#[tokio::test]
async fn health_answers_ok() {
    let server = Server::start(&[]);
    let response = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn index_shows_version_local_identity_uptime_and_request_count() {
    let server = Server::start(&[("GIT_SHA", "abc1234")]);
    let client = client();
    for _ in 0..2 {
        client.get(server.url("/health")).send().await.unwrap();
    }
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<dd id="task">local</dd>"#), "{html}");
    assert!(html.contains(r#"<dd id="az">local</dd>"#), "{html}");
    let sha = option_env!("GIT_SHA")
        .filter(|sha| !sha.is_empty())
        .unwrap_or("abc1234");
    assert!(html.contains(&format!("({sha})")), "{html}");
    assert!(html.contains(r#"<dd id="uptime">"#), "{html}");
    // The two health checks and this request.
    assert!(html.contains(r#"<dd id="requests">3</dd>"#), "{html}");
}

#[tokio::test]
async fn load_burns_cpu_for_the_requested_time() {
    let server = Server::start(&[]);
    let started = Instant::now();
    let response = client()
        .get(server.url("/load?ms=150"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.text().await.unwrap(), "busy-looped for 150 ms\n");
}

#[tokio::test]
async fn load_refuses_bad_values_with_400_and_a_reason() {
    let server = Server::start(&[]);
    let client = client();
    for (query, reason) in [
        ("?ms=abc", "not a whole number"),
        ("?ms=-1", "not a whole number"),
        ("?ms=1.5", "not a whole number"),
        ("?ms=5000", "above the cap of 1000"),
        ("?ms=", "not a whole number"),
        ("", "missing query parameter ms"),
    ] {
        let response = client
            .get(server.url(&format!("/load{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "/load{query}");
        let body = response.text().await.unwrap();
        assert!(body.contains(reason), "/load{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_runs_off_the_runtime_so_health_stays_responsive() {
    let server = Server::start(&[]);
    let client = client();
    let burns: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client.get(server.url("/load?ms=1000")).send()))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        burns.iter().all(|burn| !burn.is_finished()),
        "health waited for the burns"
    );
    for burn in burns {
        assert_eq!(burn.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let server = Server::start(&[]);
    let client = client();
    let response = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client.delete(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_headers_get_431_and_bodies_413() {
    let server = Server::start(&[]);
    let response = client()
        .get(server.url("/health"))
        .header("x-padding", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let response = client()
        .post(server.url("/health"))
        .body(vec![b'a'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn every_request_is_one_json_log_line() {
    let server = Server::start(&[]);
    client().get(server.url("/nope?x=1")).send().await.unwrap();
    let line = server.wait_for_log("request", Duration::from_secs(5));
    assert_eq!(line["level"], "info");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/nope");
    assert_eq!(line["status"], 404);
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert!(
        line["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')),
        "{line}"
    );
}

#[test]
fn bad_configuration_exits_2_naming_every_bad_variable() {
    let (status, lines) = run_to_exit(&[("PORT", "http"), ("SHUTDOWN_TIMEOUT_SECS", "soon")]);
    assert_eq!(status.code(), Some(2));
    let errors: Vec<_> = lines
        .iter()
        .filter(|line| line["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{lines:?}");
    let msg = errors[0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("PORT=\"http\"") && msg.contains("SHUTDOWN_TIMEOUT_SECS=\"soon\""),
        "{msg}"
    );
}
